// One E-step pass of a Gaussian mixture of K components over a chunk of
// points. Per point: each component's weighted log density
//   l_c = constant_c - |(x - mu_c) U_c|^2 / 2
// (U_c the Cholesky factor of its precision), the largest (the label,
// lowest index on ties), the log-likelihood max + ln sum_c e^(l_c - max),
// and the responsibilities e^(l_c - max) / sum. Per workgroup: one row of
// partial sums, one column per statistic the M-step needs, each described
// by a word of `columns`:
//   kind 0: sum r_c                      (component c)
//   kind 1: sum r_c (x_a - mu_ca)        (c, a)
//   kind 2: sum r_c (x_a - mu_ca)(x_b - mu_cb)   (c, a, b)
//   kind 3: sum of the log-likelihoods
// Sums are centred on the component's mean (its f32 part): the host adds
// the mean back in f64, so f32 loses no digits to a mean far from the
// spread. No float
// atomics: each column is owned by one thread, which adds the
// workgroup's points tile by tile in a fixed order; reduce_columns then
// adds the rows up.
//
// Constants: D, K, PT (columns per thread, the number of columns over WG
// rounded up). Bit 0 of params.flags: write each point's label.

// Per component, STRIDE floats: the mean (D) and its rounding error (D:
// the mean is their sum, as close as a double), the factor U column by
// column (column j at 2 D + j D), the constant.
@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> model: array<f32>;
// Per component and column j of its factor: the rows a with U[a][j] not
// 0, as first | (end << 16).
@group(0) @binding(3) var<storage, read> ranges: array<u32>;
// Per column of a partials row: kind | c << 2 | a << 12 | b << 22.
@group(0) @binding(4) var<storage, read> columns: array<u32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

const STRIDE: u32 = 2u * D + D * D + 1u;
const FACTOR: u32 = 2u * D;
const WRITE_LABELS: u32 = 1u;
// Bounds that keep every log density finite: a squared norm of HUGE
// (far past any real point's) and the lowest log density.
const HUGE: f32 = 1e37;
const LOWEST: f32 = -1e37;

var<workgroup> tile_x: array<f32, WG * D>;
// Responsibilities, component by component (tile_r[c * WG + u]).
var<workgroup> tile_r: array<f32, WG * K>;
var<workgroup> tile_ll: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = group_index(wid);
    if (g >= params.workgroups) {
        return;
    }
    // Each column's sum over the tiles, compensated (Kahan): at 10M users
    // a workgroup adds some 40 tiles.
    var acc: array<f32, PT>;
    var comp: array<f32, PT>;
    for (var m = 0u; m < PT; m++) {
        acc[m] = 0.0;
        comp[m] = 0.0;
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
        // Everything stays finite (WGSL may assume no infinities): a
        // squared norm past f32's range is clamped, so every component
        // has a log density and the largest is at least LOWEST.
        var logs: array<f32, K>;
        var best = LOWEST;
        var at = 0u;
        for (var c = 0u; c < K; c++) {
            let m = c * STRIDE;
            // x - mu with mu in two parts: a component with a tiny
            // variance magnifies the mean's f32 rounding by its factor.
            var diff: array<f32, D>;
            for (var j = 0u; j < D; j++) {
                diff[j] = (x[j] - model[m + j]) - model[m + D + j];
            }
            var sq = 0.0;
            for (var j = 0u; j < D; j++) {
                let range = ranges[c * D + j];
                let column = m + FACTOR + j * D;
                var y = 0.0;
                for (var a = range & 0xffffu; a < (range >> 16u); a++) {
                    y += diff[a] * model[column + a];
                }
                sq += y * y;
            }
            let l = max(model[m + FACTOR + D * D] - 0.5 * min(sq, HUGE), LOWEST);
            logs[c] = l;
            if (l > best) {
                best = l;
                at = c;
            }
        }
        // The largest term is e^0 = 1, so 1 <= sum <= K.
        var sum = 0.0;
        for (var c = 0u; c < K; c++) {
            let e = exp(logs[c] - best);
            logs[c] = e;
            sum += e;
        }
        for (var c = 0u; c < K; c++) {
            tile_r[c * WG + lid] = select(0.0, logs[c] / sum, valid);
        }
        tile_ll[lid] = select(0.0, best + log(sum), valid);
        if (valid && (params.flags & WRITE_LABELS) != 0u) {
            labels[i] = at;
        }
        workgroupBarrier();
        for (var m = 0u; m < PT; m++) {
            let p = lid + m * WG;
            if (p < params.pairs) {
                let word = columns[p];
                let kind = word & 3u;
                let c = (word >> 2u) & 1023u;
                let a = (word >> 12u) & 1023u;
                let b = word >> 22u;
                let r = c * WG;
                var s = 0.0;
                if (kind == 0u) {
                    for (var u = 0u; u < WG; u++) {
                        s += tile_r[r + u];
                    }
                } else if (kind == 1u) {
                    let mu = model[c * STRIDE + a];
                    for (var u = 0u; u < WG; u++) {
                        s += tile_r[r + u] * (tile_x[u * D + a] - mu);
                    }
                } else if (kind == 2u) {
                    let mu_a = model[c * STRIDE + a];
                    let mu_b = model[c * STRIDE + b];
                    for (var u = 0u; u < WG; u++) {
                        s += tile_r[r + u] * (tile_x[u * D + a] - mu_a) * (tile_x[u * D + b] - mu_b);
                    }
                } else {
                    for (var u = 0u; u < WG; u++) {
                        s += tile_ll[u];
                    }
                }
                let y = s - comp[m];
                let t = acc[m] + y;
                comp[m] = (t - acc[m]) - y;
                acc[m] = t;
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
