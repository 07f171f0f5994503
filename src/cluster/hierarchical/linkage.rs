//! The exact agglomerative algorithms, in f64 on Euclidean distances:
//!
//! - Ward's and average and complete linkage by the nearest-neighbour
//!   chain (Murtagh 1983), with SciPy's conventions: the chain starts at the
//!   lowest live cluster, prefers the element below it on a tie (else the
//!   lowest index), and the merged cluster takes the higher of the two
//!   indices. Ward's works on centroids and sizes (O(n d) memory): the
//!   distance of clusters A and B is `sqrt(2 |A| |B| / (|A| + |B|)) |c_A -
//!   c_B|`, the value SciPy's Lance-Williams update gives in exact
//!   arithmetic; the two round differently, so distances that tie exactly
//!   in one (integer data, duplicate users) may not in the other, and such
//!   ties may break otherwise than in SciPy (as fastcluster's
//!   `linkage_vector`, which works on centroids too). Average and
//!   complete keep a condensed distance matrix (n (n - 1) / 2 doubles) and
//!   update it as SciPy does.
//! - Single linkage as a minimum spanning tree (Prim's algorithm, O(n)
//!   memory), as SciPy does.
//!
//! Each scan for a nearest neighbour runs in parallel over fixed blocks of
//! clusters, combined in block order (the least distance, then the lowest
//! index), so the tree does not depend on the thread count. The merges come
//! out in the order found; [`super::Dendrogram::from_merges`] sorts and
//! numbers them as SciPy does.

use rayon::prelude::*;

/// Clusters per block of a parallel scan.
const BLOCK: usize = 2048;

/// One merge as an algorithm finds it: the representatives (an index of
/// one of the starting clusters) of the two clusters merged, and the
/// distance between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawMerge {
    /// The lower representative.
    pub a: usize,
    /// The higher representative (which stands for the merged cluster).
    pub b: usize,
    /// The linkage distance of the two clusters.
    pub height: f64,
}

/// The least of `(value, index)` pairs: lower value, then lower index.
fn least(a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
    if b.0 < a.0 || (b.0 == a.0 && b.1 < a.1) {
        b
    } else {
        a
    }
}

/// The least `(value(i), i)` over `i` in `0..n` with `value` defined, in
/// parallel blocks combined in order; `(inf, usize::MAX)` when none.
fn scan(n: usize, value: impl Fn(usize) -> Option<f64> + Sync) -> (f64, usize) {
    let none = (f64::INFINITY, usize::MAX);
    let blocks: Vec<(f64, usize)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut best = none;
            for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                if let Some(v) = value(i)
                    && (v < best.0 || (v == best.0 && i < best.1))
                {
                    best = (v, i);
                }
            }
            best
        })
        .collect();
    blocks.into_iter().fold(none, least)
}

/// The clusters of a nearest-neighbour chain: distances between live
/// clusters, and how a merge changes them.
trait Clusters: Sync {
    /// The linkage distance of live clusters `x` and `y`.
    fn distance(&self, x: usize, y: usize) -> f64;
    /// Merges `x` into `y` (`x < y`; `live` already has `x` dead).
    fn merge(&mut self, x: usize, y: usize, live: &[bool]);
}

/// The nearest-neighbour chain over `n` starting clusters.
fn nn_chain(n: usize, clusters: &mut impl Clusters) -> Vec<RawMerge> {
    let mut live = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    for _ in 1..n {
        if chain.is_empty() {
            chain.push(live.iter().position(|&l| l).expect("two live clusters"));
        }
        let (x, y, height) = loop {
            let x = *chain.last().expect("a chain");
            let below = (chain.len() > 1).then(|| chain[chain.len() - 2]);
            let shared: &_ = clusters;
            let (mut best, mut y) = match below {
                Some(b) => (shared.distance(x, b), b),
                None => (f64::INFINITY, usize::MAX),
            };
            // Strictly closer than the element below; among equals the
            // lowest index.
            let (v, i) = scan(n, |i| (live[i] && i != x).then(|| shared.distance(x, i)));
            if v < best {
                (best, y) = (v, i);
            }
            if y == usize::MAX {
                // Only NaN distances left: merge with the lowest live.
                y = (0..n).find(|&i| live[i] && i != x).expect("two live");
                best = shared.distance(x, y);
            }
            if below == Some(y) {
                chain.truncate(chain.len() - 2);
                break (x.min(y), x.max(y), best);
            }
            chain.push(y);
        };
        live[x] = false;
        clusters.merge(x, y, &live);
        merges.push(RawMerge { a: x, b: y, height });
    }
    merges
}

/// Live clusters below which a scan runs on one thread: a parallel scan
/// costs more to start than a few thousand distances.
const PARALLEL_FROM: usize = 8192;

/// Ward's linkage over clusters with centroids `centroids` (n x d,
/// row-major) and sizes `sizes` (member counts; 1 for users), by the
/// nearest-neighbour chain on the live clusters kept packed (coordinate
/// by coordinate), so that each scan streams through them in vector lanes.
/// Scans compare `s_x s_y / (s_x + s_y) |c_x - c_y|^2`, half the square
/// of the height.
pub fn ward(centroids: &[f64], sizes: &[f64], d: usize) -> Vec<RawMerge> {
    let n = sizes.len();
    let mut live = Packed::new(centroids, sizes, d);
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    for _ in 1..n {
        if chain.is_empty() {
            chain.push(live.lowest());
        }
        let (x, y, cost) = loop {
            let x = *chain.last().expect("a chain");
            let below = (chain.len() > 1).then(|| chain[chain.len() - 2]);
            let (mut best, mut y) = match below {
                Some(b) => (live.cost(x, b), b),
                None => (f64::INFINITY, usize::MAX),
            };
            let (v, i) = live.nearest(x);
            if v < best || y == usize::MAX {
                (best, y) = (v, i);
            }
            if y == usize::MAX {
                // Only NaN costs left: merge with the lowest other.
                y = live.lowest_other(x);
                best = live.cost(x, y);
            }
            if below == Some(y) {
                chain.truncate(chain.len() - 2);
                break (x.min(y), x.max(y), best);
            }
            chain.push(y);
        };
        live.merge(x, y);
        merges.push(RawMerge {
            a: x,
            b: y,
            height: (2.0 * cost).sqrt(),
        });
    }
    merges
}

/// Ward's live clusters, packed: position `p` holds cluster `index[p]`.
struct Packed {
    /// Coordinate j of position p at `coords[j][p]`.
    coords: Vec<Vec<f64>>,
    size: Vec<f64>,
    index: Vec<usize>,
    /// Position of each cluster, `usize::MAX` once merged away.
    position: Vec<usize>,
}

impl Packed {
    fn new(centroids: &[f64], sizes: &[f64], d: usize) -> Self {
        let n = sizes.len();
        Packed {
            coords: (0..d)
                .map(|j| (0..n).map(|i| centroids[i * d + j]).collect())
                .collect(),
            size: sizes.to_vec(),
            index: (0..n).collect(),
            position: (0..n).collect(),
        }
    }

    fn lowest(&self) -> usize {
        *self.index.iter().min().expect("a live cluster")
    }

    fn lowest_other(&self, x: usize) -> usize {
        *self
            .index
            .iter()
            .filter(|&&i| i != x)
            .min()
            .expect("two live clusters")
    }

    /// Half the squared Ward distance of clusters `x` and `y`.
    fn cost(&self, x: usize, y: usize) -> f64 {
        let (p, q) = (self.position[x], self.position[y]);
        let squared: f64 = self
            .coords
            .iter()
            .map(|c| (c[p] - c[q]) * (c[p] - c[q]))
            .sum();
        let (sx, sy) = (self.size[p], self.size[q]);
        sx * sy / (sx + sy) * squared
    }

    /// The cluster of least cost to `x` (the lowest index among equals),
    /// and the cost; `(inf, usize::MAX)` when every cost is NaN.
    fn nearest(&self, x: usize) -> (f64, usize) {
        let p = self.position[x];
        let centre: Vec<f64> = self.coords.iter().map(|c| c[p]).collect();
        let sx = self.size[p];
        let len = self.index.len();
        let block = |range: std::ops::Range<usize>| -> (f64, usize) {
            let mut costs = vec![0.0f64; range.len()];
            self.costs(&centre, sx, range.clone(), &mut costs);
            let mut best = (f64::INFINITY, usize::MAX);
            for (q, &v) in range.zip(&costs) {
                let i = self.index[q];
                if q != p && (v < best.0 || (v == best.0 && i < best.1)) {
                    best = (v, i);
                }
            }
            best
        };
        if len < PARALLEL_FROM {
            return block(0..len);
        }
        let parts: Vec<(f64, usize)> = (0..len.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| block(b * BLOCK..((b + 1) * BLOCK).min(len)))
            .collect();
        parts.into_iter().fold((f64::INFINITY, usize::MAX), least)
    }

    /// The costs of positions `range` to a cluster at `centre` of size
    /// `sx`, into `out`.
    fn costs(&self, centre: &[f64], sx: f64, range: std::ops::Range<usize>, out: &mut [f64]) {
        out.fill(0.0);
        for (c, &x) in self.coords.iter().zip(centre) {
            add_squares(out, &c[range.clone()], x);
        }
        scale_by_sizes(out, &self.size[range], sx);
    }

    /// Merges `x` into `y` (`x < y`): y's centroid and size become the
    /// merged cluster's, x's position is taken by the last one.
    fn merge(&mut self, x: usize, y: usize) {
        let (p, q) = (self.position[x], self.position[y]);
        let (sx, sy) = (self.size[p], self.size[q]);
        for c in &mut self.coords {
            c[q] = (sx * c[p] + sy * c[q]) / (sx + sy);
        }
        self.size[q] = sx + sy;
        let last = self.index.len() - 1;
        for c in &mut self.coords {
            c.swap_remove(p);
        }
        self.size.swap_remove(p);
        self.index.swap_remove(p);
        if p < last {
            self.position[self.index[p]] = p;
        }
        self.position[x] = usize::MAX;
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn add_squares(out: &mut [f64], coords: &[f64], centre: f64) {
    for (o, &c) in out.iter_mut().zip(coords) {
        let v = c - centre;
        *o += v * v;
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn scale_by_sizes(out: &mut [f64], sizes: &[f64], sx: f64) {
    for (o, &s) in out.iter_mut().zip(sizes) {
        *o *= sx * s / (sx + s);
    }
}

/// Position of the pair `i != j` in a condensed matrix of `n` rows.
fn condensed(n: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + (j - i - 1)
}

/// Which Lance-Williams update a matrix linkage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixLinkage {
    /// The mean distance of the members (UPGMA).
    Average,
    /// The largest distance of the members.
    Complete,
}

/// Doubles of the condensed distance matrix of `n` clusters.
pub fn matrix_len(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// A condensed distance matrix and the clusters' sizes.
struct Matrix {
    n: usize,
    dist: Vec<f64>,
    s: Vec<f64>,
    kind: MatrixLinkage,
}

impl Clusters for Matrix {
    fn distance(&self, x: usize, y: usize) -> f64 {
        self.dist[condensed(self.n, x, y)]
    }

    fn merge(&mut self, x: usize, y: usize, live: &[bool]) {
        let n = self.n;
        let (sx, sy) = (self.s[x], self.s[y]);
        for (i, _) in live.iter().enumerate().filter(|&(i, &l)| l && i != y) {
            let (dx, dy) = (self.dist[condensed(n, i, x)], self.dist[condensed(n, i, y)]);
            self.dist[condensed(n, i, y)] = match self.kind {
                MatrixLinkage::Average => (sx * dx + sy * dy) / (sx + sy),
                MatrixLinkage::Complete => dx.max(dy),
            };
        }
        self.s[y] = sx + sy;
        self.s[x] = 0.0;
    }
}

/// Average or complete linkage over clusters with coordinates `points` (n
/// x d) and sizes `sizes`, from their condensed Euclidean distance matrix.
pub fn matrix(points: &[f64], sizes: &[f64], d: usize, kind: MatrixLinkage) -> Vec<RawMerge> {
    let n = sizes.len();
    let mut dist = vec![0.0f64; matrix_len(n)];
    // Row i holds the pairs (i, j > i), contiguous.
    let mut rows: Vec<&mut [f64]> = Vec::with_capacity(n);
    let mut rest: &mut [f64] = &mut dist;
    for i in 0..n {
        let (row, tail) = rest.split_at_mut(n - i - 1);
        rows.push(row);
        rest = tail;
    }
    rows.into_par_iter().enumerate().for_each(|(i, row)| {
        let x = &points[i * d..(i + 1) * d];
        for (slot, j) in row.iter_mut().zip(i + 1..n) {
            let y = &points[j * d..(j + 1) * d];
            let squared: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
            *slot = squared.sqrt();
        }
    });
    nn_chain(
        n,
        &mut Matrix {
            n,
            dist,
            s: sizes.to_vec(),
            kind,
        },
    )
}

/// Single linkage over `points` (n x d): the minimum spanning tree of the
/// Euclidean distances by Prim's algorithm, each edge a merge.
pub fn single(points: &[f64], d: usize) -> Vec<RawMerge> {
    let n = points.len().checked_div(d).unwrap_or(0);
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    if n < 2 {
        return merges;
    }
    let mut in_tree = vec![false; n];
    // Per point outside the tree: its distance to the tree and the tree
    // point it is closest to.
    let mut closest = vec![(f64::INFINITY, 0usize); n];
    let mut x = 0;
    in_tree[0] = true;
    for _ in 1..n {
        let from = &points[x * d..(x + 1) * d];
        closest
            .par_chunks_mut(BLOCK)
            .zip(in_tree.par_chunks(BLOCK))
            .enumerate()
            .for_each(|(b, (slots, done))| {
                for (p, (slot, &done)) in slots.iter_mut().zip(done).enumerate() {
                    if done {
                        continue;
                    }
                    let i = b * BLOCK + p;
                    let to = &points[i * d..(i + 1) * d];
                    let squared: f64 = from.iter().zip(to).map(|(a, b)| (a - b) * (a - b)).sum();
                    let dist = squared.sqrt();
                    if dist < slot.0 {
                        *slot = (dist, x);
                    }
                }
            });
        let (height, y) = scan(n, |i| (!in_tree[i]).then(|| closest[i].0));
        let y = if y == usize::MAX {
            (0..n).find(|&i| !in_tree[i]).expect("a point left")
        } else {
            y
        };
        let parent = closest[y].1;
        in_tree[y] = true;
        merges.push(RawMerge {
            a: parent.min(y),
            b: parent.max(y),
            height,
        });
        x = y;
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condensed_positions_cover_the_matrix_once() {
        let n = 7;
        let mut seen = vec![0; matrix_len(n)];
        for i in 0..n {
            for j in i + 1..n {
                seen[condensed(n, i, j)] += 1;
                assert_eq!(condensed(n, i, j), condensed(n, j, i));
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn four_points_on_a_line() {
        // 0, 1, 5, 7: single links 0-1 (1), 5-7 (2), then 1-5 (4).
        let points = [0.0, 1.0, 5.0, 7.0];
        let mut heights: Vec<f64> = single(&points, 1).iter().map(|m| m.height).collect();
        heights.sort_by(f64::total_cmp);
        assert_eq!(heights, [1.0, 2.0, 4.0]);
        // Complete: {0,1} at 1, {5,7} at 2, then 7 - 0 = 7.
        let merges = matrix(&points, &[1.0; 4], 1, MatrixLinkage::Complete);
        let heights: Vec<f64> = merges.iter().map(|m| m.height).collect();
        assert_eq!(heights, [1.0, 2.0, 7.0]);
        // Average: (4 + 6 + 5 + 7) / 4 = 5.5 at the top.
        let merges = matrix(&points, &[1.0; 4], 1, MatrixLinkage::Average);
        assert_eq!(merges[2].height, 5.5);
        // Ward: sqrt(2 * 2 * 2 / 4) * |0.5 - 6| = sqrt(2) * 5.5.
        let merges = ward(&points, &[1.0; 4], 1);
        assert!((merges[2].height - 2f64.sqrt() * 5.5).abs() < 1e-12);
    }
}
