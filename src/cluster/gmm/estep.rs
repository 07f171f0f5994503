//! The E-step on the CPU: each point's log density under every component
//! (through the Cholesky factors of the precisions, in log space), the
//! log-sum-exp over components, the responsibilities, and the sums the
//! M-step needs, in one pass over the points that serves several mixtures.
//!
//! Points are read in fixed chunks of [`CHUNK`] rows, widened to f64, and
//! the two products that carry the arithmetic run as matrix products
//! (ndarray's, which pick AVX2/FMA kernels at run time): `X B` for the
//! whitened coordinates of every component at once, and `R^T [X, Z]` for
//! the weighted sums. Each chunk's sums are combined in chunk order, so the
//! result does not depend on the thread count.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use super::Mixture;
use super::mstep::{Stats, products};
use crate::features::matrix::FeatureMatrix;

/// Points per chunk: small enough that a chunk's whitened coordinates
/// (CHUNK x K d doubles) stay in cache, large enough for the products.
pub const CHUNK: usize = 256;

/// `ln(2 pi)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// One pass over the points: for each mixture (all of one covariance
/// type), the sums its M-step needs and the summed log-likelihood.
pub fn pass(points: &FeatureMatrix, mixtures: &[&Mixture]) -> Vec<Stats> {
    let Some(first) = mixtures.first() else {
        return Vec::new();
    };
    let covariance = first.covariance_type();
    let d = points.d();
    let chunks: Vec<Vec<Stats>> = chunks(points)
        .map(|rows| {
            let x = augmented(&rows);
            let z = coordinate_products(&rows, covariance);
            let mut scratch = Scratch::default();
            mixtures
                .iter()
                .map(|m| {
                    let k = m.k();
                    let log_norm = responsibilities(&x, m, &mut scratch);
                    let resp =
                        ArrayView2::from_shape((x.nrows(), k), &scratch.resp).expect("n x k");
                    // The appended column of ones sums the responsibilities.
                    let first = resp.t().dot(&x);
                    let mut stats = Stats::zero(k, d, covariance);
                    stats.resp = first.column(d).to_vec();
                    stats.first.assign(&first.slice(s![.., ..d]));
                    if let Some(z) = &z {
                        stats.second = resp.t().dot(z);
                    }
                    stats.log_likelihood = log_norm;
                    stats
                })
                .collect()
        })
        .collect();
    let mut total: Vec<Stats> = mixtures
        .iter()
        .map(|m| Stats::zero(m.k(), d, covariance))
        .collect();
    for chunk in &chunks {
        for (t, s) in total.iter_mut().zip(chunk) {
            t.add(s);
        }
    }
    total
}

/// The points in chunks of [`CHUNK`] rows (the last may be short).
pub fn chunks(points: &FeatureMatrix) -> impl IndexedParallelIterator<Item = ArrayView2<'_, f32>> {
    let d = points.d();
    points
        .as_slice()
        .par_chunks(CHUNK * d)
        .map(move |rows| ArrayView2::from_shape((rows.len() / d, d), rows).expect("whole rows"))
}

/// A chunk's points in f64 with a 1 appended to each (n x (d + 1)).
fn augmented(rows: &ArrayView2<f32>) -> Array2<f64> {
    let (n, d) = rows.dim();
    let mut x = Array2::ones((n, d + 1));
    x.slice_mut(s![.., ..d]).assign(&rows.mapv(f64::from));
    x
}

/// The products of coordinates (see [`Stats::second`]) of a chunk's
/// points; `None` when the covariance type needs none.
fn coordinate_products(
    rows: &ArrayView2<f32>,
    covariance: super::CovarianceType,
) -> Option<Array2<f64>> {
    let (n, d) = rows.dim();
    let m = products(covariance, d);
    if m == 0 {
        return None;
    }
    let mut z = vec![0.0; n * m];
    let flat = rows.as_slice().expect("rows of a standard layout");
    for (x, out) in flat.chunks_exact(d).zip(z.chunks_exact_mut(m)) {
        if m == d {
            for (o, &v) in out.iter_mut().zip(x) {
                let v = f64::from(v);
                *o = v * v;
            }
        } else {
            let mut p = 0;
            for a in 0..d {
                let xa = f64::from(x[a]);
                for &xb in &x[a..] {
                    out[p] = xa * f64::from(xb);
                    p += 1;
                }
            }
        }
    }
    Some(Array2::from_shape_vec((n, m), z).expect("n x m"))
}

/// Buffers of one chunk's E-step, reused across mixtures.
#[derive(Default)]
pub struct Scratch {
    /// n x K: weighted log densities, then responsibilities.
    pub resp: Vec<f64>,
    /// Per point, its most probable component.
    pub best: Vec<u32>,
    /// Per point, its log-likelihood.
    pub norms: Vec<f64>,
}

/// The E-step of one chunk (`x`: points with a 1 appended, see
/// [`augmented`]): into `scratch`, each point's responsibilities (n x K,
/// rows summing to 1), its most probable component (the lowest on a tie,
/// compared in log space) and its log-likelihood (the log of its summed
/// weighted densities, through log-sum-exp); returns the summed
/// log-likelihood.
pub fn responsibilities(x: &Array2<f64>, mixture: &Mixture, scratch: &mut Scratch) -> f64 {
    let n = x.nrows();
    let (k, d) = (mixture.k(), mixture.d());
    let whitened = x.dot(&mixture.whitening);
    let whitened = whitened.as_slice().expect("a standard layout");
    scratch.resp.resize(n * k, 0.0);
    scratch.best.resize(n, 0);
    scratch.norms.resize(n, 0.0);
    let mut total = 0.0;
    for (i, (y, resp)) in whitened
        .chunks_exact(k * d)
        .zip(scratch.resp.chunks_exact_mut(k))
        .enumerate()
    {
        for ((r, y), constant) in resp
            .iter_mut()
            .zip(y.chunks_exact(d))
            .zip(&mixture.constants)
        {
            let sq: f64 = y.iter().map(|v| v * v).sum();
            *r = constant - 0.5 * sq;
        }
        let mut top = 0;
        for c in 1..k {
            if resp[c] > resp[top] {
                top = c;
            }
        }
        let max = resp[top];
        let norm = if max.is_finite() {
            let mut sum = 0.0;
            for r in resp.iter_mut() {
                *r = (*r - max).exp();
                sum += *r;
            }
            for r in resp.iter_mut() {
                *r /= sum;
            }
            max + sum.ln()
        } else {
            max
        };
        scratch.best[i] = top as u32;
        scratch.norms[i] = norm;
        total += norm;
    }
    total
}

/// One chunk's points and the outputs of [`posteriors`] for them.
type PosteriorChunk<'a, 'b> = (
    ((ArrayView2<'a, f32>, &'b mut [u32]), &'b mut [f64]),
    Option<&'b mut [f32]>,
);

/// Places points with a mixture, chunk by chunk: each point's most
/// probable component (the lowest on a tie) and its log-likelihood, and,
/// when `probabilities` is given (n x K), every membership probability.
/// Memory beyond the outputs is one chunk's.
pub fn posteriors(
    points: &FeatureMatrix,
    mixture: &Mixture,
    labels: &mut [u32],
    log_likelihoods: &mut [f64],
    probabilities: Option<&mut [f32]>,
) {
    let rows = chunks(points);
    let labels = labels.par_chunks_mut(CHUNK);
    let lls = log_likelihoods.par_chunks_mut(CHUNK);
    let work = |(((x, labels), lls), probs): PosteriorChunk| {
        let mut scratch = Scratch::default();
        responsibilities(&augmented(&x), mixture, &mut scratch);
        labels.copy_from_slice(&scratch.best);
        lls.copy_from_slice(&scratch.norms);
        if let Some(probs) = probs {
            for (p, r) in probs.iter_mut().zip(&scratch.resp) {
                *p = *r as f32;
            }
        }
    };
    match probabilities {
        Some(p) => rows
            .zip(labels)
            .zip(lls)
            .zip(p.par_chunks_mut(CHUNK * mixture.k()).map(Some))
            .for_each(work),
        None => rows.zip(labels).zip(lls).map(|t| (t, None)).for_each(work),
    }
}
