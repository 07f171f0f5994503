//! Leiden (Traag, Waltman & van Eck 2019, "From Louvain to Leiden:
//! guaranteeing well-connected communities").
//!
//! Each iteration moves nodes between communities (fast local moving),
//! refines every community into well-connected subcommunities (merging
//! singletons at random among those that improve the quality, with
//! randomness `θ = 0.01` as igraph and leidenalg use), aggregates the
//! graph over the refined subcommunities, starting it from the unrefined
//! partition, and repeats on the aggregate until no node moves. Iterations
//! repeat from the last partition while the quality rises, at most
//! `max_iterations` (2 by default, as igraph's and leidenalg's defaults). Communities are connected: refinement only merges
//! along edges, and a last pass splits any community into its connected
//! components (which can only raise the quality).
//!
//! # Quality
//!
//! Both objectives are `Σ_c (w_c − λ S_c² / 2)` up to a constant, with
//! `w_c` the weight of the edges inside community `c` and `S_c` the sum of
//! its nodes' weights: for modularity a node's weight is its strength and
//! `λ = γ / 2m` (`m` the total edge weight); for the Constant Potts Model
//! it is its size (1 per user) and `λ = γ`, the `resolution`.
//!
//! # Deterministic in parallel
//!
//! Local moving visits the active nodes in an order drawn from the seed,
//! in batches of a size fixed by the number of nodes alone. The nodes of a
//! batch each find their best move in parallel, against the partition as
//! the batch found it; the moves are then made one by one in batch order,
//! each only if it still improves the quality with the communities' totals
//! as they are then. Nodes next to a node that moved are visited again in
//! the next round. Refinement runs each community on its own, in
//! parallel, with a random stream drawn from the seed and the community's
//! number. Nothing depends on which thread did what, so a seed gives the
//! same communities at any thread count.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::{Graph, Groups, renumber};

/// What Leiden maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Newman's modularity with a resolution γ: communities denser than
    /// a random graph of the same degrees would make them.
    #[default]
    Modularity,
    /// The Constant Potts Model: communities whose density is above the
    /// resolution, whatever the rest of the graph.
    Cpm,
}

impl Objective {
    /// The name `--objective` takes.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Modularity => "modularity",
            Objective::Cpm => "cpm",
        }
    }
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "modularity" => Ok(Objective::Modularity),
            "cpm" => Ok(Objective::Cpm),
            _ => Err(format!("{s:?}: expected modularity or cpm")),
        }
    }
}

/// Leiden's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeidenParams {
    /// Modularity or the Constant Potts Model.
    pub objective: Objective,
    /// γ: higher gives more, smaller communities.
    pub resolution: f64,
    /// Fixes every random choice.
    pub seed: u64,
    /// Iterations at most (2 by default, as igraph and leidenalg); they
    /// stop earlier once one does not raise the quality.
    pub max_iterations: usize,
    /// θ of the refinement's random merges (0.01 as igraph and leidenalg).
    pub randomness: f64,
}

impl Default for LeidenParams {
    fn default() -> Self {
        LeidenParams {
            objective: Objective::Modularity,
            resolution: 1.0,
            seed: 0,
            max_iterations: 2,
            randomness: 0.01,
        }
    }
}

/// Communities found by [`leiden`].
#[derive(Debug, Clone, PartialEq)]
pub struct Communities {
    /// Each node's community: 0 the largest, ties to the one holding the
    /// lowest node.
    pub membership: Vec<u32>,
    /// Communities.
    pub count: usize,
    /// Nodes in each community, community 0 first.
    pub sizes: Vec<usize>,
    /// Iterations run.
    pub iterations: usize,
    /// Modularity at resolution 1 (whatever the objective).
    pub modularity: f64,
    /// The objective's own value at its resolution: modularity at γ, or
    /// the CPM's `Σ_c (w_c − γ n_c (n_c − 1) / 2)`.
    pub quality: f64,
    /// The share of the edge weight inside communities.
    pub inside_share: f64,
    /// Communities that came out of the iterations disconnected and were
    /// split into their components (0 when Leiden's guarantee held alone).
    pub split: usize,
}

/// Runs Leiden on `graph` (see the module's documentation).
pub fn leiden(graph: &Graph, params: &LeidenParams) -> Communities {
    let n = graph.nodes();
    let weights = match params.objective {
        Objective::Modularity => graph.strengths(),
        Objective::Cpm => vec![1.0; n],
    };
    let m = graph.total_weight();
    let lambda = match params.objective {
        Objective::Modularity if m > 0.0 => params.resolution / (2.0 * m),
        Objective::Modularity => 0.0,
        Objective::Cpm => params.resolution,
    };
    let mut membership: Vec<u32> = (0..n as u32).collect();
    let mut iterations = 0;
    if graph.edges() > 0 {
        // The objective up to a constant, as local moving sees it.
        let score = |membership: &[u32]| match params.objective {
            Objective::Modularity => modularity(graph, membership, params.resolution),
            Objective::Cpm => cpm(graph, membership, params.resolution),
        };
        let mut best = score(&membership);
        for iteration in 0..params.max_iterations.max(1) {
            iterations += 1;
            let seed = mix(params.seed, iteration as u64);
            let mut next = iterate(graph, &weights, lambda, &membership, seed, params);
            renumber(&mut next);
            let quality = score(&next);
            // As leidenalg: iterate while the quality rises.
            let improved = quality > best + 1e-12 * best.abs().max(1.0);
            if quality >= best {
                membership = next;
                best = quality;
            }
            if !improved {
                break;
            }
        }
    }
    // Leiden keeps communities connected; splitting any that are not
    // makes it a guarantee.
    // The working space grew with the graph: give it back.
    let release = || SCRATCH.with(|cell| *cell.borrow_mut() = Scratch::default());
    rayon::broadcast(|_| release());
    release();
    let (mut components, count) = graph.components_within(&membership);
    let before = renumber(&mut membership);
    let split = count - before;
    by_size(&mut components, count);
    finish(graph, components, count, iterations, split, params)
}

/// Renumbers communities by size, largest first (ties: lowest first node).
fn by_size(membership: &mut [u32], count: usize) {
    let mut sizes = vec![0usize; count];
    for &c in membership.iter() {
        sizes[c as usize] += 1;
    }
    // Labels are numbered in order of first node (renumbered), so a
    // stable sort by size keeps that order among ties.
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(sizes[c]));
    let mut rank = vec![0u32; count];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r as u32;
    }
    for c in membership.iter_mut() {
        *c = rank[*c as usize];
    }
}

/// The communities' record: sizes and qualities.
fn finish(
    graph: &Graph,
    membership: Vec<u32>,
    count: usize,
    iterations: usize,
    split: usize,
    params: &LeidenParams,
) -> Communities {
    let mut sizes = vec![0usize; count];
    for &c in &membership {
        sizes[c as usize] += 1;
    }
    let m = graph.total_weight();
    let inside: f64 = inside_weights(graph, &membership, count).iter().sum();
    Communities {
        inside_share: if m > 0.0 { inside / m } else { 0.0 },
        modularity: modularity(graph, &membership, 1.0),
        quality: match params.objective {
            Objective::Modularity => modularity(graph, &membership, params.resolution),
            Objective::Cpm => cpm(graph, &membership, params.resolution),
        },
        membership,
        count,
        sizes,
        iterations,
        split,
    }
}

/// Labels' count: the highest label plus one.
fn label_count(membership: &[u32]) -> usize {
    membership
        .iter()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0)
}

/// The modularity of a partition at resolution `gamma`:
/// `Σ_c (w_c / m − γ (S_c / 2m)²)`, `w_c` the weight inside community
/// `c`, `S_c` its nodes' strengths added, `m` the total weight (0 for a
/// graph without edges).
pub fn modularity(graph: &Graph, membership: &[u32], gamma: f64) -> f64 {
    let m = graph.total_weight();
    if m == 0.0 {
        return 0.0;
    }
    let count = label_count(membership);
    let inside = inside_weights(graph, membership, count);
    let mut totals = vec![0.0f64; count];
    for (v, &c) in membership.iter().enumerate() {
        totals[c as usize] += graph.strength(v);
    }
    inside
        .iter()
        .zip(&totals)
        .map(|(&w, &t)| w / m - gamma * (t / (2.0 * m)).powi(2))
        .sum()
}

/// The Constant Potts Model's quality of a partition at resolution
/// `gamma`: `Σ_c (w_c − γ n_c (n_c − 1) / 2)`, `n_c` the nodes of
/// community `c`.
pub fn cpm(graph: &Graph, membership: &[u32], gamma: f64) -> f64 {
    let count = label_count(membership);
    let inside = inside_weights(graph, membership, count);
    let mut sizes = vec![0.0f64; count];
    for &c in membership {
        sizes[c as usize] += 1.0;
    }
    inside
        .iter()
        .zip(&sizes)
        .map(|(&w, &n)| w - gamma * n * (n - 1.0) / 2.0)
        .sum()
}

/// The weight of the edges inside each community, each edge once.
pub fn inside_weights(graph: &Graph, membership: &[u32], count: usize) -> Vec<f64> {
    let mut inside = vec![0.0f64; count];
    for v in 0..graph.nodes() {
        let c = membership[v];
        let (targets, weights) = graph.neighbours(v);
        for (&u, &w) in targets.iter().zip(weights) {
            if membership[u as usize] == c {
                inside[c as usize] += w;
            }
        }
    }
    inside.iter_mut().for_each(|w| *w /= 2.0);
    inside
}

/// A seed for one part of the work, drawn from another seed.
fn mix(seed: u64, part: u64) -> u64 {
    // SplitMix64's finaliser over the pair.
    let mut z = seed
        ^ part
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One Leiden iteration from `start` (a partition of the graph's nodes);
/// returns the new partition.
fn iterate(
    graph: &Graph,
    weights: &[f64],
    lambda: f64,
    start: &[u32],
    seed: u64,
    params: &LeidenParams,
) -> Vec<u32> {
    let n = graph.nodes();
    // Each node's node in the current level's graph.
    let mut node_of: Vec<u32> = (0..n as u32).collect();
    let mut level_graph: Option<Graph> = None;
    let mut level_weights = weights.to_vec();
    let mut partition = start.to_vec();
    for level in 0u64.. {
        let g = level_graph.as_ref().unwrap_or(graph);
        let level_seed = mix(seed, level);
        move_nodes(g, &level_weights, lambda, &mut partition, level_seed);
        let communities = renumber(&mut partition);
        if communities == g.nodes() {
            break;
        }
        let mut refined = refine(
            g,
            &level_weights,
            lambda,
            &partition,
            communities,
            params.randomness,
            mix(level_seed, 1),
        );
        let mut count = renumber(&mut refined);
        if count == g.nodes() {
            // Refinement merged nothing: aggregate the partition itself.
            refined.clone_from(&partition);
            count = communities;
        }
        let (aggregate, aggregate_weights) = aggregate(g, &level_weights, &refined, count);
        let mut next = vec![0u32; count];
        for (v, &r) in refined.iter().enumerate() {
            next[r as usize] = partition[v];
        }
        for node in node_of.iter_mut() {
            *node = refined[*node as usize];
        }
        level_graph = Some(aggregate);
        level_weights = aggregate_weights;
        partition = next;
    }
    node_of.iter().map(|&v| partition[v as usize]).collect()
}

/// Working space of one thread: a weight per community and the
/// communities touched.
#[derive(Default)]
struct Scratch {
    weight: Vec<f64>,
    touched: Vec<u32>,
}

impl Scratch {
    /// Adds `w` to community `c`.
    #[inline]
    fn add(&mut self, c: u32, w: f64) {
        let slot = &mut self.weight[c as usize];
        if *slot == 0.0 {
            self.touched.push(c);
        }
        *slot += w;
    }

    /// Clears what was touched.
    fn clear(&mut self) {
        for &c in &self.touched {
            self.weight[c as usize] = 0.0;
        }
        self.touched.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A node's best move: to a community, or to an empty one (`None`).
#[derive(Clone, Copy)]
struct Move {
    to: Option<u32>,
    /// The node's edge weight to the target community, and to its own
    /// (itself left out).
    to_weight: f64,
    own_weight: f64,
}

/// The state local moving updates.
struct Moving<'a> {
    graph: &'a Graph,
    weights: &'a [f64],
    lambda: f64,
    membership: &'a mut [u32],
    /// Per community: the sum of its nodes' weights, and its nodes.
    totals: Vec<f64>,
    counts: Vec<u32>,
    /// Empty communities.
    free: Vec<u32>,
    /// The smallest gain that counts as one, before the part relative
    /// to the terms of the gain (see [`Moving::improves`]).
    epsilon: f64,
    /// Communities a move of the current batch left or joined.
    touched: Vec<bool>,
    touched_list: Vec<u32>,
}

impl Moving<'_> {
    /// Whether `gain`, computed from terms adding up to `scale` in
    /// magnitude, is a gain and not rounding: above 1e-12 of the mean
    /// edge weight and of its own terms.
    #[inline]
    fn improves(&self, gain: f64, scale: f64) -> bool {
        gain > self.epsilon + 1e-12 * scale
    }

    /// The best move of node `v` against the current state, if any
    /// improves the quality; ties go to the lowest community.
    fn best(&self, v: usize) -> Option<Move> {
        let own = self.membership[v];
        let (targets, edge_weights) = self.graph.neighbours(v);
        if targets.is_empty() {
            return None;
        }
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            if scratch.weight.len() < self.totals.len() {
                scratch.weight.resize(self.totals.len(), 0.0);
            }
            for (&u, &w) in targets.iter().zip(edge_weights) {
                scratch.add(self.membership[u as usize], w);
            }
            let own_weight = scratch.weight[own as usize];
            let s = self.weights[v];
            let rest = self.totals[own as usize] - s;
            let mut best: Option<Move> = None;
            let mut best_gain = 0.0;
            for &c in &scratch.touched {
                if c == own {
                    continue;
                }
                let w = scratch.weight[c as usize];
                let total = self.totals[c as usize];
                let gain = (w - own_weight) - self.lambda * s * (total - rest);
                let scale = w + own_weight + self.lambda * s * (total + rest);
                if !self.improves(gain, scale) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some(b) => gain > best_gain || (gain == best_gain && Some(c) < b.to),
                };
                if better {
                    best_gain = gain;
                    best = Some(Move {
                        to: Some(c),
                        to_weight: w,
                        own_weight,
                    });
                }
            }
            let alone = -own_weight + self.lambda * s * rest;
            if self.counts[own as usize] > 1
                && self.improves(alone, own_weight + self.lambda * s * rest)
                && (best.is_none() || alone > best_gain)
            {
                best = Some(Move {
                    to: None,
                    to_weight: 0.0,
                    own_weight,
                });
            }
            scratch.clear();
            best
        })
    }

    /// Makes `v`'s move if it still improves the quality; returns whether
    /// it did. A move whose communities an earlier move of the batch left
    /// or joined is found again against the current state (its edge
    /// weights to them changed); any other was found with exact weights
    /// and is checked against the current totals. Every move made thus
    /// raises the quality, so local moving ends.
    fn commit(&mut self, v: usize, m: Move) -> bool {
        let own = self.membership[v];
        let stale = self.touched[own as usize] || m.to.is_some_and(|c| self.touched[c as usize]);
        let m = if stale {
            match self.best(v) {
                Some(m) => m,
                None => return false,
            }
        } else {
            m
        };
        let s = self.weights[v];
        let rest = self.totals[own as usize] - s;
        let to = match m.to {
            Some(c) => {
                let total = self.totals[c as usize];
                let gain = (m.to_weight - m.own_weight) - self.lambda * s * (total - rest);
                let scale = m.to_weight + m.own_weight + self.lambda * s * (total + rest);
                if !self.improves(gain, scale) {
                    return false;
                }
                c
            }
            None => {
                let gain = -m.own_weight + self.lambda * s * rest;
                let scale = m.own_weight + self.lambda * s * rest;
                if self.counts[own as usize] <= 1 || !self.improves(gain, scale) {
                    return false;
                }
                self.free.pop().expect("a community is empty")
            }
        };
        self.totals[own as usize] -= s;
        self.counts[own as usize] -= 1;
        if self.counts[own as usize] == 0 {
            self.free.push(own);
        }
        self.totals[to as usize] += s;
        self.counts[to as usize] += 1;
        self.membership[v] = to;
        for c in [own, to] {
            if !self.touched[c as usize] {
                self.touched[c as usize] = true;
                self.touched_list.push(c);
            }
        }
        true
    }

    /// Forgets the batch's touched communities.
    fn end_batch(&mut self) {
        for &c in &self.touched_list {
            self.touched[c as usize] = false;
        }
        self.touched_list.clear();
    }
}

/// Nodes per batch of local moving: a function of the node count alone
/// (never of the threads), small enough that few nodes of a batch are
/// neighbours.
fn batch_size(n: usize) -> usize {
    (n / 256).clamp(1, 4096)
}

/// Fast local moving of the nodes of `graph` from `membership` (numbered
/// below the node count), in parallel batches (see the module's
/// documentation).
fn move_nodes(graph: &Graph, weights: &[f64], lambda: f64, membership: &mut [u32], seed: u64) {
    let n = graph.nodes();
    let mut totals = vec![0.0f64; n];
    let mut counts = vec![0u32; n];
    for (v, &c) in membership.iter().enumerate() {
        totals[c as usize] += weights[v];
        counts[c as usize] += 1;
    }
    let free: Vec<u32> = (0..n as u32)
        .rev()
        .filter(|&c| counts[c as usize] == 0)
        .collect();
    // Gains below this are rounding: 1e-12 of the mean edge weight (and of
    // each gain's own terms, see `Moving::improves`).
    let epsilon = if graph.edges() > 0 {
        1e-12 * graph.total_weight() / graph.edges() as f64
    } else {
        0.0
    };
    let mut state = Moving {
        graph,
        weights,
        lambda,
        membership,
        totals,
        counts,
        free,
        epsilon,
        touched: vec![false; n],
        touched_list: Vec::new(),
    };
    let order = shuffled(n, seed);
    let again: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
    let batch = batch_size(n);
    let mut active = order.clone();
    let mut moved = Vec::with_capacity(batch);
    while !active.is_empty() {
        for nodes in active.chunks(batch) {
            let proposals: Vec<Option<Move>> = nodes
                .par_iter()
                .map(|&v| {
                    again[v as usize].store(false, Ordering::Relaxed);
                    state.best(v as usize)
                })
                .collect();
            moved.clear();
            for (&v, proposal) in nodes.iter().zip(proposals) {
                if let Some(m) = proposal
                    && state.commit(v as usize, m)
                {
                    moved.push(v);
                }
            }
            state.end_batch();
            let membership = &*state.membership;
            moved.par_iter().for_each(|&v| {
                let c = membership[v as usize];
                for &u in graph.neighbours(v as usize).0 {
                    if membership[u as usize] != c {
                        again[u as usize].store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        active = order
            .par_iter()
            .copied()
            .filter(|&v| again[v as usize].load(Ordering::Relaxed))
            .collect();
    }
}

/// 0..n in an order drawn from `seed`.
fn shuffled(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// Refines each community of `partition` (numbered below `communities`)
/// into well-connected subcommunities; returns each node's subcommunity
/// (labels unique across communities, not compact).
fn refine(
    graph: &Graph,
    weights: &[f64],
    lambda: f64,
    partition: &[u32],
    communities: usize,
    theta: f64,
    seed: u64,
) -> Vec<u32> {
    let groups = Groups::of(partition, communities);
    // Each node's position in its community.
    let mut position = vec![0u32; graph.nodes()];
    for g in 0..groups.len() {
        for (i, &v) in groups.get(g).iter().enumerate() {
            position[v as usize] = i as u32;
        }
    }
    let local: Vec<Vec<u32>> = (0..groups.len())
        .into_par_iter()
        .map(|g| {
            let nodes = groups.get(g);
            let community = Community {
                graph,
                weights,
                lambda,
                partition,
                position: &position,
                nodes,
                label: g as u32,
            };
            community.refine(theta, mix(seed, g as u64))
        })
        .collect();
    let mut refined = vec![0u32; graph.nodes()];
    for (g, labels) in local.iter().enumerate() {
        let base = groups.offsets[g] as u32;
        for (&v, &l) in groups.get(g).iter().zip(labels) {
            refined[v as usize] = base + l;
        }
    }
    refined
}

/// One community of the partition being refined.
struct Community<'a> {
    graph: &'a Graph,
    weights: &'a [f64],
    lambda: f64,
    partition: &'a [u32],
    position: &'a [u32],
    /// Its nodes, ascending.
    nodes: &'a [u32],
    /// Its label in `partition`.
    label: u32,
}

impl Community<'_> {
    /// Each node's subcommunity (a local index): singletons merged at
    /// random into well-connected subcommunities they improve.
    fn refine(&self, theta: f64, seed: u64) -> Vec<u32> {
        let len = self.nodes.len();
        let mut sub: Vec<u32> = (0..len as u32).collect();
        if len < 2 {
            return sub;
        }
        let lambda = self.lambda;
        let s: Vec<f64> = self
            .nodes
            .iter()
            .map(|&v| self.weights[v as usize])
            .collect();
        let total: f64 = s.iter().sum();
        // Each node's edge weight to the rest of the community.
        let inner: Vec<f64> = self
            .nodes
            .iter()
            .map(|&v| {
                let (targets, w) = self.graph.neighbours(v as usize);
                targets
                    .iter()
                    .zip(w)
                    .filter(|&(&u, _)| self.partition[u as usize] == self.label)
                    .map(|(_, &w)| w)
                    .sum()
            })
            .collect();
        // Per subcommunity: its weight, its edge weight to the rest of
        // the community, its nodes.
        let mut sub_total = s.clone();
        let mut sub_outer = inner.clone();
        let mut sub_count = vec![1u32; len];
        let mut weight_to = vec![0.0f64; len];
        let mut touched: Vec<u32> = Vec::new();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut order: Vec<u32> = (0..len as u32).collect();
        for i in (1..len).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut candidates: Vec<(u32, f64)> = Vec::new();
        for &i in &order {
            let i = i as usize;
            let own = sub[i] as usize;
            // Only singletons move, and only well-connected ones.
            if sub_count[own] != 1 || inner[i] < lambda * s[i] * (total - s[i]) {
                continue;
            }
            let v = self.nodes[i] as usize;
            let (targets, w) = self.graph.neighbours(v);
            for (&u, &w) in targets.iter().zip(w) {
                if self.partition[u as usize] != self.label {
                    continue;
                }
                let c = sub[self.position[u as usize] as usize];
                if weight_to[c as usize] == 0.0 {
                    touched.push(c);
                }
                weight_to[c as usize] += w;
            }
            // Staying alone gains 0; each well-connected subcommunity the
            // move does not worsen is a candidate.
            candidates.clear();
            candidates.push((own as u32, 0.0));
            let mut best = 0.0f64;
            touched.sort_unstable();
            for &c in &touched {
                let cu = c as usize;
                if cu == own {
                    continue;
                }
                let connected = sub_outer[cu] >= lambda * sub_total[cu] * (total - sub_total[cu]);
                let gain = weight_to[cu] - lambda * s[i] * sub_total[cu];
                if connected && gain >= 0.0 {
                    candidates.push((c, gain));
                    best = best.max(gain);
                }
            }
            let chosen = if candidates.len() == 1 {
                own as u32
            } else {
                // P(c) proportional to exp(gain / θ), computed from the
                // best so that nothing overflows.
                let odds: Vec<f64> = candidates
                    .iter()
                    .map(|&(_, g)| ((g - best) / theta).exp())
                    .collect();
                let sum: f64 = odds.iter().sum();
                let mut draw = rng.random::<f64>() * sum;
                let mut pick = candidates[candidates.len() - 1].0;
                for (&(c, _), &p) in candidates.iter().zip(&odds) {
                    if draw < p {
                        pick = c;
                        break;
                    }
                    draw -= p;
                }
                pick
            };
            if chosen as usize != own {
                let c = chosen as usize;
                sub_outer[c] += inner[i] - 2.0 * weight_to[c];
                sub_total[c] += s[i];
                sub_count[c] += 1;
                sub_count[own] = 0;
                sub[i] = chosen;
            }
            for &c in &touched {
                weight_to[c as usize] = 0.0;
            }
            touched.clear();
        }
        sub
    }
}

/// The graph of `labels`' groups (numbered below `count`): one node per
/// group weighing its nodes' weights, edges adding the weights between
/// groups (those inside a group dropped), built in parallel.
fn aggregate(graph: &Graph, weights: &[f64], labels: &[u32], count: usize) -> (Graph, Vec<f64>) {
    let groups = Groups::of(labels, count);
    let mut node_weights = vec![0.0f64; count];
    for (v, &l) in labels.iter().enumerate() {
        node_weights[l as usize] += weights[v];
    }
    let rows: Vec<Vec<(u32, f64)>> = (0..count)
        .into_par_iter()
        .map(|g| {
            SCRATCH.with(|cell| {
                let mut scratch = cell.borrow_mut();
                if scratch.weight.len() < count {
                    scratch.weight.resize(count, 0.0);
                }
                for &v in groups.get(g) {
                    let (targets, w) = graph.neighbours(v as usize);
                    for (&u, &w) in targets.iter().zip(w) {
                        let h = labels[u as usize];
                        if h as usize != g {
                            scratch.add(h, w);
                        }
                    }
                }
                let mut row: Vec<(u32, f64)> = scratch
                    .touched
                    .iter()
                    .map(|&h| (h, scratch.weight[h as usize]))
                    .collect();
                row.sort_unstable_by_key(|&(h, _)| h);
                scratch.clear();
                row
            })
        })
        .collect();
    let mut offsets = Vec::with_capacity(count + 1);
    offsets.push(0);
    let mut targets = Vec::with_capacity(rows.iter().map(Vec::len).sum());
    let mut edge_weights = Vec::with_capacity(targets.capacity());
    for row in rows {
        for (h, w) in row {
            targets.push(h);
            edge_weights.push(w);
        }
        offsets.push(targets.len());
    }
    (
        Graph::from_sorted_rows(offsets, targets, edge_weights),
        node_weights,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two cliques of `size` joined by one edge.
    fn two_cliques(size: u32) -> Graph {
        let mut edges = Vec::new();
        for base in [0, size] {
            for a in 0..size {
                for b in a + 1..size {
                    edges.push((base + a, base + b, 1.0));
                }
            }
        }
        edges.push((0, size, 1.0));
        Graph::from_edges(2 * size as usize, &edges)
    }

    #[test]
    fn finds_two_cliques() {
        let g = two_cliques(6);
        let c = leiden(&g, &LeidenParams::default());
        assert_eq!(c.count, 2);
        assert_eq!(c.membership[..6], [0; 6]);
        assert_eq!(c.membership[6..], [1; 6]);
        // Modularity of two 6-cliques joined by an edge, by hand:
        // m = 31, each side 15 inside, degree sum 31.
        let expected = 2.0 * (15.0 / 31.0 - (31.0f64 / 62.0).powi(2));
        assert!((c.modularity - expected).abs() < 1e-12, "{}", c.modularity);
        assert_eq!(c.split, 0);
    }

    #[test]
    fn isolated_nodes_and_empty_graphs_stay_alone() {
        let g = Graph::from_edges(3, &[]);
        let c = leiden(&g, &LeidenParams::default());
        assert_eq!(c.count, 3);
        assert_eq!(c.membership, vec![0, 1, 2]);
        assert_eq!(c.modularity, 0.0);
    }

    #[test]
    fn cpm_at_a_high_resolution_keeps_nodes_apart() {
        let g = two_cliques(5);
        let params = LeidenParams {
            objective: Objective::Cpm,
            resolution: 2.0,
            ..LeidenParams::default()
        };
        let c = leiden(&g, &params);
        // Any merge costs 2 per pair for a gain of at most 1.
        assert_eq!(c.count, 10);
        let low = LeidenParams {
            resolution: 0.5,
            ..params
        };
        assert_eq!(leiden(&g, &low).count, 2);
    }

    #[test]
    fn the_same_seed_gives_the_same_communities_on_any_pool() {
        let g = two_cliques(30);
        let params = LeidenParams {
            seed: 9,
            ..LeidenParams::default()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| leiden(&g, &params));
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| leiden(&g, &params));
        assert_eq!(one, three);
    }
}
