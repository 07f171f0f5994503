//! k-means++ on the CPU: distances to the nearest chosen centre, the sums
//! of their blocks that draws land in, candidates' potentials, and the
//! points farthest from their centres (re-seeding an empty cluster).

use rayon::prelude::*;

use super::tiles::{TiledPoints, sum_f64};
use super::{CHUNK, CpuBackend, TILE};
use crate::backend::SAMPLER_BLOCK;
use crate::features::matrix::FeatureMatrix;

impl CpuBackend {
    /// The sum (f64, in order) of each block of [`SAMPLER_BLOCK`] values.
    pub fn block_sums(&self, values: &[f32]) -> Vec<f64> {
        values
            .par_chunks(SAMPLER_BLOCK)
            .map(|b| b.iter().map(|&w| f64::from(w)).sum())
            .collect()
    }

    /// k-means++: for each candidate centre (t x d, row-major), the
    /// potential `sum_i min(closest[i], |x_i - candidate|^2)`, summed in
    /// f64 per chunk of points and the chunks added in order.
    pub fn kmeanspp_potentials(
        &self,
        points: &TiledPoints,
        closest: &[f32],
        candidates: &[f32],
    ) -> Vec<f64> {
        let d = points.d();
        let t = candidates.len() / d;
        let partials: Vec<Vec<f64>> = closest
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, closest)| {
                let mut dist = [0.0f32; TILE];
                let mut low = [0.0f32; TILE];
                let mut pots = vec![0.0f64; t];
                for (g, closest) in points.chunk_tiles(c).zip(closest.chunks(TILE)) {
                    let tile = points.tile(g);
                    let len = tile.len;
                    for (pot, candidate) in pots.iter_mut().zip(candidates.chunks_exact(d)) {
                        tile.distances_to(candidate, &mut dist);
                        for p in 0..len {
                            low[p] = dist[p].min(closest[p]);
                        }
                        *pot += sum_f64(&low[..len]);
                    }
                }
                pots
            })
            .collect();
        let mut total = vec![0.0f64; t];
        for part in partials {
            for (a, b) in total.iter_mut().zip(part) {
                *a += b;
            }
        }
        total
    }

    /// k-means++: `closest[i] = min(closest[i], |x_i - centre|^2)` for
    /// every point (`closest`: one distance per point; `centre`: d values).
    pub fn kmeanspp_update(&self, points: &TiledPoints, closest: &mut [f32], centre: &[f32]) {
        closest
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, closest)| {
                let mut dist = [0.0f32; TILE];
                for (g, closest) in points.chunk_tiles(c).zip(closest.chunks_mut(TILE)) {
                    let tile = points.tile(g);
                    tile.distances_to(centre, &mut dist);
                    for (c, &v) in closest.iter_mut().zip(&dist) {
                        *c = c.min(v);
                    }
                }
            });
    }

    /// The `m` points (at most n) farthest from their own centre
    /// (`centres`: k x d, row-major; `labels`: one per point), farthest
    /// first, ties to the lowest index: the points that re-seed empty
    /// clusters.
    pub fn farthest_points(
        &self,
        points: &FeatureMatrix,
        centres: &[f32],
        labels: &[u32],
        m: usize,
    ) -> Vec<usize> {
        let d = points.d();
        let distances: Vec<f32> = points
            .as_slice()
            .par_chunks_exact(d)
            .zip(labels.par_iter())
            .map(|(x, &l)| {
                let c = &centres[l as usize * d..(l as usize + 1) * d];
                x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum()
            })
            .collect();
        let mut order: Vec<usize> = (0..distances.len()).collect();
        let by_distance =
            |a: &usize, b: &usize| distances[*b].total_cmp(&distances[*a]).then(a.cmp(b));
        let m = m.min(order.len());
        if m == 0 {
            return Vec::new();
        }
        if m < order.len() {
            order.select_nth_unstable_by(m - 1, by_distance);
            order.truncate(m);
        }
        order.sort_unstable_by(by_distance);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::tests::matrix;

    #[test]
    fn kmeanspp_kernels() {
        let x = matrix(2, &[0.0, 0.0, 3.0, 4.0, 6.0, 8.0]);
        let mut closest = vec![f32::INFINITY; 3];
        let tiled = TiledPoints::new(&x);
        CpuBackend.kmeanspp_update(&tiled, &mut closest, &[0.0, 0.0]);
        assert_eq!(closest, vec![0.0, 25.0, 100.0]);
        let pots = CpuBackend.kmeanspp_potentials(&tiled, &closest, &[3.0, 4.0, 6.0, 8.0]);
        assert_eq!(pots, vec![25.0, 25.0]);
    }

    #[test]
    fn farthest_points_orders_by_distance_then_index() {
        let x = matrix(1, &[0.0, 5.0, -5.0, 1.0]);
        let far = CpuBackend.farthest_points(&x, &[0.0], &[0, 0, 0, 0], 3);
        assert_eq!(far, vec![1, 2, 3]);
    }
}
