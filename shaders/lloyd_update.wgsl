// After reduce_columns: one workgroup per run of the group moves its
// centres to the means of their points (flags bit 0), from the `current`
// to the `next` buffer, and writes the few numbers the host reads per
// iteration: inertia, summed squared shift, changed labels, empty
// clusters. A run with an empty cluster is not moved (its centres are
// copied, shift 0): the host re-seeds it. A stopped run's centres are
// copied unchanged.
//
// Constants: D.

@group(0) @binding(1) var<storage, read> totals: array<u32>;
@group(0) @binding(2) var<storage, read> runs: array<RunInfo>;
@group(0) @binding(3) var<storage, read> current: array<f32>;
@group(0) @binding(4) var<storage, read_write> next: array<f32>;
// Per run: inertia (f32 bits), shift (f32 bits), changed, empty clusters.
@group(0) @binding(5) var<storage, read_write> stats: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = group_index(wid);
    if (r >= params.workgroups) {
        return;
    }
    let info = runs[r];
    let kd = info.k * D;
    let first = info.centre_offset * D;
    // A run with an empty cluster does not move: the host re-seeds it.
    var empty = 0u;
    for (var c = 0u; c < info.k; c++) {
        if (totals[info.pair_offset + kd + c] == 0u) {
            empty += 1u;
        }
    }
    let moving = info.live != 0u && (params.flags & 1u) != 0u && empty == 0u;
    var shift = 0.0;
    for (var q = lid; q < kd; q += WG) {
        let old = current[first + q];
        var value = old;
        if (moving) {
            let count = totals[info.pair_offset + kd + q / D];
            if (count > 0u) {
                value = bitcast<f32>(totals[info.pair_offset + q]) / f32(count);
                let delta = value - old;
                shift += delta * delta;
            }
        }
        next[first + q] = value;
    }
    let total_shift = workgroup_sum(lid, shift);
    if (lid == 0u && info.live != 0u) {
        stats[r * 4u] = totals[info.pair_offset + kd + info.k];
        stats[r * 4u + 1u] = bitcast<u32>(total_shift);
        stats[r * 4u + 2u] = totals[info.pair_offset + kd + info.k + 1u];
        stats[r * 4u + 3u] = empty;
    }
}
