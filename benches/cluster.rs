//! Clustering kernels and algorithms per (backend, n, d, k):
//! `cargo bench --bench cluster`. Points are seeded Gaussian blobs. Each
//! benchmark runs on the CPU and, when one is found, on a hardware GPU.
//!
//! The peer comparison (scikit-learn, scikit-learn-intelex, faiss) on the
//! same data lives in `benches/compare/cluster.sh`.

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use ndarray::Array2;
use segmint::backend::{
    Backend, CpuBackend, DeviceChoice, GpuBackend, GpuOptions, Kernels, Labeling, LloydAlgorithm,
};
use segmint::cluster::gmm::{self, GmmParams, Mixture};
use segmint::cluster::{KMeansParams, fit, fit_each_k, kmeans_plus_plus};
use segmint::features::matrix::FeatureMatrix;

/// `n` points around 8 centres in `d` dimensions.
fn blobs(n: usize, d: usize, seed: u64) -> FeatureMatrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let centres: Vec<f32> = (0..8 * d).map(|_| rng.random_range(-5.0..5.0)).collect();
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.random_range(0..8);
        for j in 0..d {
            let noise: f32 = rng.sample(StandardNormal);
            data.push(centres[c * d + j] + noise);
        }
    }
    FeatureMatrix::from_rows(n, d, data)
}

/// The backends to compare: the CPU, and a hardware GPU when there is one
/// (`--device auto`'s rule: a software adapter's timings say nothing of a
/// GPU; `SEGMINT_BENCH_SOFTWARE=1` includes one anyway, e.g. to profile).
fn backends() -> Vec<(String, Backend)> {
    let mut out = vec![("cpu".to_string(), Backend::Cpu)];
    let choice = if std::env::var("SEGMINT_BENCH_SOFTWARE").as_deref() == Ok("1") {
        DeviceChoice::Gpu
    } else {
        DeviceChoice::Auto
    };
    match GpuBackend::open(choice, &GpuOptions::default()) {
        Ok(gpu) => out.push((format!("gpu {}", gpu.adapter_name()), Backend::Gpu(gpu))),
        Err(e) => eprintln!("GPU benches skipped: {e}"),
    }
    out
}

fn assign(c: &mut Criterion) {
    let mut group = c.benchmark_group("assign");
    group.sample_size(20);
    for (name, backend) in backends() {
        for &(n, d, k) in &[(1_000_000, 8, 8), (1_000_000, 3, 10)] {
            let id = BenchmarkId::new(&name, format!("n={n},d={d},k={k}"));
            group.throughput(Throughput::Elements(n as u64));
            match &backend {
                Backend::Cpu => assign_on(&mut group, id, &CpuBackend, n, d, k),
                Backend::Gpu(gpu) => assign_on(&mut group, id, gpu, n, d, k),
            }
        }
    }
    group.finish();
}

fn assign_on<K: Kernels>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    kernels: &K,
    n: usize,
    d: usize,
    k: usize,
) {
    let points = blobs(n, d, 1);
    let device = kernels.upload(&points).unwrap();
    let centres: Vec<f32> = points.as_slice()[..k * d].to_vec();
    let mut labels = vec![0u32; n];
    let mut distances = vec![0.0f32; n];
    group.bench_function(id, |b| {
        b.iter(|| {
            kernels
                .assign(&device, &centres, &mut labels, &mut distances)
                .unwrap()
        })
    });
}

/// One Lloyd iteration: assignment, centre sums, update, statistics back.
fn lloyd_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("lloyd_step");
    group.sample_size(20);
    for (name, backend) in backends() {
        for &(n, d, k) in &[(100_000, 8, 8), (1_000_000, 8, 8), (1_000_000, 3, 10)] {
            let id = BenchmarkId::new(&name, format!("n={n},d={d},k={k}"));
            group.throughput(Throughput::Elements(n as u64));
            match &backend {
                Backend::Cpu => lloyd_step_on(&mut group, id, &CpuBackend, n, d, k),
                Backend::Gpu(gpu) => lloyd_step_on(&mut group, id, gpu, n, d, k),
            }
        }
    }
    group.finish();
}

fn lloyd_step_on<K: Kernels>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    kernels: &K,
    n: usize,
    d: usize,
    k: usize,
) {
    let points = blobs(n, d, 1);
    let device = kernels.upload(&points).unwrap();
    let init = Array2::from_shape_vec(
        (k, d),
        points.as_slice()[..k * d]
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
    )
    .unwrap();
    let mut runs = kernels
        .lloyd_start(&device, &[init], LloydAlgorithm::Lloyd)
        .unwrap();
    group.bench_function(id, |b| {
        b.iter(|| kernels.lloyd_step(&device, &mut runs, &[0], true).unwrap())
    });
}

fn kmeanspp(c: &mut Criterion) {
    let mut group = c.benchmark_group("kmeans_plus_plus");
    group.sample_size(10);
    let points = blobs(1_000_000, 3, 2);
    for (name, backend) in backends() {
        group.bench_function(BenchmarkId::new(&name, "n=1000000,d=3,k=10"), |b| {
            b.iter(|| kmeans_plus_plus(&backend, &points, 10, 0).unwrap())
        });
    }
    group.finish();
}

/// A whole K-Means fit to convergence from one k-means++ start, with and
/// without Hamerly's bounds (the same labels and centres either way), on
/// the CPU.
fn whole_fit(c: &mut Criterion) {
    let mut group = c.benchmark_group("kmeans_fit");
    group.sample_size(10);
    let (n, d) = (200_000, 8);
    let points = blobs(n, d, 5);
    for k in [8, 64] {
        let init = kmeans_plus_plus(&Backend::Cpu, &points, k, 0).unwrap();
        for algorithm in [LloydAlgorithm::Lloyd, LloydAlgorithm::Hamerly] {
            let params = KMeansParams {
                k,
                init: Some(init.clone()),
                algorithm,
                ..KMeansParams::default()
            };
            let id = BenchmarkId::new(algorithm.name(), format!("n={n},d={d},k={k}"));
            group.bench_function(id, |b| b.iter(|| fit(&Backend::Cpu, &points, &params)));
        }
    }
    group.finish();
}

/// A whole fit of every K of 2..10 (k-means++ and Lloyd), no silhouette.
fn sweep(c: &mut Criterion) {
    let mut group = c.benchmark_group("sweep_fit");
    group.sample_size(10);
    for (name, backend) in backends() {
        for &n in &[100_000, 1_000_000] {
            let points = blobs(n, 3, 3);
            let params = KMeansParams::default();
            group.bench_function(BenchmarkId::new(&name, format!("n={n},d=3,k=2..10")), |b| {
                b.iter(|| fit_each_k(&backend, &points, &(2..=10).collect::<Vec<_>>(), &params))
            });
        }
    }
    group.finish();
}

fn silhouette(c: &mut Criterion) {
    let mut group = c.benchmark_group("silhouette_exact");
    group.sample_size(10);
    for (name, backend) in backends() {
        for &n in &[10_000, 50_000] {
            let points = blobs(n, 3, 4);
            let fits =
                fit_each_k(&Backend::Cpu, &points, &[4, 8], &KMeansParams::default()).unwrap();
            let one = [Labeling {
                labels: &fits[0].labels,
                k: 4,
            }];
            let both = [
                one[0],
                Labeling {
                    labels: &fits[1].labels,
                    k: 8,
                },
            ];
            group.throughput(Throughput::Elements((n * n) as u64));
            group.bench_function(BenchmarkId::new(&name, format!("n={n},d=3,k=4")), |b| {
                b.iter(|| backend.silhouette(&points, &one).unwrap())
            });
            group.bench_function(
                BenchmarkId::new(&name, format!("n={n},d=3,k=4+8 shared")),
                |b| b.iter(|| backend.silhouette(&points, &both).unwrap()),
            );
        }
    }
    group.finish();
}

/// One Gaussian mixture E-step pass (responsibilities and the M-step's
/// sums), full covariances, from a mixture fitted once on the CPU.
fn mixture_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixture_pass");
    group.sample_size(10);
    let (n, d, k) = (200_000, 8, 8);
    let points = blobs(n, d, 4);
    let params = GmmParams {
        max_iter: 5,
        ..GmmParams::default()
    };
    let fit = gmm::fit_each_k(&Backend::Cpu, &points, &[k], &params).unwrap();
    let mixture = &fit[0].mixture;
    for (name, backend) in backends() {
        let id = BenchmarkId::new(&name, format!("n={n},d={d},k={k},full"));
        group.throughput(Throughput::Elements(n as u64));
        match &backend {
            Backend::Cpu => mixture_pass_on(&mut group, id, &CpuBackend, &points, mixture),
            Backend::Gpu(gpu) => mixture_pass_on(&mut group, id, gpu, &points, mixture),
        }
    }
    group.finish();
}

fn mixture_pass_on<K: Kernels>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    kernels: &K,
    points: &FeatureMatrix,
    mixture: &Mixture,
) {
    let device = kernels.upload(points).unwrap();
    let products = mixture.covariance_type().products();
    let mut state = kernels
        .mixture_start(&device, &[mixture.k()], products)
        .unwrap();
    group.bench_function(id, |b| {
        b.iter(|| {
            kernels
                .mixture_pass(&device, &mut state, &[(0, mixture.components())])
                .unwrap()
        })
    });
}

criterion_group!(
    benches,
    assign,
    lloyd_step,
    kmeanspp,
    whole_fit,
    sweep,
    silhouette,
    mixture_pass
);
criterion_main!(benches);
