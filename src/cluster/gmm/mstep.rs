//! The M-step: a mixture's weights, means and covariances from the
//! sufficient statistics of its responsibilities, and the Cholesky factors
//! of the precisions that the E-step reads, as scikit-learn's
//! `_estimate_gaussian_parameters` and `_compute_precision_cholesky`
//! define them (the same `10 * eps` added to every component's weight,
//! the same regularisation on the diagonal).

use ndarray::{Array1, Array2, Array3, ArrayView2};
use rayon::prelude::*;

use super::{CovarianceType, Covariances, Mixture};
use crate::backend::MixtureSums;
use crate::features::matrix::FeatureMatrix;

/// Added to every component's summed responsibility, as scikit-learn does,
/// so that an empty component divides by a tiny number rather than 0.
pub const WEIGHT_FLOOR: f64 = 10.0 * f64::EPSILON;

/// Times the regularisation may be raised tenfold for a component whose
/// covariance is not positive definite before the fit gives up.
pub const MAX_RAISES: u32 = 12;

/// `ln(2 pi)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// What tied covariances need of all the points, whatever their
/// responsibilities: `X^T X` (d x d), as scikit-learn computes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// The sum over the points of `x x^T`.
    pub all: Array2<f64>,
}

impl Moments {
    /// `X^T X` of the points, in f64, summed in fixed chunks in order (the
    /// same on every thread count).
    pub fn of(points: &FeatureMatrix) -> Self {
        let d = points.d();
        let parts: Vec<Array2<f64>> = points
            .as_slice()
            .par_chunks(MOMENT_ROWS * d.max(1))
            .map(|rows| {
                let x = ArrayView2::from_shape((rows.len() / d, d), rows)
                    .expect("whole rows")
                    .mapv(f64::from);
                x.t().dot(&x)
            })
            .collect();
        let mut all = Array2::zeros((d, d));
        for p in &parts {
            all += p;
        }
        Moments { all }
    }
}

/// Rows per part of [`Moments::of`].
const MOMENT_ROWS: usize = 1024;

/// A component whose covariance was not positive definite at the
/// regularisation asked for, and the regularisation that made it so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Raised {
    /// The component (in fit order).
    pub component: usize,
    /// The regularisation it needed, in the points' working coordinates.
    pub reg_covar: f64,
}

/// The mixture the statistics of one pass give (scikit-learn's M-step),
/// with `reg_covar` added to every covariance's diagonal; the components
/// whose covariance needed more (see [`Raised`]) are listed. `None` when
/// even [`MAX_RAISES`] tenfold raises could not make one positive definite.
pub fn m_step(
    stats: &MixtureSums,
    moments: Option<&Moments>,
    covariance: CovarianceType,
    reg_covar: f64,
) -> Option<(Mixture, Vec<Raised>)> {
    let k = stats.resp.len();
    let d = stats.first.ncols();
    let nk: Vec<f64> = stats.resp.iter().map(|r| r + WEIGHT_FLOOR).collect();
    let total: f64 = nk.iter().sum();
    let weights: Vec<f64> = nk.iter().map(|n| n / total).collect();
    let mut means = stats.first.clone();
    for (c, mut row) in means.rows_mut().into_iter().enumerate() {
        row /= nk[c];
    }
    let covariances = match covariance {
        CovarianceType::Full => {
            let mut cov = Array3::zeros((k, d, d));
            for c in 0..k {
                let (mu, s1, r) = (means.row(c), stats.first.row(c), stats.resp[c]);
                let mut p = 0;
                for a in 0..d {
                    for b in a..d {
                        // sum r (x_a - mu_a)(x_b - mu_b), expanded.
                        let centred = stats.second[[c, p]] - s1[a] * mu[b] - mu[a] * s1[b]
                            + r * mu[a] * mu[b];
                        let v = centred / nk[c];
                        cov[[c, a, b]] = v;
                        cov[[c, b, a]] = v;
                        p += 1;
                    }
                }
            }
            Covariances::Full(cov)
        }
        CovarianceType::Tied => {
            let all = &moments.expect("tied covariances need X^T X").all;
            let mut cov = all.clone();
            for c in 0..k {
                for a in 0..d {
                    for b in 0..d {
                        cov[[a, b]] -= nk[c] * means[[c, a]] * means[[c, b]];
                    }
                }
            }
            cov /= total;
            Covariances::Tied(cov)
        }
        CovarianceType::Diag | CovarianceType::Spherical => {
            let mut var = Array2::zeros((k, d));
            for c in 0..k {
                for j in 0..d {
                    let mu = means[[c, j]];
                    let avg_x2 = stats.second[[c, j]] / nk[c];
                    let avg_x_mu = mu * stats.first[[c, j]] / nk[c];
                    var[[c, j]] = avg_x2 - 2.0 * avg_x_mu + mu * mu;
                }
            }
            if covariance == CovarianceType::Diag {
                Covariances::Diag(var)
            } else {
                // scikit-learn averages the regularised variances; adding
                // reg_covar after the mean is the same number.
                Covariances::Spherical(var.mean_axis(ndarray::Axis(1)).expect("d >= 1"))
            }
        }
    };
    Mixture::regularised(weights, means, covariances, reg_covar)
}

/// The lower Cholesky factor of a symmetric matrix, `None` when it is not
/// positive definite (a pivot not above 0, or not finite).
pub fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let d = a.nrows();
    let mut l = Array2::zeros((d, d));
    for j in 0..d {
        let mut pivot = a[[j, j]];
        for p in 0..j {
            pivot -= l[[j, p]] * l[[j, p]];
        }
        if !(pivot > 0.0 && pivot.is_finite()) {
            return None;
        }
        let pivot = pivot.sqrt();
        l[[j, j]] = pivot;
        for i in j + 1..d {
            let mut v = a[[i, j]];
            for p in 0..j {
                v -= l[[i, p]] * l[[j, p]];
            }
            l[[i, j]] = v / pivot;
        }
    }
    Some(l)
}

/// The inverse of a lower-triangular matrix with a positive diagonal,
/// transposed: the upper factor `U` with `U U^T` the inverse of `L L^T`
/// (scikit-learn's `solve_triangular(L, I, lower=True).T`).
pub fn inverse_transposed(l: &Array2<f64>) -> Array2<f64> {
    let d = l.nrows();
    let mut inv = Array2::<f64>::zeros((d, d));
    for col in 0..d {
        // Forward substitution of L x = e_col.
        for i in col..d {
            let mut v = if i == col { 1.0 } else { 0.0 };
            for p in col..i {
                v -= l[[i, p]] * inv[[p, col]];
            }
            inv[[i, col]] = v / l[[i, i]];
        }
    }
    inv.reversed_axes()
}

/// The Cholesky factor of each precision (d x d, for the E-step) and the
/// log of its determinant, of a covariance that is positive definite.
pub fn precision_factor(cov: &Array2<f64>) -> Option<(Array2<f64>, f64)> {
    let l = cholesky(cov)?;
    let u = inverse_transposed(&l);
    let log_det = (0..u.nrows()).map(|j| u[[j, j]].ln()).sum();
    Some((u, log_det))
}

/// Adds `by` to the diagonal of a square matrix.
pub fn add_diagonal(a: &mut Array2<f64>, by: f64) {
    for j in 0..a.nrows() {
        a[[j, j]] += by;
    }
}

/// The per-feature variances of a diagonal or spherical component, as a
/// d x d factor: `1 / sqrt(var)` on the diagonal. `None` unless every
/// variance is above 0.
pub fn diagonal_factor(var: &Array1<f64>) -> Option<(Array2<f64>, f64)> {
    if var.iter().any(|&v| !(v > 0.0 && v.is_finite())) {
        return None;
    }
    let d = var.len();
    let mut u = Array2::zeros((d, d));
    let mut log_det = 0.0;
    for j in 0..d {
        let p = 1.0 / var[j].sqrt();
        u[[j, j]] = p;
        log_det += p.ln();
    }
    Some((u, log_det))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cholesky_and_its_inverse_factor_the_precision() {
        let a = array![[4.0, 2.0, 0.4], [2.0, 3.0, 0.5], [0.4, 0.5, 1.0]];
        let l = cholesky(&a).unwrap();
        let back = l.dot(&l.t());
        assert!((&back - &a).iter().all(|v| v.abs() < 1e-12));
        let u = inverse_transposed(&l);
        // U U^T = A^-1, so A U U^T = I.
        let ident = a.dot(&u).dot(&u.t());
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((ident[[i, j]] - want).abs() < 1e-12, "{ident}");
            }
        }
        assert!(cholesky(&array![[1.0, 2.0], [2.0, 1.0]]).is_none());
        assert!(cholesky(&array![[0.0]]).is_none());
    }
}
