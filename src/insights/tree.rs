//! The top of a hierarchical fit's tree as the report draws it: the last
//! merges (30, or K - 1 when the cut has more segments), their leaves with
//! their users and segment, and the height of the merge that ends each K
//! of the sweep.

use serde::Serialize;

use crate::cluster::hierarchical::{Linkage, Tree};

/// Merges at the top of the tree the report draws (more when the cut has
/// more segments than that leaves leaves: every segment gets its own).
pub const TOP: usize = 30;

/// The top of a tree: leaves in drawing order (a depth-first walk from
/// the root, left branch first, so no lines cross), then merges.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeSummary {
    /// `ward`, `average`, `complete` or `single`.
    pub linkage: &'static str,
    /// Micro-clusters the tree was built over; `None`: exact.
    pub micro_clusters: Option<usize>,
    /// The clusters the top merges start from, in drawing order.
    pub leaves: Vec<TreeLeaf>,
    /// The top merges, lowest first; leaves are numbered `0..leaves`, the
    /// cluster of merge `i` is `leaves + i`.
    pub merges: Vec<TreeMerge>,
    /// Per K of the sweep, the height at which its K segments start
    /// merging (the next merge), and the gap below it (the range of
    /// heights that cut the tree into K).
    pub heights: Vec<KHeight>,
}

/// A leaf of the drawn tree: a cluster below the top merges.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeLeaf {
    /// Its users.
    pub users: u64,
    /// The segment its users are in (cuts nest: one per leaf).
    pub segment: u32,
}

/// One merge of the drawn tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeMerge {
    /// The two clusters merged (see [`TreeSummary::merges`]).
    pub left: usize,
    /// The other.
    pub right: usize,
    /// The linkage distance, scaled units.
    pub height: f64,
    /// Users under it.
    pub users: u64,
}

/// Where the cut of one K sits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KHeight {
    /// Segments.
    pub k: usize,
    /// The height of the merge that leaves K - 1.
    pub height: f64,
    /// That height less the one that left K (0 where K is all users).
    pub gap: f64,
}

impl TreeSummary {
    /// The top of `tree`, its users in `segments` (one per user), for the
    /// K of `ks`.
    pub fn new(linkage: Linkage, tree: &Tree, segments: &[u32], ks: &[usize]) -> Self {
        let z = &tree.dendrogram;
        let n = z.n;
        let users = z.weighted(&tree.members);
        let size = |c: usize| {
            if c < n { tree.members[c] } else { users[c - n] }
        };
        // A user of each starting cluster, to read its segment.
        let mut user_of = vec![usize::MAX; n];
        match &tree.micro {
            Some(micro) => {
                for (i, &m) in micro.iter().enumerate() {
                    if user_of[m as usize] == usize::MAX {
                        user_of[m as usize] = i;
                    }
                }
            }
            None => user_of.iter_mut().enumerate().for_each(|(i, u)| *u = i),
        }
        // At least the merges above the cut, so that each leaf lies in one
        // segment (cuts nest).
        let k = segments.iter().max().map_or(1, |&s| s as usize + 1);
        let drawn = TOP.max(k.saturating_sub(1));
        let from = z.merges.len().saturating_sub(drawn);
        let top = &z.merges[from..];
        let mut leaves = Vec::new();
        let mut leaf_number = std::collections::HashMap::new();
        // Depth-first from the root, left branch first.
        if let Some(_root) = top.last() {
            let mut stack = vec![n + z.merges.len() - 1];
            while let Some(c) = stack.pop() {
                if c >= n + from {
                    let m = &z.merges[c - n];
                    stack.push(m.right);
                    stack.push(m.left);
                } else {
                    leaf_number.insert(c, leaves.len());
                    leaves.push(TreeLeaf {
                        users: size(c),
                        segment: segments[user_of[z.first_leaf(c)]],
                    });
                }
            }
        } else if n == 1 {
            leaves.push(TreeLeaf {
                users: size(0),
                segment: segments[user_of[0]],
            });
        }
        let count = leaves.len();
        let number = |c: usize| {
            if c >= n + from {
                count + (c - n - from)
            } else {
                leaf_number[&c]
            }
        };
        let merges = top
            .iter()
            .enumerate()
            .map(|(i, m)| TreeMerge {
                left: number(m.left),
                right: number(m.right),
                height: m.height,
                users: users[from + i],
            })
            .collect();
        let heights = ks
            .iter()
            .filter(|&&k| k >= 2 && k <= n)
            .map(|&k| {
                let next = z.merges[n - k].height;
                let below = if k < n {
                    z.merges[n - k - 1].height
                } else {
                    0.0
                };
                KHeight {
                    k,
                    height: next,
                    gap: next - below,
                }
            })
            .collect();
        TreeSummary {
            linkage: linkage.name(),
            micro_clusters: tree.micro.as_ref().map(|_| n),
            leaves,
            merges,
            heights,
        }
    }
}
