//! Lloyd on the CPU: every run's labels and centres (f64, with the f32
//! copy the kernels read) in memory, and the pass that serves all runs at
//! once: per fixed chunk of points, each tile's nearest centre for every
//! run and the per-cluster sums, the chunks' partials combined in chunk
//! order (so the result does not depend on the thread count). Also the
//! plain assignment to the nearest centre (`score`).

use ndarray::Array2;
use rayon::prelude::*;

use super::tiles::{FLUSH_TILES, LaneSums, TiledPoints, sum_f64, tile_cluster_sums};
use super::{CHUNK, CpuBackend, TILE};
use crate::backend::{ClusterSums, FinishedRun, StepStats};

/// Lloyd runs on the CPU: centres in f64 (and their f32 copy that the
/// kernels read), labels, and each run's last sums.
#[derive(Debug)]
pub struct CpuRuns {
    runs: Vec<CpuRun>,
}

#[derive(Debug)]
struct CpuRun {
    centres: Array2<f64>,
    centres_f32: Vec<f32>,
    labels: Vec<u32>,
    /// The sums of the last step, kept for re-seeding an empty cluster.
    last: Option<ClusterSums>,
}

impl CpuRuns {
    /// One run per set of initial centres (k x d each), every label unset
    /// (`u32::MAX`), so that the first step changes them all.
    pub fn new(points: &TiledPoints, inits: &[Array2<f64>]) -> Self {
        CpuRuns {
            runs: inits
                .iter()
                .map(|centres| CpuRun {
                    centres_f32: centres.iter().map(|&v| v as f32).collect(),
                    centres: centres.clone(),
                    labels: vec![u32::MAX; points.n()],
                    last: None,
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

    /// One pass for all `active` runs, then each run's centres moved to
    /// the means (f64) unless a cluster is empty.
    pub fn step(
        &mut self,
        points: &TiledPoints,
        active: &[usize],
        move_centres: bool,
    ) -> Vec<StepStats> {
        let d = points.d();
        // The active runs' labels, lent to the pass in the order asked.
        let mut labels: Vec<Vec<u32>> = active
            .iter()
            .map(|&r| std::mem::take(&mut self.runs[r].labels))
            .collect();
        let centres: Vec<&[f32]> = active
            .iter()
            .map(|&r| self.runs[r].centres_f32.as_slice())
            .collect();
        let mut label_refs: Vec<&mut [u32]> = labels.iter_mut().map(Vec::as_mut_slice).collect();
        let sums = CpuBackend.lloyd_pass(points, &centres, &mut label_refs);
        for (&r, labels) in active.iter().zip(labels) {
            self.runs[r].labels = labels;
        }
        active
            .iter()
            .zip(sums)
            .map(|(&r, s)| {
                let run = &mut self.runs[r];
                let mut stats = StepStats {
                    inertia: s.inertia,
                    changed: s.changed,
                    shift: 0.0,
                    empty: false,
                };
                if move_centres {
                    if s.counts.contains(&0) {
                        stats.empty = true;
                    } else {
                        let k = run.centres.nrows();
                        for c in 0..k {
                            let count = s.counts[c] as f64;
                            for j in 0..d {
                                let new = s.sums[c * d + j] / count;
                                let delta = new - run.centres[[c, j]];
                                stats.shift += delta * delta;
                                run.centres[[c, j]] = new;
                            }
                        }
                        run.centres_f32 = run.centres.iter().map(|&v| v as f32).collect();
                    }
                }
                run.last = Some(s);
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
    /// labels and last sums stay.
    pub fn set_centres(&mut self, run: usize, centres: Array2<f64>) {
        let r = &mut self.runs[run];
        r.centres_f32 = centres.iter().map(|&v| v as f32).collect();
        r.centres = centres;
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

impl CpuBackend {
    /// One pass over the points for several runs: for run r, with centres
    /// `centres[r]` (k x d, row-major), every point's nearest centre
    /// (lowest index on ties) written to `labels[r]` (one per point), and
    /// the run's per-cluster sums, counts, inertia and changed labels. One
    /// [`ClusterSums`] per run, in order. Panics unless `labels` holds one
    /// array per run, each of one label per point.
    pub fn lloyd_pass(
        &self,
        points: &TiledPoints,
        centres: &[&[f32]],
        labels: &mut [&mut [u32]],
    ) -> Vec<ClusterSums> {
        let d = points.d();
        let runs = centres.len();
        assert_eq!(labels.len(), runs, "one label array per run");
        let chunks = points.n().div_ceil(CHUNK);
        // Per chunk, that chunk's slice of every run's labels.
        let mut per_chunk: Vec<Vec<&mut [u32]>> =
            (0..chunks).map(|_| Vec::with_capacity(runs)).collect();
        for run_labels in labels.iter_mut() {
            assert_eq!(run_labels.len(), points.n(), "one label per point");
            for (c, part) in run_labels.chunks_mut(CHUNK).enumerate() {
                per_chunk[c].push(part);
            }
        }
        let partials: Vec<Vec<ClusterSums>> = per_chunk
            .into_par_iter()
            .enumerate()
            .map(|(c, mut chunk_labels)| {
                let mut out: Vec<ClusterSums> = centres
                    .iter()
                    .map(|cs| ClusterSums {
                        sums: vec![0.0; cs.len()],
                        counts: vec![0; cs.len() / d],
                        inertia: 0.0,
                        changed: 0,
                    })
                    .collect();
                let mut best = [0.0f32; TILE];
                let mut index = [0u32; TILE];
                let mut lanes: Vec<LaneSums> =
                    centres.iter().map(|cs| LaneSums::new(cs.len())).collect();
                for (t, global) in points.chunk_tiles(c).enumerate() {
                    let tile = points.tile(global);
                    let len = tile.len;
                    for (r, run_centres) in centres.iter().enumerate() {
                        tile.nearest(run_centres, &mut best, &mut index);
                        // Padding lanes belong to no cluster.
                        index[len..].fill(u32::MAX);
                        let acc = &mut out[r];
                        let run_labels = &mut chunk_labels[r][t * TILE..t * TILE + len];
                        for (label, &l) in run_labels.iter_mut().zip(&index) {
                            acc.changed += u64::from(*label != l);
                            *label = l;
                        }
                        tile_cluster_sums(tile.values, &index, &mut lanes[r].f32s, &mut acc.counts);
                        if (t + 1) % FLUSH_TILES == 0 {
                            lanes[r].flush();
                        }
                        acc.inertia += sum_f64(&best[..len]);
                    }
                }
                for (acc, lanes) in out.iter_mut().zip(&mut lanes) {
                    lanes.flush();
                    lanes.total_into(&mut acc.sums);
                }
                out
            })
            .collect();
        let mut total: Vec<ClusterSums> = centres
            .iter()
            .map(|cs| ClusterSums {
                sums: vec![0.0; cs.len()],
                counts: vec![0; cs.len() / d],
                inertia: 0.0,
                changed: 0,
            })
            .collect();
        for chunk in partials {
            for (acc, part) in total.iter_mut().zip(chunk) {
                for (a, b) in acc.sums.iter_mut().zip(&part.sums) {
                    *a += b;
                }
                for (a, b) in acc.counts.iter_mut().zip(&part.counts) {
                    *a += b;
                }
                acc.inertia += part.inertia;
                acc.changed += part.changed;
            }
        }
        total
    }

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
    use crate::backend::cpu::tests::{naive_nearest, points};

    #[test]
    fn lloyd_pass_matches_a_plain_loop_for_several_runs() {
        let d = 3;
        let x = points(CHUNK + 77, d, 1);
        let c1: Vec<f32> = x.as_slice()[..2 * d].to_vec();
        let c2: Vec<f32> = x.as_slice()[10 * d..15 * d].to_vec();
        let mut l1 = vec![0u32; x.n()];
        let mut l2 = vec![u32::MAX; x.n()];
        let tiled = TiledPoints::new(&x);
        let out = CpuBackend.lloyd_pass(&tiled, &[&c1, &c2], &mut [&mut l1, &mut l2]);
        for (centres, labels, sums) in [(&c1, &l1, &out[0]), (&c2, &l2, &out[1])] {
            let k = centres.len() / d;
            let mut counts = vec![0u64; k];
            let mut s = vec![0.0f64; k * d];
            let mut magnitude = vec![0.0f64; k * d];
            let mut inertia = 0.0f64;
            for (i, &label) in labels.iter().enumerate() {
                let (l, dist) = naive_nearest(x.row(i), centres, d);
                assert_eq!(label, l);
                counts[l as usize] += 1;
                inertia += f64::from(dist);
                for j in 0..d {
                    s[l as usize * d + j] += f64::from(x.row(i)[j]);
                    magnitude[l as usize * d + j] += f64::from(x.row(i)[j]).abs();
                }
            }
            assert_eq!(sums.counts, counts);
            // f32 partial sums of at most 32 values per lane, then f64.
            for ((a, b), m) in sums.sums.iter().zip(&s).zip(&magnitude) {
                assert!((a - b).abs() <= 2e-6 * m, "{a} vs {b}");
            }
            assert!((sums.inertia - inertia).abs() < 1e-9 * inertia);
        }
        assert_eq!(out[1].changed, x.n() as u64);
        let again = CpuBackend.lloyd_pass(&tiled, &[&c1], &mut [&mut l1]);
        assert_eq!(again[0].changed, 0);
    }
}
