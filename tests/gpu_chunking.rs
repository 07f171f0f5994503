//! The GPU backend past the device's limits, on small data: the limits are
//! shrunk (32 KiB per binding and per buffer, 5 workgroups per grid
//! dimension, 10,000 distances per silhouette dispatch) so that points are
//! cut into chunks, runs into groups, dispatches into 2D grids, read-backs
//! into several buffers and the silhouette into parts, exactly as 10M+
//! users are on a real device. Results must equal the CPU backend's.

use crate::common;
use common::zip_eq;

use segmint::backend::cpu::mixture::{Source, posteriors};
use segmint::backend::{Backend, CpuBackend, GpuBackend, GpuOptions, Kernels, Labeling};
use segmint::cluster::gmm::{self, CovarianceType, GmmParams};
use segmint::cluster::{KMeansParams, fit_each_k, kmeans_plus_plus};
use segmint::features::matrix::FeatureMatrix;

fn shrunk() -> Option<GpuBackend> {
    common::gpu_kernels_with(&GpuOptions {
        max_binding: Some(32 * 1024),
        max_buffer: Some(32 * 1024),
        max_workgroups: Some(5),
        max_pairs_per_dispatch: Some(10_000),
        ..GpuOptions::default()
    })
}

/// 10,000 points in 2D around four centres (plain LCG noise).
fn points() -> FeatureMatrix {
    points_n(10_000)
}

/// `n` points in 2D around four centres (plain LCG noise).
fn points_n(n: usize) -> FeatureMatrix {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let centres = [(-6.0, -6.0), (6.0, -5.0), (-5.0, 6.0), (6.0, 6.0)];
    let mut data = Vec::with_capacity(2 * n);
    for i in 0..n {
        let (x, y) = centres[i % 4];
        data.push(x + 4.0 * next() - 2.0);
        data.push(y + 4.0 * next() - 2.0);
    }
    FeatureMatrix::from_rows(n, 2, data)
}

#[test]
fn chunked_work_matches_the_cpu() {
    let Some(gpu) = shrunk() else { return };
    let backend = Backend::Gpu(gpu.clone());
    let x = points();
    let device = gpu.upload(&x).unwrap();
    // 32 KiB hold 4,096 points of 2 features: three chunks.
    assert_eq!(device.chunks(), 3);

    // Assignment across chunks and a 2D grid.
    let centres: Vec<f32> = x.as_slice()[..10].to_vec();
    let (mut labels, mut distances) = (vec![0u32; x.n()], vec![0.0f32; x.n()]);
    gpu.assign(&device, &centres, &mut labels, &mut distances)
        .unwrap();
    let cpu_device = CpuBackend.upload(&x).unwrap();
    let (mut want, mut want_distances) = (vec![0u32; x.n()], vec![0.0f32; x.n()]);
    CpuBackend
        .assign(&cpu_device, &centres, &mut want, &mut want_distances)
        .unwrap();
    assert_eq!(labels, want);

    // k-means++ draws blocks across chunks.
    for seed in 0..3 {
        assert_eq!(
            kmeans_plus_plus(&backend, &x, 6, seed).unwrap(),
            kmeans_plus_plus(&Backend::Cpu, &x, 6, seed).unwrap()
        );
    }

    // Runs in several groups: labels of 5 runs x 4,096 points do not fit
    // one binding.
    let inits: Vec<_> = (2..=6)
        .map(|k| kmeans_plus_plus(&Backend::Cpu, &x, k, 1).unwrap())
        .collect();
    let runs = gpu.lloyd_start(&device, &inits).unwrap();
    assert!(runs.groups() > 1, "{} groups", runs.groups());
    let ks: Vec<usize> = (2..=6).collect();
    let params = KMeansParams::default();
    let got = fit_each_k(&backend, &x, &ks, &params).unwrap();
    let want = fit_each_k(&Backend::Cpu, &x, &ks, &params).unwrap();
    for (g, w) in zip_eq(&got, &want) {
        assert_eq!(g.labels, w.labels, "k = {}", w.k());
        let relative = (g.inertia - w.inertia).abs() / w.inertia;
        assert!(
            relative < 1e-5,
            "k = {}: {} vs {}",
            w.k(),
            g.inertia,
            w.inertia
        );
    }

    // The silhouette of every K in chunks of anchors and parts of others.
    let labelings: Vec<Labeling> = want
        .iter()
        .map(|f| Labeling {
            labels: &f.labels,
            k: f.k(),
        })
        .collect();
    let got = gpu.silhouette(&x, &labelings).unwrap();
    let want = Backend::Cpu.silhouette(&x, &labelings).unwrap();
    for (g, w) in zip_eq(&got, &want) {
        assert!(
            (g.mean - w.mean).abs() < 1e-5 * w.mean.abs(),
            "{} vs {}",
            g.mean,
            w.mean
        );
        for (a, b) in zip_eq(&g.values, &w.values) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}

#[test]
fn too_many_features_is_an_error_not_a_panic() {
    let Some(gpu) = common::gpu_kernels() else {
        return;
    };
    let wide = FeatureMatrix::from_rows(2, 61, vec![0.0; 122]);
    let err = gpu.upload(&wide).unwrap_err().to_string();
    assert!(err.contains("61 features"), "{err}");
}

/// The GPU backend with invocations cut to at most `max_loop` iterations.
fn bounded(max_loop: u64) -> Option<GpuBackend> {
    common::gpu_kernels_with(&GpuOptions {
        max_loop: Some(max_loop),
        ..GpuOptions::default()
    })
}

#[test]
fn loops_cut_to_small_bounds_match_the_cpu() {
    let x = points();
    let cpu_device = CpuBackend.upload(&x).unwrap();
    // Assignment to 40 centres in passes of 19 (d = 2: 2 + 19 x 3 <= 60).
    let Some(gpu) = bounded(60) else { return };
    let centres: Vec<f32> = x.as_slice()[..80].to_vec();
    let device = gpu.upload(&x).unwrap();
    let (mut labels, mut distances) = (vec![0u32; x.n()], vec![0.0f32; x.n()]);
    gpu.assign(&device, &centres, &mut labels, &mut distances)
        .unwrap();
    let (mut want, mut want_distances) = (vec![0u32; x.n()], vec![0.0f32; x.n()]);
    CpuBackend
        .assign(&cpu_device, &centres, &mut want, &mut want_distances)
        .unwrap();
    assert_eq!(labels, want);
    for (a, b) in zip_eq(&distances, &want_distances) {
        assert!((a - b).abs() <= 1e-6 * b.max(1.0), "{a} vs {b}");
    }

    // k-means++ with potentials of few tiles per workgroup.
    let Some(gpu) = bounded(100) else { return };
    for seed in 0..3 {
        assert_eq!(
            kmeans_plus_plus(&Backend::Gpu(gpu.clone()), &x, 6, seed).unwrap(),
            kmeans_plus_plus(&Backend::Cpu, &x, 6, seed).unwrap()
        );
    }

    // The silhouette of three labellings in parts of a few tiles.
    let Some(gpu) = bounded(1500) else { return };
    let fits = fit_each_k(&Backend::Cpu, &x, &[2, 3, 4], &KMeansParams::default()).unwrap();
    let labelings: Vec<Labeling> = fits
        .iter()
        .map(|f| Labeling {
            labels: &f.labels,
            k: f.k(),
        })
        .collect();
    let got = gpu.silhouette(&x, &labelings).unwrap();
    let want = Backend::Cpu.silhouette(&x, &labelings).unwrap();
    for (g, w) in zip_eq(&got, &want) {
        assert!((g.mean - w.mean).abs() <= 1e-6, "{} vs {}", g.mean, w.mean);
        for (a, b) in zip_eq(&g.values, &w.values) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
    // A bound no single tile of a run fits is an error, not a wrong sum.
    let Some(gpu) = bounded(50) else { return };
    let device = gpu.upload(&x).unwrap();
    let err = gpu
        .lloyd_start(
            &device,
            &[kmeans_plus_plus(&Backend::Cpu, &x, 4, 0).unwrap()],
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("past the 50"), "{err}");
}

/// Lloyd passes over 300,000 points take two tiles per workgroup; a bound
/// of 100 iterations per invocation leaves room for one, so the pass runs
/// twice as many workgroups. The fit is the CPU's.
#[test]
fn lloyd_tiles_cut_by_the_loop_bound_match_the_cpu() {
    let Some(gpu) = bounded(100) else { return };
    let gpu = Backend::Gpu(gpu);
    let mut state = 99u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let n = 300_000;
    let centres = [(-6.0, -6.0), (6.0, -5.0), (-5.0, 6.0), (6.0, 6.0)];
    let data: Vec<f32> = (0..n)
        .flat_map(|i| {
            let (x, y) = centres[i % 4];
            [x + 4.0 * next() - 2.0, y + 4.0 * next() - 2.0]
        })
        .collect();
    let x = FeatureMatrix::from_rows(n, 2, data);
    let params = KMeansParams {
        max_iter: 20,
        ..KMeansParams::default()
    };
    let got = fit_each_k(&gpu, &x, &[4], &params).unwrap();
    let want = fit_each_k(&Backend::Cpu, &x, &[4], &params).unwrap();
    assert_eq!(got[0].labels, want[0].labels);
    let relative = (got[0].inertia - want[0].inertia).abs() / want[0].inertia;
    assert!(relative < 1e-6, "{} vs {}", got[0].inertia, want[0].inertia);
}

/// A Gaussian mixture's E-step across chunks, 2D grids and read-backs cut
/// into buffers (shrunk limits, 10,000 points), with two tiles per
/// workgroup (300,000 points), and with fewer tiles than wanted (a bound
/// of 200 iterations leaves one at d = 2, K = 4): the same sums as the
/// CPU's to f32 rounding, the same labels but within rounding of a tie.
#[test]
fn mixture_passes_past_the_limits_match_the_cpu() {
    let fit = gmm::fit_each_k(&Backend::Cpu, &points(), &[4], &GmmParams::default()).unwrap();
    let mixture = &fit[0].mixture;
    let products = CovarianceType::Full.products();
    for (gpu, x) in [
        (shrunk(), points()),
        (bounded(1 << 20), points_n(300_000)),
        (bounded(200), points_n(300_000)),
    ] {
        let Some(gpu) = gpu else { return };
        let cpu_device = CpuBackend.upload(&x).unwrap();
        let mut cpu_state = CpuBackend
            .mixture_start(&cpu_device, &[4], products)
            .unwrap();
        let want = CpuBackend
            .mixture_pass(&cpu_device, &mut cpu_state, &[(0, mixture.components())])
            .unwrap();
        let (want_labels, want_ll) = CpuBackend
            .mixture_labels(&cpu_device, mixture.components())
            .unwrap();
        // Each point's membership probabilities, to tell a tie.
        let mut probabilities = vec![0.0f32; 4 * x.n()];
        let (mut labels, mut lls) = (vec![0u32; x.n()], vec![0.0; x.n()]);
        posteriors(
            Source::Rows(&x),
            &mixture.components(),
            &mut labels,
            &mut lls,
            Some(&mut probabilities),
        );
        let device = gpu.upload(&x).unwrap();
        let state = gpu.mixture_start(&device, &[4], products).unwrap();
        let got = gpu
            .mixture_pass(&device, &state, &[(0, mixture.components())])
            .unwrap();
        let (g, w, n) = (&got[0], &want[0], x.n() as f64);
        // Sums within 1e-5 of their largest possible magnitude (every
        // coordinate is within 8 of 0).
        for (a, b) in zip_eq(&g.resp, &w.resp) {
            assert!((a - b).abs() <= 1e-5 * n, "{a} vs {b}");
        }
        for (a, b) in zip_eq(g.first.iter(), w.first.iter()) {
            assert!((a - b).abs() <= 1e-5 * 8.0 * n, "{a} vs {b}");
        }
        for (a, b) in zip_eq(g.second.iter(), w.second.iter()) {
            assert!((a - b).abs() <= 1e-5 * 64.0 * n, "{a} vs {b}");
        }
        let relative = (g.log_likelihood - w.log_likelihood).abs() / w.log_likelihood.abs();
        assert!(
            relative < 1e-5,
            "{} vs {}",
            g.log_likelihood,
            w.log_likelihood
        );
        let (got_labels, ll) = gpu.mixture_labels(&device, mixture.components()).unwrap();
        assert!(
            (ll - want_ll).abs() / want_ll.abs() < 1e-5,
            "{ll} vs {want_ll}"
        );
        for (i, (a, b)) in zip_eq(&got_labels, &want_labels).enumerate() {
            let mut p = probabilities[4 * i..4 * i + 4].to_vec();
            p.sort_by(|a, b| b.total_cmp(a));
            assert!(a == b || p[0] - p[1] < 1e-4, "point {i}");
        }
    }
}
