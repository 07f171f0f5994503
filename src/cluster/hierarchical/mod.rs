//! Hierarchical segments (README, "Hierarchical segments"): agglomerative
//! clustering on Euclidean distances of the scaled features, one tree for
//! every K, cut where asked.
//!
//! - Exact mode ([`linkage`]): the same merges as SciPy's `linkage` for
//!   `ward`, `average`, `complete` and `single`. Ward's and single linkage
//!   need O(n d) memory; average and complete hold a condensed distance
//!   matrix, so they are refused past [`MAX_MATRIX_USERS`].
//! - Micro-cluster mode, for millions of users: K-Means with M
//!   micro-clusters, then the linkage over their centroids, each weighted
//!   by its members (Ward's and average linkage use the weights; single
//!   and complete read centroid distances alone). Each user takes its
//!   micro-cluster's branch. An approximation of the exact tree, measured
//!   in the README.
//!
//! The tree is a [`Dendrogram`] in SciPy's format: merges sorted by
//! height, each naming two clusters (starting clusters `0..n`, the cluster
//! made by merge `i` numbered `n + i`).

pub mod linkage;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use self::linkage::{MatrixLinkage, RawMerge};

/// Users up to which average and complete linkage hold their condensed
/// distance matrix (8 bytes a pair: 1.6 GB at 20,000 users).
pub const MAX_MATRIX_USERS: usize = 20_000;

/// How the distance between two clusters is measured (`--linkage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    /// The increase in within-cluster squared distance a merge causes.
    #[default]
    Ward,
    /// The mean distance between the clusters' members.
    Average,
    /// The largest distance between the clusters' members.
    Complete,
    /// The smallest distance between the clusters' members.
    Single,
}

impl Linkage {
    /// The name `--linkage` and the model file give it.
    pub fn name(self) -> &'static str {
        match self {
            Linkage::Ward => "ward",
            Linkage::Average => "average",
            Linkage::Complete => "complete",
            Linkage::Single => "single",
        }
    }

    /// The merges of `n` starting clusters (coordinates `points`, n x d,
    /// sizes `sizes`), in the order found.
    pub fn merges(self, points: &[f64], sizes: &[f64], d: usize) -> Vec<RawMerge> {
        match self {
            Linkage::Ward => linkage::ward(points, sizes, d),
            Linkage::Average => linkage::matrix(points, sizes, d, MatrixLinkage::Average),
            Linkage::Complete => linkage::matrix(points, sizes, d, MatrixLinkage::Complete),
            Linkage::Single => linkage::single(points, d),
        }
    }
}

impl FromStr for Linkage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ward" => Ok(Linkage::Ward),
            "average" => Ok(Linkage::Average),
            "complete" => Ok(Linkage::Complete),
            "single" => Ok(Linkage::Single),
            _ => Err(format!(
                "expected ward, average, complete or single, found {s:?}"
            )),
        }
    }
}

/// One merge of a [`Dendrogram`], as a row of SciPy's linkage matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// The lower-numbered cluster merged.
    pub left: usize,
    /// The higher-numbered cluster merged.
    pub right: usize,
    /// The linkage distance at which they merged.
    pub height: f64,
    /// Starting clusters (users, or micro-clusters) under the merge.
    pub size: usize,
}

/// A merge tree over `n` starting clusters, SciPy's linkage matrix:
/// `n - 1` merges sorted by height (stable: merges of equal height keep
/// the order they were found in), starting clusters numbered `0..n` and
/// the cluster of merge `i` numbered `n + i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dendrogram {
    /// Starting clusters.
    pub n: usize,
    /// The merges, lowest first.
    pub merges: Vec<Merge>,
}

/// Union-find with path halving, each root the cluster number of its set.
struct Sets {
    parent: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Self {
        Sets {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
}

impl Dendrogram {
    /// The tree of `raw` merges over `n` starting clusters: sorted by
    /// height (stable), each merge's clusters numbered as SciPy numbers
    /// them.
    pub fn from_merges(n: usize, mut raw: Vec<RawMerge>) -> Self {
        raw.sort_by(|a, b| a.height.total_cmp(&b.height));
        // Cluster numbers: a set's root (a representative) maps to the
        // number of the cluster it stands for.
        let mut sets = Sets::new(n);
        let mut number: Vec<usize> = (0..n).collect();
        let mut size = vec![1usize; n];
        let mut merges = Vec::with_capacity(raw.len());
        for (i, m) in raw.iter().enumerate() {
            let (ra, rb) = (sets.find(m.a), sets.find(m.b));
            let (x, y) = (number[ra], number[rb]);
            let merged = size[ra] + size[rb];
            sets.parent[ra] = rb;
            number[rb] = n + i;
            size[rb] = merged;
            merges.push(Merge {
                left: x.min(y),
                right: x.max(y),
                height: m.height,
                size: merged,
            });
        }
        Dendrogram { n, merges }
    }

    /// The same tree with each merge's size counted in users, when the
    /// starting clusters hold `members` users each.
    pub fn weighted(&self, members: &[u64]) -> Vec<u64> {
        let mut sizes: Vec<u64> = members.to_vec();
        for m in &self.merges {
            let s = sizes[m.left] + sizes[m.right];
            sizes.push(s);
        }
        sizes[self.n..].to_vec()
    }

    /// The clusters left after all but the last `k - 1` merges, for each
    /// starting cluster: numbered 0.. in the order of each cluster's first
    /// starting cluster. `k` is clamped to 1..=n.
    pub fn cut(&self, k: usize) -> Vec<u32> {
        let k = k.clamp(1, self.n.max(1));
        let mut sets = Sets::new(self.n);
        for m in &self.merges[..self.n - k] {
            let (a, b) = (self.leaf(m.left), self.leaf(m.right));
            let (ra, rb) = (sets.find(a), sets.find(b));
            sets.parent[ra] = rb;
        }
        let mut label = vec![u32::MAX; self.n];
        let mut next = 0;
        let mut out = Vec::with_capacity(self.n);
        for i in 0..self.n {
            let r = sets.find(i);
            if label[r] == u32::MAX {
                label[r] = next;
                next += 1;
            }
            out.push(label[r]);
        }
        out
    }

    /// Clusters left when merges above `height` are undone (at least 1).
    pub fn k_at_height(&self, height: f64) -> usize {
        let done = self.merges.iter().filter(|m| m.height <= height).count();
        self.n - done
    }

    /// A starting cluster under cluster number `c` (its lowest-numbered
    /// one).
    fn leaf(&self, mut c: usize) -> usize {
        while c >= self.n {
            c = self.merges[c - self.n].left;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(points: &[f64], linkage: Linkage) -> Dendrogram {
        let n = points.len();
        Dendrogram::from_merges(n, linkage.merges(points, &vec![1.0; n], 1))
    }

    #[test]
    fn merges_are_numbered_as_scipy_numbers_them() {
        // scipy.cluster.hierarchy.linkage([[0], [1], [5], [7]], "single"):
        // [[0, 1, 1, 2], [2, 3, 2, 2], [4, 5, 4, 4]].
        let z = tree(&[0.0, 1.0, 5.0, 7.0], Linkage::Single);
        let rows: Vec<(usize, usize, f64, usize)> = z
            .merges
            .iter()
            .map(|m| (m.left, m.right, m.height, m.size))
            .collect();
        assert_eq!(rows, [(0, 1, 1.0, 2), (2, 3, 2.0, 2), (4, 5, 4.0, 4)]);
        assert_eq!(z.cut(2), [0, 0, 1, 1]);
        assert_eq!(z.cut(3), [0, 0, 1, 2]);
        assert_eq!(z.cut(1), [0; 4]);
        assert_eq!(z.cut(4), [0, 1, 2, 3]);
        assert_eq!(z.k_at_height(1.5), 3);
        assert_eq!(z.weighted(&[10, 1, 1, 1]), [11, 2, 13]);
    }

    #[test]
    fn linkage_names_parse() {
        for l in [
            Linkage::Ward,
            Linkage::Average,
            Linkage::Complete,
            Linkage::Single,
        ] {
            assert_eq!(l.name().parse::<Linkage>(), Ok(l));
        }
        assert!("median".parse::<Linkage>().unwrap_err().contains("ward"));
    }
}
