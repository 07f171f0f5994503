//! A Gaussian mixture's E-step on the CPU: each point's log density under
//! every component (through the Cholesky factors of the precisions, in
//! log space), the log-sum-exp over components, the responsibilities, and
//! the sums the M-step needs, in one pass over the points that serves
//! several mixtures.
//!
//! Points are read in fixed chunks of [`CHUNK`], widened to f64 and laid
//! out transposed (a row per coordinate), so that every per-point loop
//! runs across points, in vector lanes (compiled for AVX2/FMA, AVX and
//! NEON, picked at run time): each component's whitened coordinates
//! `(x - mu) U` are formed in registers, a block of points at a time, and
//! only their squared norm leaves them (the triangle of a Cholesky factor,
//! the diagonal of a diagonal one, is all that is multiplied). The M-step's
//! sums run as matrix products (ndarray's, with AVX2/FMA kernels picked at
//! run time): `R X^T` and `R Z^T`. Each chunk's sums are
//! combined in chunk order, so the result does not depend on the thread
//! count. Everything is f64.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use super::TiledPoints;
use crate::backend::{Components, MixtureSums, Products};
use crate::features::matrix::FeatureMatrix;

/// Points per chunk: small enough that a chunk's coordinates and
/// responsibilities stay in cache, large enough for the products.
pub const CHUNK: usize = 1024;

/// Below this, `e^x` underflows to exactly 0 in f64 (the smallest
/// subnormal is `e^-744.44`).
const EXP_UNDERFLOW: f64 = -746.0;

/// Scaled densities below `e^FLUSH` (1e-304; a responsibility at most that
/// of a component) are taken as 0. Kept, they would change no sum by more
/// than 1e-290 of a responsibility (every component's sum carries a floor
/// of 2.2e-15), but they and their products with coordinates would be
/// subnormal numbers, which x86 cores handle in microcode, 100 times
/// slower: an EM iteration took half as long again once components
/// separated.
const FLUSH: f64 = -700.0;

/// Chunks whose sums are held at once before they are added up: bounds
/// the memory of a pass for many runs at once (a sweep's).
const BLOCK_CHUNKS: usize = 64;

/// Where a pass reads the points: the backend's tiles (a fit), or rows
/// (scoring).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// The CPU backend's transposed tiles.
    Tiles(&'a TiledPoints),
    /// Row-major points.
    Rows(&'a FeatureMatrix),
}

impl Source<'_> {
    fn n(&self) -> usize {
        match self {
            Source::Tiles(t) => t.n(),
            Source::Rows(m) => m.n(),
        }
    }

    fn d(&self) -> usize {
        match self {
            Source::Tiles(t) => t.d(),
            Source::Rows(m) => m.d(),
        }
    }

    fn chunks(&self) -> usize {
        self.n().div_ceil(CHUNK)
    }

    /// Chunk `c`'s points in f64, transposed, over a row of ones ((d + 1)
    /// x rows).
    fn transposed(&self, c: usize) -> Array2<f64> {
        let (n, d) = (self.n(), self.d());
        let first = c * CHUNK;
        let rows = CHUNK.min(n - first);
        let mut x = vec![1.0; (d + 1) * rows];
        match self {
            Source::Rows(m) => {
                let flat = &m.as_slice()[first * d..(first + rows) * d];
                for (i, row) in flat.chunks_exact(d).enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        x[j * rows + i] = f64::from(v);
                    }
                }
            }
            Source::Tiles(t) => {
                // CHUNK is a whole number of tiles.
                for (at, tile) in t.chunk_of(first, rows).enumerate() {
                    let base = at * super::TILE;
                    for j in 0..d {
                        let values = &tile.values[j * super::TILE..j * super::TILE + tile.len];
                        for (p, &v) in values.iter().enumerate() {
                            x[j * rows + base + p] = f64::from(v);
                        }
                    }
                }
            }
        }
        Array2::from_shape_vec((d + 1, rows), x).expect("(d + 1) x rows")
    }
}

/// One pass over the points: for each mixture, the sums its M-step needs
/// (the `products` of coordinates) and the summed log-likelihood.
pub fn pass(source: Source, mixtures: &[Components], products: Products) -> Vec<MixtureSums> {
    let d = source.d();
    let m = products.count(d);
    let mut total: Vec<MixtureSums> = mixtures
        .iter()
        .map(|c| MixtureSums::zero(c.k(), d, products))
        .collect();
    // Chunks in blocks: each block's chunks run in parallel, then their sums
    // are added in chunk order, so memory stays that of one block's sums.
    let chunks = source.chunks();
    for block in (0..chunks).step_by(BLOCK_CHUNKS) {
        let sums: Vec<Vec<MixtureSums>> = (block..chunks.min(block + BLOCK_CHUNKS))
            .into_par_iter()
            .map(|c| {
                let x = source.transposed(c);
                let z = (m > 0).then(|| coordinate_products(&x, m));
                let mut scratch = Scratch::default();
                mixtures
                    .iter()
                    .map(|mixture| {
                        let k = mixture.k();
                        let log_likelihood = responsibilities(&x, mixture, &mut scratch);
                        let resp =
                            ArrayView2::from_shape((k, x.ncols()), &scratch.resp).expect("k x n");
                        // The row of ones sums the responsibilities.
                        let first = resp.dot(&x.t());
                        let mut sums = MixtureSums::zero(k, d, products);
                        sums.resp = first.column(d).to_vec();
                        sums.first.assign(&first.slice(s![.., ..d]));
                        if let Some(z) = &z {
                            sums.second = resp.dot(&z.t());
                        }
                        sums.log_likelihood = log_likelihood;
                        sums
                    })
                    .collect()
            })
            .collect();
        for chunk in &sums {
            for (t, s) in total.iter_mut().zip(chunk) {
                t.add(s);
            }
        }
    }
    total
}

/// The products of coordinates (see [`MixtureSums::second`]) of a chunk's
/// points (`x`, transposed), `m` of them: the squares (`m == d`) or every
/// pair `a <= b`; transposed too (m x n).
fn coordinate_products(x: &Array2<f64>, m: usize) -> Array2<f64> {
    let (d, n) = (x.nrows() - 1, x.ncols());
    let x = x.as_slice().expect("a standard layout");
    let mut z = vec![0.0; m * n];
    let mut rows = z.chunks_exact_mut(n);
    for a in 0..d {
        let pairs = if m == d { a..a + 1 } else { a..d };
        for b in pairs {
            let out = rows.next().expect("m rows");
            multiply(out, &x[a * n..(a + 1) * n], &x[b * n..(b + 1) * n]);
        }
    }
    Array2::from_shape_vec((m, n), z).expect("m x n")
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn multiply(out: &mut [f64], a: &[f64], b: &[f64]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x * y;
    }
}

/// Buffers of one chunk's E-step, reused across mixtures.
#[derive(Default)]
pub struct Scratch {
    /// K x n: weighted log densities, then responsibilities.
    pub resp: Vec<f64>,
    /// Per point, the largest weighted log density, then its
    /// log-likelihood.
    pub norms: Vec<f64>,
    /// Per point, its most probable component.
    pub best: Vec<u32>,
    /// Per point, the sum of its scaled densities.
    sums: Vec<f64>,
}

/// The E-step of one chunk (`x`: its points transposed, d rows of n,
/// over a row of ones): into `scratch`, each point's responsibilities (K
/// x n, each point's summing to 1), its most probable component (the
/// lowest on a tie, compared in log space) and its log-likelihood (the log
/// of its summed weighted densities, through log-sum-exp); returns the
/// summed log-likelihood.
pub fn responsibilities(x: &Array2<f64>, mixture: &Components, scratch: &mut Scratch) -> f64 {
    let n = x.ncols();
    let (k, d) = (mixture.k(), mixture.d());
    let xs = x.as_slice().expect("a standard layout");
    scratch.resp.resize(k * n, 0.0);
    scratch.norms.clear();
    scratch.norms.resize(n, f64::NEG_INFINITY);
    scratch.best.clear();
    scratch.best.resize(n, 0);
    scratch.sums.clear();
    scratch.sums.resize(n, 0.0);
    let w = mixture.whitening;
    let mut factor = vec![0.0; d * d];
    let mut bias = vec![0.0; d];
    let mut rows = vec![(0, 0); d];
    for (c, log) in scratch.resp.chunks_exact_mut(n).enumerate() {
        // Component c's factor (column j: coordinate j), the rows where
        // each column is not 0 (a triangle, or the diagonal), and -mu U.
        for j in 0..d {
            let col = c * d + j;
            for a in 0..d {
                factor[j * d + a] = w[[a, col]];
            }
            bias[j] = w[[d, col]];
            let nonzero = |a: &usize| factor[j * d + a] != 0.0;
            let first = (0..d).find(nonzero).unwrap_or(0);
            let last = (0..d).rev().find(nonzero).map_or(0, |a| a + 1);
            rows[j] = (first, last.max(first));
        }
        log_density(log, xs, n, &factor, &bias, &rows, mixture.constants[c]);
        keep_largest(&mut scratch.norms, &mut scratch.best, log, c as u32);
    }
    for log in scratch.resp.chunks_exact_mut(n) {
        scaled_densities(log, &scratch.norms, &mut scratch.sums);
    }
    for resp in scratch.resp.chunks_exact_mut(n) {
        divide(resp, &scratch.sums);
    }
    let mut total = 0.0;
    for (norm, &sum) in scratch.norms.iter_mut().zip(&scratch.sums) {
        if norm.is_finite() {
            *norm += sum.ln();
        }
        total += *norm;
    }
    total
}

/// Points per register block of [`log_density`].
const LANES: usize = 16;

/// One component's weighted log density at every point: `constant -
/// |y|^2 / 2`, with `y = (x - mu) U` whitened on the fly (`x`: d rows of
/// n; `factor`: column j of U at `j d`, not 0 only in rows `rows[j]`;
/// `bias`: `-mu U`).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn log_density(
    out: &mut [f64],
    x: &[f64],
    n: usize,
    factor: &[f64],
    bias: &[f64],
    rows: &[(usize, usize)],
    constant: f64,
) {
    // Fused multiply-adds where the clone's target has them (a constant
    // in each clone).
    let fma = multiversion::target::target_cfg_f!(target_feature = "fma");
    let d = bias.len();
    let whole = n / LANES * LANES;
    for start in (0..whole).step_by(LANES) {
        let mut sq = [0.0f64; LANES];
        for j in 0..d {
            let mut y = [bias[j]; LANES];
            let (from, to) = rows[j];
            for a in from..to {
                let u = factor[j * d + a];
                let xa = &x[a * n + start..a * n + start + LANES];
                for l in 0..LANES {
                    y[l] = if fma {
                        u.mul_add(xa[l], y[l])
                    } else {
                        u * xa[l] + y[l]
                    };
                }
            }
            for l in 0..LANES {
                sq[l] += y[l] * y[l];
            }
        }
        for l in 0..LANES {
            out[start + l] = constant - 0.5 * sq[l];
        }
    }
    for i in whole..n {
        let mut sq = 0.0;
        for j in 0..d {
            let mut y = bias[j];
            let (from, to) = rows[j];
            for a in from..to {
                let (u, xa) = (factor[j * d + a], x[a * n + i]);
                // As in the blocks above, so a user's numbers do not
                // depend on where it sits in the chunk.
                y = if fma { u.mul_add(xa, y) } else { u * xa + y };
            }
            sq += y * y;
        }
        out[i] = constant - 0.5 * sq;
    }
}

/// `exp(log - max)` in place, added to `sums`: each point's densities
/// scaled by its largest, those below `e^FLUSH` taken as 0. A point no
/// component reaches (every density 0, its largest log density -inf)
/// keeps them 0.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn scaled_densities(log: &mut [f64], max: &[f64], sums: &mut [f64]) {
    let fma = multiversion::target::target_cfg_f!(target_feature = "fma");
    for ((v, &m), s) in log.iter_mut().zip(max).zip(sums) {
        let t = *v - m;
        // exp of the clamped value, so that no lane computes a subnormal.
        let e = exp_with(t.max(FLUSH), fma);
        *v = if t > FLUSH { e } else { 0.0 };
        *s += *v;
    }
}

/// `e^x` to within 2 ulp of the correctly rounded value, 0 below the
/// smallest subnormal (and for NaN), written so that a loop of it runs in
/// vector lanes (libm's `exp` is a call per value): `x = k ln 2 + r` with
/// `|r| <= ln 2 / 2`, `e^r` by its Taylor series to the 13th power (the
/// next term is below 4e-18 of it), scaled by `2^k` in two exact steps so
/// that subnormal results come out right.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    exp_with(x, false)
}

/// [`exp`], its polynomial in fused multiply-adds when `fma` (a constant
/// where it is inlined, true only where the target has them).
#[inline(always)]
fn exp_with(x: f64, fma: bool) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const TWO_TO_MINUS_60: f64 = 8.673_617_379_884_035e-19;
    const INV_FACT: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    // Adding 1.5 * 2^52 rounds to an integer (ties to even) and leaves it
    // in the low bits of the mantissa.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let clamped = x.clamp(EXP_UNDERFLOW, 709.0);
    let k = (clamped * std::f64::consts::LOG2_E + SHIFTER) - SHIFTER;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    let mut p = INV_FACT[13];
    for &c in INV_FACT[..13].iter().rev() {
        p = if fma { p.mul_add(r, c) } else { p * r + c };
    }
    // 2^k from its exponent bits; below 2^-1000 in two steps, so that a
    // subnormal result is rounded once.
    let low = k < -1000.0;
    let e = if low { k + 60.0 } else { k };
    let bits = (e + SHIFTER).to_bits().wrapping_add(1023) << 52;
    let value = p * f64::from_bits(bits) * if low { TWO_TO_MINUS_60 } else { 1.0 };
    if x > EXP_UNDERFLOW { value } else { 0.0 }
}

/// Keeps, per point, the largest log density so far and its component
/// (the earlier on a tie).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn keep_largest(max: &mut [f64], best: &mut [u32], log: &[f64], c: u32) {
    for ((m, b), &v) in max.iter_mut().zip(best.iter_mut()).zip(log) {
        if v > *m {
            *m = v;
            *b = c;
        }
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn divide(values: &mut [f64], by: &[f64]) {
    for (v, &s) in values.iter_mut().zip(by) {
        // A point no component reaches has no responsibilities.
        if s > 0.0 {
            *v /= s;
        }
    }
}

/// The outputs of [`posteriors`] for one chunk: labels, log-likelihoods
/// and, when asked for, probabilities.
type PosteriorChunk<'a> = ((&'a mut [u32], &'a mut [f64]), Option<&'a mut [f32]>);

/// Places points with a mixture, chunk by chunk: each point's most
/// probable component (the lowest on a tie) and its log-likelihood, and,
/// when `probabilities` is given (n x K), every membership probability.
/// Memory beyond the outputs is one chunk's.
pub fn posteriors(
    source: Source,
    mixture: &Components,
    labels: &mut [u32],
    log_likelihoods: &mut [f64],
    probabilities: Option<&mut [f32]>,
) {
    let k = mixture.k();
    let labels = labels.par_chunks_mut(CHUNK);
    let lls = log_likelihoods.par_chunks_mut(CHUNK);
    let work = |(c, ((labels, lls), probs)): (usize, PosteriorChunk)| {
        let mut scratch = Scratch::default();
        let x = source.transposed(c);
        let n = x.ncols();
        responsibilities(&x, mixture, &mut scratch);
        labels.copy_from_slice(&scratch.best);
        lls.copy_from_slice(&scratch.norms);
        if let Some(probs) = probs {
            for (c, resp) in scratch.resp.chunks_exact(n).enumerate() {
                for (i, &r) in resp.iter().enumerate() {
                    probs[i * k + c] = r as f32;
                }
            }
        }
    };
    match probabilities {
        Some(p) => labels
            .zip(lls)
            .zip(p.par_chunks_mut(CHUNK * k).map(Some))
            .enumerate()
            .for_each(work),
        None => labels
            .zip(lls)
            .map(|t| (t, None))
            .enumerate()
            .for_each(work),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut worst = 0u64;
        let mut x = -746.5;
        while x < 709.0 {
            let (a, b) = (exp(x), x.exp());
            let ulps = a.to_bits().abs_diff(b.to_bits());
            assert!(ulps <= 2, "exp({x}) = {a}, libm {b}");
            worst = worst.max(ulps);
            x += 0.012_345_678_9;
        }
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e-300,
            -1e-300,
            0.5 * std::f64::consts::LN_2,
        ] {
            assert!(exp(x).to_bits().abs_diff(x.exp().to_bits()) <= 2, "{x}");
        }
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::NAN), 0.0);
        assert!(exp(-745.0) > 0.0, "the smallest subnormal");
    }
}
