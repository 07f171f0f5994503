//! The points as the CPU kernels read them ([`TiledPoints`]: transposed
//! tiles of 64 points, one lane per point) and the vectorised inner loops
//! over one tile: distances to a centre, the nearest of several centres,
//! masked per-cluster sums. The hot loops are compiled for several
//! instruction sets and picked at run time (multiversion): plain x86-64
//! has only 4-wide SSE2. No fused multiply-add is used (Rust never
//! contracts `a * b + c`), so every version computes bit-identical results.

use rayon::prelude::*;

use super::{CHUNK, TILE};
use crate::features::matrix::FeatureMatrix;

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
    /// Transposes the points (n x d, row-major) into tiles.
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

    /// Points, without the padding of the last tile.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Features per point.
    pub fn d(&self) -> usize {
        self.d
    }

    pub(super) fn tiles(&self) -> usize {
        self.n.div_ceil(TILE)
    }

    /// The tiles of chunk `c` (CHUNK points).
    pub(super) fn chunk_tiles(&self, c: usize) -> std::ops::Range<usize> {
        let per_chunk = CHUNK / TILE;
        c * per_chunk..((c + 1) * per_chunk).min(self.tiles())
    }

    /// The tiles of the `rows` points from `first`, a multiple of `TILE`.
    pub(super) fn chunk_of(&self, first: usize, rows: usize) -> impl Iterator<Item = Tile<'_>> {
        (first / TILE..(first + rows).div_ceil(TILE)).map(|t| self.tile(t))
    }

    pub(super) fn tile(&self, t: usize) -> Tile<'_> {
        Tile {
            d: self.d,
            len: TILE.min(self.n - t * TILE),
            values: &self.values[t * TILE * self.d..(t + 1) * TILE * self.d],
        }
    }
}

/// One tile of [`TiledPoints`]: `len` real points.
pub(super) struct Tile<'a> {
    d: usize,
    pub(super) len: usize,
    pub(super) values: &'a [f32],
}

impl Tile<'_> {
    /// Squared distance of every point of the tile to `centre`.
    pub(super) fn distances_to(&self, centre: &[f32], out: &mut [f32; TILE]) {
        tile_distances(self.values, centre, out);
    }

    /// Nearest of `centres` (k x d) for every point: index and squared
    /// distance. Strict `<` keeps the lowest index on ties.
    pub(super) fn nearest(&self, centres: &[f32], best: &mut [f32; TILE], index: &mut [u32; TILE]) {
        tile_nearest(self.values, self.d, centres, best, index);
    }
}

/// Lanes of the register-blocked inner loops: two AVX registers, four SSE.
pub(super) const LANES: usize = 16;

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
pub(super) const FLUSH_TILES: usize = 8;

/// Per-cluster, per-feature sums of a chunk, kept as LANES partial sums:
/// f32 for the vectorised inner loop, moved into f64 every few tiles and
/// added up (in a fixed order) at the end of the chunk.
pub(super) struct LaneSums {
    pub(super) f32s: Vec<[f32; LANES]>,
    f64s: Vec<[f64; LANES]>,
}

impl LaneSums {
    pub(super) fn new(width: usize) -> Self {
        LaneSums {
            f32s: vec![[0.0; LANES]; width],
            f64s: vec![[0.0; LANES]; width],
        }
    }

    pub(super) fn flush(&mut self) {
        flush_lanes(&mut self.f64s, &mut self.f32s);
    }

    pub(super) fn total_into(&self, sums: &mut [f64]) {
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
pub(super) fn tile_cluster_sums(
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
pub(super) fn sum_f64(values: &[f32]) -> f64 {
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
