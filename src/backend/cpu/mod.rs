//! The CPU backend: rayon over fixed-size chunks of points, with inner
//! loops over small transposed tiles so that the compiler vectorises them
//! (one lane per point, the centre's coordinate broadcast).
//!
//! Distances are computed as `sum_j (x_j - c_j)^2` from the differences,
//! never as `|x|^2 - 2 x.c + |c|^2`, whose cancellation loses most of the
//! f32 precision for points near their centre (the inertia would drift).
//! Sums that grow with n are accumulated in f64.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod kmeanspp;
mod lloyd;
pub mod mixture;
mod silhouette;
mod tiles;

use ndarray::Array2;

pub use self::lloyd::CpuRuns;
pub(crate) use self::silhouette::point_silhouette;
pub use self::tiles::TiledPoints;
use super::{
    BackendError, ClusterSums, Components, FinishedRun, Kernels, Labeling, LloydAlgorithm,
    MixtureSums, Products, Silhouette, StepStats,
};
use crate::features::matrix::FeatureMatrix;

/// Points per tile: the unit the inner loops vectorise over.
pub(crate) const TILE: usize = 64;
/// Points per parallel chunk. Fixed, so results do not depend on the
/// thread count: partial sums are combined in chunk order.
pub(crate) const CHUNK: usize = 64 * TILE;

/// The CPU backend: the kernels of [`Kernels`] on rayon.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend;

/// Infallible on the CPU: every method succeeds.
impl Kernels for CpuBackend {
    type Points = TiledPoints;
    type Runs = CpuRuns;
    type Closest = Vec<f32>;
    type Mixtures = Products;

    fn upload(&self, points: &FeatureMatrix) -> Result<TiledPoints, BackendError> {
        Ok(TiledPoints::new(points))
    }

    fn assign(
        &self,
        points: &TiledPoints,
        centres: &[f32],
        labels: &mut [u32],
        distances: &mut [f32],
    ) -> Result<(), BackendError> {
        self.assign_nearest(points, centres, labels, distances);
        Ok(())
    }

    fn lloyd_start(
        &self,
        points: &TiledPoints,
        inits: &[Array2<f64>],
        algorithm: LloydAlgorithm,
    ) -> Result<CpuRuns, BackendError> {
        Ok(CpuRuns::new(points, inits, algorithm))
    }

    fn lloyd_step(
        &self,
        points: &TiledPoints,
        runs: &mut CpuRuns,
        active: &[usize],
        move_centres: bool,
    ) -> Result<Vec<StepStats>, BackendError> {
        Ok(runs.step(points, active, move_centres))
    }

    fn lloyd_sums(
        &self,
        runs: &CpuRuns,
        run: usize,
    ) -> Result<(ClusterSums, Vec<u32>, Array2<f64>), BackendError> {
        Ok(runs.sums(run))
    }

    fn lloyd_set_centres(
        &self,
        runs: &mut CpuRuns,
        run: usize,
        centres: Array2<f64>,
    ) -> Result<(), BackendError> {
        runs.set_centres(run, centres);
        Ok(())
    }

    fn lloyd_finish(&self, runs: CpuRuns) -> Result<Vec<FinishedRun>, BackendError> {
        Ok(runs.finish())
    }

    fn closest_start(&self, points: &TiledPoints) -> Result<Vec<f32>, BackendError> {
        Ok(vec![f32::INFINITY; points.n()])
    }

    fn closest_update(
        &self,
        points: &TiledPoints,
        closest: &mut Vec<f32>,
        centre: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        self.kmeanspp_update(points, closest, centre);
        Ok(self.block_sums(closest))
    }

    fn closest_potentials(
        &self,
        points: &TiledPoints,
        closest: &Vec<f32>,
        candidates: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        Ok(self.kmeanspp_potentials(points, closest, candidates))
    }

    fn closest_blocks(
        &self,
        closest: &Vec<f32>,
        blocks: &[usize],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        Ok(blocks
            .iter()
            .map(|&b| {
                let start = b * super::SAMPLER_BLOCK;
                closest[start..(start + super::SAMPLER_BLOCK).min(closest.len())].to_vec()
            })
            .collect())
    }

    fn mixture_start(
        &self,
        _points: &TiledPoints,
        _ks: &[usize],
        products: Products,
    ) -> Result<Products, BackendError> {
        Ok(products)
    }

    fn mixture_pass(
        &self,
        points: &TiledPoints,
        products: &mut Products,
        active: &[(usize, Components)],
    ) -> Result<Vec<MixtureSums>, BackendError> {
        let mixtures: Vec<Components> = active.iter().map(|&(_, c)| c).collect();
        Ok(mixture::pass(
            mixture::Source::Tiles(points),
            &mixtures,
            *products,
        ))
    }

    fn mixture_labels(
        &self,
        points: &TiledPoints,
        components: Components,
    ) -> Result<(Vec<u32>, f64), BackendError> {
        let n = points.n();
        let mut labels = vec![0u32; n];
        let mut lls = vec![0.0f64; n];
        mixture::posteriors(
            mixture::Source::Tiles(points),
            &components,
            &mut labels,
            &mut lls,
            None,
        );
        Ok((labels, lls.iter().sum()))
    }

    fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError> {
        Ok(self.silhouette_of(points, labelings))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn matrix(d: usize, values: &[f32]) -> FeatureMatrix {
        FeatureMatrix::from_rows(values.len() / d, d, values.to_vec())
    }

    /// Pseudo-random points without a dependency on the generator under test.
    pub(crate) fn points(n: usize, d: usize, seed: u64) -> FeatureMatrix {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let data = (0..n * d)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect();
        FeatureMatrix::from_rows(n, d, data)
    }

    pub(crate) fn naive_nearest(x: &[f32], centres: &[f32], d: usize) -> (u32, f32) {
        let mut best = (0, f32::INFINITY);
        for (c, centre) in centres.chunks_exact(d).enumerate() {
            let dist: f32 = x.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
            if dist < best.1 {
                best = (c as u32, dist);
            }
        }
        best
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let x = matrix(1, &[0.0, 1.0]);
        let centres = [0.5, 0.5, -0.5];
        let mut labels = vec![9; 2];
        let mut dist = vec![0.0; 2];
        CpuBackend.assign_nearest(&TiledPoints::new(&x), &centres, &mut labels, &mut dist);
        assert_eq!(labels, vec![0, 0]);
        assert_eq!(dist, vec![0.25, 0.25]);
    }
}
