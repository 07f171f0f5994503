//! The compute backend: the few data-parallel kernels that clustering
//! spends its time in, behind one enum (STYLE.md, "Backend abstraction"):
//! [`Backend::Cpu`] (rayon; also the reference) and [`Backend::Gpu`]
//! (WGSL compute shaders on wgpu).
//!
//! Data stays where the kernels run: points are uploaded once per fit
//! ([`Backend::upload`]); Lloyd runs keep their labels and centres
//! resident ([`LloydRuns`]) and hand back a few numbers per run and
//! iteration ([`StepStats`]); k-means++ keeps its distances resident
//! ([`Closest`]). The algorithms that drive the kernels (k-means++,
//! Lloyd, metrics, sweeps) live in [`crate::cluster`] and never touch the
//! data directly.
//!
//! Every kernel is deterministic: the same inputs give bit-identical
//! outputs whatever the thread count, because points are cut into
//! fixed-size chunks whose partial results are combined in a fixed order.
//! The two backends agree to rounding (the GPU sums in f32 per workgroup,
//! then combines the workgroups' sums compensated; the CPU sums in f64):
//! same labels from the same centres up to points within rounding of a
//! tie, metrics of the same labels within about 1e-7 relative. A fit that
//! meets such a tie may end in another local optimum on each backend.

pub mod cpu;
pub mod gpu;

use ndarray::Array2;

use crate::features::matrix::FeatureMatrix;

pub use self::cpu::{CpuBackend, CpuRuns, TiledPoints};
pub use self::gpu::{AdapterSummary, DeviceChoice, GpuBackend, GpuOptions, Workload};

/// Values per block of [`Backend::closest_update`]'s sums: k-means++ draws
/// a block by its sum, then a point within the block.
pub const SAMPLER_BLOCK: usize = 4096;

/// A failure of a backend: no usable device, or a device that refused
/// work. Only the GPU backend fails.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU ({adapter}) could not be opened: {message}")]
    Device { adapter: String, message: String },
    #[error("the GPU ({adapter}) refused {what}: {message}")]
    Refused {
        adapter: String,
        what: String,
        message: String,
    },
    #[error("the GPU ({adapter}) is out of memory for {what}")]
    OutOfMemory { adapter: String, what: String },
    #[error("the GPU backend cannot {what}: {reason}")]
    Unsupported { what: String, reason: String },
}

/// The points, resident where a backend's kernels read them: uploaded once
/// per fit ([`Backend::upload`]) and reused by every pass.
#[derive(Debug)]
pub enum DevicePoints {
    Cpu(TiledPoints),
    Gpu(gpu::GpuPoints),
}

impl DevicePoints {
    pub fn n(&self) -> usize {
        match self {
            DevicePoints::Cpu(p) => p.n(),
            DevicePoints::Gpu(p) => p.n(),
        }
    }

    pub fn d(&self) -> usize {
        match self {
            DevicePoints::Cpu(p) => p.d(),
            DevicePoints::Gpu(p) => p.d(),
        }
    }
}

/// Where the clustering kernels run.
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
    /// driver re-seeds the run from [`Backend::lloyd_sums`].
    pub empty: bool,
}

/// Lloyd runs (one set of centres and labels each) resident on a backend.
#[derive(Debug)]
pub enum LloydRuns {
    Cpu(CpuRuns),
    Gpu(gpu::GpuRuns),
}

impl LloydRuns {
    pub fn len(&self) -> usize {
        match self {
            LloydRuns::Cpu(r) => r.len(),
            LloydRuns::Gpu(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One k-means++ run's squared distances to the nearest chosen centre,
/// resident on a backend.
#[derive(Debug)]
pub enum Closest {
    Cpu(Vec<f32>),
    Gpu(gpu::GpuClosest),
}

/// The centres (k x d) and labels of a finished Lloyd run.
pub type FinishedRun = (Array2<f64>, Vec<u32>);

/// One labelling of the points, for silhouette.
#[derive(Debug, Clone, Copy)]
pub struct Labeling<'a> {
    pub labels: &'a [u32],
    pub k: usize,
}

/// Silhouette of one labelling: the mean and the per-point values.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    pub mean: f64,
    pub values: Vec<f32>,
}

/// Dispatches to the backend's implementation of the same name.
macro_rules! dispatch {
    ($self:ident, $points:ident, $cpu:pat => $on_cpu:expr, $gpu_backend:pat, $gpu:pat => $on_gpu:expr) => {
        match ($self, $points) {
            (Backend::Cpu, DevicePoints::Cpu($cpu)) => $on_cpu,
            (Backend::Gpu($gpu_backend), DevicePoints::Gpu($gpu)) => $on_gpu,
            _ => panic!("points uploaded by another backend"),
        }
    };
}

impl Backend {
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

    /// Puts the points where the kernels read them.
    pub fn upload(&self, points: &FeatureMatrix) -> Result<DevicePoints, BackendError> {
        Ok(match self {
            Backend::Cpu => DevicePoints::Cpu(TiledPoints::new(points)),
            Backend::Gpu(g) => DevicePoints::Gpu(g.upload(points)?),
        })
    }

    /// Nearest centre (lowest index on ties) and squared distance to it,
    /// for every point.
    pub fn assign(
        &self,
        points: &DevicePoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) -> Result<(), BackendError> {
        dispatch!(self, points,
            p => { CpuBackend.assign(p, centres, labels, distances); Ok(()) },
            g, p => g.assign(p, centres, labels, distances))
    }

    /// Starts one Lloyd run per set of initial centres (k x d each); every
    /// label starts unset, so the first step changes them all.
    pub fn lloyd_start(
        &self,
        points: &DevicePoints,
        inits: &[Array2<f64>],
    ) -> Result<LloydRuns, BackendError> {
        dispatch!(self, points,
            p => Ok(LloydRuns::Cpu(CpuRuns::new(p, inits))),
            g, p => Ok(LloydRuns::Gpu(g.lloyd_start(p, inits)?)))
    }

    /// One Lloyd step of the runs in `active` (distinct indices into `runs`), all
    /// served by one pass over the points: assigns every point to the
    /// nearest of the run's centres, then, with `move_centres`, moves each
    /// centre to the mean of its points (unless a cluster is empty, see
    /// [`StepStats::empty`]). One [`StepStats`] per active run, in order.
    pub fn lloyd_step(
        &self,
        points: &DevicePoints,
        runs: &mut LloydRuns,
        active: &[usize],
        move_centres: bool,
    ) -> Result<Vec<StepStats>, BackendError> {
        match (self, points, runs) {
            (Backend::Cpu, DevicePoints::Cpu(p), LloydRuns::Cpu(r)) => {
                Ok(r.step(p, active, move_centres))
            }
            (Backend::Gpu(g), DevicePoints::Gpu(p), LloydRuns::Gpu(r)) => {
                g.lloyd_step(p, r, active, move_centres)
            }
            _ => panic!("runs started by another backend"),
        }
    }

    /// The sums, labels and centres of run `run` as its last step left
    /// them (the centres the step started from): what re-seeding an empty
    /// cluster needs. Moves data to the host: for the rare empty cluster.
    pub fn lloyd_sums(
        &self,
        runs: &LloydRuns,
        run: usize,
    ) -> Result<(ClusterSums, Vec<u32>, Array2<f64>), BackendError> {
        match (self, runs) {
            (Backend::Cpu, LloydRuns::Cpu(r)) => Ok(r.sums(run)),
            (Backend::Gpu(g), LloydRuns::Gpu(r)) => g.lloyd_sums(r, run),
            _ => panic!("runs started by another backend"),
        }
    }

    /// Replaces the centres of run `run` (k x d).
    pub fn lloyd_set_centres(
        &self,
        runs: &mut LloydRuns,
        run: usize,
        centres: Array2<f64>,
    ) -> Result<(), BackendError> {
        match (self, runs) {
            (Backend::Cpu, LloydRuns::Cpu(r)) => {
                r.set_centres(run, centres);
                Ok(())
            }
            (Backend::Gpu(g), LloydRuns::Gpu(r)) => g.lloyd_set_centres(r, run, &centres),
            _ => panic!("runs started by another backend"),
        }
    }

    /// The centres and labels of every run.
    pub fn lloyd_finish(&self, runs: LloydRuns) -> Result<Vec<FinishedRun>, BackendError> {
        match (self, runs) {
            (Backend::Cpu, LloydRuns::Cpu(r)) => Ok(r.finish()),
            (Backend::Gpu(g), LloydRuns::Gpu(r)) => g.lloyd_finish(r),
            _ => panic!("runs started by another backend"),
        }
    }

    /// k-means++: a fresh array of distances, all infinite.
    pub fn closest_start(&self, points: &DevicePoints) -> Result<Closest, BackendError> {
        dispatch!(self, points,
            p => Ok(Closest::Cpu(vec![f32::INFINITY; p.n()])),
            g, p => Ok(Closest::Gpu(g.closest_start(p)?)))
    }

    /// k-means++: `closest[i] = min(closest[i], |x_i - centre|^2)`; returns
    /// the sum of each block of [`SAMPLER_BLOCK`] distances, which the next
    /// draws need (one round trip for both on a GPU).
    pub fn closest_update(
        &self,
        points: &DevicePoints,
        closest: &mut Closest,
        centre: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        match (self, points, closest) {
            (Backend::Cpu, DevicePoints::Cpu(p), Closest::Cpu(c)) => {
                CpuBackend.kmeanspp_update(p, c, centre);
                Ok(CpuBackend.block_sums(c))
            }
            (Backend::Gpu(g), DevicePoints::Gpu(p), Closest::Gpu(c)) => {
                g.closest_update(p, c, centre)
            }
            _ => panic!("distances of another backend"),
        }
    }

    /// k-means++: for each candidate centre (t x d), the potential
    /// `sum_i min(closest[i], |x_i - candidate|^2)`.
    pub fn closest_potentials(
        &self,
        points: &DevicePoints,
        closest: &Closest,
        candidates: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        match (self, points, closest) {
            (Backend::Cpu, DevicePoints::Cpu(p), Closest::Cpu(c)) => {
                Ok(CpuBackend.kmeanspp_potentials(p, c, candidates))
            }
            (Backend::Gpu(g), DevicePoints::Gpu(p), Closest::Gpu(c)) => {
                g.closest_potentials(p, c, candidates)
            }
            _ => panic!("distances of another backend"),
        }
    }

    /// k-means++: the distances of each block of `blocks` (the last block
    /// of the points may be short), in one read.
    pub fn closest_blocks(
        &self,
        closest: &Closest,
        blocks: &[usize],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        match (self, closest) {
            (Backend::Cpu, Closest::Cpu(c)) => Ok(blocks
                .iter()
                .map(|&b| {
                    let start = b * SAMPLER_BLOCK;
                    c[start..(start + SAMPLER_BLOCK).min(c.len())].to_vec()
                })
                .collect()),
            (Backend::Gpu(g), Closest::Gpu(c)) => g.closest_blocks(c, blocks),
            _ => panic!("distances of another backend"),
        }
    }

    /// Exact Euclidean silhouette of several labellings of the same points;
    /// every pairwise distance is computed once and serves all of them.
    pub fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError> {
        match self {
            Backend::Cpu => Ok(CpuBackend.silhouette(points, labelings)),
            Backend::Gpu(g) => g.silhouette(points, labelings),
        }
    }
}
