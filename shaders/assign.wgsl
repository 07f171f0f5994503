// Nearest centre and squared distance to it, for every point of a chunk:
// `sum_j (x_j - c_j)^2` from the differences (no |x|^2 - 2x.c + |c|^2
// cancellation); strict `<` keeps the lowest index on ties, as the CPU.
//
// Centres begin..end of this dispatch: many centres are taken in several
// dispatches (so that no invocation loops too long, see
// src/backend/gpu/bounds.rs), each but the first (flags bit 1) starting
// from the nearest centre the dispatches before it found. Ranges come in
// increasing order, so ties still go to the lowest index.

@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> centres: array<f32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> distances: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    let i = g * WG + lid;
    if (g >= params.workgroups || i >= params.n) {
        return;
    }
    var x: array<f32, D>;
    for (var j = 0u; j < D; j++) {
        x[j] = points[i * D + j];
    }
    var best = infinity();
    var at = 0u;
    if ((params.flags & 2u) == 0u) {
        best = distances[i];
        at = labels[i];
    }
    for (var c = params.begin; c < params.end; c++) {
        var acc = 0.0;
        for (var j = 0u; j < D; j++) {
            let t = x[j] - centres[c * D + j];
            acc += t * t;
        }
        if (acc < best) {
            best = acc;
            at = c;
        }
    }
    labels[i] = at;
    distances[i] = best;
}
