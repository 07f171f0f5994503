// Shared by every kernel: the parameters of one dispatch, and the
// workgroup size. Keep in sync with `Params` in src/backend/gpu/params.rs
// (same fields, same order, all u32).
//
// Each kernel is compiled with constants prepended by
// src/backend/gpu/shaders.rs: D (features per point) always, and the
// kernel's own (R, PT, T, NACC, K) where it uses them.

struct Params {
    // Rows of the bound points chunk.
    n: u32,
    // Features per point (equal to D; kept for host-side checks).
    d: u32,
    // Workgroups along x of the dispatch grid (the grid is 2D past the
    // 65,535-per-dimension limit).
    groups_x: u32,
    // Workgroups with work; the rest of the grid returns at once.
    workgroups: u32,
    // Centres (assign), candidates (kmeanspp_potentials).
    k: u32,
    // Runs or labellings in the group.
    runs: u32,
    // Accumulator columns: Lloyd pairs, potentials' candidates.
    pairs: u32,
    // Tiles of WG rows per workgroup.
    tiles: u32,
    // First partials row written by this dispatch.
    partial_offset: u32,
    // Partials rows to reduce.
    partial_rows: u32,
    // Silhouette: rows begin..end of the other chunk; assign: centres
    // begin..end.
    begin: u32,
    end: u32,
    // Silhouette: rows of the anchor chunk.
    anchors: u32,
    // Bit 0: move the centres (lloyd_update); bit 1: first part of the
    // other rows (silhouette) or of the centres (assign), bit 2: last part
    // (silhouette).
    flags: u32,
    // Silhouette: accumulators per anchor (the sum of the labellings' k).
    width: u32,
    pad: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;

// The linear workgroup index of a 2D dispatch grid.
fn group_index(id: vec3<u32>) -> u32 {
    return id.x + id.y * params.groups_x;
}

fn infinity() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

// One Lloyd run of a group, as lloyd_partials and lloyd_update read it.
// Keep in sync with `Group::run_info` in src/backend/gpu/lloyd.rs.
struct RunInfo {
    // First centre of the run in `centres` (in centres, not floats).
    centre_offset: u32,
    k: u32,
    // First accumulator pair of the run.
    pair_offset: u32,
    // 0 once the run has stopped: it is neither assigned nor summed.
    live: u32,
}

var<workgroup> tree: array<f32, WG>;

// The sum of `value` over the workgroup, added in a fixed order (a binary
// tree), so that it does not depend on scheduling. Every invocation of the
// workgroup must call it: it has barriers.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
    tree[lid] = value;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            tree[lid] = tree[lid] + tree[lid + half];
        }
        workgroupBarrier();
    }
    let total = tree[0];
    // `tree` may be written again as soon as this returns.
    workgroupBarrier();
    return total;
}
