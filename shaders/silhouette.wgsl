// Exact Euclidean silhouette, tiled all-pairs: one thread per anchor
// point, the other points streamed through workgroup memory a tile of WG
// at a time, each distance computed once and added to the anchor's
// per-cluster sum of every labelling (the K of a sweep).
//
// Points arrive sorted by the labelling with the most clusters, so most
// tiles hold one cluster of each labelling: for those (`tile_labels`
// gives the cluster) a tile's distances are summed once and added per
// labelling; only mixed tiles scatter each distance by label. Sums are
// compensated (Kahan) across tiles, which keeps them within about 1e-6 of
// an f64 sum at millions of points.
//
// The other points come in parts (rows begin..end of one chunk, several
// chunks): the anchors' sums persist in `state` between parts (flags bit
// 1: first part, bit 2: last part). After the last part each anchor's
// silhouette per labelling is written to `out`.
//
// Constants: D, R (labellings), NACC (sum of their k).

@group(0) @binding(1) var<storage, read> anchors: array<f32>;
@group(0) @binding(2) var<storage, read> others: array<f32>;
// R x anchors labels.
@group(0) @binding(3) var<storage, read> anchor_labels: array<u32>;
// R x (rows of the other chunk) labels.
@group(0) @binding(4) var<storage, read> other_labels: array<u32>;
// Per labelling: first accumulator and k (2 x R), then the cluster sizes
// (NACC).
@group(0) @binding(5) var<storage, read> labelings: array<u32>;
// Per tile of WG other rows and labelling: its one cluster, or MIXED.
@group(0) @binding(6) var<storage, read> tile_labels: array<u32>;
// Per anchor: NACC sums, then NACC compensations.
@group(0) @binding(7) var<storage, read_write> state: array<f32>;
// R x anchors silhouettes.
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

const MIXED: u32 = 0xffffffffu;

var<workgroup> tile_x: array<f32, WG * D>;
var<workgroup> tile_label: array<u32, WG * R>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    if (g >= params.workgroups) {
        return;
    }
    let a = g * WG + lid;
    let valid = a < params.anchors;
    let row = min(a, params.anchors - 1u);
    var x: array<f32, D>;
    for (var j = 0u; j < D; j++) {
        x[j] = anchors[row * D + j];
    }
    var acc: array<f32, NACC>;
    var comp: array<f32, NACC>;
    var scratch: array<f32, NACC>;
    let first = (params.flags & 2u) != 0u;
    for (var q = 0u; q < NACC; q++) {
        acc[q] = select(state[row * 2u * NACC + q], 0.0, first);
        comp[q] = select(state[row * 2u * NACC + NACC + q], 0.0, first);
    }
    let rows = params.n;
    for (var start = params.begin; start < params.end; start += WG) {
        let j = start + lid;
        let loaded = j < params.end;
        let at = min(j, params.end - 1u);
        for (var f = 0u; f < D; f++) {
            tile_x[lid * D + f] = select(0.0, others[at * D + f], loaded);
        }
        for (var r = 0u; r < R; r++) {
            tile_label[r * WG + lid] = other_labels[r * rows + at];
        }
        workgroupBarrier();
        let len = min(WG, params.end - start);
        let tile = start / WG;
        for (var q = 0u; q < NACC; q++) {
            scratch[q] = 0.0;
        }
        var tile_sum = 0.0;
        for (var u = 0u; u < len; u++) {
            var sq = 0.0;
            for (var f = 0u; f < D; f++) {
                let v = x[f] - tile_x[u * D + f];
                sq += v * v;
            }
            let dist = sqrt(sq);
            tile_sum += dist;
            for (var r = 0u; r < R; r++) {
                if (tile_labels[tile * R + r] == MIXED) {
                    let q = labelings[2u * r] + tile_label[r * WG + u];
                    scratch[q] += dist;
                }
            }
        }
        for (var r = 0u; r < R; r++) {
            let one = tile_labels[tile * R + r];
            if (one != MIXED) {
                let q = labelings[2u * r] + one;
                scratch[q] += tile_sum;
            }
        }
        for (var q = 0u; q < NACC; q++) {
            let y = scratch[q] - comp[q];
            let t = acc[q] + y;
            comp[q] = (t - acc[q]) - y;
            acc[q] = t;
        }
        workgroupBarrier();
    }
    if (!valid) {
        return;
    }
    if ((params.flags & 4u) == 0u) {
        for (var q = 0u; q < NACC; q++) {
            state[a * 2u * NACC + q] = acc[q];
            state[a * 2u * NACC + NACC + q] = comp[q];
        }
        return;
    }
    let sizes = 2u * R;
    for (var r = 0u; r < R; r++) {
        let offset = labelings[2u * r];
        let k = labelings[2u * r + 1u];
        let own = anchor_labels[r * params.anchors + a];
        let own_size = labelings[sizes + offset + own];
        var s = 0.0;
        if (own_size > 1u) {
            let inside = acc[offset + own] / f32(own_size - 1u);
            var nearest = infinity();
            for (var c = 0u; c < k; c++) {
                let size = labelings[sizes + offset + c];
                if (c != own && size > 0u) {
                    nearest = min(nearest, acc[offset + c] / f32(size));
                }
            }
            let m = max(inside, nearest);
            if (nearest != infinity() && m > 0.0) {
                s = (nearest - inside) / m;
            }
        }
        out[r * params.anchors + a] = s;
    }
}
