// One Lloyd pass over a chunk of points for the R runs of a group, each
// point read once for all of them. Per point and active run: the nearest
// centre (strict `<`, lowest index on ties) and its squared distance; the
// label is written when it changed. Per workgroup: one row of partial
// sums, a column per accumulator "pair" of a run, in this order per run:
//   k x D coordinate sums, k counts, inertia, changed labels.
// No float atomics: each pair is owned by one thread, which adds the
// workgroup's points tile by tile in a fixed order, so the row does not
// depend on scheduling. reduce_columns then adds the rows up.
//
// Constants: D, R (runs in the group), PT (pairs per thread, the number
// of pairs over WG rounded up).

@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> centres: array<f32>;
@group(0) @binding(3) var<storage, read> runs: array<RunInfo>;
// The run of each pair.
@group(0) @binding(4) var<storage, read> pair_run: array<u32>;
// R x n labels of this chunk's points.
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

const UNSET: u32 = 0xffffffffu;
const CHANGED: u32 = 0x80000000u;

var<workgroup> tile_x: array<f32, WG * D>;
// Per run and point of the tile: the label (CHANGED set when it changed),
// UNSET past the end of the chunk or for a stopped run.
var<workgroup> tile_label: array<u32, WG * R>;
var<workgroup> tile_dist: array<f32, WG * R>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    if (g >= params.workgroups) {
        return;
    }
    var acc: array<f32, PT>;
    for (var m = 0u; m < PT; m++) {
        acc[m] = 0.0;
    }
    let base = g * params.tiles * WG;
    for (var t = 0u; t < params.tiles; t++) {
        let i = base + t * WG + lid;
        let valid = i < params.n;
        var x: array<f32, D>;
        for (var j = 0u; j < D; j++) {
            x[j] = select(0.0, points[min(i, params.n - 1u) * D + j], valid);
            tile_x[lid * D + j] = x[j];
        }
        for (var r = 0u; r < R; r++) {
            let info = runs[r];
            var label = UNSET;
            var dist = 0.0;
            if (valid && info.live != 0u) {
                var best = infinity();
                var at = 0u;
                for (var c = 0u; c < info.k; c++) {
                    let centre = (info.centre_offset + c) * D;
                    var sum = 0.0;
                    for (var j = 0u; j < D; j++) {
                        let v = x[j] - centres[centre + j];
                        sum += v * v;
                    }
                    if (sum < best) {
                        best = sum;
                        at = c;
                    }
                }
                let slot = r * params.n + i;
                let old = labels[slot];
                label = at;
                if (old != at) {
                    labels[slot] = at;
                    label = at | CHANGED;
                }
                dist = best;
            }
            tile_label[r * WG + lid] = label;
            tile_dist[r * WG + lid] = dist;
        }
        workgroupBarrier();
        for (var m = 0u; m < PT; m++) {
            let p = lid + m * WG;
            if (p < params.pairs) {
                let r = pair_run[p];
                let info = runs[r];
                let q = p - info.pair_offset;
                let kd = info.k * D;
                let labels_at = r * WG;
                var s = 0.0;
                if (info.live == 0u) {
                    s = 0.0;
                } else if (q < kd) {
                    let c = q / D;
                    let j = q % D;
                    for (var u = 0u; u < WG; u++) {
                        if ((tile_label[labels_at + u] & ~CHANGED) == c) {
                            s += tile_x[u * D + j];
                        }
                    }
                } else if (q < kd + info.k) {
                    let c = q - kd;
                    for (var u = 0u; u < WG; u++) {
                        if ((tile_label[labels_at + u] & ~CHANGED) == c) {
                            s += 1.0;
                        }
                    }
                } else if (q == kd + info.k) {
                    for (var u = 0u; u < WG; u++) {
                        s += tile_dist[labels_at + u];
                    }
                } else {
                    for (var u = 0u; u < WG; u++) {
                        let label = tile_label[labels_at + u];
                        if (label != UNSET && (label & CHANGED) != 0u) {
                            s += 1.0;
                        }
                    }
                }
                acc[m] += s;
            }
        }
        workgroupBarrier();
    }
    for (var m = 0u; m < PT; m++) {
        let p = lid + m * WG;
        if (p < params.pairs) {
            partials[(params.partial_offset + g) * params.pairs + p] = acc[m];
        }
    }
}
