//! The compute backend: the few data-parallel kernels that clustering
//! spends its time in, behind one trait, [`Kernels`], which each backend
//! implements with its own types for what it keeps resident (so one
//! backend's points or runs cannot reach the other's kernels): the CPU
//! ([`CpuBackend`]: rayon; also the reference) and the GPU
//! ([`GpuBackend`]: WGSL compute shaders on wgpu). [`Backend`] only picks
//! one at run time (README, "GPU and CPU backends").
//!
//! Data stays where the kernels run: points are uploaded once per fit
//! ([`Kernels::upload`]); Lloyd runs keep their labels and centres
//! resident ([`Kernels::Runs`]) and hand back a few numbers per run and
//! iteration ([`StepStats`]); k-means++ keeps its distances resident
//! ([`Kernels::Closest`]); a Gaussian mixture's E-step reads one
//! mixture's terms ([`Components`]) and hands back the sums its M-step
//! needs ([`MixtureSums`]). The algorithms that drive the kernels
//! (k-means++, Lloyd, EM, metrics, sweeps) live in [`crate::cluster`] and
//! never touch the data directly.
//!
//! Every kernel is deterministic: the same inputs give bit-identical
//! outputs whatever the thread count, because points are cut into
//! fixed-size chunks whose partial results are combined in a fixed order.
//! The two backends agree to rounding (the GPU sums in f32 per workgroup,
//! then combines the workgroups' sums compensated; the CPU sums in f64):
//! same labels from the same centres up to points within rounding of a
//! tie, metrics of the same labels within about 1e-7 relative. A fit that
//! meets such a tie may end in another local optimum on each backend. A
//! mixture's E-step from the same parameters gives the same labels but
//! within rounding of a tie and log-likelihoods within about 1e-6
//! relative; a component collapsed onto fewer users than features (its
//! covariance at the regularisation floor) magnifies the rounding of its
//! sums by about `1 / reg_covar`, and whole fits then part by up to about
//! `tol` (README, "Gaussian mixtures").

pub mod cpu;
pub mod gpu;

use ndarray::Array2;

use crate::features::matrix::FeatureMatrix;

pub use self::cpu::{CpuBackend, CpuRuns, TiledPoints};
pub use self::gpu::{AdapterSummary, DeviceChoice, GpuBackend, GpuOptions, Workload};

/// Values per block of [`Kernels::closest_update`]'s sums: k-means++ draws
/// a block by its sum, then a point within the block.
pub const SAMPLER_BLOCK: usize = 4096;

/// A failure of a backend: no usable device, or a device that refused
/// work. Only the GPU backend fails.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No adapter could be taken: wgpu sees none, `auto` sees only
    /// software ones, or none matches the adapter asked for by name or
    /// index. The reason, as [`gpu::pick_adapter`] words it.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// An adapter was taken but wgpu could not open a device on it.
    #[error("the GPU ({adapter}) could not be opened: {message}")]
    Device {
        /// The adapter's name.
        adapter: String,
        /// wgpu's error.
        message: String,
    },
    /// The device reported an error (a validation error, or a wait or
    /// read-back that failed) while it created a buffer, compiled a
    /// kernel, wrote data or ran dispatches.
    #[error("the GPU ({adapter}) refused {what}: {message}")]
    Refused {
        /// The adapter's name.
        adapter: String,
        /// The work refused, in words: a buffer's label, `the assign
        /// kernel`, `a Lloyd iteration`...
        what: String,
        /// wgpu's error.
        message: String,
    },
    /// The device ran out of memory for a buffer or a submission.
    #[error("the GPU ({adapter}) is out of memory for {what}")]
    OutOfMemory {
        /// The adapter's name.
        adapter: String,
        /// The buffer or work that did not fit, in words.
        what: String,
    },
    /// Work that the kernels' limits rule out, found before any of it is
    /// sent: features outside 1 to [`gpu::MAX_FEATURES`], a run or a
    /// labelling too large for workgroup memory, a binding or the loop
    /// iterations one invocation may run. [`GpuBackend::check`] finds the
    /// same ahead of a command.
    #[error("the GPU backend cannot {what}: {reason}")]
    Unsupported {
        /// The work, in words (`run K-Means`).
        what: String,
        /// The limit it breaks.
        reason: String,
    },
}

/// Where the clustering kernels run, chosen at run time (`--device`).
/// The algorithms run on a backend through [`Kernels`]: `with_kernels!`
/// (in this crate) hands them the chosen backend's implementation, so the
/// objects one backend keeps resident can never reach the other.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// rayon over every core; also the reference for other backends.
    #[default]
    Cpu,
    /// A GPU through wgpu (Vulkan, Metal or DX12).
    Gpu(GpuBackend),
}

/// Per-cluster sums of one Lloyd pass for one set of centres.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSums {
    /// k x d sums of the points assigned to each cluster.
    pub sums: Vec<f64>,
    /// Points per cluster.
    pub counts: Vec<u64>,
    /// Sum of squared distances to the nearest centre.
    pub inertia: f64,
    /// Points whose label differs from the label they had before the pass.
    pub changed: u64,
}

/// How a K-Means run finds each point's nearest centre on the CPU. Every
/// choice gives the same labels and centres, bit for bit: Hamerly's
/// bounds only skip distances that cannot change a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LloydAlgorithm {
    /// Hamerly where it pays, Lloyd elsewhere ([`LloydAlgorithm::for_run`]).
    #[default]
    Auto,
    /// Every distance in every iteration.
    Lloyd,
    /// Hamerly's bounds (2010): one upper and one lower bound per point.
    Hamerly,
}

impl LloydAlgorithm {
    /// The algorithm a run of `k` centres in `d` features uses: `auto`
    /// picks Hamerly from `k >= HAMERLY_FROM_K`, measured on the
    /// project's benchmark machine (README, "Exact accelerated K-Means").
    pub fn for_run(self, k: usize, _d: usize) -> LloydAlgorithm {
        match self {
            LloydAlgorithm::Auto if k >= HAMERLY_FROM_K => LloydAlgorithm::Hamerly,
            LloydAlgorithm::Auto => LloydAlgorithm::Lloyd,
            other => other,
        }
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LloydAlgorithm::Auto => "auto",
            LloydAlgorithm::Lloyd => "lloyd",
            LloydAlgorithm::Hamerly => "hamerly",
        }
    }
}

/// The smallest K for which `auto` picks Hamerly.
pub const HAMERLY_FROM_K: usize = 64;

/// What one Lloyd step of one run reports to the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Sum of squared distances to the nearest of the centres the step
    /// started from.
    pub inertia: f64,
    /// Points whose label changed.
    pub changed: u64,
    /// Summed squared shift of the centres (0 when they were not moved).
    pub shift: f64,
    /// Some cluster got no point: the centres were not moved, and the
    /// driver re-seeds the run from [`Kernels::lloyd_sums`].
    pub empty: bool,
}

/// The centres (k x d) and labels of a finished Lloyd run.
pub type FinishedRun = (Array2<f64>, Vec<u32>);

/// One labelling of the points, for silhouette.
#[derive(Debug, Clone, Copy)]
pub struct Labeling<'a> {
    /// The cluster of each point (each below `k`), in the points' order.
    pub labels: &'a [u32],
    /// Clusters of the labelling; some may hold no point.
    pub k: usize,
}

/// Silhouette of one labelling: the mean and the per-point values.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    /// The mean of `values` over every point (summed in f64); 0 for no
    /// points.
    pub mean: f64,
    /// Each point's silhouette, in [-1, 1], in the points' order: 0 for
    /// a point alone in its cluster. Empty when the mean is of a sample
    /// (see [`crate::cluster::metrics::silhouettes`]).
    pub values: Vec<f32>,
}

/// Which products of coordinates a mixture's M-step needs of each point,
/// weighted by its responsibility: what the covariance type asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Products {
    /// None (`tied` covariances, which read `X^T X` of all the points).
    #[default]
    None,
    /// The squares `x_a^2` (`diag` and `spherical`).
    Squares,
    /// Every pair `x_a x_b`, `a <= b`, row by row (`full`).
    Pairs,
}

impl Products {
    /// Products per point on `d` features.
    pub fn count(self, d: usize) -> usize {
        match self {
            Products::None => 0,
            Products::Squares => d,
            Products::Pairs => d * (d + 1) / 2,
        }
    }

    /// The coordinates `(a, b)` of each product, in order.
    pub fn pairs(self, d: usize) -> Vec<(usize, usize)> {
        match self {
            Products::None => Vec::new(),
            Products::Squares => (0..d).map(|a| (a, a)).collect(),
            Products::Pairs => (0..d).flat_map(|a| (a..d).map(move |b| (a, b))).collect(),
        }
    }
}

/// One Gaussian mixture as its E-step reads it: each component's
/// weighted log density at a point `x` is `constants[c] - |(x - mu_c)
/// U_c|^2 / 2`, with `U_c` the Cholesky factor of its precision.
#[derive(Debug, Clone, Copy)]
pub struct Components<'a> {
    /// K x d means `mu_c`.
    pub means: &'a Array2<f64>,
    /// (d + 1) x K d: each component's factor `U_c` (d x d, in columns
    /// `c d .. (c + 1) d`) over a last row `-mu_c U_c`.
    pub whitening: &'a Array2<f64>,
    /// Per component, `ln w_c + ln det U_c - d ln(2 pi) / 2`.
    pub constants: &'a [f64],
}

impl Components<'_> {
    /// Components.
    pub fn k(&self) -> usize {
        self.constants.len()
    }

    /// Features.
    pub fn d(&self) -> usize {
        self.means.ncols()
    }
}

/// The sums one E-step pass gives for one mixture: what its M-step needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureSums {
    /// Per component, the summed responsibility.
    pub resp: Vec<f64>,
    /// K x d: per component, the responsibility-weighted sum of the points.
    pub first: Array2<f64>,
    /// K x [`Products::count`]: per component, the weighted sums of the
    /// products of coordinates, in the order of [`Products::pairs`].
    pub second: Array2<f64>,
    /// The sum over the points of each one's log-likelihood (the log of
    /// its summed weighted densities).
    pub log_likelihood: f64,
}

impl MixtureSums {
    /// Zero sums for `k` components of `d` features.
    pub fn zero(k: usize, d: usize, products: Products) -> Self {
        MixtureSums {
            resp: vec![0.0; k],
            first: Array2::zeros((k, d)),
            second: Array2::zeros((k, products.count(d))),
            log_likelihood: 0.0,
        }
    }

    /// Adds another part's sums.
    pub fn add(&mut self, other: &MixtureSums) {
        for (a, b) in self.resp.iter_mut().zip(&other.resp) {
            *a += b;
        }
        self.first += &other.first;
        self.second += &other.second;
        self.log_likelihood += other.log_likelihood;
    }
}

/// The data-parallel kernels that clustering spends its time in, as each
/// backend implements them (the CPU's and the GPU's read side by side,
/// method for method). What a backend keeps resident between calls (the
/// points, Lloyd runs, k-means++ distances) has a type of its own per
/// backend, so it cannot be handed to the other.
pub trait Kernels {
    /// The points where the kernels read them.
    type Points;
    /// Lloyd runs (one set of centres and labels each) kept resident.
    type Runs;
    /// One k-means++ run's squared distances to the nearest chosen centre.
    type Closest;
    /// What the E-step of several mixtures keeps between passes.
    type Mixtures;

    /// Puts the points where the kernels read them (once per fit).
    fn upload(&self, points: &FeatureMatrix) -> Result<Self::Points, BackendError>;

    /// Nearest centre (lowest index on ties) and squared distance to it,
    /// for every point.
    fn assign(
        &self,
        points: &Self::Points,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) -> Result<(), BackendError>;

    /// Starts one Lloyd run per set of initial centres (k x d each); every
    /// label starts unset, so the first step changes them all.
    /// `algorithm` says how the CPU finds the nearest centres (every
    /// choice gives the same labels); the GPU always runs Lloyd's passes.
    fn lloyd_start(
        &self,
        points: &Self::Points,
        inits: &[Array2<f64>],
        algorithm: LloydAlgorithm,
    ) -> Result<Self::Runs, BackendError>;

    /// One Lloyd step of the runs in `active` (distinct indices into
    /// `runs`), all served by one pass over the points: assigns every point
    /// to the nearest of the run's centres, then, with `move_centres`,
    /// moves each centre to the mean of its points (unless a cluster is
    /// empty, see [`StepStats::empty`]). One [`StepStats`] per active run,
    /// in order.
    fn lloyd_step(
        &self,
        points: &Self::Points,
        runs: &mut Self::Runs,
        active: &[usize],
        move_centres: bool,
    ) -> Result<Vec<StepStats>, BackendError>;

    /// The sums, labels and centres of run `run` as its last step left
    /// them (the centres the step started from): what re-seeding an empty
    /// cluster needs. Moves data to the host: for the rare empty cluster.
    fn lloyd_sums(
        &self,
        runs: &Self::Runs,
        run: usize,
    ) -> Result<(ClusterSums, Vec<u32>, Array2<f64>), BackendError>;

    /// Replaces the centres of run `run` (k x d).
    fn lloyd_set_centres(
        &self,
        runs: &mut Self::Runs,
        run: usize,
        centres: Array2<f64>,
    ) -> Result<(), BackendError>;

    /// The centres and labels of every run.
    fn lloyd_finish(&self, runs: Self::Runs) -> Result<Vec<FinishedRun>, BackendError>;

    /// k-means++: a fresh array of distances, all infinite.
    fn closest_start(&self, points: &Self::Points) -> Result<Self::Closest, BackendError>;

    /// k-means++: `closest[i] = min(closest[i], |x_i - centre|^2)`; returns
    /// the sum of each block of [`SAMPLER_BLOCK`] distances, which the next
    /// draws need (one round trip for both on a GPU).
    fn closest_update(
        &self,
        points: &Self::Points,
        closest: &mut Self::Closest,
        centre: &[f32],
    ) -> Result<Vec<f64>, BackendError>;

    /// k-means++: for each candidate centre (t x d), the potential
    /// `sum_i min(closest[i], |x_i - candidate|^2)`.
    fn closest_potentials(
        &self,
        points: &Self::Points,
        closest: &Self::Closest,
        candidates: &[f32],
    ) -> Result<Vec<f64>, BackendError>;

    /// k-means++: the distances of each block of `blocks` (the last block
    /// of the points may be short), in one read.
    fn closest_blocks(
        &self,
        closest: &Self::Closest,
        blocks: &[usize],
    ) -> Result<Vec<Vec<f32>>, BackendError>;

    /// Prepares E-step passes for mixtures of `ks` components each (one
    /// per run), whose M-steps need `products`.
    fn mixture_start(
        &self,
        points: &Self::Points,
        ks: &[usize],
        products: Products,
    ) -> Result<Self::Mixtures, BackendError>;

    /// One E-step pass over the points for the runs of `active` (distinct
    /// run indices, each with its current mixture of the run's K): each
    /// point's responsibilities under each mixture, summed into what the
    /// run's M-step needs. One [`MixtureSums`] per active run, in order.
    fn mixture_pass(
        &self,
        points: &Self::Points,
        mixtures: &mut Self::Mixtures,
        active: &[(usize, Components)],
    ) -> Result<Vec<MixtureSums>, BackendError>;

    /// Each point's most probable component under `mixture` (the lowest on
    /// a tie), and the summed log-likelihood of the points.
    fn mixture_labels(
        &self,
        points: &Self::Points,
        mixture: Components,
    ) -> Result<(Vec<u32>, f64), BackendError>;

    /// Exact Euclidean silhouette of several labellings of the same points;
    /// every pairwise distance is computed once and serves all of them.
    fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError>;
}

/// Runs `$body` with `$kernels` bound to the [`Kernels`] of `$backend`
/// (the body is compiled once per backend).
macro_rules! with_kernels {
    ($backend:expr, $kernels:ident => $body:expr) => {
        match $backend {
            $crate::backend::Backend::Cpu => {
                let $kernels = &$crate::backend::CpuBackend;
                $body
            }
            $crate::backend::Backend::Gpu(gpu) => {
                let $kernels = gpu;
                $body
            }
        }
    };
}
pub(crate) use with_kernels;

impl Backend {
    /// The backend's short name, as `--device` spells it: `cpu` or `gpu`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu(_) => "gpu",
        }
    }

    /// The device in words: `cpu (2 threads)` or the adapter's name.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
            Backend::Gpu(g) => format!("gpu ({})", g.adapter_name()),
        }
    }

    /// Nearest centre (k x d, row-major; lowest index on ties) and squared
    /// distance to it, for every point.
    pub fn assign(
        &self,
        points: &FeatureMatrix,
        centres: &[f32],
    ) -> Result<(Vec<u32>, Vec<f32>), BackendError> {
        let mut labels = vec![0u32; points.n()];
        let mut distances = vec![0.0f32; points.n()];
        with_kernels!(self, k => {
            let device = k.upload(points)?;
            k.assign(&device, centres, &mut labels, &mut distances)?;
        });
        Ok((labels, distances))
    }

    /// See [`Kernels::silhouette`].
    pub fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError> {
        with_kernels!(self, k => k.silhouette(points, labelings))
    }
}
