//! The points as the CPU kernels read them ([`TiledPoints`]: transposed
//! tiles of 64 points, one lane per point) and the vectorised inner loops
//! over one tile: distances to a centre, the nearest (and runner-up) of
//! several centres. The hot loops are compiled for several instruction
//! sets (AVX-512, AVX2, AVX on x86-64, NEON on ARM) and picked at run time
//! (multiversion): plain x86-64 has only 4-wide SSE2. No fused multiply-add is used (Rust never
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

    /// Asks the CPU to start loading the tile about [`PREFETCH_BYTES`]
    /// past tile `t` into its caches: a pass that computes few distances
    /// per point otherwise waits on memory at the start of every tile
    /// (measured: a Lloyd pass of 1M x 8 points, K = 8, 4.5 ms without,
    /// 2.7 ms with).
    #[inline]
    pub(super) fn prefetch_ahead(&self, t: usize) {
        let ahead = (PREFETCH_BYTES / (TILE * self.d.max(1) * 4)).max(1);
        self.prefetch(t + ahead);
    }

    /// Asks the CPU to start loading tile `t` (if there is one).
    #[inline]
    fn prefetch(&self, t: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(tile) = self.values.get(t * TILE * self.d..(t + 1) * TILE * self.d) {
            for line in tile.chunks(16) {
                // SAFETY: a prefetch reads nothing and cannot fault; the
                // address is inside `values`.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        line.as_ptr().cast(),
                    )
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = t;
    }

    pub(super) fn tile(&self, t: usize) -> Tile<'_> {
        Tile {
            d: self.d,
            len: TILE.min(self.n - t * TILE),
            values: &self.values[t * TILE * self.d..(t + 1) * TILE * self.d],
        }
    }
}

/// How far ahead of the tile being read [`TiledPoints::prefetch_ahead`]
/// asks for points.
const PREFETCH_BYTES: usize = 4096;

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
        #[cfg(target_arch = "x86_64")]
        if super::avx512::available() {
            // SAFETY: the CPU has AVX-512F; the tile holds d x TILE values.
            unsafe { super::avx512::nearest(self.values, self.d, centres, best, index) };
            return;
        }
        tile_nearest(self.values, self.d, centres, best, index);
    }
}

/// Lanes of the silhouette's register-blocked sums: one AVX-512 register,
/// two AVX, four SSE.
pub(super) const LANES: usize = 16;

/// Points of a tile processed together by the distance kernels, per
/// instruction set: as many as four independent accumulator registers
/// hold (64 with AVX-512, 32 with AVX, 16 with SSE or NEON), so that the
/// additions of one accumulator never wait on each other. Every point's
/// distance is the same sequence of operations whatever the width, so the
/// results are bit-identical across instruction sets.
macro_rules! block_width {
    () => {
        if multiversion::target::target_cfg_f!(target_feature = "avx512f") {
            64
        } else if multiversion::target::target_cfg_f!(target_feature = "avx") {
            32
        } else {
            16
        }
    };
}

/// Squared distances of the `W` points of a tile from `first` (a
/// multiple of W) to one centre, added into `acc` in feature order.
#[inline(always)]
fn block_distances<const W: usize>(
    values: &[f32],
    first: usize,
    centre: &[f32],
    acc: &mut [f32; W],
) {
    for (j, &c) in centre.iter().enumerate() {
        let column: &[f32; W] = values[j * TILE + first..j * TILE + first + W]
            .try_into()
            .expect("W values");
        for l in 0..W {
            let t = column[l] - c;
            acc[l] += t * t;
        }
    }
}

#[inline(always)]
fn distances_w<const W: usize>(values: &[f32], centre: &[f32], out: &mut [f32; TILE]) {
    for first in (0..TILE).step_by(W) {
        let mut acc = [0.0f32; W];
        block_distances(values, first, centre, &mut acc);
        out[first..first + W].copy_from_slice(&acc);
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn tile_distances(values: &[f32], centre: &[f32], out: &mut [f32; TILE]) {
    match block_width!() {
        64 => distances_w::<64>(values, centre, out),
        32 => distances_w::<32>(values, centre, out),
        _ => distances_w::<16>(values, centre, out),
    }
}

#[inline(always)]
fn nearest_w<const W: usize>(
    values: &[f32],
    d: usize,
    centres: &[f32],
    best: &mut [f32; TILE],
    index: &mut [u32; TILE],
) {
    let k = centres.len().checked_div(d).unwrap_or(0);
    for first in (0..TILE).step_by(W) {
        let mut low = [f32::INFINITY; W];
        let mut at = [0u32; W];
        // Two centres at a time: each column load serves both, and the
        // two sets of accumulators keep twice the additions in flight.
        let mut c = 0;
        while c + 2 <= k {
            let mut one = [0.0f32; W];
            let mut two = [0.0f32; W];
            let pair = &centres[c * d..(c + 2) * d];
            let (p, q) = pair.split_at(d);
            for (j, (&x, &y)) in p.iter().zip(q).enumerate() {
                let column: &[f32; W] = values[j * TILE + first..j * TILE + first + W]
                    .try_into()
                    .expect("W values");
                for l in 0..W {
                    let t = column[l] - x;
                    one[l] += t * t;
                    let u = column[l] - y;
                    two[l] += u * u;
                }
            }
            let (c1, c2) = (c as u32, c as u32 + 1);
            for l in 0..W {
                let nearer = one[l] < low[l];
                low[l] = if nearer { one[l] } else { low[l] };
                at[l] = if nearer { c1 } else { at[l] };
            }
            for l in 0..W {
                let nearer = two[l] < low[l];
                low[l] = if nearer { two[l] } else { low[l] };
                at[l] = if nearer { c2 } else { at[l] };
            }
            c += 2;
        }
        if c < k {
            let mut acc = [0.0f32; W];
            block_distances(values, first, &centres[c * d..(c + 1) * d], &mut acc);
            for l in 0..W {
                let nearer = acc[l] < low[l];
                low[l] = if nearer { acc[l] } else { low[l] };
                at[l] = if nearer { c as u32 } else { at[l] };
            }
        }
        best[first..first + W].copy_from_slice(&low);
        index[first..first + W].copy_from_slice(&at);
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
pub(super) fn tile_nearest(
    values: &[f32],
    d: usize,
    centres: &[f32],
    best: &mut [f32; TILE],
    index: &mut [u32; TILE],
) {
    match block_width!() {
        64 => nearest_w::<64>(values, d, centres, best, index),
        32 => nearest_w::<32>(values, d, centres, best, index),
        _ => nearest_w::<16>(values, d, centres, best, index),
    }
}

#[inline(always)]
fn nearest_two_w<const W: usize>(values: &[f32], d: usize, centres: &[f32], out: &mut Nearest) {
    for first in (0..TILE).step_by(W) {
        let mut low = [f32::INFINITY; W];
        let mut next = [f32::INFINITY; W];
        let mut at = [0u32; W];
        for (c, centre) in centres.chunks_exact(d).enumerate() {
            let mut acc = [0.0f32; W];
            block_distances(values, first, centre, &mut acc);
            for l in 0..W {
                // The runner-up: the old best when this one wins, else the
                // lower of the old runner-up and this one.
                next[l] = next[l].min(acc[l].max(low[l]));
                let nearer = acc[l] < low[l];
                low[l] = if nearer { acc[l] } else { low[l] };
                at[l] = if nearer { c as u32 } else { at[l] };
            }
        }
        out.best[first..first + W].copy_from_slice(&low);
        out.second[first..first + W].copy_from_slice(&next);
        out.index[first..first + W].copy_from_slice(&at);
    }
}

/// Per point of a tile: the nearest centre (lowest index on ties), its
/// squared distance, and the squared distance to the runner-up (the
/// nearest other centre; infinite with one centre).
pub(super) struct Nearest {
    pub(super) best: [f32; TILE],
    pub(super) second: [f32; TILE],
    pub(super) index: [u32; TILE],
}

impl Nearest {
    pub(super) fn new() -> Self {
        Nearest {
            best: [0.0; TILE],
            second: [0.0; TILE],
            index: [0; TILE],
        }
    }
}

/// [`Nearest`] of every point of a transposed tile (`values`, d rows of
/// TILE): the same distances, compared the same way, as [`Tile::nearest`].
pub(super) fn tile_nearest_two(values: &[f32], d: usize, centres: &[f32], out: &mut Nearest) {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() {
        // SAFETY: the CPU has AVX-512F; `values` holds d x TILE values.
        unsafe { super::avx512::nearest_two(values, d, centres, out) };
        return;
    }
    portable_nearest_two(values, d, centres, out);
}

/// [`tile_nearest_two`] in portable loops, compiled per instruction set.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
pub(super) fn portable_nearest_two(values: &[f32], d: usize, centres: &[f32], out: &mut Nearest) {
    match block_width!() {
        64 => nearest_two_w::<64>(values, d, centres, out),
        32 => nearest_two_w::<32>(values, d, centres, out),
        _ => nearest_two_w::<16>(values, d, centres, out),
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
