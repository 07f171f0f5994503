//! The user graph (README, "Communities"): users linked by what they share
//! in the logs, and the communities Leiden finds in it.
//!
//! - [`Graph`]: an undirected weighted graph as compressed sparse rows,
//!   built in parallel from an edge list in memory proportional to its
//!   edges;
//! - [`build`]: the graph of a user table from what users have: a
//!   counterparty column of their logs (user-user edges, or users
//!   projected through the peers they share, hubs left out), an edge list
//!   file, or the k nearest neighbours of each user's features;
//! - [`leiden`](mod@leiden): Leiden (Traag, Waltman & van Eck 2019) with modularity or
//!   the Constant Potts Model, local moving in parallel and deterministic
//!   for a seed at any thread count.

pub mod build;
pub mod leiden;

use rayon::prelude::*;

pub use self::build::{EdgeWeight, GraphError, GraphSource, GraphStats, PeerKind, UserGraph};
pub use self::leiden::{Communities, LeidenParams, Objective, leiden};

/// An undirected weighted graph without self loops, as compressed sparse
/// rows: node `v`'s neighbours are `targets[offsets[v]..offsets[v + 1]]`
/// (ascending, each once) with the weights beside them. Every edge is
/// stored in both directions.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f64>,
}

impl Graph {
    /// The graph of `n` nodes with `edges` (`a`, `b`, weight), each given
    /// once in either direction; the weights of an edge given more than
    /// once are added. Self loops and weights that are not positive must
    /// have been left out by the caller.
    pub fn from_edges(n: usize, edges: &[(u32, u32, f64)]) -> Graph {
        debug_assert!(
            edges
                .iter()
                .all(|&(a, b, w)| a != b && w > 0.0 && (a as usize) < n && (b as usize) < n)
        );
        // Counting sort by source: degrees, offsets, then each edge
        // scattered into both of its rows.
        let mut offsets = vec![0usize; n + 1];
        for &(a, b, _) in edges {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        let mut cursor = offsets[..n].to_vec();
        let mut targets = vec![0u32; 2 * edges.len()];
        let mut weights = vec![0f64; 2 * edges.len()];
        for &(a, b, w) in edges {
            for (from, to) in [(a, b), (b, a)] {
                let at = &mut cursor[from as usize];
                targets[*at] = to;
                weights[*at] = w;
                *at += 1;
            }
        }
        Graph::from_rows(offsets, targets, weights)
    }

    /// The graph of rows given in CSR form, each row in any order, with
    /// repeated targets: rows are sorted and repeats added, in parallel.
    fn from_rows(offsets: Vec<usize>, mut targets: Vec<u32>, mut weights: Vec<f64>) -> Graph {
        let n = offsets.len() - 1;
        let lengths: Vec<usize> = {
            let rows = split_rows(&offsets, &mut targets, &mut weights);
            rows.into_par_iter().map(|(t, w)| merge_row(t, w)).collect()
        };
        // Compact the merged rows.
        let mut out_offsets = Vec::with_capacity(n + 1);
        out_offsets.push(0);
        let mut at = 0;
        for v in 0..n {
            let start = offsets[v];
            let len = lengths[v];
            targets.copy_within(start..start + len, at);
            weights.copy_within(start..start + len, at);
            at += len;
            out_offsets.push(at);
        }
        targets.truncate(at);
        weights.truncate(at);
        targets.shrink_to_fit();
        weights.shrink_to_fit();
        Graph {
            offsets: out_offsets,
            targets,
            weights,
        }
    }

    /// A graph from rows already sorted, merged and symmetric.
    fn from_sorted_rows(offsets: Vec<usize>, targets: Vec<u32>, weights: Vec<f64>) -> Graph {
        Graph {
            offsets,
            targets,
            weights,
        }
    }

    /// Nodes.
    pub fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Edges, each counted once.
    pub fn edges(&self) -> usize {
        self.targets.len() / 2
    }

    /// Node `v`'s neighbours (ascending) and the weights of its edges to
    /// them.
    #[inline]
    pub fn neighbours(&self, v: usize) -> (&[u32], &[f64]) {
        let range = self.offsets[v]..self.offsets[v + 1];
        (&self.targets[range.clone()], &self.weights[range])
    }

    /// Node `v`'s degree: its neighbours.
    pub fn degree(&self, v: usize) -> usize {
        self.offsets[v + 1] - self.offsets[v]
    }

    /// Node `v`'s strength: the weights of its edges, added.
    pub fn strength(&self, v: usize) -> f64 {
        self.neighbours(v).1.iter().sum()
    }

    /// Every node's strength.
    pub fn strengths(&self) -> Vec<f64> {
        (0..self.nodes())
            .into_par_iter()
            .map(|v| self.strength(v))
            .collect()
    }

    /// The weights of all edges, each counted once (m of modularity).
    pub fn total_weight(&self) -> f64 {
        self.strengths().iter().sum::<f64>() / 2.0
    }

    /// Each node's connected component (numbered from 0 in order of each
    /// component's first node), counting only edges between nodes of the
    /// same `group` (every node one group: the graph's components).
    pub fn components_within(&self, group: &[u32]) -> (Vec<u32>, usize) {
        let n = self.nodes();
        let mut component = vec![u32::MAX; n];
        let mut stack = Vec::new();
        let mut count = 0u32;
        for start in 0..n {
            if component[start] != u32::MAX {
                continue;
            }
            component[start] = count;
            stack.push(start as u32);
            while let Some(v) = stack.pop() {
                let v = v as usize;
                for &u in self.neighbours(v).0 {
                    let u = u as usize;
                    if component[u] == u32::MAX && group[u] == group[v] {
                        component[u] = count;
                        stack.push(u as u32);
                    }
                }
            }
            count += 1;
        }
        (component, count as usize)
    }
}

/// The rows of a CSR as separate mutable slices.
fn split_rows<'a>(
    offsets: &[usize],
    targets: &'a mut [u32],
    weights: &'a mut [f64],
) -> Vec<(&'a mut [u32], &'a mut [f64])> {
    let mut rows = Vec::with_capacity(offsets.len().saturating_sub(1));
    let (mut t, mut w) = (targets, weights);
    for pair in offsets.windows(2) {
        let len = pair[1] - pair[0];
        let (row_t, rest_t) = std::mem::take(&mut t).split_at_mut(len);
        let (row_w, rest_w) = std::mem::take(&mut w).split_at_mut(len);
        rows.push((row_t, row_w));
        t = rest_t;
        w = rest_w;
    }
    rows
}

/// Sorts a row by target and adds the weights of repeated targets, in
/// place; returns the row's new length.
fn merge_row(targets: &mut [u32], weights: &mut [f64]) -> usize {
    if targets.len() < 2 {
        return targets.len();
    }
    let mut pairs: Vec<(u32, f64)> = targets
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .collect();
    // Stable: repeated targets add their weights in input order, the
    // same at any thread count.
    pairs.sort_by_key(|&(t, _)| t);
    let mut len = 0;
    for (t, w) in pairs {
        if len > 0 && targets[len - 1] == t {
            weights[len - 1] += w;
        } else {
            targets[len] = t;
            weights[len] = w;
            len += 1;
        }
    }
    len
}

/// Nodes grouped by a label (counting sort): the nodes of group `g` are
/// `nodes[offsets[g]..offsets[g + 1]]`, ascending.
pub(crate) struct Groups {
    pub(crate) offsets: Vec<usize>,
    pub(crate) nodes: Vec<u32>,
}

impl Groups {
    /// `labels` (each below `count`) grouped.
    pub(crate) fn of(labels: &[u32], count: usize) -> Groups {
        let mut offsets = vec![0usize; count + 1];
        for &l in labels {
            offsets[l as usize + 1] += 1;
        }
        for g in 0..count {
            offsets[g + 1] += offsets[g];
        }
        let mut cursor = offsets[..count].to_vec();
        let mut nodes = vec![0u32; labels.len()];
        for (v, &l) in labels.iter().enumerate() {
            nodes[cursor[l as usize]] = v as u32;
            cursor[l as usize] += 1;
        }
        Groups { offsets, nodes }
    }

    /// Groups.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The nodes of group `g`.
    pub(crate) fn get(&self, g: usize) -> &[u32] {
        &self.nodes[self.offsets[g]..self.offsets[g + 1]]
    }
}

/// Labels renumbered 0, 1, ... in order of first appearance; returns how
/// many there are.
pub(crate) fn renumber(labels: &mut [u32]) -> usize {
    let len = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut new = vec![u32::MAX; len];
    let mut count = 0u32;
    for l in labels.iter_mut() {
        let slot = &mut new[*l as usize];
        if *slot == u32::MAX {
            *slot = count;
            count += 1;
        }
        *l = *slot;
    }
    count as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_symmetric_and_repeats_added() {
        let g = Graph::from_edges(4, &[(0, 1, 1.0), (2, 0, 2.0), (1, 0, 0.5), (3, 2, 1.0)]);
        assert_eq!(g.nodes(), 4);
        assert_eq!(g.edges(), 3);
        assert_eq!(g.neighbours(0), (&[1u32, 2][..], &[1.5, 2.0][..]));
        assert_eq!(g.neighbours(1), (&[0u32][..], &[1.5][..]));
        assert_eq!(g.neighbours(2), (&[0u32, 3][..], &[2.0, 1.0][..]));
        assert_eq!(g.total_weight(), 4.5);
        assert_eq!(g.strength(2), 3.0);
        let (components, count) = g.components_within(&[0; 4]);
        assert_eq!((components, count), (vec![0, 0, 0, 0], 1));
        // Split by group: node 3 alone.
        let (components, count) = g.components_within(&[0, 0, 0, 1]);
        assert_eq!((components, count), (vec![0, 0, 0, 1], 2));
    }

    #[test]
    fn groups_and_renumbering() {
        let groups = Groups::of(&[2, 0, 2, 1], 3);
        assert_eq!(groups.get(0), &[1]);
        assert_eq!(groups.get(2), &[0, 2]);
        assert_eq!(groups.len(), 3);
        let mut labels = vec![7, 3, 7, 0];
        assert_eq!(renumber(&mut labels), 3);
        assert_eq!(labels, vec![0, 1, 0, 2]);
    }
}
