//! A Gaussian mixture's E-step on the GPU: per run and chunk of points,
//! mixture_partials (each point's responsibilities, and a row of partial
//! sums per workgroup), then reduce_columns; the host reads one total per
//! column and makes the sums the M-step reads ([`MixtureSums`]).
//!
//! The kernel works in f32. Its first and second moments are centred on
//! each component's mean as the pass found it (`sum r (x - mu)`, `sum r
//! (x - mu)(x - mu)^T`), which stay small where the raw moments would
//! cancel: the host adds the mean back in f64. So the M-step's
//! covariances carry f32 rounding of the spread, not of the values.
//!
//! Each run keeps its buffers between passes (its terms are rewritten
//! before each), so an EM iteration is one submission and one read of
//! the runs' totals.

use super::context::{Buffer, DeviceLimits};
use super::lloyd::{MAX_PAIRS_PER_THREAD, WORKGROUP_BYTES, partial_rows, tiles_for};
use super::params::{Params, WRITE_LABELS};
use super::shaders::{Kernel, Specialisation, WG};
use super::{GpuBackend, GpuPoints, bounds, u32s};
use crate::backend::{BackendError, Components, MixtureSums, Products};

/// Column kinds of mixture_partials (the low 2 bits of a column word).
const KIND_RESP: u32 = 0;
const KIND_FIRST: u32 = 1;
const KIND_SECOND: u32 = 2;
const KIND_LL: u32 = 3;

/// The E-step state of mixture runs on the GPU.
#[derive(Debug)]
pub struct GpuMixtures {
    products: Products,
    runs: Vec<MixtureRun>,
    /// The partial sums of a pass, shared by the runs (their dispatches
    /// run one after another): as large as the largest run's.
    partials: Buffer,
}

#[derive(Debug)]
struct MixtureRun {
    k: usize,
    plan: MixturePlan,
    /// Per component: mean (two f32 parts), factor (column by column),
    /// constant.
    model: Buffer,
    /// Per component and factor column: its non-zero rows.
    ranges: Buffer,
    columns: Buffer,
    kinds: Buffer,
    totals: Buffer,
}

/// How one run's passes are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MixturePlan {
    /// Columns of a partials row: K (1 + d + products) + 1.
    pub columns: usize,
    /// Tiles of WG points per workgroup, and the partial rows of a pass.
    pub tiles: usize,
    pub rows: usize,
}

/// Columns of a partials row for `k` components.
fn columns_of(k: usize, d: usize, products: Products) -> usize {
    k * (1 + d + products.count(d)) + 1
}

/// How a run of `k` components on `d` features is cut over chunks of
/// `chunk_rows` points, or why it does not fit the kernels: its tiles of
/// points and responsibilities in workgroup memory, its columns per
/// thread, its partial sums in one binding, and every invocation within
/// [`DeviceLimits::max_loop`] (see [`bounds`]).
pub(super) fn plan(
    chunk_rows: &[usize],
    d: usize,
    k: usize,
    products: Products,
    limits: &DeviceLimits,
) -> Result<MixturePlan, String> {
    let n: usize = chunk_rows.iter().sum();
    let columns = columns_of(k, d, products);
    let memory = 4 * WG as usize * (d + k + 1);
    if memory > WORKGROUP_BYTES {
        return Err(format!(
            "the responsibilities of {k} components next to {d} features take {memory} bytes of workgroup memory, past the {WORKGROUP_BYTES} the kernel may use"
        ));
    }
    let most = MAX_PAIRS_PER_THREAD * WG as usize;
    if columns > most {
        return Err(format!(
            "a pass needs {columns} sums per workgroup, more than the {most} the kernel holds"
        ));
    }
    let tiles =
        bounds::mixture_tiles(d, k, columns, tiles_for(n), limits.max_loop).ok_or_else(|| {
            format!(
                "one tile of points would loop {} times, past the {} an invocation may",
                bounds::mixture_partials(d, k, columns, 1),
                limits.max_loop
            )
        })?;
    let rows = partial_rows(chunk_rows, tiles);
    if 4 * rows * columns > limits.max_binding as usize {
        return Err(format!(
            "its partial sums ({rows} workgroups x {columns}) would not fit a binding of {} bytes",
            limits.max_binding
        ));
    }
    if bounds::reduce_columns(rows) > limits.max_loop {
        return Err(format!(
            "adding up its partial sums would loop {} times, past the {} an invocation may",
            bounds::reduce_columns(rows),
            limits.max_loop
        ));
    }
    Ok(MixturePlan {
        columns,
        tiles,
        rows,
    })
}

/// The column words of a run (see mixture_partials.wgsl).
fn column_words(k: usize, d: usize, products: Products) -> Vec<u32> {
    let pairs = products.pairs(d);
    let mut words = Vec::with_capacity(columns_of(k, d, products));
    for c in 0..k as u32 {
        words.push(KIND_RESP | c << 2);
        words.extend((0..d as u32).map(|a| KIND_FIRST | c << 2 | a << 12));
        words.extend(
            pairs
                .iter()
                .map(|&(a, b)| KIND_SECOND | c << 2 | (a as u32) << 12 | (b as u32) << 22),
        );
    }
    words.push(KIND_LL);
    words
}

/// Floats per component of a run's terms.
fn stride(d: usize) -> usize {
    2 * d + d * d + 1
}

/// A mixture's terms as the kernel reads them: per component its mean (in
/// f32 and the f32 of what that rounding left out), its factor column by
/// column and its constant (f32), and per factor column the range of rows
/// that are not 0.
fn terms(mixture: &Components) -> (Vec<f32>, Vec<u32>) {
    let (k, d) = (mixture.k(), mixture.d());
    let w = mixture.whitening;
    let mut model = Vec::with_capacity(k * stride(d));
    let mut ranges = Vec::with_capacity(k * d);
    for c in 0..k {
        let mean = mixture.means.row(c);
        model.extend(mean.iter().map(|&v| v as f32));
        model.extend(mean.iter().map(|&v| (v - f64::from(v as f32)) as f32));
        for j in 0..d {
            let column: Vec<f32> = (0..d).map(|a| w[[a, c * d + j]] as f32).collect();
            let first = column.iter().position(|&u| u != 0.0).unwrap_or(0);
            let end = column.iter().rposition(|&u| u != 0.0).map_or(0, |a| a + 1);
            ranges.push(first as u32 | (end.max(first) as u32) << 16);
            model.extend(column);
        }
        model.push(mixture.constants[c] as f32);
    }
    (model, ranges)
}

/// The sums of one run from its column totals (f32 bits): the centred
/// moments turned into raw ones around the means they were centred on
/// (the f32 part of each mean in `model`, as uploaded), in f64.
fn sums_from(totals: &[u32], model: &[f32], k: usize, d: usize, products: Products) -> MixtureSums {
    let value = |p: usize| f64::from(f32::from_bits(totals[p]));
    let pairs = products.pairs(d);
    let per = 1 + d + pairs.len();
    let stride = stride(d);
    let mut sums = MixtureSums::zero(k, d, products);
    for c in 0..k {
        let at = c * per;
        let mu: Vec<f64> = model[c * stride..c * stride + d]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let r = value(at);
        let s1: Vec<f64> = (0..d).map(|a| value(at + 1 + a)).collect();
        sums.resp[c] = r;
        for a in 0..d {
            sums.first[[c, a]] = s1[a] + r * mu[a];
        }
        for (p, &(a, b)) in pairs.iter().enumerate() {
            // sum r x_a x_b from the sums around mu.
            sums.second[[c, p]] =
                value(at + 1 + d + p) + mu[a] * s1[b] + mu[b] * s1[a] + r * mu[a] * mu[b];
        }
    }
    sums.log_likelihood = value(k * per);
    sums
}

impl GpuBackend {
    /// Buffers for one mixture run per K of `ks`; `Unsupported` when one
    /// does not fit the kernels (see `plan`).
    pub fn mixture_start(
        &self,
        points: &GpuPoints,
        ks: &[usize],
        products: Products,
    ) -> Result<GpuMixtures, BackendError> {
        let d = points.d;
        let chunk_rows: Vec<usize> = points.chunks.iter().map(|c| c.rows).collect();
        let ctx = &self.ctx;
        let mut runs = Vec::with_capacity(ks.len());
        for &k in ks {
            let plan = plan(&chunk_rows, d, k, products, &ctx.limits).map_err(|reason| {
                BackendError::Unsupported {
                    what: format!("fit a mixture of {k} components on {d} features"),
                    reason,
                }
            })?;
            let words = column_words(k, d, products);
            runs.push(MixtureRun {
                k,
                plan,
                model: ctx.zeroed("mixture terms", 4 * (k * stride(d)) as u64)?,
                ranges: ctx.zeroed("factor ranges", 4 * (k * d) as u64)?,
                columns: ctx.buffer("mixture columns", bytemuck::cast_slice(&words))?,
                kinds: ctx.zeroed("kinds", 4 * plan.columns as u64)?,
                totals: ctx.zeroed("totals", 4 * plan.columns as u64)?,
            });
        }
        let largest = runs
            .iter()
            .map(|r| r.plan.rows * r.plan.columns)
            .max()
            .unwrap_or(1);
        let partials = ctx.zeroed("partials", 4 * largest.max(1) as u64)?;
        Ok(GpuMixtures {
            products,
            runs,
            partials,
        })
    }

    /// One E-step pass of the runs of `active`, each with its mixture:
    /// one submission, one read of every run's totals.
    pub fn mixture_pass(
        &self,
        points: &GpuPoints,
        state: &GpuMixtures,
        active: &[(usize, Components)],
    ) -> Result<Vec<MixtureSums>, BackendError> {
        let models = self.write_terms(state, active)?;
        let runs: Vec<&MixtureRun> = active.iter().map(|&(r, _)| &state.runs[r]).collect();
        let (totals, _) = self.mixture_dispatches(points, state, &runs, false)?;
        Ok(runs
            .iter()
            .zip(&totals)
            .zip(&models)
            .map(|((run, totals), model)| sums_from(totals, model, run.k, points.d, state.products))
            .collect())
    }

    /// Each point's most probable component under `mixture` and the
    /// points' summed log-likelihood: one pass that writes labels.
    pub fn mixture_labels(
        &self,
        points: &GpuPoints,
        mixture: Components,
    ) -> Result<(Vec<u32>, f64), BackendError> {
        let state = self.mixture_start(points, &[mixture.k()], Products::None)?;
        self.write_terms(&state, &[(0, mixture)])?;
        let run = &state.runs[0];
        let (totals, labels) = self.mixture_dispatches(points, &state, &[run], true)?;
        let log_likelihood = f64::from(f32::from_bits(totals[0][run.plan.columns - 1]));
        Ok((labels, log_likelihood))
    }

    /// Writes each active run's terms; returns them as uploaded.
    fn write_terms(
        &self,
        state: &GpuMixtures,
        active: &[(usize, Components)],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        let mut models = Vec::with_capacity(active.len());
        for &(r, mixture) in active {
            let run = &state.runs[r];
            let (model, ranges) = terms(&mixture);
            debug_assert_eq!(mixture.k(), run.k);
            self.ctx
                .write(&run.model, 0, bytemuck::cast_slice(&model))?;
            self.ctx
                .write(&run.ranges, 0, bytemuck::cast_slice(&ranges))?;
            models.push(model);
        }
        Ok(models)
    }

    /// Runs mixture_partials over every chunk and reduce_columns for each
    /// of `runs` (one after another, through the state's one partials
    /// buffer), in one submission; reads each run's column totals (f32
    /// bits) and, with `labels`, each point's label.
    fn mixture_dispatches(
        &self,
        points: &GpuPoints,
        state: &GpuMixtures,
        runs: &[&MixtureRun],
        labels: bool,
    ) -> Result<(Vec<Vec<u32>>, Vec<u32>), BackendError> {
        let d = points.d;
        let label_buffers = if labels {
            points
                .chunks
                .iter()
                .map(|c| self.ctx.zeroed("labels", 4 * c.rows as u64))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![self.ctx.zeroed("no labels", 4)?]
        };
        let mut pipelines = Vec::with_capacity(runs.len());
        for run in runs {
            let spec = Specialisation {
                k: run.k as u32,
                pt: run.plan.columns.div_ceil(WG as usize) as u32,
                ..Specialisation::new(d as u32)
            };
            pipelines.push((
                self.pipeline(Kernel::MixturePartials, spec)?,
                self.pipeline(Kernel::ReduceColumns, spec)?,
            ));
        }
        let mut dispatches = Vec::new();
        let mut reads = Vec::new();
        for (run, (partials, reduce)) in runs.iter().zip(&pipelines) {
            let plan = run.plan;
            let mut offset = 0;
            for (c, chunk) in points.chunks.iter().enumerate() {
                let workgroups = chunk.rows.div_ceil(WG as usize * plan.tiles);
                let params = Params {
                    n: chunk.rows as u32,
                    d: d as u32,
                    k: run.k as u32,
                    pairs: plan.columns as u32,
                    tiles: plan.tiles as u32,
                    partial_offset: offset as u32,
                    flags: if labels { WRITE_LABELS } else { 0 },
                    ..Params::default()
                };
                dispatches.push(self.dispatch(
                    partials,
                    params,
                    workgroups as u32,
                    vec![
                        &chunk.buffer,
                        &run.model,
                        &run.ranges,
                        &run.columns,
                        &label_buffers[if labels { c } else { 0 }],
                        &state.partials,
                    ],
                ));
                offset += workgroups;
            }
            dispatches.push(self.reduce_columns(
                reduce,
                &state.partials,
                &run.kinds,
                &run.totals,
                plan.rows,
                plan.columns,
            ));
            reads.push((&run.totals, 0, 4 * plan.columns as u64));
        }
        if labels {
            reads.extend(label_buffers.iter().map(|b| (b, 0, b.size())));
        }
        let what = if labels {
            "a mixture's labels"
        } else {
            "an EM iteration"
        };
        let read = self.ctx.run(what, &dispatches, &reads)?;
        let totals = read[..runs.len()].iter().map(|b| u32s(b)).collect();
        let labels = read[runs.len()..]
            .iter()
            .flat_map(|bytes| u32s(bytes))
            .collect();
        Ok((totals, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_loop: u64) -> DeviceLimits {
        DeviceLimits::with_max_loop(max_loop)
    }

    #[test]
    fn plans_stay_within_the_limits_or_say_why() {
        let chunks = [4_194_304, 4_194_304, 1_611_392];
        let plan = plan(&chunks, 8, 8, Products::Pairs, &limits(60_000)).unwrap();
        assert_eq!(plan.columns, 8 * (1 + 8 + 36) + 1);
        assert!(bounds::mixture_partials(8, 8, plan.columns, plan.tiles) <= 60_000);
        assert!(plan.tiles <= tiles_for(10_000_000));
        // Too many columns for full covariances on many features.
        let err = super::plan(&chunks, 20, 10, Products::Pairs, &limits(1 << 20)).unwrap_err();
        assert!(err.contains("sums per workgroup"), "{err}");
        // Too many components for the workgroup memory.
        let err = super::plan(&chunks, 8, 60, Products::None, &limits(1 << 20)).unwrap_err();
        assert!(err.contains("workgroup memory"), "{err}");
        let err = super::plan(&[1000], 8, 8, Products::Pairs, &limits(500)).unwrap_err();
        assert!(err.contains("past the 500"), "{err}");
    }

    #[test]
    fn column_words_name_each_statistic_once() {
        let words = column_words(2, 3, Products::Pairs);
        assert_eq!(words.len(), columns_of(2, 3, Products::Pairs));
        assert_eq!(words[0], KIND_RESP);
        assert_eq!(words[1], KIND_FIRST);
        // The last pair of component 1: (2, 2).
        assert_eq!(
            words[words.len() - 2],
            KIND_SECOND | 1 << 2 | 2 << 12 | 2 << 22
        );
        assert_eq!(*words.last().unwrap(), KIND_LL);
        let mut sorted = words.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), words.len());
    }

    #[test]
    fn centred_sums_give_back_the_raw_moments() {
        // Two points, 1 and 3 (d = 1), both wholly in the one component,
        // whose mean the pass read as 1.5: centred sums -0.5 + 1.5 = 1,
        // 0.25 + 2.25 = 2.5.
        let model = [1.5f32, 0.0, 1.0, 0.0];
        let totals: Vec<u32> = [2.0f32, 1.0, 2.5, -7.0]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let sums = sums_from(&totals, &model, 1, 1, Products::Squares);
        assert_eq!(sums.resp, vec![2.0]);
        assert_eq!(sums.first[[0, 0]], 4.0);
        assert_eq!(sums.second[[0, 0]], 10.0);
        assert_eq!(sums.log_likelihood, -7.0);
    }
}
