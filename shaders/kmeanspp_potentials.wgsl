// k-means++: per workgroup, for each of the T candidate centres, the sum
// over its points of min(closest, |x - candidate|^2), written as one row
// of partials (T columns). Each thread sums its points in order; the
// threads' sums are combined by a fixed tree, so the result does not
// depend on scheduling. reduce_columns adds the rows up.

@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> closest: array<f32>;
@group(0) @binding(3) var<storage, read> candidates: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    if (g >= params.workgroups) {
        return;
    }
    var acc: array<f32, T>;
    for (var c = 0u; c < T; c++) {
        acc[c] = 0.0;
    }
    let base = g * params.tiles * WG;
    for (var t = 0u; t < params.tiles; t++) {
        let i = base + t * WG + lid;
        if (i < params.n) {
            let low = closest[i];
            for (var c = 0u; c < T; c++) {
                var dist = 0.0;
                for (var j = 0u; j < D; j++) {
                    let v = points[i * D + j] - candidates[c * D + j];
                    dist += v * v;
                }
                acc[c] += min(low, dist);
            }
        }
    }
    for (var c = 0u; c < T; c++) {
        let total = workgroup_sum(lid, acc[c]);
        if (lid == 0u) {
            partials[(params.partial_offset + g) * T + c] = total;
        }
    }
}
