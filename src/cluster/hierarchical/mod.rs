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

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use self::linkage::{MatrixLinkage, RawMerge};
use super::ClusterError;
use super::kmeans::{KMeans, kmeans_plus_plus, lloyd, run_seed};
use super::params::{ParamsError, SilhouetteMode};
use super::sweep::{Sweep, centroid_fit, finish};
use crate::backend::{Backend, LloydAlgorithm};
use crate::features::matrix::FeatureMatrix;

/// Users up to which average and complete linkage hold their condensed
/// distance matrix (8 bytes a pair: 1.6 GB at 20,000 users).
pub const MAX_MATRIX_USERS: usize = 20_000;

/// Users up to which the tree is exact by default; past them it is built
/// over [`DEFAULT_MICRO_CLUSTERS`] micro-clusters.
pub const EXACT_USERS: usize = 20_000;

/// Micro-clusters of the micro-cluster mode unless asked otherwise.
pub const DEFAULT_MICRO_CLUSTERS: usize = 1_000;

/// Lloyd iterations of the micro-clusters' K-Means: they summarise the
/// users, they need not converge.
const MICRO_ITERATIONS: usize = 10;

/// Users per micro-cluster sampled for their k-means++ start.
const MICRO_SAMPLE_PER_CLUSTER: usize = 40;

/// How a tree is built (`--linkage`, `--micro-clusters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HierarchicalParams {
    /// The linkage.
    pub linkage: Linkage,
    /// `None`: exact up to [`EXACT_USERS`] users, else
    /// [`DEFAULT_MICRO_CLUSTERS`]; `Some(0)`: exact; `Some(m)`: m
    /// micro-clusters (exact when there are no more users than that).
    pub micro_clusters: Option<usize>,
    /// Seed of the micro-clusters' sample and k-means++ start, and of
    /// silhouette samples.
    pub seed: u64,
    /// The coarser cut each segment's parent is taken from; `None`:
    /// [`default_parent_k`] of the K cut.
    pub parent_k: Option<usize>,
    /// Cut the tree at this height (scaled units) instead of choosing K
    /// by silhouette: its K joins the sweep and is the one chosen.
    pub cut_height: Option<f64>,
}

impl Default for HierarchicalParams {
    fn default() -> Self {
        HierarchicalParams {
            linkage: Linkage::Ward,
            micro_clusters: None,
            seed: 0,
            parent_k: None,
            cut_height: None,
        }
    }
}

/// The coarser cut under a cut of `k`: half as many segments, rounded up
/// (a board's view over a campaign's), 1 for `k` up to 2.
pub fn default_parent_k(k: usize) -> usize {
    if k <= 2 { 1 } else { k.div_ceil(2) }
}

impl HierarchicalParams {
    /// Checks what does not depend on the data.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.micro_clusters == Some(1) {
            return Err(ParamsError::BadMicroClusters(1));
        }
        if self.parent_k == Some(0) {
            return Err(ParamsError::BadParentK(0));
        }
        if let Some(h) = self.cut_height
            && !(h.is_finite() && h >= 0.0)
        {
            return Err(ParamsError::BadHeight(h));
        }
        Ok(())
    }

    /// The parent cut of a cut of `k`; an error when it is not coarser.
    pub fn parent_k_for(&self, k: usize) -> Result<usize, ParamsError> {
        match self.parent_k {
            None => Ok(default_parent_k(k)),
            Some(p) if p >= 1 && p < k => Ok(p),
            Some(p) => Err(ParamsError::BadParentK(p)),
        }
    }

    /// The micro-clusters a tree over `n` users is built on; `None`: exact.
    pub fn micro_clusters_for(&self, n: usize) -> Option<usize> {
        let m = match self.micro_clusters {
            None if n > EXACT_USERS => DEFAULT_MICRO_CLUSTERS,
            None | Some(0) => return None,
            Some(m) => m,
        };
        (m < n).then_some(m)
    }

    /// Whether a tree over `n` users can be built, and if not, why.
    pub fn check(&self, n: usize) -> Result<(), ClusterError> {
        self.validate()?;
        let starting = self.micro_clusters_for(n).unwrap_or(n);
        let matrix = matches!(self.linkage, Linkage::Average | Linkage::Complete);
        if matrix && starting > MAX_MATRIX_USERS {
            return Err(ClusterError::TooLarge(format!(
                "{} linkage holds a distance matrix of every pair, {} GiB for {starting} {}: it takes at most {MAX_MATRIX_USERS}; use --linkage ward (exact in O(n) memory) or --micro-clusters M",
                self.linkage.name(),
                (linkage::matrix_len(starting) * 8).div_ceil(1 << 30),
                if self.micro_clusters_for(n).is_some() {
                    "micro-clusters"
                } else {
                    "users"
                },
            )));
        }
        Ok(())
    }
}

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
            let (a, b) = (self.first_leaf(m.left), self.first_leaf(m.right));
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

    /// Writes the tree as SciPy's linkage matrix in CSV: a header
    /// `left,right,height,size`, then one row per merge, lowest first
    /// (`numpy.loadtxt(path, delimiter=",", skiprows=1)` reads it back as
    /// SciPy's `Z`). Heights in the shortest text that reads back exactly.
    pub fn write_csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut text = String::from("left,right,height,size\n");
        for m in &self.merges {
            text.push_str(&format!(
                "{},{},{:?},{}\n",
                m.left, m.right, m.height, m.size
            ));
        }
        out.write_all(text.as_bytes())
    }

    /// Clusters left when merges above `height` are undone (at least 1).
    pub fn k_at_height(&self, height: f64) -> usize {
        let done = self.merges.iter().filter(|m| m.height <= height).count();
        self.n - done
    }

    /// A starting cluster under cluster number `c` (reached by always
    /// taking the lower-numbered branch).
    pub fn first_leaf(&self, mut c: usize) -> usize {
        while c >= self.n {
            c = self.merges[c - self.n].left;
        }
        c
    }
}

/// The tree a hierarchical fit built, in scaled space.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// The merges; heights in scaled units. Over the users, or over the
    /// micro-clusters.
    pub dendrogram: Dendrogram,
    /// In micro-cluster mode, each user's micro-cluster (the tree's
    /// starting clusters); `None` when the tree is over the users.
    pub micro: Option<Vec<u32>>,
    /// Users under each starting cluster (all 1 when exact).
    pub members: Vec<u64>,
    /// Seconds spent on the micro-clusters, on the tree, and on placing
    /// the users in each K's cut (labels through the micro-clusters,
    /// centroids, inertia).
    pub seconds: (f64, f64, f64),
}

impl Tree {
    /// Each user's cluster at the cut of `k` clusters.
    pub fn labels(&self, k: usize) -> Vec<u32> {
        let cut = self.dendrogram.cut(k);
        match &self.micro {
            Some(micro) => micro.iter().map(|&m| cut[m as usize]).collect(),
            None => cut,
        }
    }
}

/// Builds the tree of `points` as `params` say: exact, or over
/// micro-clusters (k-means++ on a sample, then a few Lloyd iterations over
/// every user on `backend`).
pub fn build(
    backend: &Backend,
    points: &FeatureMatrix,
    params: &HierarchicalParams,
) -> Result<Tree, ClusterError> {
    params.check(points.n())?;
    let d = points.d();
    let started = std::time::Instant::now();
    let (starting, sizes, micro) = match params.micro_clusters_for(points.n()) {
        None => (
            points.as_slice().iter().map(|&v| f64::from(v)).collect(),
            vec![1.0; points.n()],
            None,
        ),
        Some(m) => {
            let fit = micro_clusters(backend, points, m, params.seed)?;
            // Empty micro-clusters are dropped; the rest renumbered.
            let mut counts = vec![0u64; m];
            for &l in &fit.labels {
                counts[l as usize] += 1;
            }
            // Each micro-cluster's centroid is the mean of its users (the
            // Lloyd centres are those before the last assignment): Ward
            // over weighted centroids is Ward over the users only so.
            let d = points.d();
            let mut means = vec![0.0f64; m * d];
            for (i, &l) in fit.labels.iter().enumerate() {
                let row = &mut means[l as usize * d..(l as usize + 1) * d];
                for (s, &v) in row.iter_mut().zip(points.row(i)) {
                    *s += f64::from(v);
                }
            }
            let mut number = vec![u32::MAX; m];
            let mut centroids = Vec::new();
            let mut sizes = Vec::new();
            for c in 0..m {
                if counts[c] > 0 {
                    number[c] = sizes.len() as u32;
                    let n = counts[c] as f64;
                    centroids.extend(means[c * d..(c + 1) * d].iter().map(|v| v / n));
                    sizes.push(n);
                }
            }
            let labels = fit.labels.iter().map(|&l| number[l as usize]).collect();
            (centroids, sizes, Some(labels))
        }
    };
    let micro_seconds = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let count = sizes.len();
    let merges = params.linkage.merges(&starting, &sizes, d);
    let mut dendrogram = Dendrogram::from_merges(count, merges);
    for m in &mut dendrogram.merges {
        m.height = points.frame.distance(m.height);
    }
    Ok(Tree {
        dendrogram,
        members: sizes.iter().map(|&s| s as u64).collect(),
        micro,
        seconds: (micro_seconds, started.elapsed().as_secs_f64(), 0.0),
    })
}

/// K-Means with `m` micro-clusters: k-means++ on a seeded sample of the
/// users (k-means++ over all of them would take m passes), then
/// [`MICRO_ITERATIONS`] Lloyd iterations over every user.
fn micro_clusters(
    backend: &Backend,
    points: &FeatureMatrix,
    m: usize,
    seed: u64,
) -> Result<KMeans, ClusterError> {
    let n = points.n();
    let wanted = (m * MICRO_SAMPLE_PER_CLUSTER).min(n);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(run_seed(seed, m, 0));
    let mut rows = sample(&mut rng, n, wanted).into_vec();
    rows.sort_unstable();
    let sampled = points.subset(&rows);
    let start: Array2<f64> = kmeans_plus_plus(backend, &sampled, m, run_seed(seed, m, 1))?;
    let mut fits = lloyd(
        backend,
        points,
        vec![start],
        MICRO_ITERATIONS,
        0.0,
        LloydAlgorithm::Auto,
    )?;
    Ok(fits.pop().expect("one run"))
}

/// Fits every K of `ks` from one tree: each K a cut of it, with every
/// metric; the chosen K is the highest silhouette (as for K-Means). The
/// sweep's fits hold each cut's labels and its clusters' means.
pub fn sweep(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &HierarchicalParams,
    mode: SilhouetteMode,
) -> Result<Sweep, ClusterError> {
    if ks.is_empty() {
        return Err(ParamsError::EmptyRange(String::new()).into());
    }
    let mut tree = build(backend, points, params)?;
    let starting = tree.dendrogram.n;
    if let Some(&k) = ks.iter().find(|&&k| k > starting) {
        return Err(ClusterError::TooLarge(match &tree.micro {
            Some(_) => format!(
                "K = {k} is more than the {starting} micro-clusters the tree was built over (--micro-clusters, less the empty ones): ask for fewer segments or more micro-clusters"
            ),
            None => format!("K = {k} is more than the {starting} users"),
        }));
    }
    let mut ks = ks.to_vec();
    let at_height = match params.cut_height {
        None => None,
        Some(h) => {
            let k = tree.dendrogram.k_at_height(h);
            let top = tree.dendrogram.merges.last().map_or(0.0, |m| m.height);
            let lowest = tree.dendrogram.merges.first().map_or(0.0, |m| m.height);
            if k < 2 {
                return Err(ClusterError::TooLarge(format!(
                    "a cut at height {h} leaves one segment: the tree's last merge is at {top}; cut lower"
                )));
            }
            if k >= points.n() {
                return Err(ClusterError::TooLarge(format!(
                    "a cut at height {h} leaves every user alone: the tree's first merge is at {lowest}; cut higher"
                )));
            }
            if !ks.contains(&k) {
                ks.push(k);
                ks.sort_unstable();
            }
            Some(k)
        }
    };
    let ks = &ks[..];
    let started = std::time::Instant::now();
    let fits: Vec<KMeans> = ks
        .iter()
        .map(|&k| centroid_fit(points, tree.labels(k), k.min(tree.dendrogram.n)))
        .collect();
    tree.seconds.2 = started.elapsed().as_secs_f64();
    let mut sweep = finish(backend, points, ks, fits, mode, params.seed)?;
    if let Some(k) = at_height {
        sweep.chosen = k;
    }
    sweep.tree = Some(tree);
    Ok(sweep)
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
