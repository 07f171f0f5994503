// Adds up the rows of a partials matrix (partial_rows x pairs), one
// workgroup per column: each thread a compensated sum of every 64th row,
// then a fixed tree, so the total is deterministic and close to an f64
// sum. Columns of kind 1 hold whole numbers (counts), summed exactly in
// u32; kind 2 columns are skipped (a run that stopped). Totals are
// written as u32 bits.

@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read> kinds: array<u32>;
@group(0) @binding(3) var<storage, read_write> totals: array<u32>;

var<workgroup> floats: array<f32, WG>;
var<workgroup> counts: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let p = group_index(wid);
    if (p >= params.workgroups) {
        return;
    }
    let kind = kinds[p];
    if (kind == 2u) {
        return;
    }
    var sum = 0.0;
    var comp = 0.0;
    var count = 0u;
    for (var row = lid; row < params.partial_rows; row += WG) {
        let v = partials[row * params.pairs + p];
        if (kind == 1u) {
            count += u32(v);
        } else {
            let y = v - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
    }
    floats[lid] = sum;
    counts[lid] = count;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            floats[lid] = floats[lid] + floats[lid + half];
            counts[lid] = counts[lid] + counts[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        totals[p] = select(bitcast<u32>(floats[0]), counts[0], kind == 1u);
    }
}
