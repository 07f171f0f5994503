//! Lloyd iterations on the GPU, every run resident: points, labels and
//! centres stay on the device for the whole fit. One iteration is, per
//! group of runs, one pass over each chunk of points (lloyd_partials: all
//! the group's runs, each point read once), the fixed-order reduction of
//! the workgroups' partial sums (reduce_columns), and the centre update
//! (lloyd_update, ping-ponging two centre buffers); then the host reads
//! four numbers per run: inertia, centre shift, changed labels, empty
//! clusters.
//!
//! Runs are grouped so that each group fits the device: its labels (runs
//! x chunk rows), its partial sums (workgroups x pairs), its tiles in
//! workgroup memory and, with the tiles each workgroup takes, the loop
//! iterations of an invocation (see [`super::bounds`]). A sweep's runs
//! usually make one group.

use ndarray::Array2;

use super::context::{Buffer, DeviceLimits};
use super::params::{MOVE_CENTRES, Params};
use super::shaders::{Kernel, Specialisation, WG};
use super::{GpuBackend, GpuPoints, bounds, f32s, u32s};
use crate::backend::{BackendError, ClusterSums, FinishedRun, StepStats};

/// Workgroup memory the kernels may use (the WebGPU default limit).
pub(super) const WORKGROUP_BYTES: usize = 16 * 1024;
/// Most accumulator pairs per thread (a per-thread array).
pub(super) const MAX_PAIRS_PER_THREAD: usize = 32;
/// Aim for at most this many partial rows (workgroups) per pass.
const TARGET_ROWS: usize = 4096;

const UNSET: u32 = u32::MAX;

/// Lloyd runs on the GPU.
#[derive(Debug)]
pub struct GpuRuns {
    d: usize,
    groups: Vec<Group>,
    /// (group, member) of each run.
    place: Vec<(usize, usize)>,
}

impl GpuRuns {
    /// Runs held, over all groups.
    pub fn len(&self) -> usize {
        self.place.len()
    }

    /// Whether no run is held.
    pub fn is_empty(&self) -> bool {
        self.place.is_empty()
    }

    /// Groups the runs were split into (for tests).
    pub fn groups(&self) -> usize {
        self.groups.len()
    }
}

#[derive(Debug)]
struct Group {
    ks: Vec<usize>,
    /// Tiles of WG points per workgroup, and the partial rows of a pass.
    tiles: usize,
    rows: usize,
    /// First centre and first pair of each member.
    centre_offsets: Vec<usize>,
    pair_offsets: Vec<usize>,
    pairs: usize,
    active: Vec<bool>,
    /// Ping-pong centres (all members, k x d each); `current` holds the
    /// centres the next step starts from.
    centres: [Buffer; 2],
    current: usize,
    run_info: Buffer,
    pair_run: Buffer,
    kinds: Buffer,
    /// Per chunk of points: members x rows labels.
    labels: Vec<Buffer>,
    partials: Buffer,
    totals: Buffer,
    stats: Buffer,
}

impl Group {
    fn members(&self) -> usize {
        self.ks.len()
    }

    /// RunInfo words (centre offset, k, pair offset, active) per member.
    fn run_info(&self) -> Vec<u32> {
        (0..self.members())
            .flat_map(|m| {
                [
                    self.centre_offsets[m] as u32,
                    self.ks[m] as u32,
                    self.pair_offsets[m] as u32,
                    u32::from(self.active[m]),
                ]
            })
            .collect()
    }

    /// Column kinds for reduce_columns: 0 float, 1 count, 2 skip.
    fn kinds(&self, d: usize) -> Vec<u32> {
        let mut kinds = Vec::with_capacity(self.pairs);
        for m in 0..self.members() {
            let k = self.ks[m];
            let run: Vec<u32> = (0..k * d)
                .map(|_| 0)
                .chain((0..k).map(|_| 1))
                .chain([0, 1])
                .collect();
            kinds.extend(
                run.into_iter()
                    .map(|kind| if self.active[m] { kind } else { 2 }),
            );
        }
        kinds
    }
}

/// Accumulator pairs of a run: k x d sums, k counts, inertia, changed.
fn pairs_of(k: usize, d: usize) -> usize {
    k * (d + 1) + 2
}

/// Tiles of WG points per workgroup: enough that a pass has at most
/// about [`TARGET_ROWS`] workgroups.
pub(super) fn tiles_for(n: usize) -> usize {
    n.div_ceil(WG as usize * TARGET_ROWS).max(1)
}

/// Runs grouped to fit the device, each group with the tiles per
/// workgroup of its passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GroupPlan {
    /// Indices of the runs.
    pub runs: Vec<usize>,
    pub tiles: usize,
    /// Partial-sum rows of one pass (workgroups over all chunks).
    pub rows: usize,
}

/// Groups runs of `ks` clusters on `d` features over points in chunks of
/// `chunk_rows` rows: as many runs per group as fit the workgroup memory,
/// the per-thread pairs, one binding of labels and of partial sums, and
/// [`DeviceLimits::max_loop`] iterations per invocation (see
/// [`super::bounds`]). Errors with the reason when one run alone does not.
pub(super) fn plan_groups(
    chunk_rows: &[usize],
    d: usize,
    ks: &[usize],
    limits: &DeviceLimits,
) -> Result<Vec<GroupPlan>, String> {
    let n: usize = chunk_rows.iter().sum();
    let largest = chunk_rows.iter().copied().max().unwrap_or(1).max(1);
    let max_binding = limits.max_binding as usize;
    // Tiles of points, labels and distances in workgroup memory.
    let by_memory = (WORKGROUP_BYTES / (4 * WG as usize)).saturating_sub(d) / 2;
    let by_labels = max_binding / (4 * largest);
    let max_members = by_memory.min(by_labels).min(255);
    let max_pairs = MAX_PAIRS_PER_THREAD * WG as usize;
    // The plan of a group of these runs, if it fits.
    let fits = |runs: &[usize]| -> Result<GroupPlan, String> {
        let group_ks: Vec<usize> = runs.iter().map(|&r| ks[r]).collect();
        let pairs: usize = group_ks.iter().map(|&k| pairs_of(k, d)).sum();
        let k_sum: usize = group_ks.iter().sum();
        if runs.len() > max_members {
            return Err(format!(
                "{} runs of one group exceed the {max_members} the workgroup memory and a binding of labels hold",
                runs.len()
            ));
        }
        if pairs > max_pairs {
            return Err(format!(
                "a run needs {pairs} partial sums per workgroup, more than the {max_pairs} the kernels hold"
            ));
        }
        let tiles = bounds::lloyd_tiles(d, runs.len(), k_sum, pairs, tiles_for(n), limits.max_loop)
            .ok_or_else(|| {
                format!(
                    "one tile of points would loop {} times, past the {} an invocation may",
                    bounds::lloyd_partials(d, runs.len(), k_sum, pairs, 1),
                    limits.max_loop
                )
            })?;
        let rows = partial_rows(chunk_rows, tiles);
        if 4 * rows * pairs > max_binding {
            return Err(format!(
                "its partial sums ({rows} workgroups x {pairs}) would not fit a binding of {max_binding} bytes"
            ));
        }
        let longest = bounds::reduce_columns(rows).max(
            group_ks
                .iter()
                .map(|&k| bounds::lloyd_update(d, k))
                .max()
                .unwrap_or(0),
        );
        if longest > limits.max_loop {
            return Err(format!(
                "adding up its partial sums would loop {longest} times, past the {} an invocation may",
                limits.max_loop
            ));
        }
        Ok(GroupPlan {
            runs: runs.to_vec(),
            tiles,
            rows,
        })
    };
    if max_members == 0 {
        return Err(format!(
            "{d} features leave no workgroup memory for the runs' labels"
        ));
    }
    let mut plans: Vec<GroupPlan> = Vec::new();
    for (r, &k) in ks.iter().enumerate() {
        let joined = plans.last().map(|last| {
            let mut runs = last.runs.clone();
            runs.push(r);
            fits(&runs)
        });
        match joined {
            Some(Ok(plan)) => *plans.last_mut().expect("a group") = plan,
            _ => plans
                .push(fits(&[r]).map_err(|reason| format!("k = {k} on {d} features: {reason}"))?),
        }
    }
    Ok(plans)
}

impl GpuBackend {
    /// Starts one run per set of initial centres (k x d each): the runs
    /// grouped to fit the device (see `plan_groups`), each group's
    /// centres uploaded and its labels all unset. `Unsupported` when one
    /// run alone does not fit.
    pub fn lloyd_start(
        &self,
        points: &GpuPoints,
        inits: &[Array2<f64>],
    ) -> Result<GpuRuns, BackendError> {
        let d = points.d;
        let ks: Vec<usize> = inits.iter().map(Array2::nrows).collect();
        let chunk_rows: Vec<usize> = points.chunks.iter().map(|c| c.rows).collect();
        let plans = plan_groups(&chunk_rows, d, &ks, &self.ctx.limits).map_err(|reason| {
            BackendError::Unsupported {
                what: "run K-Means".into(),
                reason,
            }
        })?;
        let mut place = vec![(0, 0); inits.len()];
        let mut groups = Vec::with_capacity(plans.len());
        for (g, plan) in plans.iter().enumerate() {
            for (m, &r) in plan.runs.iter().enumerate() {
                place[r] = (g, m);
            }
            groups.push(self.group(points, plan.runs.iter().map(|&r| &inits[r]), plan)?);
        }
        Ok(GpuRuns { d, groups, place })
    }

    fn group<'a>(
        &self,
        points: &GpuPoints,
        inits: impl Iterator<Item = &'a Array2<f64>>,
        plan: &GroupPlan,
    ) -> Result<Group, BackendError> {
        let rows = plan.rows;
        let d = points.d;
        let inits: Vec<&Array2<f64>> = inits.collect();
        let ks: Vec<usize> = inits.iter().map(|c| c.nrows()).collect();
        let mut centre_offsets = Vec::with_capacity(ks.len());
        let mut pair_offsets = Vec::with_capacity(ks.len());
        let (mut centres_at, mut pairs) = (0, 0);
        for &k in &ks {
            centre_offsets.push(centres_at);
            pair_offsets.push(pairs);
            centres_at += k;
            pairs += pairs_of(k, d);
        }
        let centres: Vec<f32> = inits
            .iter()
            .flat_map(|c| c.iter().map(|&v| v as f32))
            .collect();
        let pair_run: Vec<u32> = ks
            .iter()
            .enumerate()
            .flat_map(|(m, &k)| std::iter::repeat_n(m as u32, pairs_of(k, d)))
            .collect();
        let members = ks.len();
        let ctx = &self.ctx;
        let labels = points
            .chunks
            .iter()
            .map(|c| {
                let unset = vec![UNSET; members * c.rows];
                ctx.buffer("labels", bytemuck::cast_slice(&unset))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut group = Group {
            ks,
            tiles: plan.tiles,
            rows,
            centre_offsets,
            pair_offsets,
            pairs,
            active: vec![true; members],
            centres: [
                ctx.buffer("centres", bytemuck::cast_slice(&centres))?,
                ctx.buffer("centres", bytemuck::cast_slice(&centres))?,
            ],
            current: 0,
            run_info: ctx.zeroed("runs", 16 * members as u64)?,
            pair_run: ctx.buffer("pair runs", bytemuck::cast_slice(&pair_run))?,
            kinds: ctx.zeroed("kinds", 4 * pairs as u64)?,
            labels,
            partials: ctx.zeroed("partials", 4 * (rows * pairs) as u64)?,
            totals: ctx.zeroed("totals", 4 * pairs as u64)?,
            stats: ctx.zeroed("stats", 16 * members as u64)?,
        };
        self.write_activity(&mut group, d)?;
        Ok(group)
    }

    fn write_activity(&self, group: &mut Group, d: usize) -> Result<(), BackendError> {
        self.ctx
            .write(&group.run_info, 0, bytemuck::cast_slice(&group.run_info()))?;
        self.ctx
            .write(&group.kinds, 0, bytemuck::cast_slice(&group.kinds(d)))
    }

    /// One Lloyd step of the runs in `active` (distinct indices into
    /// `runs`; the other runs of their groups are skipped): per group,
    /// lloyd_partials over every chunk, reduce_columns and lloyd_update
    /// (which moves the centres with `move_centres`), then one read of
    /// four numbers per run. One [`StepStats`] per active run, in order.
    pub fn lloyd_step(
        &self,
        points: &GpuPoints,
        runs: &mut GpuRuns,
        active: &[usize],
        move_centres: bool,
    ) -> Result<Vec<StepStats>, BackendError> {
        let d = runs.d;
        // Which groups run, and with which members.
        let mut wanted: Vec<Vec<bool>> = runs
            .groups
            .iter()
            .map(|g| vec![false; g.members()])
            .collect();
        for &r in active {
            let (g, m) = runs.place[r];
            wanted[g][m] = true;
        }
        let stepping: Vec<usize> = (0..runs.groups.len())
            .filter(|&g| wanted[g].contains(&true))
            .collect();
        for &g in &stepping {
            let group = &mut runs.groups[g];
            if group.active != wanted[g] {
                group.active = wanted[g].clone();
                self.write_activity(group, d)?;
            }
        }
        let mut pipelines = Vec::new();
        for &g in &stepping {
            let group = &runs.groups[g];
            let spec = Specialisation {
                r: group.members() as u32,
                pt: group.pairs.div_ceil(WG as usize) as u32,
                ..Specialisation::new(d as u32)
            };
            pipelines.push((
                self.pipeline(Kernel::LloydPartials, spec)?,
                self.pipeline(Kernel::ReduceColumns, spec)?,
                self.pipeline(Kernel::LloydUpdate, spec)?,
            ));
        }
        let mut dispatches = Vec::new();
        let mut reads = Vec::new();
        for (&g, (partials, reduce, update)) in stepping.iter().zip(&pipelines) {
            let group = &runs.groups[g];
            let (current, next) = (
                &group.centres[group.current],
                &group.centres[1 - group.current],
            );
            let (tiles, rows) = (group.tiles, group.rows);
            let mut offset = 0;
            for (chunk, labels) in points.chunks.iter().zip(&group.labels) {
                let workgroups = chunk.rows.div_ceil(WG as usize * tiles);
                let params = Params {
                    n: chunk.rows as u32,
                    d: d as u32,
                    runs: group.members() as u32,
                    pairs: group.pairs as u32,
                    tiles: tiles as u32,
                    partial_offset: offset as u32,
                    ..Params::default()
                };
                dispatches.push(self.dispatch(
                    partials,
                    params,
                    workgroups as u32,
                    vec![
                        &chunk.buffer,
                        current,
                        &group.run_info,
                        &group.pair_run,
                        labels,
                        &group.partials,
                    ],
                ));
                offset += workgroups;
            }
            dispatches.push(self.reduce_columns(
                reduce,
                &group.partials,
                &group.kinds,
                &group.totals,
                rows,
                group.pairs,
            ));
            let params = Params {
                d: d as u32,
                runs: group.members() as u32,
                flags: if move_centres { MOVE_CENTRES } else { 0 },
                ..Params::default()
            };
            dispatches.push(self.dispatch(
                update,
                params,
                group.members() as u32,
                vec![&group.totals, &group.run_info, current, next, &group.stats],
            ));
            reads.push((&group.stats, 0, 16 * group.members() as u64));
        }
        let read = self.ctx.run("a Lloyd iteration", &dispatches, &reads)?;
        drop(dispatches);
        let mut stats_of: Vec<Option<Vec<u32>>> = vec![None; runs.groups.len()];
        for (&g, bytes) in stepping.iter().zip(&read) {
            stats_of[g] = Some(u32s(bytes));
            if move_centres {
                runs.groups[g].current ^= 1;
            }
        }
        Ok(active
            .iter()
            .map(|&r| {
                let (g, m) = runs.place[r];
                let words = &stats_of[g].as_ref().expect("the group ran")[4 * m..4 * m + 4];
                StepStats {
                    inertia: f64::from(f32::from_bits(words[0])),
                    shift: f64::from(f32::from_bits(words[1])),
                    changed: u64::from(words[2]),
                    empty: move_centres && words[3] > 0,
                }
            })
            .collect())
    }

    /// After a step that moved centres: the run's sums and counts, its
    /// labels, and the centres the step started from.
    pub fn lloyd_sums(
        &self,
        runs: &GpuRuns,
        run: usize,
    ) -> Result<(ClusterSums, Vec<u32>, Array2<f64>), BackendError> {
        let d = runs.d;
        let (g, m) = runs.place[run];
        let group = &runs.groups[g];
        let k = group.ks[m];
        let pairs = pairs_of(k, d);
        let previous = &group.centres[1 - group.current];
        let mut regions = vec![
            (
                &group.totals,
                4 * group.pair_offsets[m] as u64,
                4 * pairs as u64,
            ),
            (
                previous,
                4 * (group.centre_offsets[m] * d) as u64,
                4 * (k * d) as u64,
            ),
        ];
        let chunk_rows: Vec<u64> = group
            .labels
            .iter()
            .map(|b| b.size() / 4 / group.members() as u64)
            .collect();
        for (labels, &rows) in group.labels.iter().zip(&chunk_rows) {
            regions.push((labels, 4 * m as u64 * rows, 4 * rows));
        }
        let read = self.ctx.read("a run's sums", &regions)?;
        let totals = u32s(&read[0]);
        let sums = totals[..k * d]
            .iter()
            .map(|&bits| f64::from(f32::from_bits(bits)))
            .collect();
        let counts = totals[k * d..k * d + k]
            .iter()
            .map(|&c| u64::from(c))
            .collect();
        let centres =
            Array2::from_shape_vec((k, d), f32s(&read[1]).into_iter().map(f64::from).collect())
                .expect("k x d centres");
        let labels = read[2..].iter().flat_map(|bytes| u32s(bytes)).collect();
        Ok((
            ClusterSums {
                sums,
                counts,
                inertia: f64::from(f32::from_bits(totals[k * d + k])),
                changed: u64::from(totals[k * d + k + 1]),
            },
            labels,
            centres,
        ))
    }

    /// Replaces the centres of run `run` (k x d) in the buffer that the
    /// next step starts from.
    pub fn lloyd_set_centres(
        &self,
        runs: &mut GpuRuns,
        run: usize,
        centres: &Array2<f64>,
    ) -> Result<(), BackendError> {
        let d = runs.d;
        let (g, m) = runs.place[run];
        let group = &runs.groups[g];
        let values: Vec<f32> = centres.iter().map(|&v| v as f32).collect();
        self.ctx.write(
            &group.centres[group.current],
            4 * (group.centre_offsets[m] * d) as u64,
            bytemuck::cast_slice(&values),
        )
    }

    /// The centres (k x d, from f32) and labels of every run, in the
    /// order of the initial centres given to `lloyd_start`; one read per
    /// run.
    pub fn lloyd_finish(&self, runs: GpuRuns) -> Result<Vec<FinishedRun>, BackendError> {
        let d = runs.d;
        let mut out = Vec::with_capacity(runs.len());
        for &(g, m) in &runs.place {
            let group = &runs.groups[g];
            let k = group.ks[m];
            let mut regions = vec![(
                &group.centres[group.current],
                4 * (group.centre_offsets[m] * d) as u64,
                4 * (k * d) as u64,
            )];
            for labels in &group.labels {
                let rows = labels.size() / 4 / group.members() as u64;
                regions.push((labels, 4 * m as u64 * rows, 4 * rows));
            }
            let read = self.ctx.read("the fitted runs", &regions)?;
            let centres =
                Array2::from_shape_vec((k, d), f32s(&read[0]).into_iter().map(f64::from).collect())
                    .expect("k x d centres");
            let labels = read[1..].iter().flat_map(|bytes| u32s(bytes)).collect();
            out.push((centres, labels));
        }
        Ok(out)
    }
}

/// Partial-sum rows (workgroups) of one pass over all chunks.
pub(super) fn partial_rows(chunk_rows: &[usize], tiles: usize) -> usize {
    chunk_rows
        .iter()
        .map(|rows| rows.div_ceil(WG as usize * tiles))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_loop: u64) -> DeviceLimits {
        DeviceLimits::with_max_loop(max_loop)
    }

    /// The loop iterations of one invocation of a group's pass.
    fn longest(plan: &GroupPlan, d: usize, ks: &[usize]) -> u64 {
        let group_ks: Vec<usize> = plan.runs.iter().map(|&r| ks[r]).collect();
        let pairs = group_ks.iter().map(|&k| pairs_of(k, d)).sum();
        bounds::lloyd_partials(d, group_ks.len(), group_ks.iter().sum(), pairs, plan.tiles)
    }

    #[test]
    fn groups_at_ten_million_users_stay_within_the_loop_bound() {
        // 10M users at d = 8: chunks of one binding (4,194,304 rows).
        let chunks = [4_194_304, 4_194_304, 1_611_392];
        for (ks, max_loop) in [
            (vec![227], 60_000),
            ((2..=10).collect::<Vec<_>>(), 60_000),
            (vec![8; 30], 60_000),
            (vec![227], 1 << 20),
        ] {
            let plans = plan_groups(&chunks, 8, &ks, &limits(max_loop)).unwrap();
            let covered: usize = plans.iter().map(|p| p.runs.len()).sum();
            assert_eq!(covered, ks.len());
            for plan in &plans {
                assert!(longest(plan, 8, &ks) <= max_loop, "{ks:?}: {plan:?}");
                assert!(bounds::reduce_columns(plan.rows) <= max_loop);
            }
        }
        // On a GPU's bound the tiles are those of before (39 at 10M).
        let plans = plan_groups(&chunks, 8, &[8], &limits(1 << 20)).unwrap();
        assert_eq!(plans[0].tiles, tiles_for(10_000_000));
        // llvmpipe's bound cuts K = 227 to fewer tiles per workgroup.
        let plans = plan_groups(&chunks, 8, &[227], &limits(60_000)).unwrap();
        assert!(plans[0].tiles < tiles_for(10_000_000));
    }

    #[test]
    fn a_run_too_large_says_why() {
        let err = plan_groups(&[1000], 8, &[300], &limits(60_000)).unwrap_err();
        assert!(err.contains("k = 300 on 8 features"), "{err}");
        assert!(err.contains("2702 partial sums"), "{err}");
        let err = plan_groups(&[1000], 8, &[8], &limits(50)).unwrap_err();
        assert!(err.contains("past the 50"), "{err}");
    }
}
