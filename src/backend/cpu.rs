//! The CPU backend: rayon over fixed-size chunks of points, with inner
//! loops over small transposed tiles so that the compiler vectorises them
//! (one lane per point, the centre's coordinate broadcast).
//!
//! Distances are computed as `sum_j (x_j - c_j)^2` from the differences,
//! never as `|x|^2 - 2 x.c + |c|^2`, whose cancellation loses most of the
//! f32 precision for points near their centre (the inertia would drift).
//! Sums that grow with n are accumulated in f64.

use ndarray::Array2;
use rayon::prelude::*;

use super::{ClusterSums, FinishedRun, Labeling, SAMPLER_BLOCK, Silhouette, StepStats};
use crate::features::matrix::FeatureMatrix;

/// Points per tile: the unit the inner loops vectorise over.
const TILE: usize = 64;
/// Points per parallel chunk. Fixed, so results do not depend on the
/// thread count: partial sums are combined in chunk order.
const CHUNK: usize = 64 * TILE;
/// Silhouette: rows (anchor points) per parallel block, and points per
/// tile of the inner all-pairs loop.
const SIL_ROWS: usize = 32;
const SIL_TILE: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend;

/// The points as the CPU kernels read them, built once per fit: tiles of
/// `TILE` points, each transposed (`d` rows of `TILE` values, the last
/// tile zero-padded), so the inner loops run one lane per point with no
/// per-pass shuffling.
#[derive(Debug, Clone)]
pub struct TiledPoints {
    n: usize,
    d: usize,
    values: Vec<f32>,
}

impl TiledPoints {
    pub fn new(points: &FeatureMatrix) -> Self {
        let (n, d) = (points.n(), points.d());
        let mut values = vec![0.0f32; n.div_ceil(TILE) * TILE * d];
        if d > 0 {
            values
                .par_chunks_mut(TILE * d)
                .zip(points.as_slice().par_chunks(TILE * d))
                .for_each(|(tile, rows)| {
                    for (p, row) in rows.chunks_exact(d).enumerate() {
                        for (j, &v) in row.iter().enumerate() {
                            tile[j * TILE + p] = v;
                        }
                    }
                });
        }
        TiledPoints { n, d, values }
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn d(&self) -> usize {
        self.d
    }

    fn tiles(&self) -> usize {
        self.n.div_ceil(TILE)
    }

    /// The tiles of chunk `c` (CHUNK points).
    fn chunk_tiles(&self, c: usize) -> std::ops::Range<usize> {
        let per_chunk = CHUNK / TILE;
        c * per_chunk..((c + 1) * per_chunk).min(self.tiles())
    }

    fn tile(&self, t: usize) -> Tile<'_> {
        Tile {
            d: self.d,
            len: TILE.min(self.n - t * TILE),
            values: &self.values[t * TILE * self.d..(t + 1) * TILE * self.d],
        }
    }
}

/// One tile of [`TiledPoints`]: `len` real points.
struct Tile<'a> {
    d: usize,
    len: usize,
    values: &'a [f32],
}

impl Tile<'_> {
    /// Squared distance of every point of the tile to `centre`.
    fn distances_to(&self, centre: &[f32], out: &mut [f32; TILE]) {
        tile_distances(self.values, centre, out);
    }

    /// Nearest of `centres` (k x d) for every point: index and squared
    /// distance. Strict `<` keeps the lowest index on ties.
    fn nearest(&self, centres: &[f32], best: &mut [f32; TILE], index: &mut [u32; TILE]) {
        tile_nearest(self.values, self.d, centres, best, index);
    }
}

/// Lanes of the register-blocked inner loops: two AVX registers, four SSE.
const LANES: usize = 16;

// The hot loops are compiled for several instruction sets and picked at
// run time (multiversion): plain x86-64 has only 4-wide SSE2. No fused
// multiply-add is used (Rust never contracts `a * b + c`), so every
// version computes bit-identical results.

#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn tile_distances(values: &[f32], centre: &[f32], out: &mut [f32; TILE]) {
    for b in 0..TILE / LANES {
        let mut acc = [0.0f32; LANES];
        for (j, &c) in centre.iter().enumerate() {
            let column = &values[j * TILE + b * LANES..j * TILE + (b + 1) * LANES];
            for l in 0..LANES {
                let t = column[l] - c;
                acc[l] += t * t;
            }
        }
        out[b * LANES..(b + 1) * LANES].copy_from_slice(&acc);
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn tile_nearest(
    values: &[f32],
    d: usize,
    centres: &[f32],
    best: &mut [f32; TILE],
    index: &mut [u32; TILE],
) {
    for b in 0..TILE / LANES {
        let mut low = [f32::INFINITY; LANES];
        let mut at = [0u32; LANES];
        for (c, centre) in centres.chunks_exact(d).enumerate() {
            let mut acc = [0.0f32; LANES];
            for (j, &x) in centre.iter().enumerate() {
                let column = &values[j * TILE + b * LANES..j * TILE + (b + 1) * LANES];
                for l in 0..LANES {
                    let t = column[l] - x;
                    acc[l] += t * t;
                }
            }
            for l in 0..LANES {
                if acc[l] < low[l] {
                    low[l] = acc[l];
                    at[l] = c as u32;
                }
            }
        }
        best[b * LANES..(b + 1) * LANES].copy_from_slice(&low);
        index[b * LANES..(b + 1) * LANES].copy_from_slice(&at);
    }
}

/// Tiles between moves of the f32 lane sums into f64: each f32 lane then
/// sums at most `FLUSH_TILES * TILE / LANES` values (32), whose rounding
/// error stays below about 2e-6 relative (typically 1e-7).
const FLUSH_TILES: usize = 8;

/// Per-cluster, per-feature sums of a chunk, kept as LANES partial sums:
/// f32 for the vectorised inner loop, moved into f64 every few tiles and
/// added up (in a fixed order) at the end of the chunk.
struct LaneSums {
    f32s: Vec<[f32; LANES]>,
    f64s: Vec<[f64; LANES]>,
}

impl LaneSums {
    fn new(width: usize) -> Self {
        LaneSums {
            f32s: vec![[0.0; LANES]; width],
            f64s: vec![[0.0; LANES]; width],
        }
    }

    fn flush(&mut self) {
        flush_lanes(&mut self.f64s, &mut self.f32s);
    }

    fn total_into(&self, sums: &mut [f64]) {
        for (s, wide) in sums.iter_mut().zip(&self.f64s) {
            *s += wide.iter().sum::<f64>();
        }
    }
}

#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn flush_lanes(wide: &mut [[f64; LANES]], narrow: &mut [[f32; LANES]]) {
    for (wide, narrow) in wide.iter_mut().zip(narrow.iter_mut()) {
        for l in 0..LANES {
            wide[l] += f64::from(narrow[l]);
        }
        *narrow = [0.0; LANES];
    }
}

/// Adds each cluster's points of a tile (transposed, `index` = cluster per
/// point, `u32::MAX` for padding) to `sums` (k x d) and `counts`: for each
/// cluster and feature a masked sum over the tile in f32 lanes (at most
/// TILE / LANES values per lane), then added into f64. Vectorised, unlike
/// a scatter by label, whose runs of equal labels form one long chain.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn tile_cluster_sums(
    values: &[f32],
    index: &[u32; TILE],
    sums: &mut [[f32; LANES]],
    counts: &mut [u64],
) {
    let k = counts.len();
    if k == 0 {
        return;
    }
    let d = sums.len() / k;
    for c in 0..k {
        let c32 = c as u32;
        let count = index.iter().filter(|&&l| l == c32).count() as u64;
        if count == 0 {
            continue;
        }
        counts[c] += count;
        for j in 0..d {
            let column: &[f32; TILE] = values[j * TILE..(j + 1) * TILE]
                .try_into()
                .expect("TILE values");
            let mut masked = [0.0f32; TILE];
            for p in 0..TILE {
                masked[p] = if index[p] == c32 { column[p] } else { 0.0 };
            }
            let acc = &mut sums[c * d + j];
            for b in 0..TILE / LANES {
                let part = &masked[b * LANES..(b + 1) * LANES];
                for l in 0..LANES {
                    acc[l] += part[l];
                }
            }
        }
    }
}

/// Sum of `values` in f64, four independent lanes (fixed order).
fn sum_f64(values: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            lanes[l] += f64::from(q[l]);
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        lanes[l] += f64::from(v);
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// Euclidean distances from point `i` to points `q0..q0 + len` of the
/// transposed `columns` (d rows of n values); lanes past `len` are 0.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn euclidean_row(
    columns: &[f32],
    n: usize,
    d: usize,
    i: usize,
    q0: usize,
    len: usize,
    dist: &mut [f32; SIL_TILE],
) {
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
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
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

/// Sum of `values` in f32 over eight lanes: vectorises; callers keep the
/// slices short (a silhouette tile) and add the result into f64.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn sum_f32_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut octs = values.chunks_exact(8);
    for o in &mut octs {
        for l in 0..8 {
            lanes[l] += o[l];
        }
    }
    for (l, &v) in octs.remainder().iter().enumerate() {
        lanes[l] += v;
    }
    lanes.iter().sum()
}

/// Lloyd runs on the CPU: centres in f64 (and their f32 copy that the
/// kernels read), labels, and each run's last sums.
#[derive(Debug)]
pub struct CpuRuns {
    runs: Vec<CpuRun>,
}

#[derive(Debug)]
struct CpuRun {
    centres: Array2<f64>,
    centres_f32: Vec<f32>,
    labels: Vec<u32>,
    /// The sums of the last step, kept for re-seeding an empty cluster.
    last: Option<ClusterSums>,
}

impl CpuRuns {
    pub fn new(points: &TiledPoints, inits: &[Array2<f64>]) -> Self {
        CpuRuns {
            runs: inits
                .iter()
                .map(|centres| CpuRun {
                    centres_f32: centres.iter().map(|&v| v as f32).collect(),
                    centres: centres.clone(),
                    labels: vec![u32::MAX; points.n()],
                    last: None,
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// One pass for all `active` runs, then each run's centres moved to
    /// the means (f64) unless a cluster is empty.
    pub fn step(
        &mut self,
        points: &TiledPoints,
        active: &[usize],
        move_centres: bool,
    ) -> Vec<StepStats> {
        let d = points.d();
        // The active runs' labels, lent to the pass in the order asked.
        let mut labels: Vec<Vec<u32>> = active
            .iter()
            .map(|&r| std::mem::take(&mut self.runs[r].labels))
            .collect();
        let centres: Vec<&[f32]> = active
            .iter()
            .map(|&r| self.runs[r].centres_f32.as_slice())
            .collect();
        let mut label_refs: Vec<&mut [u32]> = labels.iter_mut().map(Vec::as_mut_slice).collect();
        let sums = CpuBackend.lloyd_pass(points, &centres, &mut label_refs);
        for (&r, labels) in active.iter().zip(labels) {
            self.runs[r].labels = labels;
        }
        active
            .iter()
            .zip(sums)
            .map(|(&r, s)| {
                let run = &mut self.runs[r];
                let mut stats = StepStats {
                    inertia: s.inertia,
                    changed: s.changed,
                    shift: 0.0,
                    empty: false,
                };
                if move_centres {
                    if s.counts.contains(&0) {
                        stats.empty = true;
                    } else {
                        let k = run.centres.nrows();
                        for c in 0..k {
                            let count = s.counts[c] as f64;
                            for j in 0..d {
                                let new = s.sums[c * d + j] / count;
                                let delta = new - run.centres[[c, j]];
                                stats.shift += delta * delta;
                                run.centres[[c, j]] = new;
                            }
                        }
                        run.centres_f32 = run.centres.iter().map(|&v| v as f32).collect();
                    }
                }
                run.last = Some(s);
                stats
            })
            .collect()
    }

    /// The last sums of run `run`, its labels and its (unmoved) centres.
    pub fn sums(&self, run: usize) -> (ClusterSums, Vec<u32>, Array2<f64>) {
        let r = &self.runs[run];
        (
            r.last.clone().expect("a step ran"),
            r.labels.clone(),
            r.centres.clone(),
        )
    }

    pub fn set_centres(&mut self, run: usize, centres: Array2<f64>) {
        let r = &mut self.runs[run];
        r.centres_f32 = centres.iter().map(|&v| v as f32).collect();
        r.centres = centres;
    }

    pub fn finish(self) -> Vec<FinishedRun> {
        self.runs
            .into_iter()
            .map(|r| (r.centres, r.labels))
            .collect()
    }
}

impl CpuBackend {
    /// The sum (f64, in order) of each block of [`SAMPLER_BLOCK`] values.
    pub fn block_sums(&self, values: &[f32]) -> Vec<f64> {
        values
            .par_chunks(SAMPLER_BLOCK)
            .map(|b| b.iter().map(|&w| f64::from(w)).sum())
            .collect()
    }

    pub fn lloyd_pass(
        &self,
        points: &TiledPoints,
        centres: &[&[f32]],
        labels: &mut [&mut [u32]],
    ) -> Vec<ClusterSums> {
        let d = points.d();
        let runs = centres.len();
        assert_eq!(labels.len(), runs, "one label array per run");
        let chunks = points.n().div_ceil(CHUNK);
        // Per chunk, that chunk's slice of every run's labels.
        let mut per_chunk: Vec<Vec<&mut [u32]>> =
            (0..chunks).map(|_| Vec::with_capacity(runs)).collect();
        for run_labels in labels.iter_mut() {
            assert_eq!(run_labels.len(), points.n(), "one label per point");
            for (c, part) in run_labels.chunks_mut(CHUNK).enumerate() {
                per_chunk[c].push(part);
            }
        }
        let partials: Vec<Vec<ClusterSums>> = per_chunk
            .into_par_iter()
            .enumerate()
            .map(|(c, mut chunk_labels)| {
                let mut out: Vec<ClusterSums> = centres
                    .iter()
                    .map(|cs| ClusterSums {
                        sums: vec![0.0; cs.len()],
                        counts: vec![0; cs.len() / d],
                        inertia: 0.0,
                        changed: 0,
                    })
                    .collect();
                let mut best = [0.0f32; TILE];
                let mut index = [0u32; TILE];
                let mut lanes: Vec<LaneSums> =
                    centres.iter().map(|cs| LaneSums::new(cs.len())).collect();
                for (t, global) in points.chunk_tiles(c).enumerate() {
                    let tile = points.tile(global);
                    let len = tile.len;
                    for (r, run_centres) in centres.iter().enumerate() {
                        tile.nearest(run_centres, &mut best, &mut index);
                        // Padding lanes belong to no cluster.
                        index[len..].fill(u32::MAX);
                        let acc = &mut out[r];
                        let run_labels = &mut chunk_labels[r][t * TILE..t * TILE + len];
                        for (label, &l) in run_labels.iter_mut().zip(&index) {
                            acc.changed += u64::from(*label != l);
                            *label = l;
                        }
                        tile_cluster_sums(tile.values, &index, &mut lanes[r].f32s, &mut acc.counts);
                        if (t + 1) % FLUSH_TILES == 0 {
                            lanes[r].flush();
                        }
                        acc.inertia += sum_f64(&best[..len]);
                    }
                }
                for (acc, lanes) in out.iter_mut().zip(&mut lanes) {
                    lanes.flush();
                    lanes.total_into(&mut acc.sums);
                }
                out
            })
            .collect();
        let mut total: Vec<ClusterSums> = centres
            .iter()
            .map(|cs| ClusterSums {
                sums: vec![0.0; cs.len()],
                counts: vec![0; cs.len() / d],
                inertia: 0.0,
                changed: 0,
            })
            .collect();
        for chunk in partials {
            for (acc, part) in total.iter_mut().zip(chunk) {
                for (a, b) in acc.sums.iter_mut().zip(&part.sums) {
                    *a += b;
                }
                for (a, b) in acc.counts.iter_mut().zip(&part.counts) {
                    *a += b;
                }
                acc.inertia += part.inertia;
                acc.changed += part.changed;
            }
        }
        total
    }

    pub fn assign(
        &self,
        points: &TiledPoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) {
        labels
            .par_chunks_mut(CHUNK)
            .zip(distances.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (labels, distances))| {
                let mut best = [0.0f32; TILE];
                let mut index = [0u32; TILE];
                for ((t, labels), distances) in points
                    .chunk_tiles(c)
                    .zip(labels.chunks_mut(TILE))
                    .zip(distances.chunks_mut(TILE))
                {
                    let tile = points.tile(t);
                    tile.nearest(centres, &mut best, &mut index);
                    labels.copy_from_slice(&index[..tile.len]);
                    distances.copy_from_slice(&best[..tile.len]);
                }
            });
    }

    pub fn kmeanspp_potentials(
        &self,
        points: &TiledPoints,
        closest: &[f32],
        candidates: &[f32],
    ) -> Vec<f64> {
        let d = points.d();
        let t = candidates.len() / d;
        let partials: Vec<Vec<f64>> = closest
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, closest)| {
                let mut dist = [0.0f32; TILE];
                let mut low = [0.0f32; TILE];
                let mut pots = vec![0.0f64; t];
                for (g, closest) in points.chunk_tiles(c).zip(closest.chunks(TILE)) {
                    let tile = points.tile(g);
                    let len = tile.len;
                    for (pot, candidate) in pots.iter_mut().zip(candidates.chunks_exact(d)) {
                        tile.distances_to(candidate, &mut dist);
                        for p in 0..len {
                            low[p] = dist[p].min(closest[p]);
                        }
                        *pot += sum_f64(&low[..len]);
                    }
                }
                pots
            })
            .collect();
        let mut total = vec![0.0f64; t];
        for part in partials {
            for (a, b) in total.iter_mut().zip(part) {
                *a += b;
            }
        }
        total
    }

    pub fn kmeanspp_update(&self, points: &TiledPoints, closest: &mut [f32], centre: &[f32]) {
        closest
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, closest)| {
                let mut dist = [0.0f32; TILE];
                for (g, closest) in points.chunk_tiles(c).zip(closest.chunks_mut(TILE)) {
                    let tile = points.tile(g);
                    tile.distances_to(centre, &mut dist);
                    for (c, &v) in closest.iter_mut().zip(&dist) {
                        *c = c.min(v);
                    }
                }
            });
    }

    pub fn farthest_points(
        &self,
        points: &FeatureMatrix,
        centres: &[f32],
        labels: &[u32],
        m: usize,
    ) -> Vec<usize> {
        let d = points.d();
        let distances: Vec<f32> = points
            .as_slice()
            .par_chunks_exact(d)
            .zip(labels.par_iter())
            .map(|(x, &l)| {
                let c = &centres[l as usize * d..(l as usize + 1) * d];
                x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum()
            })
            .collect();
        let mut order: Vec<usize> = (0..distances.len()).collect();
        let by_distance =
            |a: &usize, b: &usize| distances[*b].total_cmp(&distances[*a]).then(a.cmp(b));
        let m = m.min(order.len());
        if m == 0 {
            return Vec::new();
        }
        if m < order.len() {
            order.select_nth_unstable_by(m - 1, by_distance);
            order.truncate(m);
        }
        order.sort_unstable_by(by_distance);
        order
    }

    /// Blocked all-pairs silhouette. The points are reordered by the first
    /// labelling, so each of its clusters is a contiguous range and its
    /// per-cluster sums are plain vectorised sums; further labellings (the
    /// other K of a sweep) reuse each tile of distances with a scatter by
    /// label. Memory: O(n d) for the reordered points, O(rows x sum k) per
    /// worker for the sums.
    pub fn silhouette(&self, points: &FeatureMatrix, labelings: &[Labeling]) -> Vec<Silhouette> {
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

    fn matrix(d: usize, values: &[f32]) -> FeatureMatrix {
        FeatureMatrix::from_rows(values.len() / d, d, values.to_vec())
    }

    /// Pseudo-random points without a dependency on the generator under test.
    fn points(n: usize, d: usize, seed: u64) -> FeatureMatrix {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let data = (0..n * d)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect();
        FeatureMatrix::from_rows(n, d, data)
    }

    fn naive_nearest(x: &[f32], centres: &[f32], d: usize) -> (u32, f32) {
        let mut best = (0, f32::INFINITY);
        for (c, centre) in centres.chunks_exact(d).enumerate() {
            let dist: f32 = x.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
            if dist < best.1 {
                best = (c as u32, dist);
            }
        }
        best
    }

    #[test]
    fn lloyd_pass_matches_a_plain_loop_for_several_runs() {
        let d = 3;
        let x = points(CHUNK + 77, d, 1);
        let c1: Vec<f32> = x.as_slice()[..2 * d].to_vec();
        let c2: Vec<f32> = x.as_slice()[10 * d..15 * d].to_vec();
        let mut l1 = vec![0u32; x.n()];
        let mut l2 = vec![u32::MAX; x.n()];
        let tiled = TiledPoints::new(&x);
        let out = CpuBackend.lloyd_pass(&tiled, &[&c1, &c2], &mut [&mut l1, &mut l2]);
        for (centres, labels, sums) in [(&c1, &l1, &out[0]), (&c2, &l2, &out[1])] {
            let k = centres.len() / d;
            let mut counts = vec![0u64; k];
            let mut s = vec![0.0f64; k * d];
            let mut magnitude = vec![0.0f64; k * d];
            let mut inertia = 0.0f64;
            for (i, &label) in labels.iter().enumerate() {
                let (l, dist) = naive_nearest(x.row(i), centres, d);
                assert_eq!(label, l);
                counts[l as usize] += 1;
                inertia += f64::from(dist);
                for j in 0..d {
                    s[l as usize * d + j] += f64::from(x.row(i)[j]);
                    magnitude[l as usize * d + j] += f64::from(x.row(i)[j]).abs();
                }
            }
            assert_eq!(sums.counts, counts);
            // f32 partial sums of at most 32 values per lane, then f64.
            for ((a, b), m) in sums.sums.iter().zip(&s).zip(&magnitude) {
                assert!((a - b).abs() <= 2e-6 * m, "{a} vs {b}");
            }
            assert!((sums.inertia - inertia).abs() < 1e-9 * inertia);
        }
        assert_eq!(out[1].changed, x.n() as u64);
        let again = CpuBackend.lloyd_pass(&tiled, &[&c1], &mut [&mut l1]);
        assert_eq!(again[0].changed, 0);
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let x = matrix(1, &[0.0, 1.0]);
        let centres = [0.5, 0.5, -0.5];
        let mut labels = vec![9; 2];
        let mut dist = vec![0.0; 2];
        CpuBackend.assign(&TiledPoints::new(&x), &centres, &mut labels, &mut dist);
        assert_eq!(labels, vec![0, 0]);
        assert_eq!(dist, vec![0.25, 0.25]);
    }

    #[test]
    fn kmeanspp_kernels() {
        let x = matrix(2, &[0.0, 0.0, 3.0, 4.0, 6.0, 8.0]);
        let mut closest = vec![f32::INFINITY; 3];
        let tiled = TiledPoints::new(&x);
        CpuBackend.kmeanspp_update(&tiled, &mut closest, &[0.0, 0.0]);
        assert_eq!(closest, vec![0.0, 25.0, 100.0]);
        let pots = CpuBackend.kmeanspp_potentials(&tiled, &closest, &[3.0, 4.0, 6.0, 8.0]);
        assert_eq!(pots, vec![25.0, 25.0]);
    }

    #[test]
    fn farthest_points_orders_by_distance_then_index() {
        let x = matrix(1, &[0.0, 5.0, -5.0, 1.0]);
        let far = CpuBackend.farthest_points(&x, &[0.0], &[0, 0, 0, 0], 3);
        assert_eq!(far, vec![1, 2, 3]);
    }

    #[test]
    fn silhouette_matches_a_plain_f64_loop() {
        let d = 2;
        let x = points(700, d, 7);
        let l1: Vec<u32> = (0..x.n()).map(|i| (x.row(i)[0] > 0.0) as u32).collect();
        let l2: Vec<u32> = (0..x.n()).map(|i| (i % 3) as u32).collect();
        let out = CpuBackend.silhouette(
            &x,
            &[
                Labeling { labels: &l1, k: 2 },
                Labeling { labels: &l2, k: 3 },
            ],
        );
        for (labels, k, result) in [(&l1, 2, &out[0]), (&l2, 3, &out[1])] {
            let mut sizes = vec![0u64; k];
            for &l in labels.iter() {
                sizes[l as usize] += 1;
            }
            let mut total = 0.0;
            for i in 0..x.n() {
                let mut sums = vec![0.0f64; k];
                for j in 0..x.n() {
                    let dist: f64 = (0..d)
                        .map(|t| (f64::from(x.row(i)[t]) - f64::from(x.row(j)[t])).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    sums[labels[j] as usize] += dist;
                }
                let s = point_silhouette(&sums, &sizes, labels[i] as usize);
                total += s;
                assert!((f64::from(result.values[i]) - s).abs() < 1e-5, "point {i}");
            }
            let mean = total / x.n() as f64;
            assert!((result.mean - mean).abs() < 1e-6 * mean.abs().max(1e-3));
        }
    }

    #[test]
    fn a_point_alone_has_silhouette_zero() {
        assert_eq!(point_silhouette(&[0.0, 4.0], &[1, 2], 0), 0.0);
        assert_eq!(point_silhouette(&[1.0, 4.0], &[2, 2], 0), 0.5);
        assert_eq!(point_silhouette(&[0.0, 0.0], &[2, 2], 0), 0.0);
    }
}
