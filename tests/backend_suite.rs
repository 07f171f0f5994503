//! One suite of backend tests, instantiated for every backend (`cpu`,
//! `gpu`): each kernel (through [`Kernels`]) against a plain f64 loop, and
//! the algorithms' contracts (an empty cluster re-seeded); then, for the
//! GPU only, the whole algorithms (k-means++, a fit, a sweep with every
//! metric) against the CPU backend, the reference. GPU tests run on any
//! adapter, lavapipe included (see tests/common); sizes stay in the
//! thousands of points for it.

use crate::common;

use ndarray::{Array1, Array2, Array3};
use segmint::backend::{Backend, Components, Kernels, Labeling, LloydAlgorithm, MixtureSums};
use segmint::cluster::gmm::{self, CovarianceType, Covariances, GmmParams, Mixture};
use segmint::cluster::{KMeansParams, SilhouetteMode, fit_each_k, kmeans_plus_plus, lloyd, sweep};
use segmint::features::matrix::FeatureMatrix;

/// Points around `groups` centres, from a plain LCG (no dependency on the
/// generators under test).
fn blobs(n: usize, d: usize, groups: usize, seed: u64) -> FeatureMatrix {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let centres: Vec<f32> = (0..groups * d).map(|_| next() * 20.0 - 10.0).collect();
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let g = i % groups;
        for j in 0..d {
            data.push(centres[g * d + j] + next() * 2.0 - 1.0);
        }
    }
    FeatureMatrix::from_rows(n, d, data)
}

fn squared(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum()
}

#[track_caller]
fn close(a: f64, b: f64, relative: f64, what: &str) {
    assert!(
        (a - b).abs() <= relative * b.abs().max(1e-9),
        "{what}: {a} vs {b}"
    );
}

fn assignment_matches_a_plain_loop<K: Kernels>(backend: &K) {
    let (n, d, k) = (3001, 3, 5);
    let x = blobs(n, d, 5, 1);
    let centres: Vec<f32> = x.as_slice()[..k * d].to_vec();
    let device = backend.upload(&x).unwrap();
    let mut labels = vec![0u32; n];
    let mut distances = vec![0.0f32; n];
    backend
        .assign(&device, &centres, &mut labels, &mut distances)
        .unwrap();
    for i in 0..n {
        let d2: Vec<f64> = centres.chunks(d).map(|c| squared(x.row(i), c)).collect();
        let best = d2
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        assert_eq!(labels[i] as usize, best.0, "point {i}");
        close(f64::from(distances[i]), *best.1, 1e-5, "distance");
    }
}

fn ties_go_to_the_lowest_index<K: Kernels>(backend: &K) {
    let x = FeatureMatrix::from_rows(2, 1, vec![0.0, 1.0]);
    let device = backend.upload(&x).unwrap();
    let mut labels = vec![9; 2];
    let mut distances = vec![0.0; 2];
    backend
        .assign(&device, &[0.5, 0.5, -0.5], &mut labels, &mut distances)
        .unwrap();
    assert_eq!(labels, [0, 0]);
    assert_eq!(distances, [0.25, 0.25]);
}

/// One step of two runs at once: labels, sums, counts, inertia and the
/// centre shift against a plain f64 loop.
fn lloyd_step_matches_a_plain_loop<K: Kernels>(backend: &K) {
    let (n, d) = (2500, 4);
    let x = blobs(n, d, 6, 2);
    let inits: Vec<Array2<f64>> = [3usize, 7]
        .iter()
        .map(|&k| {
            Array2::from_shape_vec(
                (k, d),
                x.as_slice()[..k * d]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            )
            .unwrap()
        })
        .collect();
    let device = backend.upload(&x).unwrap();
    let mut runs = backend
        .lloyd_start(&device, &inits, LloydAlgorithm::Lloyd)
        .unwrap();
    let stats = backend
        .lloyd_step(&device, &mut runs, &[0, 1], true)
        .unwrap();
    let finished = backend.lloyd_finish(runs).unwrap();
    same_len(&stats, &inits);
    same_len(&finished, &inits);
    for ((init, s), (centres, labels)) in inits.iter().zip(&stats).zip(&finished) {
        let k = init.nrows();
        let flat: Vec<f32> = init.iter().map(|&v| v as f32).collect();
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0u64; k];
        let mut inertia = 0.0;
        for (i, &label) in labels.iter().enumerate() {
            let d2: Vec<f64> = flat.chunks(d).map(|c| squared(x.row(i), c)).collect();
            let (best, dist) = d2
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            assert_eq!(label as usize, best, "point {i}, k = {k}");
            counts[best] += 1;
            inertia += dist;
            for j in 0..d {
                sums[best * d + j] += f64::from(x.row(i)[j]);
            }
        }
        assert!(!s.empty);
        assert_eq!(s.changed, n as u64, "every label was unset");
        close(s.inertia, inertia, 1e-5, "inertia");
        let mut shift = 0.0;
        for c in 0..k {
            for j in 0..d {
                let mean = sums[c * d + j] / counts[c] as f64;
                close(centres[[c, j]], mean, 1e-5, "centre");
                shift += (mean - init[[c, j]]).powi(2);
            }
        }
        close(s.shift, shift, 1e-4, "shift");
    }
}

/// A second step from the moved centres only relabels what changed, and
/// a step that does not move the centres reports no shift.
fn lloyd_steps_track_changes<K: Kernels>(backend: &K) {
    let x = blobs(1000, 2, 3, 3);
    let init = Array2::from_shape_vec(
        (3, 2),
        x.as_slice()[..6].iter().map(|&v| f64::from(v)).collect(),
    )
    .unwrap();
    let device = backend.upload(&x).unwrap();
    let mut runs = backend
        .lloyd_start(&device, &[init], LloydAlgorithm::Lloyd)
        .unwrap();
    let mut last = None;
    for _ in 0..50 {
        let s = backend
            .lloyd_step(&device, &mut runs, &[0], true)
            .unwrap()
            .pop()
            .unwrap();
        if let Some(previous) = last {
            assert!(s.inertia <= previous * (1.0 + 1e-6), "inertia rose");
        }
        last = Some(s.inertia);
        if s.changed == 0 {
            break;
        }
    }
    let still = backend
        .lloyd_step(&device, &mut runs, &[0], false)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((still.changed, still.shift), (0, 0.0));
}

/// sklearn's rule: an empty cluster takes the point farthest from its
/// centre, in the same iteration.
fn empty_cluster_is_reseeded(backend: &Backend) {
    let x = FeatureMatrix::from_rows(4, 1, vec![0.0, 1.0, 2.0, 10.0]);
    let init = Array2::from_shape_vec((2, 1), vec![0.0, 100.0]).unwrap();
    let fit = lloyd(backend, &x, vec![init], 10, 0.0, LloydAlgorithm::Lloyd)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(fit.labels, [0, 0, 0, 1]);
    assert_eq!(fit.centres.column(0).to_vec(), [1.0, 10.0]);
    assert_eq!(fit.inertia, 2.0);
}

/// The contract of a step that leaves a cluster empty: nothing moves, no
/// shift, and the sums the driver re-seeds from are the step's.
fn an_empty_step_moves_nothing<K: Kernels>(backend: &K) {
    let x = FeatureMatrix::from_rows(4, 1, vec![0.0, 1.0, 2.0, 10.0]);
    let init = Array2::from_shape_vec((2, 1), vec![0.0, 100.0]).unwrap();
    let device = backend.upload(&x).unwrap();
    let mut runs = backend
        .lloyd_start(&device, std::slice::from_ref(&init), LloydAlgorithm::Lloyd)
        .unwrap();
    let s = backend
        .lloyd_step(&device, &mut runs, &[0], true)
        .unwrap()
        .pop()
        .unwrap();
    assert!(s.empty);
    assert_eq!((s.shift, s.changed, s.inertia), (0.0, 4, 105.0));
    let (sums, labels, old) = backend.lloyd_sums(&runs, 0).unwrap();
    assert_eq!(sums.counts, [4, 0]);
    assert_eq!(sums.sums, [13.0, 0.0]);
    assert_eq!(labels, [0, 0, 0, 0]);
    assert_eq!(old, init);
    let (centres, _) = backend.lloyd_finish(runs).unwrap().pop().unwrap();
    assert_eq!(centres, init);
}

/// Stats come back in the order of `active`, whatever it is.
fn steps_report_in_the_order_asked<K: Kernels>(backend: &K) {
    let x = blobs(500, 2, 3, 9);
    let init = |k: usize| {
        Array2::from_shape_vec(
            (k, 2),
            x.as_slice()[..2 * k]
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        )
        .unwrap()
    };
    let inits = [init(2), init(3)];
    let device = backend.upload(&x).unwrap();
    let mut forward = backend
        .lloyd_start(&device, &inits, LloydAlgorithm::Lloyd)
        .unwrap();
    let mut backward = backend
        .lloyd_start(&device, &inits, LloydAlgorithm::Lloyd)
        .unwrap();
    let a = backend
        .lloyd_step(&device, &mut forward, &[0, 1], true)
        .unwrap();
    let b = backend
        .lloyd_step(&device, &mut backward, &[1, 0], true)
        .unwrap();
    assert_eq!(a, [b[1], b[0]]);
}

fn kmeanspp_matches_the_cpu(backend: &Backend) {
    let x = blobs(9000, 3, 8, 4);
    for (k, seed) in [(2, 0), (5, 1), (10, 7)] {
        let got = kmeans_plus_plus(backend, &x, k, seed).unwrap();
        let want = kmeans_plus_plus(&Backend::Cpu, &x, k, seed).unwrap();
        assert_eq!(got, want, "k = {k}, seed {seed}");
    }
}

fn fit_matches_the_cpu(backend: &Backend) {
    let x = blobs(4000, 3, 4, 5);
    let params = KMeansParams {
        n_init: 2,
        ..KMeansParams::default()
    };
    let ks = [2, 3, 4, 6];
    let got = fit_each_k(backend, &x, &ks, &params).unwrap();
    let want = fit_each_k(&Backend::Cpu, &x, &ks, &params).unwrap();
    same_len(&got, &want);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels, "k = {}", w.k());
        assert_eq!(g.n_iter, w.n_iter, "k = {}", w.k());
        close(g.inertia, w.inertia, 1e-5, "inertia");
        for (a, b) in g.centres.iter().zip(w.centres.iter()) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

/// Per-point silhouettes of two labellings at once against a plain f64
/// all-pairs loop, to 1e-5.
fn silhouette_matches_an_f64_reference<K: Kernels>(backend: &K) {
    let x = blobs(900, 2, 3, 6);
    let l1: Vec<u32> = (0..x.n()).map(|i| (i % 3) as u32).collect();
    let l2: Vec<u32> = (0..x.n()).map(|i| (x.row(i)[0] > 0.0) as u32).collect();
    let out = backend
        .silhouette(
            &x,
            &[
                Labeling { labels: &l1, k: 3 },
                Labeling { labels: &l2, k: 2 },
            ],
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    for (labels, k, result) in [(&l1, 3, &out[0]), (&l2, 2, &out[1])] {
        same_len(&result.values, labels);
        let mut sizes = vec![0u64; k];
        for &l in labels.iter() {
            sizes[l as usize] += 1;
        }
        let mut total = 0.0;
        for i in 0..x.n() {
            let mut sums = vec![0.0f64; k];
            for j in 0..x.n() {
                sums[labels[j] as usize] += squared(x.row(i), x.row(j)).sqrt();
            }
            let own = labels[i] as usize;
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let s = (b - a) / a.max(b);
            total += s;
            assert!(
                (f64::from(result.values[i]) - s).abs() < 1e-5,
                "point {i}: {} vs {s}",
                result.values[i]
            );
        }
        close(result.mean, total / x.n() as f64, 1e-5, "mean silhouette");
    }
}

fn sweep_matches_the_cpu(backend: &Backend) {
    let x = blobs(3000, 3, 4, 8);
    let ks: Vec<usize> = (2..=8).collect();
    let params = KMeansParams::default();
    let got = sweep(backend, &x, &ks, &params, SilhouetteMode::Exact).unwrap();
    let want = sweep(&Backend::Cpu, &x, &ks, &params, SilhouetteMode::Exact).unwrap();
    assert_eq!(got.chosen, want.chosen);
    assert_eq!(got.knee, want.knee);
    same_len(&got.metrics, &want.metrics);
    same_len(&got.fits, &want.fits);
    for (g, w) in got.metrics.iter().zip(&want.metrics) {
        close(g.inertia, w.inertia, 1e-5, "inertia");
        let (gs, ws) = (g.silhouette.unwrap(), w.silhouette.unwrap());
        close(gs, ws, 1e-5, "silhouette");
        close(
            g.calinski_harabasz.unwrap(),
            w.calinski_harabasz.unwrap(),
            1e-5,
            "Calinski-Harabasz",
        );
        close(
            g.davies_bouldin.unwrap(),
            w.davies_bouldin.unwrap(),
            1e-5,
            "Davies-Bouldin",
        );
    }
    for (g, w) in got.fits.iter().zip(&want.fits) {
        assert_eq!(g.labels, w.labels, "k = {}", w.k());
    }
}

/// A mixture of four components on 3 features, of each covariance type:
/// means at four of the points, covariances that differ per component.
fn test_mixture(x: &FeatureMatrix, covariance: CovarianceType) -> Mixture {
    let (k, d) = (4, 3);
    let means = Array2::from_shape_fn((k, d), |(c, j)| f64::from(x.row(c * 7)[j]));
    let weights = vec![0.1, 0.2, 0.3, 0.4];
    let full = |c: usize| {
        Array2::from_shape_fn((d, d), |(a, b)| {
            let base = if a == b { 1.0 + 0.5 * c as f64 } else { 0.0 };
            base + 0.3 * ((a + b + c) % 3) as f64 * if a == b { 1.0 } else { 0.5 }
        })
    };
    let covariances = match covariance {
        CovarianceType::Full => Covariances::Full(Array3::from_shape_fn((k, d, d), |(c, a, b)| {
            full(c)[[a, b]]
        })),
        CovarianceType::Tied => Covariances::Tied(full(1)),
        CovarianceType::Diag => {
            Covariances::Diag(Array2::from_shape_fn((k, d), |(c, j)| 0.5 + (c + j) as f64))
        }
        CovarianceType::Spherical => {
            Covariances::Spherical(Array1::from_shape_fn(k, |c| 1.0 + c as f64))
        }
    };
    Mixture::new(weights, means, covariances).expect("positive definite")
}

/// The inverse and log-determinant of a small symmetric positive
/// definite matrix, by Gauss-Jordan elimination in f64.
fn inverse_and_log_det(a: &Array2<f64>) -> (Array2<f64>, f64) {
    let d = a.nrows();
    let mut m = a.clone();
    let mut inv = Array2::<f64>::eye(d);
    let mut log_det = 0.0;
    for p in 0..d {
        let pivot = m[[p, p]];
        log_det += pivot.ln();
        for j in 0..d {
            m[[p, j]] /= pivot;
            inv[[p, j]] /= pivot;
        }
        for i in 0..d {
            if i != p {
                let f = m[[i, p]];
                for j in 0..d {
                    m[[i, j]] -= f * m[[p, j]];
                    inv[[i, j]] -= f * inv[[p, j]];
                }
            }
        }
    }
    (inv, log_det)
}

/// What one E-step pass should give, from the mixture's parameters in a
/// plain f64 loop: the sums, each sum's magnitude (the sum of its terms'
/// absolute values, what rounding is relative to), each point's label, and
/// the gap between its two largest log densities.
struct Expected {
    sums: MixtureSums,
    magnitude: MixtureSums,
    labels: Vec<u32>,
    gaps: Vec<f64>,
}

fn plain_e_step(x: &FeatureMatrix, mixture: &Mixture) -> Expected {
    let (k, d) = (mixture.k(), mixture.d());
    let products = mixture.covariance_type().products();
    let pairs = products.pairs(d);
    let covariance = |c: usize| -> Array2<f64> {
        match &mixture.covariances {
            Covariances::Full(v) => v.index_axis(ndarray::Axis(0), c).to_owned(),
            Covariances::Tied(v) => v.clone(),
            Covariances::Diag(v) => Array2::from_diag(&v.row(c)),
            Covariances::Spherical(v) => Array2::eye(d) * v[c],
        }
    };
    let terms: Vec<(Array2<f64>, f64)> = (0..k)
        .map(|c| {
            let (inv, log_det) = inverse_and_log_det(&covariance(c));
            let constant = mixture.weights[c].ln()
                - 0.5 * log_det
                - 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
            (inv, constant)
        })
        .collect();
    let mut sums = MixtureSums::zero(k, d, products);
    let mut magnitude = MixtureSums::zero(k, d, products);
    let (mut labels, mut gaps) = (Vec::new(), Vec::new());
    for i in 0..x.n() {
        let p: Vec<f64> = x.row(i).iter().map(|&v| f64::from(v)).collect();
        let logs: Vec<f64> = (0..k)
            .map(|c| {
                let (inv, constant) = &terms[c];
                let diff: Vec<f64> = (0..d).map(|a| p[a] - mixture.means[[c, a]]).collect();
                let mut q = 0.0;
                for a in 0..d {
                    for b in 0..d {
                        q += diff[a] * inv[[a, b]] * diff[b];
                    }
                }
                constant - 0.5 * q
            })
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| logs[b].total_cmp(&logs[a]).then(a.cmp(&b)));
        labels.push(order[0] as u32);
        gaps.push(logs[order[0]] - logs[order[1]]);
        let max = logs[order[0]];
        let total: f64 = logs.iter().map(|l| (l - max).exp()).sum();
        let ll = max + total.ln();
        sums.log_likelihood += ll;
        magnitude.log_likelihood += ll.abs();
        for (c, log) in logs.iter().enumerate() {
            let r = (log - ll).exp();
            sums.resp[c] += r;
            magnitude.resp[c] += r;
            for (a, v) in p.iter().enumerate() {
                sums.first[[c, a]] += r * v;
                magnitude.first[[c, a]] += (r * v).abs();
            }
            for (q, &(a, b)) in pairs.iter().enumerate() {
                sums.second[[c, q]] += r * p[a] * p[b];
                magnitude.second[[c, q]] += (r * p[a] * p[b]).abs();
            }
        }
    }
    Expected {
        sums,
        magnitude,
        labels,
        gaps,
    }
}

/// Each sum within `relative` of its magnitude.
#[track_caller]
fn sums_close(got: &MixtureSums, want: &Expected, relative: f64) {
    let pairs = [
        (&got.resp[..], &want.sums.resp[..], &want.magnitude.resp[..]),
        (
            got.first.as_slice().unwrap(),
            want.sums.first.as_slice().unwrap(),
            want.magnitude.first.as_slice().unwrap(),
        ),
        (
            got.second.as_slice().unwrap(),
            want.sums.second.as_slice().unwrap(),
            want.magnitude.second.as_slice().unwrap(),
        ),
    ];
    for (g, w, m) in pairs {
        same_len(g, w);
        for ((a, b), scale) in g.iter().zip(w).zip(m) {
            assert!((a - b).abs() <= relative * scale.max(1e-12), "{a} vs {b}");
        }
    }
    let (a, b) = (got.log_likelihood, want.sums.log_likelihood);
    assert!(
        (a - b).abs() <= relative * want.magnitude.log_likelihood,
        "log-likelihood {a} vs {b}"
    );
}

/// One E-step pass of two mixtures at once, of each covariance type,
/// against a plain f64 loop; each point's most probable component too.
/// The CPU works in f64, the GPU in f32 (with its moments centred).
fn mixture_pass_matches_a_plain_loop<K: Kernels>(backend: &K, relative: f64) {
    let x = blobs(3001, 3, 4, 9);
    let device = backend.upload(&x).unwrap();
    for covariance in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let mixture = test_mixture(&x, covariance);
        // A second run: the same components in reverse order.
        let reversed = mixture.reordered(&[3, 2, 1, 0]);
        let mut state = backend
            .mixture_start(&device, &[4, 4], covariance.products())
            .unwrap();
        let active: Vec<(usize, Components)> =
            vec![(1, reversed.components()), (0, mixture.components())];
        let got = backend.mixture_pass(&device, &mut state, &active).unwrap();
        same_len(&got, &active);
        sums_close(&got[1], &plain_e_step(&x, &mixture), relative);
        sums_close(&got[0], &plain_e_step(&x, &reversed), relative);
        let want = plain_e_step(&x, &mixture);
        let (labels, ll) = backend
            .mixture_labels(&device, mixture.components())
            .unwrap();
        same_len(&labels, &want.labels);
        for (i, (&a, &b)) in labels.iter().zip(&want.labels).enumerate() {
            // Within rounding of a tie either component may win.
            assert!(a == b || want.gaps[i] < 1e-4, "{covariance:?}, point {i}");
        }
        let scale = want.magnitude.log_likelihood;
        assert!((ll - want.sums.log_likelihood).abs() <= relative * scale);
    }
}

/// Users far from the origin (every coordinate near 1,000, so f32 keeps
/// about 1e-4 of them) with a spread of about 1: raw moments in f32 would
/// lose the covariances (1e6 against 0.3), and a mean rounded to f32
/// would shift every whitened coordinate. Each component's covariance from
/// the pass's sums, and the log-likelihood, against the plain f64 loop.
fn mixture_sums_keep_their_digits_far_from_the_origin<K: Kernels>(
    backend: &K,
    relative: f64,
    covariance_relative: f64,
) {
    let near = blobs(3001, 3, 4, 12);
    let x = FeatureMatrix::from_rows(
        near.n(),
        3,
        near.as_slice().iter().map(|v| v + 1000.0).collect(),
    );
    let device = backend.upload(&x).unwrap();
    let k = 4;
    // Means at four users, unit-ish covariances.
    let means = Array2::from_shape_fn((k, 3), |(c, j)| f64::from(x.row(c * 5)[j]) + 0.1);
    let covariances = Covariances::Full(Array3::from_shape_fn((k, 3, 3), |(c, a, b)| {
        if a == b { 0.3 + 0.1 * c as f64 } else { 0.05 }
    }));
    let mixture = Mixture::new(vec![0.25; k], means, covariances).unwrap();
    let mut state = backend
        .mixture_start(&device, &[k], CovarianceType::Full.products())
        .unwrap();
    let got = backend
        .mixture_pass(&device, &mut state, &[(0, mixture.components())])
        .unwrap()
        .remove(0);
    let want = plain_e_step(&x, &mixture);
    let (a, b) = (got.log_likelihood, want.sums.log_likelihood);
    assert!(
        (a - b).abs() <= relative * want.magnitude.log_likelihood,
        "log-likelihood {a} vs {b}"
    );
    // Covariance entry (a, b) of component c from raw sums, in f64.
    let covariance = |sums: &MixtureSums, c: usize, p: usize, (a, b): (usize, usize)| {
        let r = sums.resp[c];
        sums.second[[c, p]] / r - sums.first[[c, a]] * sums.first[[c, b]] / (r * r)
    };
    let pairs = CovarianceType::Full.products().pairs(3);
    for c in 0..k {
        for (p, &pair) in pairs.iter().enumerate() {
            let (g, w) = (
                covariance(&got, c, p, pair),
                covariance(&want.sums, c, p, pair),
            );
            // Relative to the component's spread, not to the raw moments.
            assert!(
                (g - w).abs() <= covariance_relative * w.abs().max(0.3),
                "component {c}, {pair:?}: {g} vs {w}"
            );
        }
    }
}

fn mixture_pass_matches_in_f64(backend: &segmint::backend::CpuBackend) {
    mixture_pass_matches_a_plain_loop(backend, 1e-10);
    // f64 raw moments near 1e6 keep about 8 digits of a covariance of 0.3.
    mixture_sums_keep_their_digits_far_from_the_origin(backend, 1e-10, 1e-7);
}

fn mixture_pass_matches_in_f32(backend: &segmint::backend::GpuBackend) {
    mixture_pass_matches_a_plain_loop(backend, 2e-6);
    mixture_sums_keep_their_digits_far_from_the_origin(backend, 2e-6, 1e-4);
}

/// Whole mixture fits, every covariance type, on the GPU against the CPU:
/// the same log-likelihood within 1e-5 relative, the same labels but for
/// users within rounding of a tie.
fn mixture_fit_matches_the_cpu(backend: &Backend) {
    let x = blobs(4000, 3, 4, 10);
    for covariance in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let params = GmmParams {
            covariance,
            n_init: 2,
            ..GmmParams::default()
        };
        let ks = [3, 4];
        let got = gmm::fit_each_k(backend, &x, &ks, &params).unwrap();
        let want = gmm::fit_each_k(&Backend::Cpu, &x, &ks, &params).unwrap();
        same_len(&got, &want);
        for (g, w) in got.iter().zip(&want) {
            let what = format!("{covariance:?}, K = {}", w.mixture.k());
            close(g.log_likelihood, w.log_likelihood, 1e-5, &what);
            let gaps = plain_e_step(&x, &w.mixture).gaps;
            for (i, (a, b)) in g.labels.iter().zip(&w.labels).enumerate() {
                assert!(a == b || gaps[i] < 1e-3, "{what}: point {i}");
            }
        }
    }
}

/// Lengths first: a zip stops at the shorter side.
#[track_caller]
fn same_len<A, B>(a: &[A], b: &[B]) {
    assert_eq!(a.len(), b.len(), "results of different lengths");
}

/// Kernel cases for a backend's [`Kernels`] (`$kernels`, an Option), and
/// the algorithm cases for its [`Backend`].
macro_rules! cases {
    ($kernels:expr, $backend:expr; kernels: $($k:ident),*; algorithms: $($a:ident),*) => {
        $(
            #[test]
            fn $k() {
                if let Some(kernels) = $kernels {
                    super::$k(&kernels);
                }
            }
        )*
        $(
            #[test]
            fn $a() {
                if let Some(backend) = $backend {
                    super::$a(&backend);
                }
            }
        )*
    };
}

mod cpu {
    use super::*;
    use segmint::backend::CpuBackend;

    cases!(Some(CpuBackend), Some(Backend::Cpu);
        kernels: assignment_matches_a_plain_loop, ties_go_to_the_lowest_index,
            lloyd_step_matches_a_plain_loop, lloyd_steps_track_changes,
            an_empty_step_moves_nothing, steps_report_in_the_order_asked,
            silhouette_matches_an_f64_reference, mixture_pass_matches_in_f64;
        algorithms: empty_cluster_is_reseeded);
}

/// The same, and the GPU's algorithms against the CPU's.
mod gpu {
    use super::*;

    cases!(common::gpu_kernels(), common::gpu();
        kernels: assignment_matches_a_plain_loop, ties_go_to_the_lowest_index,
            lloyd_step_matches_a_plain_loop, lloyd_steps_track_changes,
            an_empty_step_moves_nothing, steps_report_in_the_order_asked,
            silhouette_matches_an_f64_reference, mixture_pass_matches_in_f32;
        algorithms: empty_cluster_is_reseeded, kmeanspp_matches_the_cpu,
            fit_matches_the_cpu, sweep_matches_the_cpu, mixture_fit_matches_the_cpu);
}
