//! Gaussian mixtures (README, "Gaussian mixtures"): soft segments, each
//! user a probability of belonging to every segment, fitted by EM as
//! scikit-learn 1.9's `GaussianMixture` defines it, so that results can be
//! checked against it:
//!
//! - densities in log space through the Cholesky factors of the
//!   precisions, `reg_covar` added to every covariance's diagonal, `10 *
//!   eps` added to every component's summed responsibility;
//! - four covariance types ([`CovarianceType`]);
//! - an iteration is an E-step then an M-step; its lower bound is the mean
//!   log-likelihood per point that the E-step found, and EM stops once it
//!   changes by less than `tol` (never, with `tol` 0: exactly `max_iter`
//!   iterations);
//! - `n_init` restarts, the one with the highest final lower bound kept;
//!   each starts from segmint's own k-means++ centres or K-Means labels
//!   ([`GmmInit`]), as scikit-learn's `init_params="k-means++"` and
//!   `"kmeans"` do from its own;
//! - labels are each point's most probable component under the final
//!   parameters (one more E-step), the lowest on a tie.
//!
//! Where scikit-learn gives up on a covariance that is not positive
//! definite (a component collapsed onto identical points, with
//! `reg_covar` 0 or rounding), the fit raises that component's
//! regularisation tenfold until it is, and reports each raise
//! ([`Raised`]); it fails only when [`mstep::MAX_RAISES`] raises do not
//! suffice.
//!
//! The E-step runs on the backend ([`Kernels::mixture_pass`]: the CPU's
//! in f64, the GPU's in f32 with the sums centred on each component's
//! current mean); the M-step's few numbers on the host ([`mstep`]), in
//! f64. The same seed and input give the same result on every run and
//! thread count.

pub mod mstep;

use ndarray::{Array1, Array2, Array3};
use serde::{Deserialize, Serialize};

use self::mstep::{LN_2PI, Moments, Raised};
use super::kmeans::{KMeans, kmeans_plus_plus, run_seed};
use super::params::{KMeansParams, MAX_RESTARTS, ParamsError, SilhouetteMode};
use super::sweep::{Sweep, finish};
use super::{ClusterError, fit_each_k as kmeans_each_k};
use crate::backend::{Backend, Components, Kernels, MixtureSums, Products, with_kernels};
use crate::features::matrix::{FeatureMatrix, Frame};

/// The shape of each component's covariance (`--covariance`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceType {
    /// Each component its own general covariance matrix.
    #[default]
    Full,
    /// One general covariance matrix shared by every component.
    Tied,
    /// Each component its own diagonal covariance.
    Diag,
    /// Each component its own single variance.
    Spherical,
}

impl CovarianceType {
    /// The name `--covariance` and the model file give it.
    pub fn name(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// The products of coordinates its M-step needs of each point.
    pub fn products(self) -> Products {
        match self {
            CovarianceType::Full => Products::Pairs,
            CovarianceType::Diag | CovarianceType::Spherical => Products::Squares,
            CovarianceType::Tied => Products::None,
        }
    }

    /// Free parameters of the covariances of `k` components of `d`
    /// features (scikit-learn's count).
    pub fn parameters(self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }
}

impl std::str::FromStr for CovarianceType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(CovarianceType::Full),
            "tied" => Ok(CovarianceType::Tied),
            "diag" => Ok(CovarianceType::Diag),
            "spherical" => Ok(CovarianceType::Spherical),
            other => Err(format!(
                "unknown covariance type {other:?}: expected full, tied, diag or spherical"
            )),
        }
    }
}

/// Where each EM run starts (`--gmm-init`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GmmInit {
    /// Every point's responsibility from the labels of a K-Means fit
    /// (scikit-learn's default, `init_params="kmeans"`).
    #[default]
    #[serde(rename = "kmeans")]
    KMeans,
    /// Each component on one k-means++ centre, with covariance
    /// `reg_covar` (`init_params="k-means++"`; `tied`: scikit-learn's
    /// start from all the points' `x x^T`, in the points' working frame).
    #[serde(rename = "k-means++")]
    KMeansPlusPlus,
}

impl GmmInit {
    /// The name `--gmm-init` gives it.
    pub fn name(self) -> &'static str {
        match self {
            GmmInit::KMeans => "kmeans",
            GmmInit::KMeansPlusPlus => "k-means++",
        }
    }
}

impl std::str::FromStr for GmmInit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kmeans" => Ok(GmmInit::KMeans),
            "k-means++" => Ok(GmmInit::KMeansPlusPlus),
            other => Err(format!(
                "unknown initialisation {other:?}: expected kmeans or k-means++"
            )),
        }
    }
}

/// Parameters of a Gaussian mixture fit. Defaults follow scikit-learn's
/// `GaussianMixture`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmParams {
    /// Components, 1 to the number of points; sweeps take theirs from a
    /// list.
    pub k: usize,
    /// The shape of the covariances.
    pub covariance: CovarianceType,
    /// Restarts; the highest final lower bound wins.
    pub n_init: usize,
    /// Most EM iterations per restart (at least 1).
    pub max_iter: usize,
    /// EM stops once the mean log-likelihood per point changes by less
    /// than this; 0 runs exactly `max_iter` iterations.
    pub tol: f64,
    /// Added to the diagonal of every covariance, in the scaled space of
    /// the features (at least 0).
    pub reg_covar: f64,
    /// Where each restart starts.
    pub init: GmmInit,
    /// Seed of the initialisation, from which each (K, restart) run gets
    /// its own.
    pub seed: u64,
}

impl Default for GmmParams {
    fn default() -> Self {
        GmmParams {
            k: 3,
            covariance: CovarianceType::Full,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            init: GmmInit::KMeans,
            seed: 0,
        }
    }
}

impl GmmParams {
    /// Checks every parameter against `points` points to fit.
    pub fn validate(&self, points: usize) -> Result<(), ParamsError> {
        if self.k < 1 {
            return Err(ParamsError::KTooSmall(self.k));
        }
        if self.k > points {
            return Err(ParamsError::KTooLarge {
                k: self.k,
                users: points,
            });
        }
        if self.n_init == 0 {
            return Err(ParamsError::NoRestarts(0));
        }
        if self.n_init > MAX_RESTARTS {
            return Err(ParamsError::TooManyRestarts(self.n_init));
        }
        if self.max_iter == 0 {
            return Err(ParamsError::NoIterations(0));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(ParamsError::BadTolerance(self.tol));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(ParamsError::BadRegularisation(self.reg_covar));
        }
        Ok(())
    }
}

/// The covariances of a mixture's components, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// K x d x d.
    Full(Array3<f64>),
    /// d x d, shared.
    Tied(Array2<f64>),
    /// K x d variances.
    Diag(Array2<f64>),
    /// K variances.
    Spherical(Array1<f64>),
}

impl Covariances {
    /// The covariance type.
    pub fn kind(&self) -> CovarianceType {
        match self {
            Covariances::Full(_) => CovarianceType::Full,
            Covariances::Tied(_) => CovarianceType::Tied,
            Covariances::Diag(_) => CovarianceType::Diag,
            Covariances::Spherical(_) => CovarianceType::Spherical,
        }
    }

    /// Factors of the precisions: one per component, or one shared
    /// (`tied`).
    fn factors(&self) -> usize {
        match self {
            Covariances::Full(c) => c.dim().0,
            Covariances::Tied(_) => 1,
            Covariances::Diag(c) => c.nrows(),
            Covariances::Spherical(c) => c.len(),
        }
    }

    /// The factor `U` (d x d, `U U^T` the precision) of component `c`'s
    /// covariance and `ln det U`; `None` unless it is positive definite.
    fn factor(&self, c: usize, d: usize) -> Option<(Array2<f64>, f64)> {
        match self {
            Covariances::Full(cov) => {
                mstep::precision_factor(&cov.index_axis(ndarray::Axis(0), c).to_owned())
            }
            Covariances::Tied(cov) => mstep::precision_factor(cov),
            Covariances::Diag(var) => mstep::diagonal_factor(&var.row(c).to_owned()),
            Covariances::Spherical(var) => mstep::diagonal_factor(&Array1::from_elem(d, var[c])),
        }
    }

    /// Adds `by` to the diagonal of factor `c`'s covariance.
    fn add_diagonal(&mut self, c: usize, by: f64) {
        match self {
            Covariances::Full(cov) => {
                let mut m = cov.index_axis_mut(ndarray::Axis(0), c);
                for j in 0..m.nrows() {
                    m[[j, j]] += by;
                }
            }
            Covariances::Tied(cov) => mstep::add_diagonal(cov, by),
            Covariances::Diag(var) => var.row_mut(c).mapv_inplace(|v| v + by),
            Covariances::Spherical(var) => var[c] += by,
        }
    }

    /// The covariances of `x' = offset + unit x`.
    fn scaled(&self, unit: f64) -> Covariances {
        let u2 = unit * unit;
        match self {
            Covariances::Full(c) => Covariances::Full(c * u2),
            Covariances::Tied(c) => Covariances::Tied(c * u2),
            Covariances::Diag(c) => Covariances::Diag(c * u2),
            Covariances::Spherical(c) => Covariances::Spherical(c * u2),
        }
    }
}

/// A Gaussian mixture: weights, means and covariances, and what the
/// E-step reads of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Per component, its weight (they sum to 1).
    pub weights: Vec<f64>,
    /// K x d means.
    pub means: Array2<f64>,
    /// The covariances, regularisation included.
    pub covariances: Covariances,
    /// (d + 1) x K d: each component's precision factor `U_c` over a last
    /// row of `-mu_c U_c`, side by side: a point with a 1 appended times
    /// this gives every component's whitened `(x - mu_c) U_c`.
    pub(crate) whitening: Array2<f64>,
    /// Per component, `ln w_c + ln det U_c - d ln(2 pi) / 2`: its weighted
    /// log density at its mean.
    pub(crate) constants: Vec<f64>,
}

impl Mixture {
    /// The mixture of these parameters; `None` unless every covariance is
    /// positive definite.
    pub fn new(weights: Vec<f64>, means: Array2<f64>, covariances: Covariances) -> Option<Self> {
        let d = means.ncols();
        let factors = (0..covariances.factors())
            .map(|c| covariances.factor(c, d))
            .collect::<Option<Vec<_>>>()?;
        Some(Self::with_factors(weights, means, covariances, factors))
    }

    /// The mixture whose E-step reads the given precision factors (one per
    /// component, or one for `tied`).
    fn with_factors(
        weights: Vec<f64>,
        means: Array2<f64>,
        covariances: Covariances,
        factors: Vec<(Array2<f64>, f64)>,
    ) -> Self {
        let (k, d) = means.dim();
        let mut whitening = Array2::zeros((d + 1, k * d));
        let mut constants = Vec::with_capacity(k);
        for c in 0..k {
            let (u, log_det) = &factors[if factors.len() == 1 { 0 } else { c }];
            let cols = ndarray::s![.., c * d..(c + 1) * d];
            whitening
                .slice_mut(cols)
                .slice_mut(ndarray::s![..d, ..])
                .assign(u);
            whitening
                .slice_mut(cols)
                .row_mut(d)
                .assign(&(-&means.row(c).dot(u)));
            constants.push(weights[c].ln() + log_det - 0.5 * d as f64 * LN_2PI);
        }
        Mixture {
            weights,
            means,
            covariances,
            whitening,
            constants,
        }
    }

    /// The mixture of these parameters with `reg_covar` added to every
    /// covariance's diagonal; a component whose covariance is still not
    /// positive definite gets ten times more, up to [`mstep::MAX_RAISES`]
    /// times (each raise listed). `None` when that does not suffice.
    pub fn regularised(
        weights: Vec<f64>,
        means: Array2<f64>,
        mut covariances: Covariances,
        reg_covar: f64,
    ) -> Option<(Self, Vec<Raised>)> {
        let d = means.ncols();
        let mut raised = Vec::new();
        let mut factors = Vec::with_capacity(covariances.factors());
        for c in 0..covariances.factors() {
            covariances.add_diagonal(c, reg_covar);
            let mut reg = reg_covar;
            let mut factor = covariances.factor(c, d);
            let mut raises = 0;
            while factor.is_none() {
                raises += 1;
                if raises > mstep::MAX_RAISES {
                    return None;
                }
                let next = if reg > 0.0 { reg * 10.0 } else { 1e-12 };
                covariances.add_diagonal(c, next - reg);
                reg = next;
                factor = covariances.factor(c, d);
            }
            if raises > 0 {
                raised.push(Raised {
                    component: c,
                    reg_covar: reg,
                });
            }
            factors.push(factor.expect("positive definite"));
        }
        Some((
            Self::with_factors(weights, means, covariances, factors),
            raised,
        ))
    }

    /// The mixture scikit-learn starts from when given `precisions_init`:
    /// the E-step reads the lower Cholesky factor of each precision (`tied`:
    /// one; `diag` and `spherical`: square roots). `covariances` are the
    /// precisions' inverses. `None` unless every precision is positive
    /// definite.
    pub fn from_precisions(
        weights: Vec<f64>,
        means: Array2<f64>,
        precisions: &Covariances,
    ) -> Option<Self> {
        let d = means.ncols();
        let mut factors = Vec::new();
        let covariances = match precisions {
            Covariances::Full(p) => {
                let mut cov = p.clone();
                for c in 0..p.dim().0 {
                    let l = mstep::cholesky(&p.index_axis(ndarray::Axis(0), c).to_owned())?;
                    let inv = mstep::inverse_transposed(&l);
                    cov.index_axis_mut(ndarray::Axis(0), c)
                        .assign(&inv.dot(&inv.t()));
                    let log_det = (0..d).map(|j| l[[j, j]].ln()).sum();
                    factors.push((l, log_det));
                }
                Covariances::Full(cov)
            }
            Covariances::Tied(p) => {
                let l = mstep::cholesky(p)?;
                let inv = mstep::inverse_transposed(&l);
                let log_det = (0..d).map(|j| l[[j, j]].ln()).sum();
                factors.push((l, log_det));
                Covariances::Tied(inv.dot(&inv.t()))
            }
            Covariances::Diag(p) => {
                for row in p.rows() {
                    let var = row.mapv(|v| 1.0 / v);
                    factors.push(mstep::diagonal_factor(&var)?);
                }
                Covariances::Diag(p.mapv(|v| 1.0 / v))
            }
            Covariances::Spherical(p) => {
                for &v in p {
                    factors.push(mstep::diagonal_factor(&Array1::from_elem(d, 1.0 / v))?);
                }
                Covariances::Spherical(p.mapv(|v| 1.0 / v))
            }
        };
        Some(Self::with_factors(weights, means, covariances, factors))
    }

    /// Components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// Features.
    pub fn d(&self) -> usize {
        self.means.ncols()
    }

    /// The covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariances.kind()
    }

    /// What the E-step reads of it.
    pub fn components(&self) -> Components<'_> {
        Components {
            means: &self.means,
            whitening: &self.whitening,
            constants: &self.constants,
        }
    }

    /// Free parameters (scikit-learn's `_n_parameters`): covariances,
    /// means and K - 1 weights.
    pub fn parameters(&self) -> usize {
        let (k, d) = (self.k(), self.d());
        self.covariance_type().parameters(k, d) + k * d + k - 1
    }

    /// The same mixture for points `offset + unit x` (the working frame of
    /// points to scaled space; the inverse maps back); `None` when a number
    /// leaves the range of a double or a covariance stops being positive
    /// definite (values far past any a fit writes).
    pub fn transformed(&self, offset: &[f64], unit: f64) -> Option<Mixture> {
        let mut means = &self.means * unit;
        for mut row in means.rows_mut() {
            for (v, o) in row.iter_mut().zip(offset) {
                *v += o;
            }
        }
        Mixture::new(self.weights.clone(), means, self.covariances.scaled(unit))
    }

    /// The mixture in the working frame of points whose scaled values are
    /// `offset + unit x`: what places them (`None`: see
    /// [`Mixture::transformed`]).
    pub fn in_frame(&self, frame: &Frame) -> Option<Mixture> {
        let inv: Vec<f64> = frame.offset.iter().map(|o| -o / frame.unit).collect();
        self.transformed(&inv, 1.0 / frame.unit)
    }

    /// The components in another order: component `order[i]` becomes
    /// component `i`.
    pub fn reordered(&self, order: &[usize]) -> Mixture {
        let weights = order.iter().map(|&c| self.weights[c]).collect();
        let means = self.means.select(ndarray::Axis(0), order);
        let covariances = match &self.covariances {
            Covariances::Full(c) => Covariances::Full(c.select(ndarray::Axis(0), order)),
            Covariances::Tied(c) => Covariances::Tied(c.clone()),
            Covariances::Diag(c) => Covariances::Diag(c.select(ndarray::Axis(0), order)),
            Covariances::Spherical(c) => Covariances::Spherical(c.select(ndarray::Axis(0), order)),
        };
        Mixture::new(weights, means, covariances).expect("the same covariances")
    }
}

/// One fitted mixture: the kept restart, its labels and its record.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    /// The parameters after the last M-step.
    pub mixture: Mixture,
    /// Each point's most probable component under them.
    pub labels: Vec<u32>,
    /// The mean log-likelihood per point under them (scikit-learn's
    /// `score`).
    pub log_likelihood: f64,
    /// The lower bound of every iteration of the kept restart
    /// (scikit-learn's `lower_bound_` is the last).
    pub lower_bounds: Vec<f64>,
    /// Whether EM stopped on `tol` before `max_iter`.
    pub converged: bool,
    /// The components whose covariance, after the last M-step, needed
    /// more regularisation than asked for, and how much.
    pub raised: Vec<Raised>,
    /// The sum of squared distances of the points to their component's
    /// mean.
    pub inertia: f64,
}

impl GaussianMixture {
    /// Bayesian information criterion on the `n` fitted points (lower is
    /// better): `-2 n score + p ln n`.
    pub fn bic(&self, n: usize) -> f64 {
        -2.0 * self.log_likelihood * n as f64 + self.mixture.parameters() as f64 * (n as f64).ln()
    }

    /// Akaike information criterion (lower is better): `-2 n score + 2 p`.
    pub fn aic(&self, n: usize) -> f64 {
        -2.0 * self.log_likelihood * n as f64 + 2.0 * self.mixture.parameters() as f64
    }

    /// The same fit in scaled space, for points whose working coordinates
    /// sit in `frame` (`None`: see [`Mixture::transformed`]).
    pub fn to_scaled(&self, frame: &Frame) -> Option<GaussianMixture> {
        let d = self.mixture.d() as f64;
        let shift = d * frame.unit.ln();
        Some(GaussianMixture {
            mixture: self.mixture.transformed(&frame.offset, frame.unit)?,
            log_likelihood: self.log_likelihood - shift,
            lower_bounds: self.lower_bounds.iter().map(|l| l - shift).collect(),
            raised: self
                .raised
                .iter()
                .map(|r| Raised {
                    component: r.component,
                    reg_covar: r.reg_covar * frame.unit * frame.unit,
                })
                .collect(),
            inertia: frame.squared(self.inertia),
            labels: self.labels.clone(),
            converged: self.converged,
        })
    }
}

/// One finished EM run.
#[derive(Debug, Clone, PartialEq)]
pub struct EmRun {
    /// The parameters after the last M-step.
    pub mixture: Mixture,
    /// The lower bound (mean log-likelihood per point) of each iteration.
    pub lower_bounds: Vec<f64>,
    /// Whether it stopped on `tol` before `max_iter`.
    pub converged: bool,
    /// The components whose covariance, after the last M-step, needed more
    /// regularisation than asked for, and how much.
    pub raised: Vec<Raised>,
}

impl EmRun {
    /// A run that starts from `mixture`.
    pub fn new(mixture: Mixture) -> Self {
        EmRun {
            mixture,
            lower_bounds: Vec::new(),
            converged: false,
            raised: Vec::new(),
        }
    }
}

/// Runs EM from each start on `backend`, all runs served by one pass over
/// the points per iteration; the runs in the order of the starts.
pub fn em(
    backend: &Backend,
    points: &FeatureMatrix,
    starts: Vec<Mixture>,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
) -> Result<Vec<EmRun>, ClusterError> {
    let Some(first) = starts.first() else {
        return Ok(Vec::new());
    };
    let covariance = first.covariance_type();
    let moments = (covariance == CovarianceType::Tied).then(|| Moments::of(points));
    let ks: Vec<usize> = starts.iter().map(Mixture::k).collect();
    let mut runs: Vec<EmRun> = starts.into_iter().map(EmRun::new).collect();
    with_kernels!(backend, kernels => {
        let device = kernels.upload(points)?;
        let mut state = kernels.mixture_start(&device, &ks, covariance.products())?;
        for _ in 0..max_iter {
            let active: Vec<usize> = (0..runs.len()).filter(|&r| !runs[r].converged).collect();
            if active.is_empty() {
                break;
            }
            let step = Iteration {
                n: points.n(),
                moments: moments.as_ref(),
                tol,
                reg_covar,
            };
            step.run(kernels, &device, &mut state, &mut runs, &active)?;
        }
    });
    Ok(runs)
}

/// What every EM iteration of a fit shares.
#[derive(Debug, Clone, Copy)]
pub struct Iteration<'a> {
    /// Points.
    pub n: usize,
    /// `X^T X` of the points, for `tied` covariances.
    pub moments: Option<&'a Moments>,
    /// Stop a run once its lower bound changes by less.
    pub tol: f64,
    /// Added to every covariance's diagonal (working coordinates).
    pub reg_covar: f64,
}

impl Iteration<'_> {
    /// One EM iteration (an E-step pass on `kernels`, then each run's
    /// M-step on the host) of the runs in `active`, all of one covariance
    /// type, whose pass state `state` is.
    pub fn run<K: Kernels>(
        &self,
        kernels: &K,
        points: &K::Points,
        state: &mut K::Mixtures,
        runs: &mut [EmRun],
        active: &[usize],
    ) -> Result<(), ClusterError> {
        let Some(&first) = active.first() else {
            return Ok(());
        };
        let covariance = runs[first].mixture.covariance_type();
        let terms: Vec<(usize, Components)> = active
            .iter()
            .map(|&r| (r, runs[r].mixture.components()))
            .collect();
        let sums = kernels.mixture_pass(points, state, &terms)?;
        drop(terms);
        let n = self.n as f64;
        for (&r, sums) in active.iter().zip(sums) {
            let run = &mut runs[r];
            let k = run.mixture.k();
            let bound = sums.log_likelihood / n;
            if !bound.is_finite() {
                return Err(ClusterError::Degenerate(format!(
                    "the K = {k} mixture's log-likelihood is not finite: the features' values are too far apart to fit as given; scale them (--scale zscore)"
                )));
            }
            let (mixture, raised) = mstep::m_step(&sums, self.moments, covariance, self.reg_covar)
                .ok_or_else(|| not_positive_definite(k, self.reg_covar))?;
            // What the covariances now hold: an earlier raise no longer
            // applies.
            run.raised = raised;
            run.mixture = mixture;
            let change = bound
                - run
                    .lower_bounds
                    .last()
                    .copied()
                    .unwrap_or(f64::NEG_INFINITY);
            run.lower_bounds.push(bound);
            if change.abs() < self.tol {
                run.converged = true;
            }
        }
        Ok(())
    }
}

fn not_positive_definite(k: usize, reg_covar: f64) -> ClusterError {
    ClusterError::Degenerate(format!(
        "a covariance of the K = {k} mixture stayed not positive definite with the regularisation raised {} times from {reg_covar:e}; fewer segments (--k), a larger --reg-covar or scaled features (--scale zscore) may fit",
        mstep::MAX_RAISES
    ))
}

/// The mixture scikit-learn's M-step makes of hard responsibilities:
/// each of `members` (a point's coordinates and its component) wholly in
/// its component, every other point in none.
fn from_members<'a>(
    points: &FeatureMatrix,
    members: impl Iterator<Item = (&'a [f32], usize)>,
    k: usize,
    params: &GmmParams,
    reg_covar: f64,
) -> Result<(Mixture, Vec<Raised>), ClusterError> {
    let d = points.d();
    let mut stats = MixtureSums::zero(k, d, params.covariance.products());
    for (x, c) in members {
        stats.resp[c] += 1.0;
        let mut p = 0;
        for a in 0..d {
            let xa = f64::from(x[a]);
            stats.first[[c, a]] += xa;
            match params.covariance {
                CovarianceType::Tied => {}
                CovarianceType::Diag | CovarianceType::Spherical => {
                    stats.second[[c, a]] += xa * xa;
                }
                CovarianceType::Full => {
                    for &xb in &x[a..] {
                        stats.second[[c, p]] += xa * f64::from(xb);
                        p += 1;
                    }
                }
            }
        }
    }
    let moments = (params.covariance == CovarianceType::Tied).then(|| Moments::of(points));
    mstep::m_step(&stats, moments.as_ref(), params.covariance, reg_covar)
        .ok_or_else(|| not_positive_definite(k, reg_covar))
}

/// Where run (`k`, restart `r`) starts, as `params.init` says.
fn start(
    backend: &Backend,
    points: &FeatureMatrix,
    k: usize,
    restart: usize,
    params: &GmmParams,
    reg_covar: f64,
) -> Result<Mixture, ClusterError> {
    let seed = run_seed(params.seed, k, restart);
    let mixture = match params.init {
        GmmInit::KMeans => {
            let fit = kmeans_each_k(
                backend,
                points,
                &[k],
                &KMeansParams {
                    k,
                    n_init: 1,
                    seed,
                    ..KMeansParams::default()
                },
            )?
            .pop()
            .expect("one K");
            let members = (0..points.n()).map(|i| (points.row(i), fit.labels[i] as usize));
            from_members(points, members, k, params, reg_covar)?.0
        }
        GmmInit::KMeansPlusPlus => {
            // Each centre is one of the points (the same point twice when
            // there are fewer distinct points than K): its component holds
            // it alone.
            let centres = kmeans_plus_plus(backend, points, k, seed)?;
            let centres: Vec<f32> = centres.iter().map(|&v| v as f32).collect();
            let members = centres.chunks_exact(points.d()).zip(0..k);
            from_members(points, members, k, params, reg_covar)?.0
        }
    };
    Ok(mixture)
}

/// Fits one mixture per K of `ks` (`params.k` is ignored), `n_init`
/// restarts each, all runs sharing each pass over the points; in the
/// points' working coordinates (see [`GaussianMixture::to_scaled`]).
pub fn fit_each_k(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &GmmParams,
) -> Result<Vec<GaussianMixture>, ClusterError> {
    for &k in ks {
        GmmParams {
            k,
            ..params.clone()
        }
        .validate(points.n())?;
    }
    let unit = points.frame.unit;
    let reg_covar = params.reg_covar / (unit * unit);
    let mut starts = Vec::new();
    for &k in ks {
        for r in 0..params.n_init {
            starts.push(start(backend, points, k, r, params, reg_covar)?);
        }
    }
    let mut runs = em(
        backend,
        points,
        starts,
        params.max_iter,
        params.tol,
        reg_covar,
    )?
    .into_iter();
    let mut fits = Vec::with_capacity(ks.len());
    for _ in ks {
        let mut best: Option<EmRun> = None;
        let last = |run: &EmRun| *run.lower_bounds.last().expect("one iteration");
        for run in runs.by_ref().take(params.n_init) {
            if best.as_ref().is_none_or(|b| last(&run) > last(b)) {
                best = Some(run);
            }
        }
        fits.push(finish_fit(backend, points, best.expect("n_init >= 1"))?);
    }
    Ok(fits)
}

/// One more E-step with the kept run's parameters, on `backend`: labels,
/// the mean log-likelihood and the inertia of the labels.
pub fn finish_fit(
    backend: &Backend,
    points: &FeatureMatrix,
    run: EmRun,
) -> Result<GaussianMixture, ClusterError> {
    let EmRun {
        mixture,
        lower_bounds,
        converged,
        raised,
    } = run;
    let n = points.n();
    let (labels, log_likelihood) = with_kernels!(backend, kernels => {
        let device = kernels.upload(points)?;
        kernels.mixture_labels(&device, mixture.components())?
    });
    let inertia = (0..n)
        .map(|i| {
            let mean = mixture.means.row(labels[i] as usize);
            points
                .row(i)
                .iter()
                .zip(mean)
                .map(|(&x, &m)| (f64::from(x) - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    Ok(GaussianMixture {
        log_likelihood: log_likelihood / n as f64,
        mixture,
        labels,
        lower_bounds,
        converged,
        raised,
        inertia,
    })
}

/// Fits every K of `ks` and computes every metric, with the BIC and AIC
/// of each fit; the chosen K is the lowest BIC. The sweep's fits hold each
/// mixture's means and labels; [`Sweep::mixtures`] the rest, in scaled
/// space.
pub fn sweep(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &GmmParams,
    mode: SilhouetteMode,
) -> Result<Sweep, ClusterError> {
    if ks.is_empty() {
        return Err(ParamsError::EmptyRange(String::new()).into());
    }
    let mixtures = fit_each_k(backend, points, ks, params)?;
    let fits: Vec<KMeans> = mixtures
        .iter()
        .map(|g| KMeans {
            centres: g.mixture.means.clone(),
            labels: g.labels.clone(),
            inertia: g.inertia,
            n_iter: g.lower_bounds.len(),
            converged: g.converged,
        })
        .collect();
    let mut sweep = finish(backend, points, ks, fits, mode, params.seed)?;
    let n = points.n();
    let scaled: Vec<GaussianMixture> = mixtures
        .iter()
        .map(|g| {
            g.to_scaled(&points.frame).ok_or_else(|| {
                ClusterError::Degenerate(format!(
                    "the K = {} mixture's covariances are past the range of a double in the features' units; scale them (--scale zscore)",
                    g.mixture.k()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    for (m, g) in sweep.metrics.iter_mut().zip(&scaled) {
        m.bic = Some(g.bic(n));
        m.aic = Some(g.aic(n));
    }
    sweep.chosen = sweep
        .metrics
        .iter()
        .fold(None, |best: Option<(usize, f64)>, m| {
            let bic = m.bic.expect("set above");
            match best {
                Some((_, b)) if b <= bic => best,
                _ => Some((m.k, bic)),
            }
        })
        .map(|(k, _)| k)
        .expect("at least one K");
    sweep.mixtures = scaled;
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn blobs(n: usize, d: usize, seed: u64) -> FeatureMatrix {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let data = (0..n * d)
            .map(|i| {
                let group = (i / d) % 3;
                group as f32 * 3.0 + rng.random_range(-1.0f32..1.0)
            })
            .collect();
        FeatureMatrix::from_rows(n, d, data)
    }

    #[test]
    fn the_same_fit_on_every_thread_count() {
        let points = blobs(3000, 3, 1);
        let fit = |threads: usize, params: &GmmParams| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit_each_k(&Backend::Cpu, &points, &[2, 3], params).unwrap())
        };
        for covariance in [
            CovarianceType::Full,
            CovarianceType::Tied,
            CovarianceType::Diag,
            CovarianceType::Spherical,
        ] {
            for init in [GmmInit::KMeans, GmmInit::KMeansPlusPlus] {
                let params = GmmParams {
                    covariance,
                    init,
                    n_init: 2,
                    seed: 9,
                    ..GmmParams::default()
                };
                let one = fit(1, &params);
                assert_eq!(one, fit(3, &params), "{covariance:?} {init:?}");
                for g in &one {
                    let bounds = &g.lower_bounds;
                    assert!(
                        bounds.windows(2).all(|w| w[1] >= w[0] - 1e-9),
                        "EM never lowers the bound: {bounds:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn k_of_all_users_but_one_fits_without_a_nan() {
        let points = FeatureMatrix::from_rows(
            6,
            2,
            vec![0.0, 0.0, 1.0, 0.5, 2.0, 2.0, 2.0, 2.0, 5.0, 1.0, 6.0, 3.0],
        );
        for covariance in [CovarianceType::Full, CovarianceType::Spherical] {
            let params = GmmParams {
                covariance,
                init: GmmInit::KMeansPlusPlus,
                ..GmmParams::default()
            };
            let fit = fit_each_k(&Backend::Cpu, &points, &[5], &params)
                .unwrap()
                .pop()
                .unwrap();
            assert!(fit.log_likelihood.is_finite());
            assert!(fit.mixture.means.iter().all(|v| v.is_finite()));
            assert!(fit.labels.iter().all(|&l| l < 5));
            let total: f64 = fit.mixture.weights.iter().sum();
            assert!((total - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn fewer_distinct_users_than_k_start_from_k_means_plus_plus() {
        // k-means++ draws the same user twice: two components start on it.
        let points = FeatureMatrix::from_rows(3, 1, vec![0.0, 1.0, 1.0]);
        for covariance in [CovarianceType::Full, CovarianceType::Tied] {
            let params = GmmParams {
                covariance,
                init: GmmInit::KMeansPlusPlus,
                ..GmmParams::default()
            };
            let fit = fit_each_k(&Backend::Cpu, &points, &[3], &params)
                .unwrap()
                .pop()
                .unwrap();
            assert!(fit.log_likelihood.is_finite(), "{covariance:?}");
        }
    }

    #[test]
    fn identical_users_raise_the_regularisation_instead_of_failing() {
        // Every user the same: each covariance is 0 and, without
        // regularisation, singular.
        let points = FeatureMatrix::from_rows(10, 2, vec![1.5; 20]);
        let params = GmmParams {
            reg_covar: 0.0,
            ..GmmParams::default()
        };
        let fit = fit_each_k(&Backend::Cpu, &points, &[2], &params)
            .unwrap()
            .pop()
            .unwrap();
        assert!(!fit.raised.is_empty());
        assert!(fit.raised.iter().all(|r| r.reg_covar > 0.0));
        assert!(fit.log_likelihood.is_finite());
    }
}
