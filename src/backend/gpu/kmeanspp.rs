//! k-means++ on the GPU: the distances to the nearest chosen centre stay
//! on the device. Per centre chosen, three round trips: the update with
//! the sums of the blocks of distances, the blocks the draws land in, and
//! the candidates' potentials.

use super::context::Buffer;
use super::params::Params;
use super::shaders::{BLOCK, Kernel, Specialisation, WG};
use super::{GpuBackend, GpuPoints, bounds, f32s};
use crate::backend::BackendError;

/// Tiles of WG points per workgroup of the potentials kernel (fewer when
/// an invocation would loop too long, see bounds::potentials).
const POTENTIAL_TILES: usize = 16;

/// One k-means++ run's distances, a buffer per chunk of points.
#[derive(Debug)]
pub struct GpuClosest {
    /// (first point, rows, distances) per chunk.
    chunks: Vec<(usize, usize, Buffer)>,
    /// The sum of each block of distances, all chunks.
    blocks: Buffer,
    block_count: usize,
    centre: Buffer,
}

impl GpuBackend {
    /// k-means++: a fresh run's distances, all infinite, a buffer per
    /// chunk of points, with room for the block sums and one centre.
    pub fn closest_start(&self, points: &GpuPoints) -> Result<GpuClosest, BackendError> {
        let chunks = points
            .chunks
            .iter()
            .map(|c| {
                let infinite = vec![f32::INFINITY; c.rows];
                Ok((
                    c.first,
                    c.rows,
                    self.ctx
                        .buffer("closest", bytemuck::cast_slice(&infinite))?,
                ))
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        let block_count = points.n.div_ceil(BLOCK as usize);
        Ok(GpuClosest {
            chunks,
            blocks: self.ctx.zeroed("block sums", 4 * block_count as u64)?,
            block_count,
            centre: self.ctx.zeroed("centre", 4 * points.d as u64)?,
        })
    }

    /// k-means++: `closest[i] = min(closest[i], |x_i - centre|^2)` on the
    /// device, then the sum of each block of [`BLOCK`] distances (f32,
    /// compensated; all chunks, in order), read in the same round trip.
    pub fn closest_update(
        &self,
        points: &GpuPoints,
        closest: &mut GpuClosest,
        centre: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        let update = self.pipeline(Kernel::KmeansppUpdate, Specialisation::new(points.d as u32))?;
        let sums = self.pipeline(Kernel::BlockSums, Specialisation::new(1))?;
        self.ctx
            .write(&closest.centre, 0, bytemuck::cast_slice(centre))?;
        let mut dispatches = Vec::new();
        for (chunk, (first, rows, distances)) in points.chunks.iter().zip(&closest.chunks) {
            let params = Params {
                n: chunk.rows as u32,
                d: points.d as u32,
                ..Params::default()
            };
            dispatches.push(self.dispatch(
                &update,
                params,
                chunk.rows.div_ceil(WG as usize) as u32,
                vec![&chunk.buffer, &closest.centre, distances],
            ));
            let params = Params {
                n: *rows as u32,
                partial_offset: (*first / BLOCK as usize) as u32,
                ..Params::default()
            };
            dispatches.push(self.dispatch(
                &sums,
                params,
                rows.div_ceil(BLOCK as usize) as u32,
                vec![distances, &closest.blocks],
            ));
        }
        let read = self.ctx.run(
            "k-means++ distances",
            &dispatches,
            &[(&closest.blocks, 0, 4 * closest.block_count as u64)],
        )?;
        Ok(f32s(&read[0]).into_iter().map(f64::from).collect())
    }

    /// k-means++: for each candidate centre (t x d, row-major), the
    /// potential `sum_i min(closest[i], |x_i - candidate|^2)`: a row of
    /// partial sums per workgroup, added up per candidate by
    /// reduce_columns (f32, compensated).
    pub fn closest_potentials(
        &self,
        points: &GpuPoints,
        closest: &GpuClosest,
        candidates: &[f32],
    ) -> Result<Vec<f64>, BackendError> {
        let d = points.d;
        let t = candidates.len() / d;
        let spec = Specialisation {
            t: t as u32,
            ..Specialisation::new(d as u32)
        };
        let pipeline = self.pipeline(Kernel::KmeansppPotentials, spec)?;
        let reduce = self.pipeline(Kernel::ReduceColumns, spec)?;
        let tiles = bounds::potentials_tiles(d, t, POTENTIAL_TILES, self.ctx.limits.max_loop);
        let per_group = WG as usize * tiles;
        let rows: usize = points
            .chunks
            .iter()
            .map(|c| c.rows.div_ceil(per_group))
            .sum();
        let candidate_buffer = self
            .ctx
            .buffer("candidates", bytemuck::cast_slice(candidates))?;
        let partials = self.ctx.zeroed("partials", 4 * (rows * t) as u64)?;
        let kinds = self.ctx.zeroed("kinds", 4 * t as u64)?;
        let totals = self.ctx.zeroed("totals", 4 * t as u64)?;
        let mut dispatches = Vec::new();
        let mut offset = 0;
        for (chunk, (_, _, distances)) in points.chunks.iter().zip(&closest.chunks) {
            let workgroups = chunk.rows.div_ceil(per_group);
            let params = Params {
                n: chunk.rows as u32,
                d: d as u32,
                k: t as u32,
                tiles: tiles as u32,
                partial_offset: offset as u32,
                ..Params::default()
            };
            dispatches.push(self.dispatch(
                &pipeline,
                params,
                workgroups as u32,
                vec![&chunk.buffer, distances, &candidate_buffer, &partials],
            ));
            offset += workgroups;
        }
        dispatches.push(self.reduce_columns(&reduce, &partials, &kinds, &totals, rows, t));
        let read = self.ctx.run(
            "k-means++ potentials",
            &dispatches,
            &[(&totals, 0, 4 * t as u64)],
        )?;
        Ok(f32s(&read[0]).into_iter().map(f64::from).collect())
    }

    /// k-means++: the distances of each block of `blocks` (indices of
    /// blocks of [`BLOCK`] points; the last block may be short), in one
    /// read.
    pub fn closest_blocks(
        &self,
        closest: &GpuClosest,
        blocks: &[usize],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        let regions: Vec<_> = blocks
            .iter()
            .map(|&block| {
                let start = block * BLOCK as usize;
                let (first, rows, distances) = closest
                    .chunks
                    .iter()
                    .find(|(first, rows, _)| (*first..first + rows).contains(&start))
                    .expect("a block of the points");
                let len = (BLOCK as usize).min(first + rows - start);
                (distances, 4 * (start - first) as u64, 4 * len as u64)
            })
            .collect();
        Ok(self
            .ctx
            .read("k-means++ blocks", &regions)?
            .iter()
            .map(|bytes| f32s(bytes))
            .collect())
    }
}
