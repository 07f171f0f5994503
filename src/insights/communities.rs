//! A Leiden fit's communities as the report shows them: the graph and how
//! it was built, the modularity, the edge weight between every pair of
//! segments, and the users who bridge segments most.

use serde::Serialize;

use crate::cluster::communities::CommunityFit;
use crate::features::matrix::Keys;
use crate::graph::{Graph, GraphStats};

/// Users the report lists as bridges.
pub const BRIDGES: usize = 10;

/// The communities of a Leiden fit, by segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommunitySummary {
    /// `modularity` or `cpm`.
    pub objective: &'static str,
    /// The resolution.
    pub resolution: f64,
    /// Communities Leiden found.
    pub communities: usize,
    /// Users gathered in the "Other" segment (0 when there is none).
    pub other_users: usize,
    /// The smallest community kept as a segment, in users.
    pub min_community_size: usize,
    /// Modularity of the communities (resolution 1).
    pub modularity: f64,
    /// The share of the edge weight inside communities.
    pub inside_weight_share: f64,
    /// How the graph was built.
    pub graph: GraphStats,
    /// `weights[a][b]`: the weight of the edges between segments `a` and
    /// `b` (each edge once; `a == b`: inside the segment), segment 0 first.
    pub weights: Vec<Vec<f64>>,
    /// The users with the most edge weight to other segments than their
    /// own, most first.
    pub bridges: Vec<Bridge>,
}

/// A user whose edges reach into other segments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bridge {
    /// The user's key.
    pub user: String,
    /// Its segment.
    pub segment: u32,
    /// Its edge weight to users of other segments.
    pub outside_weight: f64,
    /// That weight over all its edge weight.
    pub outside_share: f64,
    /// Other segments it has edges into.
    pub segments_reached: usize,
}

impl CommunitySummary {
    /// The summary of `fit` over `graph` (node `i` the user `keys[i]`),
    /// with each user's `segments` (of `k`).
    pub fn new(
        fit: &CommunityFit,
        objective: &'static str,
        resolution: f64,
        graph: &Graph,
        keys: &Keys,
        segments: &[u32],
        k: usize,
    ) -> CommunitySummary {
        let mut weights = vec![vec![0.0f64; k]; k];
        let mut bridges: Vec<Bridge> = Vec::new();
        let mut reached = vec![false; k];
        for v in 0..graph.nodes() {
            let own = segments[v] as usize;
            let (targets, w) = graph.neighbours(v);
            let mut outside = 0.0;
            let mut total = 0.0;
            let mut count = 0;
            for (&u, &w) in targets.iter().zip(w) {
                let other = segments[u as usize] as usize;
                total += w;
                if other != own {
                    outside += w;
                    if !reached[other] {
                        reached[other] = true;
                        count += 1;
                    }
                }
                // Each edge once: from its lower end.
                if (u as usize) > v {
                    let (a, b) = (own.min(other), own.max(other));
                    weights[a][b] += w;
                }
            }
            for &u in targets {
                reached[segments[u as usize] as usize] = false;
            }
            if outside > 0.0 {
                bridges.push(Bridge {
                    user: keys[v].to_string(),
                    segment: own as u32,
                    outside_weight: outside,
                    outside_share: outside / total,
                    segments_reached: count,
                });
                if bridges.len() > 4 * BRIDGES {
                    keep_top(&mut bridges);
                }
            }
        }
        keep_top(&mut bridges);
        // Symmetric, for reading by row.
        let upper = weights.clone();
        for (a, row) in weights.iter_mut().enumerate() {
            for (b, w) in row.iter_mut().enumerate().take(a) {
                *w = upper[b][a];
            }
        }
        let c = &fit.communities;
        CommunitySummary {
            objective,
            resolution,
            communities: c.count,
            other_users: fit.other_users(),
            min_community_size: fit.min_users,
            modularity: c.modularity,
            inside_weight_share: c.inside_share,
            graph: fit.graph.clone(),
            weights,
            bridges,
        }
    }
}

/// Keeps the [`BRIDGES`] users of most outside weight (ties: the lower
/// key), most first.
fn keep_top(bridges: &mut Vec<Bridge>) {
    bridges.sort_by(|a, b| {
        b.outside_weight
            .total_cmp(&a.outside_weight)
            .then_with(|| a.user.cmp(&b.user))
    });
    bridges.truncate(BRIDGES);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_between_segments_and_bridges() {
        // Segment 0: a, b; segment 1: c, d. Edges a-b 2, c-d 1, b-c 3, a-c 1.
        let g = Graph::from_edges(4, &[(0, 1, 2.0), (2, 3, 1.0), (1, 2, 3.0), (0, 2, 1.0)]);
        let keys: Keys = ["a", "b", "c", "d"].into_iter().collect();
        let communities = crate::graph::leiden(&g, &crate::graph::LeidenParams::default());
        let fit = CommunityFit {
            kept: communities.count,
            communities,
            other: false,
            min_users: 1,
            graph: GraphStats::default(),
            seconds_leiden: 0.0,
        };
        let s = CommunitySummary::new(&fit, "modularity", 1.0, &g, &keys, &[0, 0, 1, 1], 2);
        assert_eq!(s.weights, vec![vec![2.0, 4.0], vec![4.0, 1.0]]);
        assert_eq!(s.bridges[0].user, "c");
        assert_eq!(s.bridges[0].outside_weight, 4.0);
        assert_eq!(s.bridges[0].outside_share, 0.8);
        assert_eq!(s.bridges.len(), 3);
        assert_eq!(s.bridges[1].user, "b");
    }
}
