//! The compute backend: the few data-parallel kernels that clustering
//! spends its time in, behind one enum so that a GPU backend can slot in
//! beside the CPU one (STYLE.md, "Backend abstraction").
//!
//! Every kernel is deterministic: the same inputs give bit-identical
//! outputs whatever the thread count, because points are cut into
//! fixed-size chunks whose partial results are combined in chunk order.
//! The algorithms that drive the kernels (k-means++, Lloyd, metrics,
//! sweeps) live in [`crate::cluster`] and never touch the data directly.

pub mod cpu;

use crate::features::matrix::FeatureMatrix;

pub use self::cpu::{CpuBackend, TiledPoints};

/// The points, resident where a backend's kernels read them: uploaded once
/// per fit ([`Backend::upload`]) and reused by every pass.
#[derive(Debug, Clone)]
pub enum DevicePoints {
    Cpu(TiledPoints),
}

impl DevicePoints {
    pub fn n(&self) -> usize {
        match self {
            DevicePoints::Cpu(p) => p.n(),
        }
    }

    pub fn d(&self) -> usize {
        match self {
            DevicePoints::Cpu(p) => p.d(),
        }
    }
}

/// Where the clustering kernels run.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// rayon over every core; also the reference for other backends.
    #[default]
    Cpu,
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

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
        }
    }

    /// Puts the points where the kernels read them.
    pub fn upload(&self, points: &FeatureMatrix) -> DevicePoints {
        match self {
            Backend::Cpu => DevicePoints::Cpu(TiledPoints::new(points)),
        }
    }

    /// One Lloyd pass for several runs at once: for each set of centres
    /// (k x d, row-major), assigns every point to its nearest centre
    /// (lowest index on ties), writes the labels and returns the per-cluster
    /// sums. The points are read once for all runs, which is what lets a
    /// sweep over K share its passes.
    pub fn lloyd_pass(
        &self,
        points: &DevicePoints,
        centres: &[&[f32]],
        labels: &mut [&mut [u32]],
    ) -> Vec<ClusterSums> {
        match self {
            Backend::Cpu => {
                let DevicePoints::Cpu(points) = points;
                CpuBackend.lloyd_pass(points, centres, labels)
            }
        }
    }

    /// Nearest centre and squared distance to it, for every point.
    pub fn assign(
        &self,
        points: &DevicePoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) {
        match self {
            Backend::Cpu => {
                let DevicePoints::Cpu(points) = points;
                CpuBackend.assign(points, centres, labels, distances)
            }
        }
    }

    /// k-means++: for each candidate centre (t x d), the potential
    /// `sum_i min(closest[i], |x_i - candidate|^2)`.
    pub fn kmeanspp_potentials(
        &self,
        points: &DevicePoints,
        closest: &[f32],
        candidates: &[f32],
    ) -> Vec<f64> {
        match self {
            Backend::Cpu => {
                let DevicePoints::Cpu(points) = points;
                CpuBackend.kmeanspp_potentials(points, closest, candidates)
            }
        }
    }

    /// k-means++: `closest[i] = min(closest[i], |x_i - centre|^2)`.
    pub fn kmeanspp_update(&self, points: &DevicePoints, closest: &mut [f32], centre: &[f32]) {
        match self {
            Backend::Cpu => {
                let DevicePoints::Cpu(points) = points;
                CpuBackend.kmeanspp_update(points, closest, centre)
            }
        }
    }

    /// The `m` points farthest from their own centre, farthest first (lowest
    /// index first among equals): where empty clusters are re-seeded.
    pub fn farthest_points(
        &self,
        points: &FeatureMatrix,
        centres: &[f32],
        labels: &[u32],
        m: usize,
    ) -> Vec<usize> {
        match self {
            Backend::Cpu => CpuBackend.farthest_points(points, centres, labels, m),
        }
    }

    /// Exact Euclidean silhouette of several labellings of the same points;
    /// every pairwise distance is computed once and serves all of them.
    pub fn silhouette(&self, points: &FeatureMatrix, labelings: &[Labeling]) -> Vec<Silhouette> {
        match self {
            Backend::Cpu => CpuBackend.silhouette(points, labelings),
        }
    }
}
