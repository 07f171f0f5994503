// k-means++ sampling: the sum of each block of 4096 distances of a chunk
// (one workgroup per block; each thread a compensated sum of every 64th
// value, then a fixed tree), so the host can draw a block by its weight
// and read only that block.

@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

const BLOCK: u32 = 4096u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    if (g >= params.workgroups) {
        return;
    }
    var sum = 0.0;
    var comp = 0.0;
    let end = min((g + 1u) * BLOCK, params.n);
    for (var i = g * BLOCK + lid; i < end; i += WG) {
        let y = values[i] - comp;
        let t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    let total = workgroup_sum(lid, sum);
    if (lid == 0u) {
        sums[params.partial_offset + g] = total;
    }
}
