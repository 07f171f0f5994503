//! The exact Euclidean silhouette on the GPU, for several labellings at
//! once (the K of a sweep): each pairwise distance is computed once and
//! serves every labelling. The points are sorted by the labelling with the
//! most clusters (as on the CPU), so most tiles of 64 points hold a single
//! cluster of each labelling and are summed once (see silhouette.wgsl).
//!
//! Work is split to fit the device: points in chunks (one binding each,
//! also bounded by the anchors' accumulators), and each chunk's anchors
//! against the other points in parts of at most
//! [`super::context::DeviceLimits::pairs_per_dispatch`] distances, so that
//! no dispatch runs long enough to trip a display driver's watchdog, and
//! of few enough tiles that no invocation loops longer than
//! [`super::context::DeviceLimits::max_loop`] (see [`super::bounds`]).

use super::context::Buffer;
use super::params::{FIRST_PART, LAST_PART, Params};
use super::shaders::{Kernel, Specialisation, WG};
use super::{GpuBackend, bounds, f32s};
use crate::backend::{BackendError, Labeling, Silhouette};
use crate::features::matrix::FeatureMatrix;

/// Accumulators per anchor at most (per-thread arrays of this size).
const MAX_ACCUMULATORS: usize = 256;
/// Workgroup memory the kernel may use (the WebGPU default limit).
const WORKGROUP_BYTES: usize = 16 * 1024;
/// A tile of other points that holds several clusters of a labelling.
const MIXED: u32 = u32::MAX;

/// One chunk of the sorted points.
struct Chunk {
    first: usize,
    rows: usize,
    points: Buffer,
    labels: Buffer,
    tile_labels: Buffer,
}

/// Whether the kernel takes a labelling of `k` clusters on `d` features at
/// all, and why not.
pub(super) fn silhouette_fits(d: usize, k: usize, max_loop: u64) -> Result<(), String> {
    if k > MAX_ACCUMULATORS {
        return Err(format!(
            "the kernel holds at most {MAX_ACCUMULATORS} clusters per labelling"
        ));
    }
    if !bounds::silhouette_fits(d, &[k], max_loop) {
        return Err(format!(
            "one tile of points would loop {} times, past the {max_loop} an invocation may",
            bounds::silhouette(d, &[k], 1)
        ));
    }
    Ok(())
}

impl GpuBackend {
    /// Exact Euclidean silhouette of several labellings of the same points
    /// (see [`crate::backend::Kernels::silhouette`]): labellings grouped,
    /// most clusters first, as workgroup memory, the accumulators and the
    /// loop limit allow, one all-pairs pass per group. `Unsupported` when
    /// the features are not 1 to [`super::MAX_FEATURES`] or a labelling
    /// alone exceeds the kernel's limits.
    pub fn silhouette(
        &self,
        points: &FeatureMatrix,
        labelings: &[Labeling],
    ) -> Result<Vec<Silhouette>, BackendError> {
        let d = points.d();
        if d == 0 || d > super::MAX_FEATURES {
            return Err(BackendError::Unsupported {
                what: format!("compute a silhouette on {d} features"),
                reason: format!("the kernels take 1 to {} features", super::MAX_FEATURES),
            });
        }
        // Labellings per pass: their labels share workgroup memory with a
        // tile of points, and their accumulators a per-thread array.
        let by_memory = (WORKGROUP_BYTES / (4 * WG as usize))
            .saturating_sub(d)
            .max(1);
        let mut out: Vec<Option<Silhouette>> = vec![None; labelings.len()];
        let mut group: Vec<usize> = Vec::new();
        let mut width = 0;
        let mut order: Vec<usize> = (0..labelings.len()).collect();
        // Most clusters first, so that each group's primary sorts well.
        order.sort_by_key(|&l| std::cmp::Reverse(labelings[l].k));
        let max_loop = self.ctx.limits.max_loop;
        let ks_of =
            |group: &[usize]| -> Vec<usize> { group.iter().map(|&l| labelings[l].k).collect() };
        for l in order {
            let k = labelings[l].k.max(1);
            if let Err(reason) = silhouette_fits(d, k, max_loop) {
                return Err(BackendError::Unsupported {
                    what: format!("compute a silhouette with k = {k}"),
                    reason,
                });
            }
            let mut with = ks_of(&group);
            with.push(k);
            if !group.is_empty()
                && (group.len() == by_memory
                    || width + k > MAX_ACCUMULATORS
                    || !bounds::silhouette_fits(d, &with, max_loop))
            {
                self.silhouette_group(points, labelings, &group, &mut out)?;
                group.clear();
                width = 0;
            }
            group.push(l);
            width += k;
        }
        if !group.is_empty() {
            self.silhouette_group(points, labelings, &group, &mut out)?;
        }
        Ok(out
            .into_iter()
            .map(|s| s.expect("every labelling"))
            .collect())
    }

    /// The silhouettes of `labelings[l]` for each `l` of `group`, in one
    /// pass over all pairs of points.
    fn silhouette_group(
        &self,
        points: &FeatureMatrix,
        all: &[Labeling],
        group: &[usize],
        out: &mut [Option<Silhouette>],
    ) -> Result<(), BackendError> {
        let (n, d) = (points.n(), points.d());
        let labelings: Vec<&Labeling> = group.iter().map(|&l| &all[l]).collect();
        let r = labelings.len();
        if n == 0 {
            for &l in group {
                out[l] = Some(Silhouette {
                    mean: 0.0,
                    values: Vec::new(),
                });
            }
            return Ok(());
        }
        // The labelling with the most clusters orders the points (the
        // first one of the group, which is sorted by k).
        let primary = labelings[0].labels;
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&i| primary[i as usize]);
        let offsets: Vec<usize> = labelings
            .iter()
            .scan(0, |acc, l| {
                let o = *acc;
                *acc += l.k;
                Some(o)
            })
            .collect();
        let width: usize = labelings.iter().map(|l| l.k).sum::<usize>().max(1);
        let mut meta: Vec<u32> = labelings
            .iter()
            .zip(&offsets)
            .flat_map(|(l, &o)| [o as u32, l.k as u32])
            .collect();
        let mut sizes = vec![0u32; width];
        for (l, &o) in labelings.iter().zip(&offsets) {
            for &label in l.labels {
                sizes[o + label as usize] += 1;
            }
        }
        meta.extend(&sizes);

        let max_binding = self.ctx.limits.max_binding as usize;
        let rows = [
            max_binding / (4 * d),
            max_binding / (4 * r),
            max_binding / (8 * width),
        ]
        .into_iter()
        .min()
        .expect("three bounds")
            / WG as usize
            * WG as usize;
        if rows == 0 {
            return Err(BackendError::Unsupported {
                what: "compute a silhouette".into(),
                reason: format!("a binding of {max_binding} bytes holds fewer than {WG} points"),
            });
        }
        let mut chunks = Vec::new();
        let mut first = 0;
        while first < n {
            let count = rows.min(n - first);
            let ids = &order[first..first + count];
            let values: Vec<f32> = ids
                .iter()
                .flat_map(|&i| points.row(i as usize).iter().copied())
                .collect();
            let labels: Vec<u32> = labelings
                .iter()
                .flat_map(|l| ids.iter().map(|&i| l.labels[i as usize]))
                .collect();
            let tiles = count.div_ceil(WG as usize);
            let mut tile_labels = Vec::with_capacity(tiles * r);
            for t in 0..tiles {
                let range = t * WG as usize..((t + 1) * WG as usize).min(count);
                for m in 0..r {
                    let in_tile = &labels[m * count + range.start..m * count + range.end];
                    let one = in_tile[0];
                    tile_labels.push(if in_tile.iter().all(|&x| x == one) {
                        one
                    } else {
                        MIXED
                    });
                }
            }
            chunks.push(Chunk {
                first,
                rows: count,
                points: self
                    .ctx
                    .buffer("sorted points", bytemuck::cast_slice(&values))?,
                labels: self
                    .ctx
                    .buffer("sorted labels", bytemuck::cast_slice(&labels))?,
                tile_labels: self
                    .ctx
                    .buffer("tile labels", bytemuck::cast_slice(&tile_labels))?,
            });
            first += count;
        }
        let spec = Specialisation {
            r: r as u32,
            nacc: width as u32,
            ..Specialisation::new(d as u32)
        };
        let pipeline = self.pipeline(Kernel::Silhouette, spec)?;
        let meta = self.ctx.buffer("labellings", bytemuck::cast_slice(&meta))?;
        let largest = chunks.iter().map(|c| c.rows).max().unwrap_or(0);
        let state = self
            .ctx
            .zeroed("silhouette sums", (8 * width * largest) as u64)?;
        let scores = self.ctx.zeroed("silhouettes", (4 * r * largest) as u64)?;
        let mut values = vec![vec![0.0f32; n]; r];
        // Tiles of other rows an invocation may take (bounds::silhouette).
        let ks: Vec<usize> = labelings.iter().map(|l| l.k).collect();
        let by_loop = bounds::silhouette_tiles(d, &ks, self.ctx.limits.max_loop) * WG as usize;
        for anchors in &chunks {
            // Other rows per part, a whole number of tiles.
            let per_part = ((self.ctx.limits.pairs_per_dispatch / anchors.rows as u64)
                .max(u64::from(WG)) as usize
                / WG as usize
                * WG as usize)
                .min(by_loop);
            let mut parts = Vec::new();
            for (o, other) in chunks.iter().enumerate() {
                let mut begin = 0;
                while begin < other.rows {
                    let end = (begin + per_part).min(other.rows);
                    parts.push((o, begin, end));
                    begin = end;
                }
            }
            let last = parts.len() - 1;
            let dispatches: Vec<_> = parts
                .iter()
                .enumerate()
                .map(|(p, &(o, begin, end))| {
                    let other = &chunks[o];
                    let mut flags = 0;
                    if p == 0 {
                        flags |= FIRST_PART;
                    }
                    if p == last {
                        flags |= LAST_PART;
                    }
                    let params = Params {
                        n: other.rows as u32,
                        d: d as u32,
                        runs: r as u32,
                        begin: begin as u32,
                        end: end as u32,
                        anchors: anchors.rows as u32,
                        flags,
                        width: width as u32,
                        ..Params::default()
                    };
                    self.dispatch(
                        &pipeline,
                        params,
                        anchors.rows.div_ceil(WG as usize) as u32,
                        vec![
                            &anchors.points,
                            &other.points,
                            &anchors.labels,
                            &other.labels,
                            &meta,
                            &other.tile_labels,
                            &state,
                            &scores,
                        ],
                    )
                })
                .collect();
            let read = self.ctx.run(
                "the silhouette",
                &dispatches,
                &[(&scores, 0, (4 * r * anchors.rows) as u64)],
            )?;
            let got = f32s(&read[0]);
            for (m, values) in values.iter_mut().enumerate() {
                for q in 0..anchors.rows {
                    values[order[anchors.first + q] as usize] = got[m * anchors.rows + q];
                }
            }
        }
        for (&l, values) in group.iter().zip(values) {
            let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
            out[l] = Some(Silhouette {
                mean: total / n as f64,
                values,
            });
        }
        Ok(())
    }
}
