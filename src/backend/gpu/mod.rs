//! The GPU backend: the kernels of [`crate::backend`] as WGSL compute
//! shaders (shaders/) on wgpu. Every wgpu call is in `context`; this
//! module and its children lay data out in chunks that fit the device's
//! limits and chain the dispatches.
//!
//! Points are uploaded once, row-major, in chunks of at most one binding
//! (128 MiB by default: about 4.19M users at d = 8); every kernel runs
//! per chunk and on a 2D grid past 65,535 workgroups, so 10M+ users work
//! on any GPU. Labels, centres and k-means++ distances stay on the device
//! between iterations; each Lloyd iteration reads back four numbers per
//! run.

pub mod bounds;
mod context;
mod kmeanspp;
mod lloyd;
mod mixture;
pub mod params;
pub mod shaders;
mod silhouette;

use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;

use self::context::{Buffer, Context, Dispatch};
use self::params::{FIRST_PART, Params};
use self::shaders::{BLOCK, Kernel, Specialisation, WG};
use ndarray::Array2;

use super::{
    BackendError, ClusterSums, Components, FinishedRun, Kernels, Labeling, MixtureSums, Products,
    Silhouette, StepStats,
};
use crate::features::matrix::FeatureMatrix;

pub use self::kmeanspp::GpuClosest;
pub use self::lloyd::GpuRuns;
pub use self::mixture::GpuMixtures;

/// `--device`: where clustering runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A hardware GPU when there is one, else the CPU (saying why).
    #[default]
    Auto,
    /// A GPU adapter, software ones included; an error when none works.
    Gpu,
    /// The CPU backend.
    Cpu,
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "gpu" => Ok(DeviceChoice::Gpu),
            "cpu" => Ok(DeviceChoice::Cpu),
            _ => Err(format!("expected auto, gpu or cpu, found {s:?}")),
        }
    }
}

/// How to open the GPU.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Use the adapter whose name contains this text (any case), or whose
    /// index (as `segmint devices` lists them) it is.
    pub adapter: Option<String>,
    /// Split work at this many bytes per binding instead of the device's
    /// limit (tests use it to force chunking on small data).
    pub max_binding: Option<u64>,
    /// Likewise for bytes per buffer (read-backs are split to fit; never
    /// below one binding).
    pub max_buffer: Option<u64>,
    /// Likewise for workgroups per dispatch dimension.
    pub max_workgroups: Option<u32>,
    /// Likewise for the distances one silhouette dispatch computes.
    pub max_pairs_per_dispatch: Option<u64>,
    /// Loop iterations one invocation may run, instead of 60,000 on a
    /// software adapter and 2^20 on a GPU (see [`bounds`]).
    pub max_loop: Option<u64>,
}

/// One adapter as `segmint devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    /// Position in wgpu's list of adapters: what `SEGMINT_ADAPTER` (or
    /// [`GpuOptions::adapter`]) may name instead of the name.
    pub index: usize,
    /// The adapter's name as its driver reports it (`llvmpipe (LLVM 15)`).
    pub name: String,
    /// The graphics API wgpu reaches it through, in wgpu's spelling
    /// (`Vulkan`, `Metal`, `Dx12`).
    pub backend: String,
    /// The kind of device in words: `discrete GPU`, `integrated GPU`,
    /// `virtual GPU`, `software (CPU)` or `other`.
    pub device_type: String,
    /// A software rasteriser on the CPU (e.g. llvmpipe).
    pub software: bool,
    /// Preference: discrete 0, integrated 1, virtual 2, other 3, software 4.
    #[serde(skip)]
    pub rank: u8,
    /// The driver's name and version as it reports them, joined by a
    /// space; empty when it reports neither.
    pub driver: String,
}

/// Which adapter `choice` takes among `adapters`, or why none. `auto`
/// never takes a software adapter unless it is asked for by name: on a
/// CPU, the CPU backend is several times faster than a rasteriser.
pub fn pick_adapter(
    adapters: &[AdapterSummary],
    choice: DeviceChoice,
    asked: Option<&str>,
) -> Result<usize, String> {
    if let Some(asked) = asked {
        let wanted = asked.to_lowercase();
        return adapters
            .iter()
            .find(|a| a.index.to_string() == wanted || a.name.to_lowercase().contains(&wanted))
            .map(|a| a.index)
            .ok_or_else(|| {
                format!(
                    "no adapter matches SEGMINT_ADAPTER={asked:?} (adapters: {})",
                    list(adapters)
                )
            });
    }
    let best = adapters
        .iter()
        .filter(|a| choice != DeviceChoice::Auto || !a.software)
        .min_by_key(|a| (a.rank, a.index));
    match (best, adapters.is_empty()) {
        (Some(a), _) => Ok(a.index),
        (None, true) => Err("wgpu found no Vulkan, Metal or DX12 adapter".into()),
        (None, false) => Err(format!(
            "only software adapters ({}), slower than the CPU backend",
            list(adapters)
        )),
    }
}

fn list(adapters: &[AdapterSummary]) -> String {
    if adapters.is_empty() {
        return "none".into();
    }
    adapters
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The adapters wgpu sees (Vulkan, Metal, DX12), in its order.
pub fn adapters() -> Vec<AdapterSummary> {
    context::adapters()
}

/// Everything a command will ask of the GPU, for [`GpuBackend::check`].
#[derive(Debug, Clone, Default)]
pub struct Workload<'a> {
    /// Points (users) to cluster.
    pub n: usize,
    /// Features per point.
    pub d: usize,
    /// The k of every K-Means run (each K once per restart).
    pub runs: &'a [usize],
    /// The k of every labelling whose silhouette the GPU computes.
    pub silhouettes: &'a [usize],
    /// The K of every Gaussian mixture run (each K once per restart).
    pub mixtures: &'a [usize],
    /// The products of coordinates the mixtures' M-steps need.
    pub products: Products,
}

/// An open GPU.
#[derive(Debug, Clone)]
pub struct GpuBackend {
    ctx: Arc<Context>,
}

impl GpuBackend {
    /// Opens the adapter `choice` takes (`Auto` or `Gpu`).
    pub fn open(choice: DeviceChoice, options: &GpuOptions) -> Result<Self, BackendError> {
        let ctx = Context::open(
            |adapters| {
                pick_adapter(adapters, choice, options.adapter.as_deref())
                    .map_err(BackendError::NoAdapter)
            },
            options,
        )?;
        Ok(GpuBackend { ctx: Arc::new(ctx) })
    }

    /// The name of the adapter opened (as [`AdapterSummary::name`]).
    pub fn adapter_name(&self) -> &str {
        &self.ctx.summary.name
    }

    /// The adapter opened, as `segmint devices` lists it.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.summary
    }

    fn pipeline(
        &self,
        kernel: Kernel,
        spec: Specialisation,
    ) -> Result<Arc<context::Pipeline>, BackendError> {
        self.ctx.pipeline(kernel, spec)
    }

    /// A dispatch over `workgroups` workgroups (a 2D grid when needed).
    fn dispatch<'a>(
        &self,
        pipeline: &'a context::Pipeline,
        mut params: Params,
        workgroups: u32,
        buffers: Vec<&'a Buffer>,
    ) -> Dispatch<'a> {
        let grid = self.ctx.grid(workgroups);
        params.groups_x = grid.0;
        params.workgroups = workgroups;
        Dispatch {
            pipeline,
            params,
            buffers,
            grid,
        }
    }

    /// Whether this GPU takes all of `work`, and if not, why: for
    /// `--device auto` to run such work on the CPU instead of failing
    /// part-way. The same limits as the kernels' own checks.
    pub fn check(&self, work: &Workload<'_>) -> Result<(), BackendError> {
        let d = work.d;
        let unsupported = |what: String, reason: String| BackendError::Unsupported { what, reason };
        if d == 0 || d > MAX_FEATURES {
            return Err(unsupported(
                format!("cluster {d} features"),
                format!("the kernels take 1 to {MAX_FEATURES}"),
            ));
        }
        let rows = self.chunk_rows(d)?;
        let chunk_rows: Vec<usize> = (0..work.n)
            .step_by(rows)
            .map(|first| rows.min(work.n - first))
            .collect();
        let mut ks = work.runs.to_vec();
        ks.sort_unstable();
        ks.dedup();
        for k in ks {
            lloyd::plan_groups(&chunk_rows, d, &[k], &self.ctx.limits)
                .map_err(|reason| unsupported("run K-Means".into(), reason))?;
        }
        let mut ks = work.mixtures.to_vec();
        ks.sort_unstable();
        ks.dedup();
        for k in ks {
            mixture::plan(&chunk_rows, d, k, work.products, &self.ctx.limits).map_err(
                |reason| {
                    unsupported(
                        format!("fit a mixture of {k} components on {d} features"),
                        reason,
                    )
                },
            )?;
        }
        for &k in work.silhouettes {
            silhouette::silhouette_fits(d, k, self.ctx.limits.max_loop).map_err(|reason| {
                unsupported(
                    format!("compute a silhouette of {k} clusters on {d} features"),
                    reason,
                )
            })?;
        }
        Ok(())
    }

    /// Rows per chunk of points: as many as one binding holds, a multiple
    /// of the k-means++ sampling block.
    fn chunk_rows(&self, d: usize) -> Result<usize, BackendError> {
        let rows = self.ctx.limits.max_binding as usize / (4 * d.max(1));
        let rows = rows / BLOCK as usize * BLOCK as usize;
        if rows == 0 {
            return Err(BackendError::Unsupported {
                what: format!("hold {d} features per point"),
                reason: format!(
                    "a binding of {} bytes holds fewer than {BLOCK} points",
                    self.ctx.limits.max_binding
                ),
            });
        }
        Ok(rows)
    }

    /// Uploads the points in chunks (row-major f32).
    pub fn upload(&self, points: &FeatureMatrix) -> Result<GpuPoints, BackendError> {
        let (n, d) = (points.n(), points.d());
        if d == 0 || d > MAX_FEATURES {
            return Err(BackendError::Unsupported {
                what: format!("cluster {d} features"),
                reason: format!("the kernels take 1 to {MAX_FEATURES} features"),
            });
        }
        let rows = self.chunk_rows(d)?;
        let values = points.as_slice();
        let mut chunks = Vec::new();
        let mut first = 0;
        while first < n {
            let count = rows.min(n - first);
            let bytes = bytemuck::cast_slice(&values[first * d..(first + count) * d]);
            chunks.push(PointChunk {
                first,
                rows: count,
                buffer: self.ctx.buffer("points", bytes)?,
            });
            first += count;
        }
        Ok(GpuPoints { n, d, chunks })
    }

    /// Nearest centre and squared distance for every point.
    pub fn assign(
        &self,
        points: &GpuPoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) -> Result<(), BackendError> {
        let d = points.d;
        let k = centres.len() / d;
        let pipeline = self.pipeline(Kernel::Assign, Specialisation::new(d as u32))?;
        let centre_buffer = self.ctx.buffer("centres", bytemuck::cast_slice(centres))?;
        // Centres per dispatch: see bounds::assign.
        let per_pass = bounds::assign_centres(d, self.ctx.limits.max_loop);
        for chunk in &points.chunks {
            let out_labels = self.ctx.zeroed("labels", 4 * chunk.rows as u64)?;
            let out_distances = self.ctx.zeroed("distances", 4 * chunk.rows as u64)?;
            let workgroups = chunk.rows.div_ceil(WG as usize) as u32;
            let dispatches: Vec<_> = (0..k.max(1))
                .step_by(per_pass)
                .map(|begin| {
                    let params = Params {
                        n: chunk.rows as u32,
                        d: d as u32,
                        k: k as u32,
                        begin: begin as u32,
                        end: (begin + per_pass).min(k) as u32,
                        flags: if begin == 0 { FIRST_PART } else { 0 },
                        ..Params::default()
                    };
                    self.dispatch(
                        &pipeline,
                        params,
                        workgroups,
                        vec![&chunk.buffer, &centre_buffer, &out_labels, &out_distances],
                    )
                })
                .collect();
            let bytes = 4 * chunk.rows as u64;
            let read = self.ctx.run(
                "assignment",
                &dispatches,
                &[(&out_labels, 0, bytes), (&out_distances, 0, bytes)],
            )?;
            let range = chunk.first..chunk.first + chunk.rows;
            labels[range.clone()].copy_from_slice(bytemuck::cast_slice(&read[0]));
            distances[range].copy_from_slice(bytemuck::cast_slice(&read[1]));
        }
        Ok(())
    }

    /// Adds up the rows of `partials` (rows x columns) per column, with
    /// `kinds` (0 float, 1 count, 2 skip), into `totals` (u32 bits).
    fn reduce_columns<'a>(
        &self,
        pipeline: &'a context::Pipeline,
        partials: &'a Buffer,
        kinds: &'a Buffer,
        totals: &'a Buffer,
        rows: usize,
        columns: usize,
    ) -> Dispatch<'a> {
        let params = Params {
            pairs: columns as u32,
            partial_rows: rows as u32,
            ..Params::default()
        };
        self.dispatch(
            pipeline,
            params,
            columns as u32,
            vec![partials, kinds, totals],
        )
    }
}

/// The GPU's kernels, each in the file of its shader's host side.
impl Kernels for GpuBackend {
    type Points = GpuPoints;
    type Runs = GpuRuns;
    type Closest = GpuClosest;
    type Mixtures = GpuMixtures;

    fn upload(&self, points: &FeatureMatrix) -> Result<GpuPoints, BackendError> {
        GpuBackend::upload(self, points)
    }

    fn assign(
        &self,
        points: &GpuPoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) -> Result<(), BackendError> {
        GpuBackend::assign(self, points, centres, labels, distances)
    }

    fn lloyd_start(
        &self,
        points: &GpuPoints,
        inits: &[Array2<f64>],
        _algorithm: super::LloydAlgorithm,
    ) -> Result<GpuRuns, BackendError> {
        GpuBackend::lloyd_start(self, points, inits)
    }

    fn lloyd_step(
        &self,
        points: &GpuPoints,
        runs: &mut GpuRuns,
        active: &[usize],
        move_centres: bool,
    ) -> Result<Vec<StepStats>, BackendError> {
        GpuBackend::lloyd_step(self, points, runs, active, move_centres)
    }

    fn lloyd_sums(
        &self,
        runs: &GpuRuns,
        run: usize,
    ) -> Result<(ClusterSums, Vec<u32>, Array2<f64>), BackendError> {
        GpuBackend::lloyd_sums(self, runs, run)
    }

    fn lloyd_set_centres(
        &self,
        runs: &mut GpuRuns,
        run: usize,
        centres: Array2<f64>,
    ) -> Result<(), BackendError> {
        GpuBackend::lloyd_set_centres(self, runs, run, &centres)
    }

    fn lloyd_finish(&self, runs: GpuRuns) -> Result<Vec<FinishedRun>, BackendError> {
        GpuBackend::lloyd_finish(self, runs)
    }

    fn closest_start(&self, points: &GpuPoints) -> Result<GpuClosest, BackendError> {
        GpuBackend::closest_start(self, points)
    }

    fn closest_update(
        &self,
        points: &GpuPoints,
        closest: &mut GpuClosest,
        centre: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        GpuBackend::closest_update(self, points, closest, centre)
    }

    fn closest_potentials(
        &self,
        points: &GpuPoints,
        closest: &GpuClosest,
        candidates: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        GpuBackend::closest_potentials(self, points, closest, candidates)
    }

    fn closest_blocks(
        &self,
        closest: &GpuClosest,
        blocks: &[usize],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        GpuBackend::closest_blocks(self, closest, blocks)
    }

    fn mixture_start(
        &self,
        points: &GpuPoints,
        ks: &[usize],
        products: Products,
    ) -> Result<GpuMixtures, BackendError> {
        GpuBackend::mixture_start(self, points, ks, products)
    }

    fn mixture_pass(
        &self,
        points: &GpuPoints,
        mixtures: &mut GpuMixtures,
        active: &[(usize, Components)],
    ) -> Result<Vec<MixtureSums>, BackendError> {
        GpuBackend::mixture_pass(self, points, mixtures, active)
    }

    fn mixture_labels(
        &self,
        points: &GpuPoints,
        mixture: Components,
    ) -> Result<(Vec<u32>, f64), BackendError> {
        GpuBackend::mixture_labels(self, points, mixture)
    }

    fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError> {
        GpuBackend::silhouette(self, points, labelings)
    }
}

/// Features per point the kernels take: per-thread arrays of D values, and
/// tiles of 64 points x D in 16 KiB of workgroup memory.
pub const MAX_FEATURES: usize = 60;

/// Points on the GPU, in chunks of at most one binding.
#[derive(Debug)]
pub struct GpuPoints {
    n: usize,
    d: usize,
    chunks: Vec<PointChunk>,
}

#[derive(Debug)]
struct PointChunk {
    /// Index of the chunk's first point.
    first: usize,
    rows: usize,
    buffer: Buffer,
}

impl GpuPoints {
    /// Points uploaded, over all chunks.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Features per point (1 to [`MAX_FEATURES`]).
    pub fn d(&self) -> usize {
        self.d
    }

    /// Chunks the points were cut into.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytemuck::cast_slice(bytes).to_vec()
}

fn u32s(bytes: &[u8]) -> Vec<u32> {
    bytemuck::cast_slice(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(index: usize, name: &str, rank: u8) -> AdapterSummary {
        AdapterSummary {
            index,
            name: name.into(),
            backend: "Vulkan".into(),
            device_type: String::new(),
            software: rank == 4,
            rank,
            driver: String::new(),
        }
    }

    #[test]
    fn auto_prefers_hardware_and_never_takes_software_unasked() {
        let both = [adapter(0, "llvmpipe", 4), adapter(1, "Big GPU", 0)];
        assert_eq!(pick_adapter(&both, DeviceChoice::Auto, None), Ok(1));
        assert_eq!(pick_adapter(&both, DeviceChoice::Gpu, None), Ok(1));
        let soft = [adapter(0, "llvmpipe (LLVM 15)", 4)];
        let err = pick_adapter(&soft, DeviceChoice::Auto, None).unwrap_err();
        assert!(
            err.contains("only software adapters (llvmpipe (LLVM 15))"),
            "{err}"
        );
        assert_eq!(pick_adapter(&soft, DeviceChoice::Gpu, None), Ok(0));
        assert_eq!(
            pick_adapter(&soft, DeviceChoice::Auto, Some("LLVMpipe")),
            Ok(0)
        );
        let none = pick_adapter(&[], DeviceChoice::Gpu, None).unwrap_err();
        assert!(none.contains("no Vulkan, Metal or DX12 adapter"), "{none}");
        let integrated = [
            adapter(0, "iGPU", 1),
            adapter(1, "dGPU", 0),
            adapter(2, "dGPU 2", 0),
        ];
        assert_eq!(pick_adapter(&integrated, DeviceChoice::Auto, None), Ok(1));
        assert_eq!(
            pick_adapter(&integrated, DeviceChoice::Auto, Some("2")),
            Ok(2)
        );
        let missing = pick_adapter(&integrated, DeviceChoice::Gpu, Some("radeon")).unwrap_err();
        assert!(missing.contains("SEGMINT_ADAPTER=\"radeon\""), "{missing}");
    }

    #[test]
    fn device_choice_parses() {
        assert_eq!("gpu".parse(), Ok(DeviceChoice::Gpu));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert!("GPU!".parse::<DeviceChoice>().is_err());
    }
}
