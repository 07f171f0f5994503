//! The exact Euclidean silhouette on the CPU: blocked all-pairs, the
//! points reordered by the labelling with the most clusters so that its
//! per-cluster sums are contiguous ranges, and every other labelling (the
//! other K of a sweep) served by the same tile of distances.

use rayon::prelude::*;

use super::CpuBackend;
use super::tiles::LANES;
use crate::backend::{Labeling, Silhouette};
use crate::features::matrix::FeatureMatrix;

/// Rows (anchor points) per parallel block, and points per tile of the
/// inner all-pairs loop.
const SIL_ROWS: usize = 32;
const SIL_TILE: usize = 256;

/// Euclidean distances from point `i` to points `q0..q0 + len` of the
/// transposed `columns` (d rows of n values); lanes past `len` are 0. A
/// whole tile keeps 64 sums in registers while it adds the features in
/// order, then takes their square roots: the same operations per lane as
/// the short tail's loop, so every distance has the same bits.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn euclidean_row(
    columns: &[f32],
    n: usize,
    d: usize,
    i: usize,
    q0: usize,
    len: usize,
    dist: &mut [f32; SIL_TILE],
) {
    const W: usize = 64;
    if len == SIL_TILE {
        for first in (0..SIL_TILE).step_by(W) {
            let mut acc = [0.0f32; W];
            for j in 0..d {
                let x = columns[j * n + i];
                let column: &[f32; W] = columns[j * n + q0 + first..j * n + q0 + first + W]
                    .try_into()
                    .expect("W values");
                for l in 0..W {
                    let t = column[l] - x;
                    acc[l] += t * t;
                }
            }
            for l in 0..W {
                dist[first + l] = acc[l].sqrt();
            }
        }
        return;
    }
    dist.fill(0.0);
    for j in 0..d {
        let x = columns[j * n + i];
        let column = &columns[j * n + q0..j * n + q0 + len];
        for (o, &v) in dist.iter_mut().zip(column) {
            let t = v - x;
            *o += t * t;
        }
    }
    for v in dist.iter_mut() {
        *v = v.sqrt();
    }
}

/// For each cluster c, adds the distances of the tile's points labelled c
/// into `sums[c]` (f32 lanes within the tile, then f64): a compare and a
/// select per cluster, vectorised, where a scatter by label would chain
/// dependent updates of one accumulator.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn masked_sums(dist: &[f32; SIL_TILE], labels: &[u32; SIL_TILE], sums: &mut [f64]) {
    let mut masked = [0.0f32; SIL_TILE];
    for (c, sum) in sums.iter_mut().enumerate() {
        let c = c as u32;
        for q in 0..SIL_TILE {
            masked[q] = if labels[q] == c { dist[q] } else { 0.0 };
        }
        let mut acc = [0.0f32; LANES];
        for part in masked.chunks_exact(LANES) {
            for l in 0..LANES {
                acc[l] += part[l];
            }
        }
        let mut total = 0.0f64;
        for a in acc {
            total += f64::from(a);
        }
        *sum += total;
    }
}

/// `acc[q] += values[q]` for every lane of a tile (lanes past a short
/// tile's points hold 0 in `values`).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn add_lanes(acc: &mut [f32; SIL_TILE], values: &[f32; SIL_TILE]) {
    for (a, &v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}

/// Sum of `values` in f32 over 32 lanes, then pairwise: vectorises; callers keep the
/// slices short (a silhouette tile) and add the result into f64.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn sum_f32_lanes(values: &[f32]) -> f32 {
    // 32 lanes: two AVX-512 registers (four AVX), so that a tile's 256
    // values are 8 dependent additions per lane, not 32.
    let mut lanes = [0.0f32; 32];
    let mut blocks = values.chunks_exact(32);
    for o in &mut blocks {
        for l in 0..32 {
            lanes[l] += o[l];
        }
    }
    for (l, &v) in blocks.remainder().iter().enumerate() {
        lanes[l] += v;
    }
    let mut width = 32;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    lanes[0]
}

impl CpuBackend {
    /// Blocked all-pairs silhouette. The points are reordered by the first
    /// labelling, so each of its clusters is a contiguous range and its
    /// per-cluster sums are plain vectorised sums; further labellings (the
    /// other K of a sweep) reuse each tile of distances with a scatter by
    /// label. Memory: O(n d) for the reordered points, O(rows x sum k) per
    /// worker for the sums.
    pub fn silhouette_of(&self, points: &FeatureMatrix, labelings: &[Labeling]) -> Vec<Silhouette> {
        if let [one] = labelings
            && points.n() * one.k <= SYMMETRIC_SUMS
        {
            return vec![symmetric(points, *one)];
        }
        // The labelling with the most clusters goes first: its sums are the
        // cheap contiguous ones, and masked sums cost in proportion to k.
        let Some(primary) = (0..labelings.len()).max_by_key(|&l| (labelings[l].k, usize::MAX - l))
        else {
            return Vec::new();
        };
        let mut reordered = labelings.to_vec();
        reordered.swap(0, primary);
        let mut results = self.silhouette_primary_first(points, &reordered);
        results.swap(0, primary);
        results
    }

    fn silhouette_primary_first(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Vec<Silhouette> {
        let n = points.n();
        let d = points.d();
        let first = labelings[0].labels;
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&i| first[i as usize]);
        // Transposed, reordered points: d rows of n values.
        let mut columns = vec![0.0f32; d * n];
        for (q, &i) in order.iter().enumerate() {
            for (j, &v) in points.row(i as usize).iter().enumerate() {
                columns[j * n + q] = v;
            }
        }
        let labels: Vec<Vec<u32>> = labelings
            .iter()
            .map(|l| order.iter().map(|&i| l.labels[i as usize]).collect())
            .collect();
        // Labels padded to whole tiles (u32::MAX: no cluster), for the
        // masked sums of every labelling but the first.
        let padded: Vec<Vec<u32>> = labels
            .iter()
            .map(|l| {
                let mut p = l.clone();
                p.resize(n.div_ceil(SIL_TILE) * SIL_TILE, u32::MAX);
                p
            })
            .collect();
        let sizes: Vec<Vec<u64>> = labelings
            .iter()
            .zip(&labels)
            .map(|(l, labels)| {
                let mut sizes = vec![0u64; l.k];
                for &x in labels {
                    sizes[x as usize] += 1;
                }
                sizes
            })
            .collect();
        // Ranges of the first labelling's clusters in the new order.
        let mut starts = vec![0usize; labelings[0].k + 1];
        for (c, &size) in sizes[0].iter().enumerate() {
            starts[c + 1] = starts[c] + size as usize;
        }
        let offsets: Vec<usize> = labelings
            .iter()
            .scan(0, |acc, l| {
                let o = *acc;
                *acc += l.k;
                Some(o)
            })
            .collect();
        let width: usize = labelings.iter().map(|l| l.k).sum();

        let blocks: Vec<Vec<f64>> = (0..n.div_ceil(SIL_ROWS))
            .into_par_iter()
            .map(|b| {
                let rows = b * SIL_ROWS..((b + 1) * SIL_ROWS).min(n);
                let mut sums = vec![0.0f64; rows.len() * width];
                let mut dist = [0.0f32; SIL_TILE];
                for q0 in (0..n).step_by(SIL_TILE) {
                    let len = SIL_TILE.min(n - q0);
                    for (r, i) in rows.clone().enumerate() {
                        euclidean_row(&columns, n, d, i, q0, len, &mut dist);
                        let row_sums = &mut sums[r * width..(r + 1) * width];
                        // The first labelling: contiguous ranges.
                        let mut q = q0;
                        while q < q0 + len {
                            let c = labels[0][q] as usize;
                            let end = starts[c + 1].min(q0 + len);
                            row_sums[c] += f64::from(sum_f32_lanes(&dist[q - q0..end - q0]));
                            q = end;
                        }
                        // The others: masked sums per cluster over the tile.
                        for (l, labels) in padded.iter().enumerate().skip(1) {
                            let o = offsets[l];
                            let k = labelings[l].k;
                            let tile_labels: &[u32; SIL_TILE] =
                                labels[q0..q0 + SIL_TILE].try_into().expect("padded labels");
                            masked_sums(&dist, tile_labels, &mut row_sums[o..o + k]);
                        }
                    }
                }
                // Per-row silhouettes, one per labelling.
                let mut out = Vec::with_capacity(rows.len() * labelings.len());
                for (r, i) in rows.enumerate() {
                    let row_sums = &sums[r * width..(r + 1) * width];
                    for (l, labeling) in labelings.iter().enumerate() {
                        let o = offsets[l];
                        let own = labels[l][i] as usize;
                        out.push(point_silhouette(
                            &row_sums[o..o + labeling.k],
                            &sizes[l],
                            own,
                        ));
                    }
                }
                out
            })
            .collect();

        let mut results: Vec<Silhouette> = labelings
            .iter()
            .map(|_| Silhouette {
                mean: 0.0,
                values: vec![0.0; n],
            })
            .collect();
        let mut totals = vec![0.0f64; labelings.len()];
        let mut q = 0;
        for block in blocks {
            for row in block.chunks_exact(labelings.len()) {
                let i = order[q] as usize;
                for (l, &s) in row.iter().enumerate() {
                    results[l].values[i] = s as f32;
                    totals[l] += s;
                }
                q += 1;
            }
        }
        for (result, total) in results.iter_mut().zip(totals) {
            result.mean = if n == 0 { 0.0 } else { total / n as f64 };
        }
        results
    }
}

/// Most per-cluster sums (users x K) that [`symmetric`] keeps, all
/// resident (8 bytes each): 128 MiB.
const SYMMETRIC_SUMS: usize = 1 << 24;

/// Rows of a block's column sums gathered in f32 before they move into
/// f64 (at most this many values per f32 lane).
const COLUMN_FLUSH: usize = 32;

/// The exact silhouette of one labelling, each distance computed once:
/// blocks of [`SIL_TILE`] points (sorted by label), every pair of blocks
/// once, its distances added both to the rows' sums (by the columns'
/// labels) and to the columns' sums (by the rows' labels). The pairs run
/// in rounds of a round-robin tournament, each round a set of disjoint
/// pairs in parallel, so every point's sums receive their terms in the
/// same order whatever the thread count. Half the square roots of the
/// one-sided pass, for O(n K) memory.
fn symmetric(points: &FeatureMatrix, labeling: Labeling<'_>) -> Silhouette {
    let (n, d, k) = (points.n(), points.d(), labeling.k);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| labeling.labels[i as usize]);
    let mut columns = vec![0.0f32; d * n];
    for (q, &i) in order.iter().enumerate() {
        for (j, &v) in points.row(i as usize).iter().enumerate() {
            columns[j * n + q] = v;
        }
    }
    let labels: Vec<u32> = order.iter().map(|&i| labeling.labels[i as usize]).collect();
    let mut sizes = vec![0u64; k];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    let blocks = n.div_ceil(SIL_TILE);
    let span = |b: usize| b * SIL_TILE..((b + 1) * SIL_TILE).min(n);
    // Per block, its runs of one label: (start, end) within the block, label.
    let runs: Vec<Vec<(usize, usize, usize)>> = (0..blocks)
        .map(|b| {
            let block = &labels[span(b)];
            let mut out = Vec::new();
            let mut start = 0;
            for q in 1..=block.len() {
                if q == block.len() || block[q] != block[start] {
                    out.push((start, q, block[start] as usize));
                    start = q;
                }
            }
            out
        })
        .collect();
    let pair = |a: usize, rows: &mut [f64], b: usize, cols: Option<&mut [f64]>| {
        let mut dist = [0.0f32; SIL_TILE];
        let (ra, rb) = (span(a), span(b));
        let mut column_acc = [0.0f32; SIL_TILE];
        let mut acc_label = u32::MAX;
        let mut acc_rows = 0;
        let mut cols = cols;
        let flush = |acc: &mut [f32; SIL_TILE], label: u32, cols: &mut Option<&mut [f64]>| {
            if let Some(cols) = cols.as_deref_mut()
                && label != u32::MAX
            {
                for (q, v) in acc[..rb.len()].iter_mut().enumerate() {
                    cols[q * k + label as usize] += f64::from(*v);
                    *v = 0.0;
                }
            }
        };
        for (r, i) in ra.clone().enumerate() {
            euclidean_row(&columns, n, d, i, rb.start, rb.len(), &mut dist);
            let row = &mut rows[r * k..(r + 1) * k];
            for &(start, end, c) in &runs[b] {
                row[c] += f64::from(sum_f32_lanes(&dist[start..end]));
            }
            if cols.is_some() {
                if labels[i] != acc_label || acc_rows == COLUMN_FLUSH {
                    flush(&mut column_acc, acc_label, &mut cols);
                    acc_label = labels[i];
                    acc_rows = 0;
                }
                add_lanes(&mut column_acc, &dist);
                acc_rows += 1;
            }
        }
        flush(&mut column_acc, acc_label, &mut cols);
    };
    let mut sums = vec![0.0f64; n * k];
    // Each block with itself: the whole square, rows only.
    sums.par_chunks_mut(SIL_TILE * k)
        .enumerate()
        .for_each(|(b, rows)| pair(b, rows, b, None));
    // Every other pair once, in the rounds of the circle method: with m
    // places (blocks, plus one empty place when odd), round r pairs place
    // m - 1 with r and (r + p) with (r - p) mod (m - 1).
    let m = blocks + blocks % 2;
    for round in 0..m.saturating_sub(1) {
        let mut slots: Vec<Option<&mut [f64]>> = sums.chunks_mut(SIL_TILE * k).map(Some).collect();
        let tasks: Vec<(usize, &mut [f64], usize, &mut [f64])> = (0..m / 2)
            .map(|p| {
                if p == 0 {
                    (m - 1, round)
                } else {
                    ((round + p) % (m - 1), (round + m - 1 - p) % (m - 1))
                }
            })
            .filter(|&(x, y)| x < blocks && y < blocks)
            .map(|(x, y)| {
                let (a, b) = (x.min(y), x.max(y));
                let rows = slots[a].take().expect("a block in one pair per round");
                let cols = slots[b].take().expect("a block in one pair per round");
                (a, rows, b, cols)
            })
            .collect();
        tasks
            .into_par_iter()
            .for_each(|(a, rows, b, cols)| pair(a, rows, b, Some(cols)));
    }
    let mut values = vec![0.0f32; n];
    let mut total = 0.0f64;
    for (q, &i) in order.iter().enumerate() {
        let s = point_silhouette(&sums[q * k..(q + 1) * k], &sizes, labels[q] as usize);
        values[i as usize] = s as f32;
        total += s;
    }
    Silhouette {
        mean: if n == 0 { 0.0 } else { total / n as f64 },
        values,
    }
}

/// The silhouette of one point from its per-cluster distance sums (its own
/// distance, 0, included): `(b - a) / max(a, b)`, and 0 for a point alone
/// in its cluster (Rousseeuw; scikit-learn does the same).
pub(crate) fn point_silhouette(sums: &[f64], sizes: &[u64], own: usize) -> f64 {
    if sizes[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (sizes[own] - 1) as f64;
    let b = sums
        .iter()
        .zip(sizes)
        .enumerate()
        .filter(|&(c, (_, &size))| c != own && size > 0)
        .map(|(_, (&s, &size))| s / size as f64)
        .fold(f64::INFINITY, f64::min);
    if !b.is_finite() {
        return 0.0;
    }
    let m = a.max(b);
    if m == 0.0 { 0.0 } else { (b - a) / m }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::tests::points;

    #[test]
    fn silhouette_matches_a_plain_f64_loop() {
        let d = 2;
        let x = points(700, d, 7);
        let l1: Vec<u32> = (0..x.n()).map(|i| (x.row(i)[0] > 0.0) as u32).collect();
        let l2: Vec<u32> = (0..x.n()).map(|i| (i % 3) as u32).collect();
        let out = CpuBackend.silhouette_of(
            &x,
            &[
                Labeling { labels: &l1, k: 2 },
                Labeling { labels: &l2, k: 3 },
            ],
        );
        for (labels, k, result) in [(&l1, 2, &out[0]), (&l2, 3, &out[1])] {
            let (values, mean) = plain(&x, labels, k);
            for (i, (&got, &want)) in result.values.iter().zip(&values).enumerate() {
                assert!((f64::from(got) - want).abs() < 1e-5, "point {i}");
            }
            assert!((result.mean - mean).abs() < 1e-6 * mean.abs().max(1e-3));
        }
    }

    /// The silhouette of every point by a plain f64 loop over all pairs.
    fn plain(x: &FeatureMatrix, labels: &[u32], k: usize) -> (Vec<f64>, f64) {
        let d = x.d();
        let mut sizes = vec![0u64; k];
        for &l in labels {
            sizes[l as usize] += 1;
        }
        let values: Vec<f64> = (0..x.n())
            .map(|i| {
                let mut sums = vec![0.0f64; k];
                for j in 0..x.n() {
                    let dist: f64 = (0..d)
                        .map(|t| (f64::from(x.row(i)[t]) - f64::from(x.row(j)[t])).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    sums[labels[j] as usize] += dist;
                }
                point_silhouette(&sums, &sizes, labels[i] as usize)
            })
            .collect();
        let mean = values.iter().sum::<f64>() / x.n() as f64;
        (values, mean)
    }

    #[test]
    fn one_labelling_counts_each_pair_once_and_matches_a_plain_loop() {
        // Even and odd numbers of blocks (the round robin's empty place),
        // a last block cut short, and a single block.
        for (n, d, k) in [(1100, 3, 3), (800, 2, 4), (256 * 4 + 1, 5, 2), (90, 3, 3)] {
            let x = points(n, d, n as u64);
            let labels: Vec<u32> = (0..n)
                .map(|i| ((x.row(i)[0] + 2.0) * k as f32 / 4.0).min(k as f32 - 1.0) as u32)
                .collect();
            let out = CpuBackend.silhouette_of(&x, &[Labeling { labels: &labels, k }]);
            let (values, mean) = plain(&x, &labels, k);
            for (i, (&got, &want)) in out[0].values.iter().zip(&values).enumerate() {
                assert!(
                    (f64::from(got) - want).abs() < 1e-5,
                    "n {n}, point {i}: {got} vs {want}"
                );
            }
            assert!(
                (out[0].mean - mean).abs() < 1e-6,
                "n {n}: {} vs {mean}",
                out[0].mean
            );
        }
    }

    #[test]
    fn one_labelling_has_the_same_bits_with_any_thread_count() {
        let x = points(256 * 7 + 13, 3, 11);
        let labels: Vec<u32> = (0..x.n()).map(|i| (i % 5) as u32).collect();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    CpuBackend.silhouette_of(
                        &x,
                        &[Labeling {
                            labels: &labels,
                            k: 5,
                        }],
                    )
                })
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one[0].mean.to_bits(), three[0].mean.to_bits());
        assert_eq!(one[0].values, three[0].values);
    }

    #[test]
    fn a_point_alone_has_silhouette_zero() {
        assert_eq!(point_silhouette(&[0.0, 4.0], &[1, 2], 0), 0.0);
        assert_eq!(point_silhouette(&[1.0, 4.0], &[2, 2], 0), 0.5);
        assert_eq!(point_silhouette(&[0.0, 0.0], &[2, 2], 0), 0.0);
    }
}
