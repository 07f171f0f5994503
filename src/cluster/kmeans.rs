//! K-Means: greedy k-means++ seeding and Lloyd iterations, run for several
//! (K, restart) pairs at once so that every pass over the points serves
//! all runs still iterating (README, "Clustering", "a sweep shares work").
//!
//! The rules follow scikit-learn's `KMeans(algorithm="lloyd")` so that
//! results can be checked against it: the tolerance is relative to the
//! mean column variance, iterations stop when no label changes or when
//! the summed squared centre shift is within tolerance (then labels are
//! assigned once more to the final centres), and an empty cluster is
//! re-seeded, in the same iteration, with the point farthest from its
//! centre, which leaves its old cluster.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::ClusterError;
use super::params::KMeansParams;
use crate::backend::{
    Backend, BackendError, CpuBackend, Kernels, LloydAlgorithm, SAMPLER_BLOCK, with_kernels,
};
use crate::features::matrix::FeatureMatrix;

/// A fitted K-Means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k x d centres, in the working coordinates of the points (see
    /// [`crate::features::matrix::Frame`]; a [`super::Sweep`] gives them
    /// in scaled space).
    pub centres: Array2<f64>,
    /// The cluster of each point (0 to k - 1), in the points' order.
    pub labels: Vec<u32>,
    /// Sum of squared distances of the points to their centres, in the
    /// same coordinates.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub n_iter: usize,
    /// Whether it stopped before `max_iter`.
    pub converged: bool,
}

impl KMeans {
    /// Clusters: the rows of `centres`.
    pub fn k(&self) -> usize {
        self.centres.nrows()
    }

    /// Points per cluster.
    pub fn sizes(&self) -> Vec<u64> {
        let mut sizes = vec![0u64; self.k()];
        for &l in &self.labels {
            sizes[l as usize] += 1;
        }
        sizes
    }
}

/// The seed of restart `restart` for `k` clusters: a fit with `--k 4` and
/// the K = 4 run of a sweep with the same `--seed` start alike.
pub fn run_seed(seed: u64, k: usize, restart: usize) -> u64 {
    seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (restart as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
}

/// Fits one K-Means model: `n_init` restarts, the lowest inertia kept.
pub fn fit(
    backend: &Backend,
    points: &FeatureMatrix,
    params: &KMeansParams,
) -> Result<KMeans, ClusterError> {
    Ok(fit_each_k(backend, points, &[params.k], params)?
        .pop()
        .expect("one k"))
}

/// Fits one model per K in `ks` (`params.k` is ignored), all restarts of
/// all K iterating together: in batches whose labels take at most
/// [`RUN_LABEL_BUDGET`] bytes, so memory stays bounded whatever the number
/// of restarts.
pub fn fit_each_k(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &KMeansParams,
) -> Result<Vec<KMeans>, ClusterError> {
    for &k in ks {
        KMeansParams {
            k,
            ..params.clone()
        }
        .validate(points.n())?;
    }
    with_kernels!(backend, kernels => fit_each_k_on(kernels, points, ks, params))
}

/// [`fit_each_k`] on one backend's kernels.
fn fit_each_k_on<K: Kernels>(
    backend: &K,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &KMeansParams,
) -> Result<Vec<KMeans>, ClusterError> {
    let device = backend.upload(points)?;
    let runs: Vec<(usize, usize)> = ks
        .iter()
        .flat_map(|&k| (0..params.n_init).map(move |r| (k, r)))
        .collect();
    let per_batch = (RUN_LABEL_BUDGET / (4 * points.n()).max(1)).max(1);
    let mut fits: Vec<KMeans> = Vec::with_capacity(runs.len());
    for batch in runs.chunks(per_batch) {
        let inits = batch
            .iter()
            .map(|&(k, r)| match &params.init {
                Some(init) if init.nrows() == k => Ok(init.clone()),
                _ => seed_centres(backend, points, &device, k, run_seed(params.seed, k, r)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        fits.extend(lloyd_resident(
            backend,
            points,
            &device,
            inits,
            params.max_iter,
            params.tol,
            params.algorithm,
        )?);
    }
    let mut fits = fits.into_iter();
    Ok(ks
        .iter()
        .map(|_| {
            let mut best: Option<KMeans> = None;
            for fit in fits.by_ref().take(params.n_init) {
                if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                    best = Some(fit);
                }
            }
            best.expect("n_init >= 1")
        })
        .collect())
}

/// Bytes of labels (4 per point per run) that the runs of one batch may
/// hold: about 30 runs of 10M users share each pass over the points.
pub const RUN_LABEL_BUDGET: usize = 1 << 30;

/// Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's greedy
/// variant): the first centre uniformly at random, then each next one the
/// best of `2 + ln k` candidates drawn with probability proportional to
/// the squared distance to the nearest chosen centre.
pub fn kmeans_plus_plus(
    backend: &Backend,
    points: &FeatureMatrix,
    k: usize,
    seed: u64,
) -> Result<Array2<f64>, BackendError> {
    with_kernels!(backend, kernels => {
        seed_centres(kernels, points, &kernels.upload(points)?, k, seed)
    })
}

/// [`kmeans_plus_plus`] on points already uploaded. The distances to the
/// nearest chosen centre stay on the backend; the host reads the sums of
/// their blocks, and the one block a draw lands in.
fn seed_centres<K: Kernels>(
    backend: &K,
    points: &FeatureMatrix,
    device: &K::Points,
    k: usize,
    seed: u64,
) -> Result<Array2<f64>, BackendError> {
    let n = points.n();
    let d = points.d();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut centres = Array2::<f64>::zeros((k, d));
    let first = rng.random_range(0..n);
    let mut closest = backend.closest_start(device)?;
    let mut block_sums = backend.closest_update(device, &mut closest, points.row(first))?;
    set_row(&mut centres, 0, points.row(first));
    let trials = 2 + (k as f64).ln() as usize;
    for c in 1..k {
        let sampler = Sampler::new(block_sums);
        let draws: Vec<f64> = (0..trials).map(|_| rng.random::<f64>()).collect();
        let candidates =
            sampler.draw_all(&draws, |blocks| backend.closest_blocks(&closest, blocks))?;
        let rows: Vec<f32> = candidates
            .iter()
            .flat_map(|&i| points.row(i).iter().copied())
            .collect();
        let potentials = backend.closest_potentials(device, &closest, &rows)?;
        let mut best = 0;
        for (t, &p) in potentials.iter().enumerate() {
            if p < potentials[best] {
                best = t;
            }
        }
        let chosen = points.row(candidates[best]);
        set_row(&mut centres, c, chosen);
        block_sums = backend.closest_update(device, &mut closest, chosen)?;
    }
    Ok(centres)
}

fn set_row(centres: &mut Array2<f64>, c: usize, row: &[f32]) {
    for (dst, &src) in centres.row_mut(c).iter_mut().zip(row) {
        *dst = f64::from(src);
    }
}

/// Draws indices with probability proportional to their weights, by a
/// two-level prefix sum (per block of [`SAMPLER_BLOCK`], then within the
/// block) so a draw costs O(n / BLOCK + BLOCK), not a full cumulative sum
/// per draw, and reads only the blocks the draws land in.
struct Sampler {
    block_sums: Vec<f64>,
    total: f64,
}

/// Where a draw lands: a block and the running sum before it.
#[derive(Clone, Copy)]
enum Landing {
    Block {
        block: usize,
        before: f64,
    },
    /// Past the total (rounding, or all weights 0).
    Past,
}

impl Sampler {
    fn new(block_sums: Vec<f64>) -> Self {
        let total = block_sums.iter().sum();
        Sampler { block_sums, total }
    }

    fn land(&self, target: f64) -> Landing {
        let mut acc = 0.0;
        for (block, &s) in self.block_sums.iter().enumerate() {
            if acc + s > target {
                return Landing::Block { block, before: acc };
            }
            acc += s;
        }
        Landing::Past
    }

    /// For each `u` uniform in [0, 1): the first index whose running sum
    /// exceeds `u * total` (scikit-learn's `searchsorted` on the cumulative
    /// sum); past the total by rounding, the last index with a weight (0
    /// when none has); short of it within the block it landed in, that
    /// block's last index with a weight. `read(blocks)` gives the weights of those blocks,
    /// in order: every block the draws need is read at once.
    fn draw_all<E>(
        &self,
        us: &[f64],
        read: impl FnOnce(&[usize]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Result<Vec<usize>, E> {
        let targets: Vec<f64> = us.iter().map(|u| u * self.total).collect();
        let landings: Vec<Landing> = targets.iter().map(|&t| self.land(t)).collect();
        // Weights are >= 0: the last weight is in the last block with a sum.
        let last = self.block_sums.iter().rposition(|&s| s > 0.0);
        let mut wanted: Vec<usize> = landings
            .iter()
            .filter_map(|l| match l {
                Landing::Block { block, .. } => Some(*block),
                Landing::Past => None,
            })
            .chain(last)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let weights = read(&wanted)?;
        let block = |b: usize| &weights[wanted.binary_search(&b).expect("a block read")];
        let fallback = last.map_or(0, |b| {
            block(b)
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(0, |i| b * SAMPLER_BLOCK + i)
        });
        Ok(landings
            .iter()
            .zip(&targets)
            .map(|(landing, &target)| match *landing {
                Landing::Block { block: b, before } => {
                    let weights = block(b);
                    let mut acc = before;
                    for (i, &w) in weights.iter().enumerate() {
                        acc += f64::from(w);
                        if acc > target {
                            return b * SAMPLER_BLOCK + i;
                        }
                    }
                    // The block's sum (f32 on a GPU) said the draw lands
                    // here, its weights' running sum fell short by
                    // rounding: the block's last point with weight.
                    weights
                        .iter()
                        .rposition(|&w| w > 0.0)
                        .map_or(fallback, |i| b * SAMPLER_BLOCK + i)
                }
                Landing::Past => fallback,
            })
            .collect())
    }
}

/// What the driver knows of one run between steps.
#[derive(Debug, Clone, Copy, Default)]
struct RunState {
    inertia: f64,
    n_iter: usize,
    done: bool,
    /// Stopped because no label changed: labels and centres agree already.
    strict: bool,
}

/// Lloyd iterations from the given initial centres, one run per entry; all
/// runs share each pass over the points until they stop.
pub fn lloyd(
    backend: &Backend,
    points: &FeatureMatrix,
    inits: Vec<Array2<f64>>,
    max_iter: usize,
    tol: f64,
    algorithm: LloydAlgorithm,
) -> Result<Vec<KMeans>, BackendError> {
    with_kernels!(backend, kernels => {
        let device = kernels.upload(points)?;
        lloyd_resident(kernels, points, &device, inits, max_iter, tol, algorithm)
    })
}

/// [`lloyd`] on points already uploaded. Labels and centres stay on the
/// backend; each step hands back a few numbers per run.
fn lloyd_resident<K: Kernels>(
    backend: &K,
    points: &FeatureMatrix,
    device: &K::Points,
    inits: Vec<Array2<f64>>,
    max_iter: usize,
    tol: f64,
    algorithm: LloydAlgorithm,
) -> Result<Vec<KMeans>, BackendError> {
    let tol = tol * mean_variance(points);
    let count = inits.len();
    let mut runs = backend.lloyd_start(device, &inits, algorithm)?;
    let mut state = vec![RunState::default(); count];
    for _ in 0..max_iter {
        let active: Vec<usize> = (0..count).filter(|&r| !state[r].done).collect();
        if active.is_empty() {
            break;
        }
        let stats = backend.lloyd_step(device, &mut runs, &active, true)?;
        for (&r, s) in active.iter().zip(stats) {
            let shift = if s.empty {
                reseed_empty(backend, points, &mut runs, r)?
            } else {
                s.shift
            };
            let run = &mut state[r];
            run.inertia = s.inertia;
            run.n_iter += 1;
            if s.changed == 0 {
                run.done = true;
                run.strict = true;
            } else if shift <= tol {
                run.done = true;
            }
        }
    }
    // Runs that stopped on the tolerance or on max_iter: labels for the
    // final centres, in one shared pass that leaves the centres in place
    // (and computes every distance, so it gives the inertia that a pass
    // with Hamerly's bounds left unknown).
    let pending: Vec<usize> = (0..count)
        .filter(|&r| !state[r].strict || state[r].inertia.is_nan())
        .collect();
    if !pending.is_empty() {
        let stats = backend.lloyd_step(device, &mut runs, &pending, false)?;
        for (&r, s) in pending.iter().zip(stats) {
            state[r].inertia = s.inertia;
        }
    }
    Ok(backend
        .lloyd_finish(runs)?
        .into_iter()
        .zip(state)
        .map(|((centres, labels), run)| KMeans {
            centres,
            labels,
            inertia: run.inertia,
            n_iter: run.n_iter,
            converged: run.done,
        })
        .collect())
}

/// A step left a cluster of run `r` empty: as scikit-learn does, each empty
/// cluster is re-seeded, in the same iteration, with one of the points
/// farthest from their centre (which leaves its old cluster), and the
/// centres move to the means of the sums so corrected. Returns the summed
/// squared shift of the centres.
fn reseed_empty<K: Kernels>(
    backend: &K,
    points: &FeatureMatrix,
    runs: &mut K::Runs,
    r: usize,
) -> Result<f64, BackendError> {
    let d = points.d();
    let (mut s, labels, old) = backend.lloyd_sums(runs, r)?;
    let k = old.nrows();
    let empty: Vec<usize> = (0..k).filter(|&c| s.counts[c] == 0).collect();
    let old_f32: Vec<f32> = old.iter().map(|&v| v as f32).collect();
    let far = CpuBackend.farthest_points(points, &old_f32, &labels, empty.len());
    for (&c, &p) in empty.iter().zip(&far) {
        let from = labels[p] as usize;
        let x = points.row(p);
        for (j, &v) in x.iter().enumerate() {
            s.sums[from * d + j] -= f64::from(v);
            s.sums[c * d + j] = f64::from(v);
        }
        s.counts[from] -= 1;
        s.counts[c] = 1;
    }
    let mut centres = old;
    let mut shift = 0.0;
    for c in 0..k {
        if s.counts[c] == 0 {
            continue; // keeps its centre (only if every point is a duplicate)
        }
        let count = s.counts[c] as f64;
        for j in 0..d {
            let new = s.sums[c * d + j] / count;
            let delta = new - centres[[c, j]];
            shift += delta * delta;
            centres[[c, j]] = new;
        }
    }
    backend.lloyd_set_centres(runs, r, centres)?;
    Ok(shift)
}

/// Mean of the column variances (population), the scale of `tol`.
fn mean_variance(points: &FeatureMatrix) -> f64 {
    let (n, d) = (points.n(), points.d());
    if n == 0 || d == 0 {
        return 0.0;
    }
    let means: Vec<f64> = column_sums(points, |_, v| f64::from(v))
        .into_iter()
        .map(|s| s / n as f64)
        .collect();
    let squares = column_sums(points, |j, v| (f64::from(v) - means[j]).powi(2));
    squares.iter().map(|s| s / n as f64).sum::<f64>() / d as f64
}

/// Per column, the sum of `f(column, value)` over the rows: blocks of rows
/// summed in parallel, the blocks' sums added in block order (the same
/// bits with any number of threads).
fn column_sums(points: &FeatureMatrix, f: impl Fn(usize, f32) -> f64 + Sync) -> Vec<f64> {
    let d = points.d();
    let blocks: Vec<Vec<f64>> = points
        .as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .map(|block| {
            let mut acc = vec![0.0f64; d];
            for row in block.chunks_exact(d) {
                for (j, (a, &v)) in acc.iter_mut().zip(row).enumerate() {
                    *a += f(j, v);
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; d];
    for block in blocks {
        for (t, b) in total.iter_mut().zip(block) {
            *t += b;
        }
    }
    total
}

/// Rows per parallel block of [`mean_variance`].
const CHUNK_ROWS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> FeatureMatrix {
        // Three tight groups on a line.
        let data: Vec<f32> = [0.0, 0.1, 0.2, 5.0, 5.1, 5.2, 10.0, 10.1, 10.2]
            .iter()
            .flat_map(|&x| [x, -x])
            .collect();
        FeatureMatrix::from_rows(9, 2, data)
    }

    #[test]
    fn finds_obvious_groups_from_any_seed() {
        let points = blobs();
        for seed in 0..20 {
            let fit = fit(
                &Backend::Cpu,
                &points,
                &KMeansParams {
                    k: 3,
                    seed,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(fit.sizes(), vec![3, 3, 3], "seed {seed}");
            assert!((fit.inertia - 0.12).abs() < 1e-5, "seed {seed}");
            assert!(fit.converged);
        }
    }

    #[test]
    fn re_seeds_an_empty_cluster_with_the_farthest_point() {
        let points = FeatureMatrix::from_rows(4, 1, vec![0.0, 1.0, 2.0, 10.0]);
        let init = Array2::from_shape_vec((2, 1), vec![0.0, 100.0]).unwrap();
        let fit = lloyd(
            &Backend::Cpu,
            &points,
            vec![init],
            10,
            0.0,
            LloydAlgorithm::Lloyd,
        )
        .unwrap()
        .pop()
        .unwrap();
        // 10 is farthest from the only used centre (0): it takes the empty one.
        assert_eq!(fit.labels, vec![0, 0, 0, 1]);
        assert_eq!(fit.centres.column(0).to_vec(), vec![1.0, 10.0]);
        assert_eq!(fit.inertia, 2.0);
    }

    /// Reads `blocks` of `weights`, noting which were asked for.
    fn reader<'a>(
        weights: &'a [f32],
        asked: &'a std::cell::RefCell<Vec<Vec<usize>>>,
    ) -> impl Fn(&[usize]) -> Result<Vec<Vec<f32>>, ()> + 'a {
        move |blocks| {
            asked.borrow_mut().push(blocks.to_vec());
            Ok(blocks
                .iter()
                .map(|&b| {
                    let start = b * SAMPLER_BLOCK;
                    weights[start..(start + SAMPLER_BLOCK).min(weights.len())].to_vec()
                })
                .collect())
        }
    }

    #[test]
    fn sampler_draws_in_proportion() {
        let weights = [0.0f32, 1.0, 0.0, 3.0];
        let s = Sampler::new(CpuBackend.block_sums(&weights));
        let asked = std::cell::RefCell::new(Vec::new());
        let draws = s.draw_all(&[0.0, 0.2499, 0.25, 0.999], reader(&weights, &asked));
        assert_eq!(draws, Ok(vec![1, 1, 3, 3]));
        let zero = [0.0f32; 3];
        let s = Sampler::new(CpuBackend.block_sums(&zero));
        assert_eq!(s.draw_all(&[0.5], reader(&zero, &asked)), Ok(vec![0]));
    }

    #[test]
    fn sampler_reads_only_the_blocks_it_lands_in_at_once() {
        // Four blocks; the weight is in blocks 1 and 2.
        let mut weights = vec![0.0f32; 3 * SAMPLER_BLOCK + 5];
        weights[SAMPLER_BLOCK + 7] = 2.0;
        weights[SAMPLER_BLOCK + 9] = 2.0;
        weights[2 * SAMPLER_BLOCK + 1] = 4.0;
        let s = Sampler::new(CpuBackend.block_sums(&weights));
        let asked = std::cell::RefCell::new(Vec::new());
        // 0.2 -> first 2.0; 0.4 -> second; 0.9 -> the 4.0; 1.0 is past the
        // total: the last point with weight.
        let draws = s.draw_all(&[0.2, 0.4, 0.9, 1.0], reader(&weights, &asked));
        assert_eq!(
            draws,
            Ok(vec![
                SAMPLER_BLOCK + 7,
                SAMPLER_BLOCK + 9,
                2 * SAMPLER_BLOCK + 1,
                2 * SAMPLER_BLOCK + 1
            ])
        );
        assert_eq!(*asked.borrow(), vec![vec![1, 2]]);
    }

    #[test]
    fn kmeanspp_picks_distinct_points_when_it_can() {
        let points = blobs();
        for seed in 0..10 {
            let c = kmeans_plus_plus(&Backend::Cpu, &points, 3, seed).unwrap();
            let mut xs: Vec<i64> = c
                .column(0)
                .iter()
                .map(|&v| (v / 5.0).floor() as i64)
                .collect();
            xs.sort();
            assert_eq!(xs, vec![0, 1, 2], "seed {seed}: one centre per group");
        }
    }
}
