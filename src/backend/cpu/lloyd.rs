//! Lloyd on the CPU: every run's labels and centres (f64, with the f32
//! copy the kernels read) in memory, and the pass that serves all runs at
//! once: per fixed chunk of points, each tile's nearest centre for every
//! run, and the changes of label, whose points move between the running
//! per-cluster sums. Also the plain assignment to the nearest centre
//! (`score`).
//!
//! **Sums.** Each run keeps its per-cluster sums (f64) and counts
//! consistent with its labels: a pass adds each point whose label changed
//! to its new cluster and takes it from its old one, in point order
//! within a chunk, the chunks' changes combined in chunk order. The
//! centres are therefore a function of the sequence of labellings only
//! (not of the thread count, nor of how the labels were found), and a pass
//! after the first costs in proportion to the points that moved.
//!
//! **Hamerly.** A run may skip distance computations with Hamerly's bounds
//! (2010): per point an upper bound on the distance to its centre and a
//! lower bound on the distance to any other, moved by how far the centres
//! moved, and per centre half the distance to its nearest other centre. A
//! point whose bounds prove its centre nearest keeps its label; the others
//! get their distances computed by the same kernel as Lloyd's. The proof
//! allows for the f32 rounding of the kernel's distances (see
//! [`BoundRules`]), so a point is skipped only when Lloyd's own comparison
//! would keep its label, ties included: the labels, and so the centres,
//! are Lloyd's, bit for bit.

use ndarray::Array2;
use rayon::prelude::*;

use super::tiles::{Nearest, TiledPoints, sum_f64, tile_nearest_two};
use super::{CHUNK, CpuBackend, TILE};
use crate::backend::{ClusterSums, FinishedRun, LloydAlgorithm, StepStats};

/// Lloyd runs on the CPU: centres in f64 (and their f32 copy that the
/// kernels read), labels, the per-cluster sums the labels give, and, for
/// a run that uses them, Hamerly's bounds.
#[derive(Debug)]
pub struct CpuRuns {
    runs: Vec<CpuRun>,
}

#[derive(Debug)]
struct CpuRun {
    centres: Array2<f64>,
    centres_f32: Vec<f32>,
    labels: Vec<u32>,
    /// k x d sums and k counts of the points as labelled.
    sums: Vec<f64>,
    counts: Vec<u64>,
    /// The sums of the last step, kept for re-seeding an empty cluster.
    last: Option<ClusterSums>,
    bounds: Option<Bounds>,
}

/// Hamerly's bounds of one run, as f32 rounded outwards.
#[derive(Debug)]
struct Bounds {
    /// Per point: at least the distance to its centre.
    upper: Vec<f32>,
    /// Per point: at most the distance to its nearest other centre.
    lower: Vec<f32>,
    /// Per centre: at least how far it moved since the bounds were set.
    drift: Vec<f32>,
    /// Whether the bounds hold (false until a pass sets them, and after a
    /// pass that leaves them as they were).
    valid: bool,
}

impl CpuRuns {
    /// One run per set of initial centres (k x d each), every label unset
    /// (`u32::MAX`), so that the first step changes them all. `algorithm`
    /// picks each run's way of finding the nearest centres
    /// ([`LloydAlgorithm::for_run`]).
    pub fn new(points: &TiledPoints, inits: &[Array2<f64>], algorithm: LloydAlgorithm) -> Self {
        let (n, d) = (points.n(), points.d());
        CpuRuns {
            runs: inits
                .iter()
                .map(|centres| {
                    let k = centres.nrows();
                    let bounds =
                        (algorithm.for_run(k, d) == LloydAlgorithm::Hamerly).then(|| Bounds {
                            upper: vec![0.0; n],
                            lower: vec![0.0; n],
                            drift: vec![0.0; k],
                            valid: false,
                        });
                    CpuRun {
                        centres_f32: centres.iter().map(|&v| v as f32).collect(),
                        centres: centres.clone(),
                        labels: vec![u32::MAX; n],
                        sums: vec![0.0; k * d],
                        counts: vec![0; k],
                        last: None,
                        bounds,
                    }
                })
                .collect(),
        }
    }

    /// Runs held.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no run is held.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Whether run `run` skips distances with Hamerly's bounds.
    pub fn is_hamerly(&self, run: usize) -> bool {
        self.runs[run].bounds.is_some()
    }

    /// One pass for all `active` runs, then each run's centres moved to
    /// the means (f64) unless a cluster is empty. A Hamerly pass that
    /// skipped points reports a NaN inertia; a pass that does not move the
    /// centres computes every distance (Lloyd's), so its inertia is known.
    pub fn step(
        &mut self,
        points: &TiledPoints,
        active: &[usize],
        move_centres: bool,
    ) -> Vec<StepStats> {
        let d = points.d();
        let rules = BoundRules::new(d);
        let modes: Vec<Mode> = active
            .iter()
            .map(|&r| {
                let run = &self.runs[r];
                match &run.bounds {
                    Some(b) if move_centres && b.valid => {
                        Mode::Hamerly(HamerlyPlan::new(&run.centres_f32, d, &b.drift, rules))
                    }
                    Some(_) if move_centres => Mode::Seed(rules),
                    _ => Mode::Lloyd,
                }
            })
            .collect();
        // The active runs' labels and bounds, lent to the pass.
        let mut lent: Vec<Lent> = active
            .iter()
            .map(|&r| {
                let run = &mut self.runs[r];
                let (upper, lower) = match &mut run.bounds {
                    Some(b) => (std::mem::take(&mut b.upper), std::mem::take(&mut b.lower)),
                    None => (Vec::new(), Vec::new()),
                };
                Lent {
                    labels: std::mem::take(&mut run.labels),
                    upper,
                    lower,
                }
            })
            .collect();
        let passes: Vec<RunPass<'_>> = active
            .iter()
            .zip(&modes)
            .map(|(&r, mode)| RunPass {
                centres: &self.runs[r].centres_f32,
                mode,
            })
            .collect();
        let partials = pass(points, &passes, &mut lent);
        drop(passes);
        active
            .iter()
            .zip(lent)
            .zip(modes)
            .zip(partials)
            .map(|(((&r, lent), mode), part)| {
                let run = &mut self.runs[r];
                run.labels = lent.labels;
                if let Some(b) = &mut run.bounds {
                    b.upper = lent.upper;
                    b.lower = lent.lower;
                    // A Lloyd pass leaves the bounds behind the labels.
                    b.valid = !matches!(mode, Mode::Lloyd);
                    if b.valid {
                        b.drift.fill(0.0);
                    }
                }
                for (s, delta) in run.sums.iter_mut().zip(&part.delta) {
                    *s += delta;
                }
                for (c, moved) in run.counts.iter_mut().zip(&part.moved) {
                    *c = c.wrapping_add_signed(*moved);
                }
                let mut stats = StepStats {
                    inertia: part.inertia,
                    changed: part.changed,
                    shift: 0.0,
                    empty: false,
                };
                if move_centres {
                    if run.counts.contains(&0) {
                        stats.empty = true;
                    } else {
                        let k = run.centres.nrows();
                        let mut centres = run.centres.clone();
                        for c in 0..k {
                            let count = run.counts[c] as f64;
                            for j in 0..d {
                                let new = run.sums[c * d + j] / count;
                                let delta = new - centres[[c, j]];
                                stats.shift += delta * delta;
                                centres[[c, j]] = new;
                            }
                        }
                        run.set_centres(centres, d);
                    }
                }
                run.last = Some(ClusterSums {
                    sums: run.sums.clone(),
                    counts: run.counts.clone(),
                    inertia: part.inertia,
                    changed: part.changed,
                });
                stats
            })
            .collect()
    }

    /// The last sums of run `run`, its labels and its (unmoved) centres.
    pub fn sums(&self, run: usize) -> (ClusterSums, Vec<u32>, Array2<f64>) {
        let r = &self.runs[run];
        (
            r.last.clone().expect("a step ran"),
            r.labels.clone(),
            r.centres.clone(),
        )
    }

    /// Replaces the centres of run `run` (k x d) and their f32 copy; its
    /// labels and sums stay (its bounds allow for the move).
    pub fn set_centres(&mut self, run: usize, centres: Array2<f64>) {
        let d = centres.ncols();
        self.runs[run].set_centres(centres, d);
    }

    /// The centres (k x d) and labels of every run, in the order of the
    /// initial centres given to [`CpuRuns::new`].
    pub fn finish(self) -> Vec<FinishedRun> {
        self.runs
            .into_iter()
            .map(|r| (r.centres, r.labels))
            .collect()
    }
}

impl CpuRun {
    /// New centres, and the distance each moved added to its drift.
    fn set_centres(&mut self, centres: Array2<f64>, d: usize) {
        let new: Vec<f32> = centres.iter().map(|&v| v as f32).collect();
        if let Some(b) = &mut self.bounds {
            for (c, drift) in b.drift.iter_mut().enumerate() {
                let moved = distance_f64(
                    &self.centres_f32[c * d..(c + 1) * d],
                    &new[c * d..(c + 1) * d],
                );
                *drift = up32(f64::from(*drift) + moved * (1.0 + 1e-12));
            }
        }
        self.centres_f32 = new;
        self.centres = centres;
    }
}

/// Euclidean distance of two f32 points, in f64 (relative error near
/// 1e-16).
fn distance_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let t = f64::from(x) - f64::from(y);
            t * t
        })
        .sum::<f64>()
        .sqrt()
}

/// The f32 at or above `x`.
fn up32(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// The f32 at or below `x`.
fn down32(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x { f.next_down() } else { f }
}

/// f32 factors that move a product or sum of positive f32 values past its
/// rounding: `fl(fl(a + b) * UP) >= a + b` and `fl(fl(a - b) * DOWN) <= a
/// - b` (one unit of f32 rounding is at most 2^-24 relative).
const UP: f32 = 1.0 + 1.0 / (1u32 << 22) as f32;
const DOWN: f32 = 1.0 - 1.0 / (1u32 << 22) as f32;
/// A lower bound at or below this proves nothing: squared distances this
/// small may have lost their relative precision to f32 underflow.
const LB_MIN: f32 = 1e-12;

/// How the f32 distances of the kernels relate to exact ones, for `d`
/// features. The kernel's squared distance `D~ = sum_j fl(x_j - c_j)^2`,
/// summed in f32, is within a relative `(d + 2) 2^-24` of the exact `D`
/// (each term's difference, square and addition round once), plus a
/// tiny absolute `tau` where squares underflow. `kappa` doubles that
/// relative allowance. A point keeps its label without a distance being
/// computed only when its lower bound `l` on every other centre and its
/// upper bound `u` on its own satisfy `l^2 (1 - kappa) > u^2 (1 + kappa)`,
/// so that the kernel's comparison of `D~` would keep it too, strictly.
/// The bounds are f32, each operation's rounding covered by a factor of
/// `1 +- 2^-22` ([`UP`], [`DOWN`]).
#[derive(Debug, Clone, Copy)]
struct BoundRules {
    /// `1 / (1 - kappa)`, rounded up, and `1 / (1 + kappa)`, rounded down.
    widen: f32,
    narrow: f32,
    tau: f32,
    /// `sqrt((1 + kappa) / (1 - kappa))`, raised past one f32 rounding.
    rho: f32,
}

impl BoundRules {
    fn new(d: usize) -> Self {
        let unit = 2f64.powi(-24);
        let kappa = (2 * d + 8) as f64 * unit;
        BoundRules {
            widen: up32(1.0 / (1.0 - kappa)),
            narrow: down32(1.0 / (1.0 + kappa)),
            tau: up32((d + 2) as f64 * f64::from(f32::MIN_POSITIVE)),
            rho: up32(((1.0 + kappa) / (1.0 - kappa)).sqrt() * (1.0 + 4.0 * unit)),
        }
    }

    /// An upper bound on the exact distance whose kernel square is
    /// `computed`: each of the four roundings loses at most 2^-24, which
    /// the final `UP` more than restores.
    #[inline(always)]
    fn upper(&self, computed: f32) -> f32 {
        (computed * self.widen + self.tau).sqrt() * UP
    }

    /// A lower bound on the exact distance whose kernel square is
    /// `computed` (infinite stays infinite).
    #[inline(always)]
    fn lower(&self, computed: f32) -> f32 {
        ((computed - self.tau).max(0.0) * self.narrow).sqrt() * DOWN
    }

    /// Whether bounds `upper` (own centre) and `lower` (every other)
    /// prove the own centre strictly nearest under the kernel's rounding.
    #[inline(always)]
    fn proves(&self, upper: f32, lower: f32) -> bool {
        // `&`, not `&&`: no branch, so that loops over lanes vectorise.
        (lower > LB_MIN) & (upper * self.rho < lower)
    }
}

/// What a Hamerly pass needs of a run's centres.
#[derive(Debug)]
struct HamerlyPlan {
    rules: BoundRules,
    /// Per centre: how far it moved since the bounds were set (rounded up).
    drift: Vec<f32>,
    /// Per centre: half the distance to the nearest other centre (rounded
    /// down; infinite with one centre).
    half_gap: Vec<f32>,
    /// The centres transposed (d rows of k), for gathers by label.
    columns: Vec<f32>,
    /// The largest drift, its centre, and the largest of the others: how
    /// far a point's lower bound falls.
    top: f32,
    top_at: u32,
    top_other: f32,
}

impl HamerlyPlan {
    fn new(centres: &[f32], d: usize, drift: &[f32], rules: BoundRules) -> Self {
        let k = drift.len();
        let half_gap: Vec<f32> = (0..k)
            .into_par_iter()
            .map(|a| {
                let mine = &centres[a * d..(a + 1) * d];
                let nearest = (0..k)
                    .filter(|&c| c != a)
                    .map(|c| distance_f64(mine, &centres[c * d..(c + 1) * d]))
                    .fold(f64::INFINITY, f64::min);
                down32(0.5 * nearest * (1.0 - 1e-12))
            })
            .collect();
        let (mut top, mut top_at, mut top_other) = (0.0f32, 0u32, 0.0f32);
        for (c, &m) in drift.iter().enumerate() {
            if m > top {
                top_other = top;
                top = m;
                top_at = c as u32;
            } else if m > top_other {
                top_other = m;
            }
        }
        let mut columns = vec![0.0f32; k * d];
        for (c, centre) in centres.chunks_exact(d.max(1)).enumerate() {
            for (j, &v) in centre.iter().enumerate() {
                columns[j * k + c] = v;
            }
        }
        HamerlyPlan {
            rules,
            drift: drift.to_vec(),
            half_gap,
            columns,
            top,
            top_at,
            top_other,
        }
    }
}

/// How a pass finds a run's labels.
#[derive(Debug)]
enum Mode {
    /// Every distance (and the inertia).
    Lloyd,
    /// Every distance, and Hamerly's bounds set from them.
    Seed(BoundRules),
    /// Hamerly: only the points the bounds do not settle.
    Hamerly(HamerlyPlan),
}

/// A run as one pass reads it.
struct RunPass<'a> {
    centres: &'a [f32],
    mode: &'a Mode,
}

/// A run's labels and bounds, lent to a pass (the bounds empty for a run
/// without them).
struct Lent {
    labels: Vec<u32>,
    upper: Vec<f32>,
    lower: Vec<f32>,
}

/// One chunk's share of a run: its labels and bounds.
struct View<'a> {
    labels: &'a mut [u32],
    upper: &'a mut [f32],
    lower: &'a mut [f32],
}

/// What a pass found for one run (in one chunk, then in all): the change
/// of the k x d sums and of the counts from the points that changed
/// cluster, the inertia (NaN when points were skipped) and how many
/// labels changed.
struct Partial {
    delta: Vec<f64>,
    moved: Vec<i64>,
    inertia: f64,
    changed: u64,
}

impl Partial {
    fn new(k: usize, d: usize) -> Self {
        Partial {
            delta: vec![0.0; k * d],
            moved: vec![0; k],
            inertia: 0.0,
            changed: 0,
        }
    }

    /// Point `x` (feature j at `x(j)`) moved from cluster `old` (none for
    /// `u32::MAX`) to `new`.
    #[inline]
    fn moved(&mut self, x: impl Fn(usize) -> f32, d: usize, old: u32, new: u32) {
        self.changed += 1;
        if old != u32::MAX {
            let o = old as usize;
            for j in 0..d {
                self.delta[o * d + j] -= f64::from(x(j));
            }
            self.moved[o] -= 1;
        }
        let c = new as usize;
        for j in 0..d {
            self.delta[c * d + j] += f64::from(x(j));
        }
        self.moved[c] += 1;
    }

    fn add(&mut self, other: &Partial) {
        for (a, b) in self.delta.iter_mut().zip(&other.delta) {
            *a += b;
        }
        for (a, b) in self.moved.iter_mut().zip(&other.moved) {
            *a += b;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
    }
}

/// One pass over the points for several runs, parallel over fixed chunks
/// whose partials are added in chunk order.
fn pass(points: &TiledPoints, runs: &[RunPass<'_>], lent: &mut [Lent]) -> Vec<Partial> {
    let d = points.d();
    let chunks = points.n().div_ceil(CHUNK);
    let mut per_chunk: Vec<Vec<View<'_>>> = (0..chunks)
        .map(|_| Vec::with_capacity(runs.len()))
        .collect();
    for run in lent.iter_mut() {
        assert_eq!(run.labels.len(), points.n(), "one label per point");
        let mut upper = run.upper.chunks_mut(CHUNK);
        let mut lower = run.lower.chunks_mut(CHUNK);
        for (c, labels) in run.labels.chunks_mut(CHUNK).enumerate() {
            per_chunk[c].push(View {
                labels,
                upper: upper.next().unwrap_or_default(),
                lower: lower.next().unwrap_or_default(),
            });
        }
    }
    let partials: Vec<Vec<Partial>> = per_chunk
        .into_par_iter()
        .enumerate()
        .map(|(c, views)| {
            runs.iter()
                .zip(views)
                .map(|(run, view)| match run.mode {
                    Mode::Lloyd => lloyd_chunk(points, c, run.centres, view),
                    Mode::Seed(rules) => seed_chunk(points, c, run.centres, view, rules),
                    Mode::Hamerly(plan) => hamerly_chunk(points, c, run.centres, view, plan),
                })
                .collect()
        })
        .collect();
    let mut total: Vec<Partial> = runs
        .iter()
        .map(|run| Partial::new(run.centres.len() / d.max(1), d))
        .collect();
    for chunk in &partials {
        for (acc, part) in total.iter_mut().zip(chunk) {
            acc.add(part);
        }
    }
    total
}

/// Every point's nearest centre, the changes of label and the inertia.
fn lloyd_chunk(points: &TiledPoints, c: usize, centres: &[f32], view: View<'_>) -> Partial {
    let d = points.d();
    let mut part = Partial::new(centres.len() / d.max(1), d);
    let mut best = [0.0f32; TILE];
    let mut index = [0u32; TILE];
    for (t, global) in points.chunk_tiles(c).enumerate() {
        points.prefetch_ahead(global);
        let tile = points.tile(global);
        tile.nearest(centres, &mut best, &mut index);
        let labels = &mut view.labels[t * TILE..t * TILE + tile.len];
        // Most tiles keep every label after the first passes: one
        // vectorised test, then the per-point work only where one moved.
        let moved = labels
            .iter()
            .zip(&index)
            .fold(0u32, |any, (&old, &new)| any | (old ^ new));
        if moved != 0 {
            for (lane, (label, &new)) in labels.iter_mut().zip(&index).enumerate() {
                if *label != new {
                    part.moved(|j| tile.values[j * TILE + lane], d, *label, new);
                    *label = new;
                }
            }
        }
        part.inertia += sum_f64(&best[..tile.len]);
    }
    part
}

/// [`lloyd_chunk`], setting Hamerly's bounds from the two nearest centres.
fn seed_chunk(
    points: &TiledPoints,
    c: usize,
    centres: &[f32],
    mut view: View<'_>,
    rules: &BoundRules,
) -> Partial {
    let d = points.d();
    let mut part = Partial::new(centres.len() / d.max(1), d);
    let mut near = Nearest::new();
    for (t, global) in points.chunk_tiles(c).enumerate() {
        points.prefetch_ahead(global);
        let tile = points.tile(global);
        tile_nearest_two(tile.values, d, centres, &mut near);
        let span = t * TILE..t * TILE + tile.len;
        for (lane, p) in span.enumerate() {
            settle_point(tile.values, lane, p, &near, d, rules, &mut view, &mut part);
        }
        part.inertia += sum_f64(&near.best[..tile.len]);
    }
    part
}

/// Points the bounds did not settle, gathered into a transposed tile for
/// the distance kernel, with their places in the chunk.
struct Pending {
    values: Vec<f32>,
    at: Vec<usize>,
}

/// Hamerly's pass over one chunk ([`bound_tile`] per tile); the points
/// the bounds do not settle get their distances to every centre computed,
/// in batches of a tile. Labels change in point order, as in
/// [`lloyd_chunk`].
fn hamerly_chunk(
    points: &TiledPoints,
    c: usize,
    centres: &[f32],
    mut view: View<'_>,
    plan: &HamerlyPlan,
) -> Partial {
    let d = points.d();
    let rules = &plan.rules;
    let mut part = Partial::new(centres.len() / d.max(1), d);
    part.inertia = f64::NAN;
    let mut pending = Pending {
        values: vec![0.0; TILE * d],
        at: Vec::with_capacity(TILE),
    };
    let mut near = Nearest::new();
    let mut lanes = Lanes {
        labels: [0; TILE],
        upper: [0.0; TILE],
        lower: [0.0; TILE],
        proved: [false; TILE],
    };
    for (t, global) in points.chunk_tiles(c).enumerate() {
        points.prefetch_ahead(global);
        let tile = points.tile(global);
        let span = t * TILE..t * TILE + tile.len;
        lanes.labels[..tile.len].copy_from_slice(&view.labels[span.clone()]);
        lanes.upper[..tile.len].copy_from_slice(&view.upper[span.clone()]);
        lanes.lower[..tile.len].copy_from_slice(&view.lower[span.clone()]);
        // Padding lanes: a real centre, and bounds that prove nothing.
        lanes.labels[tile.len..].fill(0);
        lanes.upper[tile.len..].fill(0.0);
        lanes.lower[tile.len..].fill(0.0);
        #[cfg(target_arch = "x86_64")]
        if super::avx512::available() {
            // SAFETY: the CPU has AVX-512F; the tile holds d x TILE values.
            unsafe { bound_tile_avx512(tile.values, d, plan, &mut lanes) };
        } else {
            bound_tile(tile.values, d, plan, &mut lanes);
        }
        #[cfg(not(target_arch = "x86_64"))]
        bound_tile(tile.values, d, plan, &mut lanes);
        view.upper[span.clone()].copy_from_slice(&lanes.upper[..tile.len]);
        view.lower[span.clone()].copy_from_slice(&lanes.lower[..tile.len]);
        for (lane, p) in span.enumerate() {
            if lanes.proved[lane] {
                continue;
            }
            let slot = pending.at.len();
            for j in 0..d {
                pending.values[j * TILE + slot] = tile.values[j * TILE + lane];
            }
            pending.at.push(p);
            if pending.at.len() == TILE {
                settle(
                    &mut pending,
                    centres,
                    d,
                    rules,
                    &mut view,
                    &mut near,
                    &mut part,
                );
            }
        }
    }
    settle(
        &mut pending,
        centres,
        d,
        rules,
        &mut view,
        &mut near,
        &mut part,
    );
    part
}

/// [`bound_tile`] in AVX-512 intrinsics (the compiler leaves the portable
/// loops' gathers by label scalar): the same operations in the same order.
///
/// # Safety
/// The CPU must have AVX-512F; `values` holds d x TILE values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bound_tile_avx512(values: &[f32], d: usize, plan: &HamerlyPlan, lanes: &mut Lanes) {
    use std::arch::x86_64::*;
    assert_eq!(values.len(), d * TILE, "a transposed tile");
    let rules = &plan.rules;
    let k = plan.drift.len();
    assert!(k > 0 && plan.half_gap.len() == k && plan.columns.len() == k * d);
    let last = _mm512_set1_epi32(k as i32 - 1);
    let (up, down, zero) = (
        _mm512_set1_ps(UP),
        _mm512_set1_ps(DOWN),
        _mm512_setzero_ps(),
    );
    let (rho, lb_min) = (_mm512_set1_ps(rules.rho), _mm512_set1_ps(LB_MIN));
    let proves = |upper: __m512, lower: __m512| -> u16 {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(lower, lb_min)
            & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_mul_ps(upper, rho), lower)
    };
    let mut index = [_mm512_setzero_si512(); TILE / 16];
    let mut gap = [zero; TILE / 16];
    let mut proved = [0u16; TILE / 16];
    for b in 0..TILE / 16 {
        // SAFETY: the lanes arrays hold TILE values, read 16 at a time; the
        // gathers read below k (labels are clamped to k - 1).
        unsafe {
            let labels = _mm512_loadu_si512(lanes.labels.as_ptr().add(16 * b).cast());
            index[b] = _mm512_min_epu32(labels, last);
            let drift = _mm512_i32gather_ps::<4>(index[b], plan.drift.as_ptr().cast());
            let half = _mm512_i32gather_ps::<4>(index[b], plan.half_gap.as_ptr().cast());
            let is_top = _mm512_cmpeq_epi32_mask(labels, _mm512_set1_epi32(plan.top_at as i32));
            let fall = _mm512_mask_blend_ps(
                is_top,
                _mm512_set1_ps(plan.top),
                _mm512_set1_ps(plan.top_other),
            );
            let upper = _mm512_mul_ps(
                _mm512_add_ps(_mm512_loadu_ps(lanes.upper.as_ptr().add(16 * b)), drift),
                up,
            );
            let lower = _mm512_max_ps(
                _mm512_mul_ps(
                    _mm512_sub_ps(_mm512_loadu_ps(lanes.lower.as_ptr().add(16 * b)), fall),
                    down,
                ),
                zero,
            );
            _mm512_storeu_ps(lanes.upper.as_mut_ptr().add(16 * b), upper);
            _mm512_storeu_ps(lanes.lower.as_mut_ptr().add(16 * b), lower);
            gap[b] = _mm512_add_ps(half, half);
            let by_gap = _mm512_mul_ps(_mm512_sub_ps(gap[b], upper), down);
            proved[b] = proves(upper, _mm512_max_ps(lower, by_gap));
        }
    }
    if proved.iter().all(|&m| m == u16::MAX) {
        lanes.proved = [true; TILE];
        return;
    }
    let (widen, tau) = (_mm512_set1_ps(rules.widen), _mm512_set1_ps(rules.tau));
    for b in 0..TILE / 16 {
        let mut own = zero;
        for j in 0..d {
            // SAFETY: column j of the tile holds TILE values; the gather
            // reads row j of the k x d transposed centres below k.
            unsafe {
                let x = _mm512_loadu_ps(values.as_ptr().add(j * TILE + 16 * b));
                let c = _mm512_i32gather_ps::<4>(index[b], plan.columns.as_ptr().add(j * k).cast());
                let t = _mm512_sub_ps(x, c);
                own = _mm512_add_ps(own, _mm512_mul_ps(t, t));
            }
        }
        let upper = _mm512_mul_ps(
            _mm512_sqrt_ps(_mm512_add_ps(_mm512_mul_ps(own, widen), tau)),
            up,
        );
        // SAFETY: as above, 16 lanes at a time.
        unsafe {
            _mm512_storeu_ps(lanes.upper.as_mut_ptr().add(16 * b), upper);
            let lower = _mm512_loadu_ps(lanes.lower.as_ptr().add(16 * b));
            let by_gap = _mm512_mul_ps(_mm512_sub_ps(gap[b], upper), down);
            proved[b] = proves(upper, _mm512_max_ps(lower, by_gap));
        }
    }
    for (l, p) in lanes.proved.iter_mut().enumerate() {
        *p = proved[l / 16] >> (l % 16) & 1 == 1;
    }
}

/// A tile's labels and bounds, padded to whole tiles, and which points
/// the bounds prove.
#[derive(Clone, Copy)]
struct Lanes {
    labels: [u32; TILE],
    upper: [f32; TILE],
    lower: [f32; TILE],
    proved: [bool; TILE],
}

/// Hamerly's test for one tile: the bounds moved by the centres' drift
/// (the upper up by the own centre's, the lower down by the largest
/// other's); where they prove nothing for some point, every point's upper
/// bound is tightened to its distance from its own centre (the kernel's
/// arithmetic), and the test is made again.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
// One index over the lanes of several arrays: loops the compiler
// vectorises (labels are clamped below k so that the gathers need no
// bounds checks; they are below k already).
#[allow(clippy::needless_range_loop)]
fn bound_tile(values: &[f32], d: usize, plan: &HamerlyPlan, lanes: &mut Lanes) {
    let rules = &plan.rules;
    let k = plan.drift.len();
    let (drift, half_gap) = (&plan.drift[..k], &plan.half_gap[..k]);
    let mut gap = [0.0f32; TILE];
    let mut unproved = 0u32;
    for l in 0..TILE {
        let a = (lanes.labels[l] as usize).min(k - 1);
        let fall = if lanes.labels[l] == plan.top_at {
            plan.top_other
        } else {
            plan.top
        };
        let upper = (lanes.upper[l] + drift[a]) * UP;
        let lower = ((lanes.lower[l] - fall) * DOWN).max(0.0);
        lanes.upper[l] = upper;
        lanes.lower[l] = lower;
        gap[l] = 2.0 * half_gap[a];
        let proved = rules.proves(upper, lower.max((gap[l] - upper) * DOWN));
        lanes.proved[l] = proved;
        unproved += u32::from(!proved);
    }
    if unproved == 0 {
        return;
    }
    let mut own = [0.0f32; TILE];
    for j in 0..d {
        let column: &[f32; TILE] = values[j * TILE..(j + 1) * TILE]
            .try_into()
            .expect("TILE values");
        let centre = &plan.columns[j * k..(j + 1) * k];
        for l in 0..TILE {
            let t = column[l] - centre[(lanes.labels[l] as usize).min(k - 1)];
            own[l] += t * t;
        }
    }
    for l in 0..TILE {
        let upper = rules.upper(own[l]);
        lanes.upper[l] = upper;
        lanes.proved[l] = rules.proves(upper, lanes.lower[l].max((gap[l] - upper) * DOWN));
    }
}

/// Point `p` of the chunk, lane `lane` of the transposed tile `values`
/// whose [`Nearest`] is `near`: its new label (a change recorded) and
/// bounds.
#[allow(clippy::too_many_arguments)]
#[inline]
fn settle_point(
    values: &[f32],
    lane: usize,
    p: usize,
    near: &Nearest,
    d: usize,
    rules: &BoundRules,
    view: &mut View<'_>,
    part: &mut Partial,
) {
    let new = near.index[lane];
    let old = view.labels[p];
    if old != new {
        part.moved(|j| values[j * TILE + lane], d, old, new);
        view.labels[p] = new;
    }
    view.upper[p] = rules.upper(near.best[lane]);
    view.lower[p] = rules.lower(near.second[lane]);
}

/// Computes every distance of the pending points: new labels (the changes
/// recorded in point order) and bounds.
fn settle(
    pending: &mut Pending,
    centres: &[f32],
    d: usize,
    rules: &BoundRules,
    view: &mut View<'_>,
    near: &mut Nearest,
    part: &mut Partial,
) {
    if pending.at.is_empty() {
        return;
    }
    tile_nearest_two(&pending.values, d, centres, near);
    for (slot, &p) in pending.at.iter().enumerate() {
        settle_point(&pending.values, slot, p, near, d, rules, view, part);
    }
    pending.at.clear();
}

impl CpuBackend {
    /// Nearest centre (k x d, row-major; lowest index on ties) and squared
    /// distance to it, for every point, into `labels` and `distances`
    /// (one value per point each).
    pub fn assign_nearest(
        &self,
        points: &TiledPoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) {
        labels
            .par_chunks_mut(CHUNK)
            .zip(distances.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (labels, distances))| {
                let mut best = [0.0f32; TILE];
                let mut index = [0u32; TILE];
                for ((t, labels), distances) in points
                    .chunk_tiles(c)
                    .zip(labels.chunks_mut(TILE))
                    .zip(distances.chunks_mut(TILE))
                {
                    points.prefetch_ahead(t);
                    let tile = points.tile(t);
                    tile.nearest(centres, &mut best, &mut index);
                    labels.copy_from_slice(&index[..tile.len]);
                    distances.copy_from_slice(&best[..tile.len]);
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::tests::{matrix, naive_nearest, points};
    use crate::features::matrix::FeatureMatrix;

    fn centres_of(x: &FeatureMatrix, rows: &[usize]) -> Array2<f64> {
        let d = x.d();
        Array2::from_shape_fn((rows.len(), d), |(c, j)| f64::from(x.row(rows[c])[j]))
    }

    #[test]
    fn a_pass_matches_a_plain_loop() {
        let d = 3;
        let x = points(CHUNK + 77, d, 1);
        let tiled = TiledPoints::new(&x);
        let init = centres_of(&x, &[10, 11, 12, 13, 14]);
        let mut runs = CpuRuns::new(&tiled, std::slice::from_ref(&init), LloydAlgorithm::Lloyd);
        let stats = runs.step(&tiled, &[0], false);
        let (sums, labels, _) = runs.sums(0);
        let centres: Vec<f32> = init.iter().map(|&v| v as f32).collect();
        let k = init.nrows();
        let mut counts = vec![0u64; k];
        let mut s = vec![0.0f64; k * d];
        let mut inertia = 0.0f64;
        for (i, &label) in labels.iter().enumerate() {
            let (l, dist) = naive_nearest(x.row(i), &centres, d);
            assert_eq!(label, l);
            counts[l as usize] += 1;
            inertia += f64::from(dist);
            for j in 0..d {
                s[l as usize * d + j] += f64::from(x.row(i)[j]);
            }
        }
        assert_eq!(sums.counts, counts);
        // f64 sums of f32 values: only the order of the additions differs.
        for (a, b) in sums.sums.iter().zip(&s) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert!((stats[0].inertia - inertia).abs() < 1e-9 * inertia);
        assert_eq!(stats[0].changed, x.n() as u64);
        // Nothing moved: a second pass changes nothing, and the sums stay.
        let again = runs.step(&tiled, &[0], true);
        assert_eq!(again[0].changed, 0);
        assert_eq!(runs.sums(0).0.sums, sums.sums);
    }

    /// One step's labels, centres (f64 bits) and changed labels.
    type Step = (Vec<u32>, Vec<u64>, u64);

    /// Runs Lloyd steps from `init` until no label changes (or 60 steps):
    /// per step the labels, centres (f64 bits) and changed count, and the
    /// number of steps whose inertia was left unknown (skipped points).
    fn trajectory(
        x: &FeatureMatrix,
        init: &Array2<f64>,
        algorithm: LloydAlgorithm,
    ) -> (Vec<Step>, usize) {
        let tiled = TiledPoints::new(x);
        let mut runs = CpuRuns::new(&tiled, std::slice::from_ref(init), algorithm);
        let mut steps = Vec::new();
        let mut skipped = 0;
        for _ in 0..60 {
            let stats = runs.step(&tiled, &[0], true)[0];
            skipped += usize::from(stats.inertia.is_nan());
            let (_, labels, centres) = runs.sums(0);
            steps.push((
                labels,
                centres.iter().map(|v| v.to_bits()).collect(),
                stats.changed,
            ));
            if stats.changed == 0 || stats.empty {
                break;
            }
        }
        (steps, skipped)
    }

    #[test]
    fn hamerly_gives_lloyds_labels_and_centres_bit_for_bit() {
        // Clustered points (a few blobs, many centres), several widths.
        for (d, k, seed) in [(1, 7, 3), (2, 12, 4), (3, 30, 5), (8, 20, 6), (17, 9, 7)] {
            let raw = points(2 * CHUNK + 333, d, seed);
            let mut values = raw.as_slice().to_vec();
            for (i, v) in values.iter_mut().enumerate() {
                // Shift each point towards one of five blob centres.
                *v = *v * 0.3 + ((i / d) % 5) as f32 * 1.7;
            }
            let x = FeatureMatrix::from_rows(raw.n(), d, values);
            let rows: Vec<usize> = (0..k).map(|c| c * 97 + 5).collect();
            let init = centres_of(&x, &rows);
            let (lloyd, none) = trajectory(&x, &init, LloydAlgorithm::Lloyd);
            let (hamerly, skipped) = trajectory(&x, &init, LloydAlgorithm::Hamerly);
            assert_eq!(none, 0);
            assert!(lloyd.len() > 3, "d {d}: {} steps", lloyd.len());
            assert!(skipped > 0, "d {d}: the bounds never skipped a point");
            assert_eq!(lloyd.len(), hamerly.len(), "d {d}");
            for (step, (a, b)) in lloyd.iter().zip(&hamerly).enumerate() {
                assert_eq!(a.2, b.2, "d {d} step {step}: changed");
                assert!(a.0 == b.0, "d {d} step {step}: labels differ");
                assert!(a.1 == b.1, "d {d} step {step}: centres differ");
            }
        }
    }

    #[test]
    fn hamerly_keeps_lloyds_ties() {
        // Points on a small integer grid, centres on and between them: many
        // exact ties, which go to the lowest index in both.
        let n = CHUNK + 500;
        let values: Vec<f32> = (0..n * 2).map(|i| ((i * 7 + i / 3) % 4) as f32).collect();
        let x = matrix(2, &values);
        let init = Array2::from_shape_vec(
            (6, 2),
            vec![0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 3.0, 0.0, 0.0, 3.0, 2.0, 2.0],
        )
        .expect("6 x 2");
        let (lloyd, _) = trajectory(&x, &init, LloydAlgorithm::Lloyd);
        let (hamerly, _) = trajectory(&x, &init, LloydAlgorithm::Hamerly);
        assert_eq!(lloyd, hamerly);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_portable_and_avx512_bound_tests_agree() {
        if !super::super::avx512::available() {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        for (d, k) in [(1usize, 1usize), (3, 5), (8, 40)] {
            let x = points(TILE + k, d, (d * k) as u64);
            let centres = &x.as_slice()[TILE * d..];
            let drift: Vec<f32> = (0..k).map(|c| (c % 4) as f32 * 0.01).collect();
            let plan = HamerlyPlan::new(centres, d, &drift, BoundRules::new(d));
            let tile = TiledPoints::new(&x);
            let values = tile.tile(0).values;
            let mut lanes = Lanes {
                labels: std::array::from_fn(|l| (l % k) as u32),
                upper: std::array::from_fn(|l| (l % 7) as f32 * 0.2),
                lower: std::array::from_fn(|l| (l % 5) as f32 * 0.5),
                proved: [false; TILE],
            };
            let mut wide = lanes;
            bound_tile(values, d, &plan, &mut lanes);
            // SAFETY: AVX-512F is available (checked above).
            unsafe { bound_tile_avx512(values, d, &plan, &mut wide) };
            assert_eq!(lanes.proved, wide.proved, "d {d} k {k}");
            assert_eq!(lanes.upper.map(f32::to_bits), wide.upper.map(f32::to_bits));
            assert_eq!(lanes.lower.map(f32::to_bits), wide.lower.map(f32::to_bits));
        }
    }

    #[test]
    fn bounds_hold_for_the_kernels_distances() {
        // The rules' bounds contain the exact distance of an f32 point and
        // centre, whatever the kernel's rounding of its square.
        for d in [1usize, 3, 8, 40] {
            let rules = BoundRules::new(d);
            let x = points(500, d, d as u64);
            for i in 0..x.n() - 1 {
                let (a, b) = (x.row(i), x.row(i + 1));
                let exact = distance_f64(a, b);
                let mut computed = 0.0f32;
                for (&p, &q) in a.iter().zip(b) {
                    let t = p - q;
                    computed += t * t;
                }
                assert!(f64::from(rules.upper(computed)) >= exact, "d {d}");
                assert!(f64::from(rules.lower(computed)) <= exact, "d {d}");
            }
            assert_eq!(rules.lower(f32::INFINITY), f32::INFINITY);
            assert!(!rules.proves(1.0, 1.0));
        }
    }
}
