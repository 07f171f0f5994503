// k-means++: closest[i] = min(closest[i], |x_i - centre|^2) for every
// point of a chunk.

@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> centre: array<f32>;
@group(0) @binding(3) var<storage, read_write> closest: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    let i = g * WG + lid;
    if (g >= params.workgroups || i >= params.n) {
        return;
    }
    var acc = 0.0;
    for (var j = 0u; j < D; j++) {
        let t = points[i * D + j] - centre[j];
        acc += t * t;
    }
    closest[i] = min(closest[i], acc);
}
