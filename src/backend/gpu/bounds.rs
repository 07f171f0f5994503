//! How long one invocation of each kernel loops, and how work is cut so
//! that none loops longer than `DeviceLimits::max_loop` (in `context`).
//!
//! Why: Mesa's software Vulkan driver (llvmpipe, lavapipe) stops an
//! invocation's loops after 65,535 iterations in all, every loop of the
//! invocation counted together, and says nothing: the kernel returns with
//! partial sums. The exact silhouette of 20,000 users with K = 80 came out
//! 0.975 instead of 0.521. Real GPUs have no such cap, but a long
//! invocation meets a desktop driver's watchdog. So every dispatch is cut
//! (rows per silhouette part, tiles per Lloyd workgroup, centres per
//! assignment pass) so that the iterations of an invocation stay within
//! the bound: 60,000 on a software adapter, 2^20 on a GPU (a millisecond
//! or so), or `SEGMINT_GPU_MAX_LOOP`.
//!
//! The counts are upper bounds: every iteration of every loop, nested ones
//! included, as if no loop were unrolled (a compiler unrolls short
//! constant loops, which then count for nothing).

use super::shaders::WG;

/// Iterations of one `workgroup_sum` call (common.wgsl): a tree of WG.
const TREE: u64 = WG.trailing_zeros() as u64 + 1;

/// `assign`: per point, the features, then per centre the features.
pub fn assign(d: usize, centres: usize) -> u64 {
    let d = d as u64;
    d + centres as u64 * (d + 1)
}

/// The most centres one `assign` pass may take within `max_loop`.
pub fn assign_centres(d: usize, max_loop: u64) -> usize {
    let d64 = d as u64;
    (max_loop.saturating_sub(d64) / (d64 + 1)).max(1) as usize
}

/// `kmeanspp_update`: the features of one point.
pub fn kmeanspp_update(d: usize) -> u64 {
    d as u64
}

/// `block_sums`: a block of 4,096 values over WG threads, then the tree.
pub fn block_sums(block: u64) -> u64 {
    block.div_ceil(u64::from(WG)) + TREE
}

/// `kmeanspp_potentials`: per tile, every candidate's distance; before,
/// the candidates' sums set to 0, after, one tree per candidate.
pub fn potentials(d: usize, candidates: usize, tiles: usize) -> u64 {
    let (d, t) = (d as u64, candidates as u64);
    t + tiles as u64 * (1 + t * (d + 1)) + t * (1 + TREE)
}

/// Tiles per `kmeanspp_potentials` workgroup: `wanted`, or fewer to stay
/// within `max_loop` (at least one).
pub fn potentials_tiles(d: usize, candidates: usize, wanted: usize, max_loop: u64) -> usize {
    let (d64, t) = (d as u64, candidates as u64);
    let fixed = t + t * (1 + TREE);
    let per_tile = 1 + t * (d64 + 1);
    let most = (max_loop.saturating_sub(fixed) / per_tile).max(1) as usize;
    wanted.min(most)
}

/// `reduce_columns`: a column of `rows` rows over WG threads, then the
/// tree.
pub fn reduce_columns(rows: usize) -> u64 {
    (rows as u64).div_ceil(u64::from(WG)) + TREE
}

/// `lloyd_partials`: per tile of WG points, the features, then per run its
/// centres' distances, then per accumulator pair of the thread the tile's
/// points; before and after, the thread's pairs.
pub fn lloyd_partials(d: usize, runs: usize, ks: usize, pairs: usize, tiles: usize) -> u64 {
    let pt = pairs.div_ceil(WG as usize) as u64;
    2 * pt + tiles as u64 * lloyd_tile(d, runs, ks, pt)
}

/// One tile of [`lloyd_partials`]; `ks` is the runs' k summed.
fn lloyd_tile(d: usize, runs: usize, ks: usize, pt: u64) -> u64 {
    let d = d as u64;
    1 + d + runs as u64 + ks as u64 * (d + 1) + pt * (u64::from(WG) + 1)
}

/// Tiles per `lloyd_partials` workgroup: `wanted`, or fewer to stay within
/// `max_loop`; `None` when not even one tile does.
pub fn lloyd_tiles(
    d: usize,
    runs: usize,
    ks: usize,
    pairs: usize,
    wanted: usize,
    max_loop: u64,
) -> Option<usize> {
    let pt = pairs.div_ceil(WG as usize) as u64;
    let most = max_loop.saturating_sub(2 * pt) / lloyd_tile(d, runs, ks, pt);
    (most >= 1).then(|| wanted.min(most as usize))
}

/// `mixture_partials`: per tile of WG points, the features, then per
/// component the differences, the factor's columns and their rows (every
/// row counted), then the exponentials and the responsibilities, then per
/// column of the thread the tile's points; before and after, the thread's
/// columns.
pub fn mixture_partials(d: usize, k: usize, columns: usize, tiles: usize) -> u64 {
    let pt = columns.div_ceil(WG as usize) as u64;
    2 * pt + tiles as u64 * mixture_tile(d, k, pt)
}

fn mixture_tile(d: usize, k: usize, pt: u64) -> u64 {
    let (d, k) = (d as u64, k as u64);
    1 + d + k * (1 + 2 * d + d * d) + 2 * k + pt * (u64::from(WG) + 1)
}

/// Tiles per `mixture_partials` workgroup: `wanted`, or fewer to stay
/// within `max_loop`; `None` when not even one tile does.
pub fn mixture_tiles(
    d: usize,
    k: usize,
    columns: usize,
    wanted: usize,
    max_loop: u64,
) -> Option<usize> {
    let pt = columns.div_ceil(WG as usize) as u64;
    let most = max_loop.saturating_sub(2 * pt) / mixture_tile(d, k, pt);
    (most >= 1).then(|| wanted.min(most as usize))
}

/// `lloyd_update`: per run, its clusters, its k x d centre values over WG
/// threads, then the tree.
pub fn lloyd_update(d: usize, k: usize) -> u64 {
    let k = k as u64;
    k + (k * d as u64).div_ceil(u64::from(WG)) + TREE
}

/// `silhouette` over a part of `tiles` tiles of other points: the anchor's
/// features and sums set up; per tile its points loaded, the scratch
/// cleared, each point's distance and labels, the sums added; at the end
/// either the sums kept or, per labelling, the nearest other cluster.
/// `ks` holds each labelling's k (their sum is the accumulators).
pub fn silhouette(d: usize, ks: &[usize], tiles: usize) -> u64 {
    let (fixed, per_tile) = silhouette_costs(d, ks);
    fixed + tiles as u64 * per_tile
}

fn silhouette_costs(d: usize, ks: &[usize]) -> (u64, u64) {
    let (d, r) = (d as u64, ks.len() as u64);
    let nacc: u64 = ks.iter().map(|&k| k as u64).sum();
    let end = nacc.max(ks.iter().map(|&k| 1 + k as u64).sum());
    let fixed = d + nacc + end;
    let per_tile = 1 + d + 2 * r + 2 * nacc + u64::from(WG) * (1 + d + r);
    (fixed, per_tile)
}

/// Tiles of other points per silhouette part within `max_loop` (at least
/// one; see [`silhouette_fits`]).
pub fn silhouette_tiles(d: usize, ks: &[usize], max_loop: u64) -> usize {
    let (fixed, per_tile) = silhouette_costs(d, ks);
    (max_loop.saturating_sub(fixed) / per_tile).max(1) as usize
}

/// Whether one tile of a silhouette part stays within `max_loop`.
pub fn silhouette_fits(d: usize, ks: &[usize], max_loop: u64) -> bool {
    silhouette(d, ks, 1) <= max_loop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_stay_within_the_bound() {
        for max_loop in [2_000u64, 60_000, 1 << 20] {
            for d in [1, 3, 8, 40, 60] {
                let centres = assign_centres(d, max_loop);
                assert!(assign(d, centres) <= max_loop || centres == 1);
                for t in [2, 5, 11] {
                    let tiles = potentials_tiles(d, t, 16, max_loop);
                    assert!(potentials(d, t, tiles) <= max_loop || tiles == 1);
                }
                for ks in [vec![3], vec![80], vec![2, 3, 4, 5, 6, 7, 8, 9, 10]] {
                    let tiles = silhouette_tiles(d, &ks, max_loop);
                    assert!(
                        silhouette(d, &ks, tiles) <= max_loop || tiles == 1,
                        "{d} {ks:?} {max_loop}"
                    );
                }
                let pairs = 8 * (d + 1) + 2;
                if let Some(tiles) = lloyd_tiles(d, 1, 8, pairs, 1000, max_loop) {
                    assert!(lloyd_partials(d, 1, 8, pairs, tiles) <= max_loop);
                }
                let columns = 8 * (1 + d + d * (d + 1) / 2) + 1;
                if let Some(tiles) = mixture_tiles(d, 8, columns, 1000, max_loop) {
                    assert!(mixture_partials(d, 8, columns, tiles) <= max_loop);
                }
            }
        }
    }

    #[test]
    fn the_silhouette_that_broke_is_cut() {
        // 20,000 users, one feature, K = 80: 313 tiles of other points.
        // One dispatch looped about 111,000 times; parts of at most 168
        // tiles stay under llvmpipe's 65,535.
        let tiles = silhouette_tiles(1, &[80], 60_000);
        assert!(silhouette(1, &[80], 313) > 65_535);
        assert!(tiles < 313 && silhouette(1, &[80], tiles) <= 60_000);
        // 3,000 users x 40 features: 47 tiles, about 128,000 iterations.
        let tiles = silhouette_tiles(40, &[3], 60_000);
        assert!(silhouette(40, &[3], 47) > 65_535);
        assert!(tiles < 47);
    }
}
