//! Clustering kernels and algorithms per (backend, n, d, k):
//! `cargo bench --bench cluster`. Points are seeded Gaussian blobs.
//!
//! The peer comparison (scikit-learn, scikit-learn-intelex, faiss) on the
//! same data lives in `benches/compare/cluster.sh`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use segmint::backend::{Backend, Labeling};
use segmint::cluster::{KMeansParams, fit_each_k, kmeans_plus_plus};
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

fn lloyd_pass(c: &mut Criterion) {
    let backend = Backend::Cpu;
    let mut group = c.benchmark_group("lloyd_pass");
    group.sample_size(20);
    for &(n, d, k) in &[(100_000, 8, 8), (1_000_000, 8, 8), (1_000_000, 3, 10)] {
        let points = blobs(n, d, 1);
        let device = backend.upload(&points);
        let centres: Vec<f32> = points.as_slice()[..k * d].to_vec();
        let mut labels = vec![0u32; n];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(
            BenchmarkId::new(backend.name(), format!("n={n},d={d},k={k}")),
            |b| b.iter(|| backend.lloyd_pass(&device, &[&centres], &mut [&mut labels])),
        );
    }
    group.finish();
}

fn kmeanspp(c: &mut Criterion) {
    let backend = Backend::Cpu;
    let mut group = c.benchmark_group("kmeans_plus_plus");
    group.sample_size(10);
    let points = blobs(1_000_000, 3, 2);
    group.bench_function(
        BenchmarkId::new(backend.name(), "n=1000000,d=3,k=10"),
        |b| b.iter(|| kmeans_plus_plus(&backend, &points, 10, 0)),
    );
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let backend = Backend::Cpu;
    let mut group = c.benchmark_group("sweep_fit");
    group.sample_size(10);
    for &n in &[100_000, 1_000_000] {
        let points = blobs(n, 3, 3);
        let params = KMeansParams::default();
        group.bench_function(
            BenchmarkId::new(backend.name(), format!("n={n},d=3,k=2..10")),
            |b| b.iter(|| fit_each_k(&backend, &points, &(2..=10).collect::<Vec<_>>(), &params)),
        );
    }
    group.finish();
}

fn silhouette(c: &mut Criterion) {
    let backend = Backend::Cpu;
    let mut group = c.benchmark_group("silhouette_exact");
    group.sample_size(10);
    for &n in &[10_000, 50_000] {
        let points = blobs(n, 3, 4);
        let fits = fit_each_k(&backend, &points, &[4, 8], &KMeansParams::default()).unwrap();
        group.throughput(Throughput::Elements((n * n) as u64));
        group.bench_function(
            BenchmarkId::new(backend.name(), format!("n={n},d=3,k=4")),
            |b| {
                b.iter(|| {
                    backend.silhouette(
                        &points,
                        &[Labeling {
                            labels: &fits[0].labels,
                            k: 4,
                        }],
                    )
                })
            },
        );
        group.bench_function(
            BenchmarkId::new(backend.name(), format!("n={n},d=3,k=4+8 shared")),
            |b| {
                b.iter(|| {
                    backend.silhouette(
                        &points,
                        &[
                            Labeling {
                                labels: &fits[0].labels,
                                k: 4,
                            },
                            Labeling {
                                labels: &fits[1].labels,
                                k: 8,
                            },
                        ],
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, lloyd_pass, kmeanspp, sweep, silhouette);
criterion_main!(benches);
