//! Properties of the clustering engine (README, "Development"): inertia never
//! rises between Lloyd steps, labels are below k, silhouettes lie in
//! [-1, 1], z-scored columns have mean 0 and std 1, and results are the
//! same for every thread count.

use ndarray::Array2;
use proptest::prelude::*;

use segmint::backend::{Backend, Labeling, LloydAlgorithm};
use segmint::cluster::metrics::silhouette_sqeuclidean;
use segmint::cluster::{KMeansParams, SilhouetteMode, fit_each_k, kmeans_plus_plus, lloyd, sweep};
use segmint::features::matrix::{FeatureMatrix, Scaler};

fn points_strategy() -> impl Strategy<Value = (FeatureMatrix, usize)> {
    (2usize..120, 1usize..4).prop_flat_map(|(n, d)| {
        (
            prop::collection::vec(-50.0f32..50.0, n * d),
            1usize..=5.min(n),
        )
            .prop_map(move |(data, k)| (FeatureMatrix::from_rows(n, d, data), k))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn inertia_never_rises_between_lloyd_steps((points, k) in points_strategy(), seed in 0u64..1000) {
        let init = kmeans_plus_plus(&Backend::Cpu, &points, k, seed).unwrap();
        let mut last = f64::INFINITY;
        for steps in 1..8 {
            let fit = lloyd(&Backend::Cpu, &points, vec![init.clone()], steps, 0.0, LloydAlgorithm::Lloyd).unwrap().pop().unwrap();
            prop_assert!(fit.inertia <= last * (1.0 + 1e-6) + 1e-9, "step {steps}: {} after {last}", fit.inertia);
            prop_assert!(fit.labels.iter().all(|&l| (l as usize) < k));
            last = fit.inertia;
        }
    }

    #[test]
    fn hamerly_fits_equal_lloyds((points, k) in points_strategy(), seed in 0u64..1000) {
        let init = kmeans_plus_plus(&Backend::Cpu, &points, k, seed).unwrap();
        let fit = |algorithm| {
            lloyd(&Backend::Cpu, &points, vec![init.clone()], 300, 0.0, algorithm).unwrap().pop().unwrap()
        };
        let (plain, bounded) = (fit(LloydAlgorithm::Lloyd), fit(LloydAlgorithm::Hamerly));
        prop_assert_eq!(&plain.labels, &bounded.labels);
        prop_assert_eq!(plain.n_iter, bounded.n_iter);
        prop_assert_eq!(plain.inertia.to_bits(), bounded.inertia.to_bits());
        let bits = |c: &ndarray::Array2<f64>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&plain.centres), bits(&bounded.centres));
    }

    #[test]
    fn silhouettes_lie_in_range((points, k) in points_strategy(), seed in 0u64..1000) {
        let params = KMeansParams { k, seed, ..Default::default() };
        let fit = fit_each_k(&Backend::Cpu, &points, &[k], &params).unwrap().pop().unwrap();
        let s = Backend::Cpu.silhouette(&points, &[Labeling { labels: &fit.labels, k }]).unwrap().pop().unwrap();
        prop_assert!(s.values.iter().all(|v| (-1.0..=1.0).contains(v)));
        prop_assert!((-1.0..=1.0).contains(&s.mean));
        if let Some(sq) = silhouette_sqeuclidean(&points, &fit.labels, k) {
            prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&sq));
        }
    }

    #[test]
    fn z_scores_have_mean_zero_and_unit_std(data in prop::collection::vec(-1e6f64..1e6, 6..200)) {
        let n = data.len() / 2;
        let x = Array2::from_shape_vec((n, 2), data[..n * 2].to_vec()).unwrap();
        let scaler = Scaler::fit(&x);
        let z = scaler.transform(&x);
        for (j, column) in z.values.columns().into_iter().enumerate() {
            let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
            let var = column.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64;
            prop_assert!(mean.abs() < 1e-5, "column {j}: mean {mean}");
            if scaler.std[j] > 0.0 {
                prop_assert!((var.sqrt() - 1.0).abs() < 1e-5, "column {j}: std {}", var.sqrt());
            } else {
                prop_assert!(column.iter().all(|&v| v == 0.0));
            }
        }
    }
}

/// Several chunks of points (20,000 > one 4,096-point chunk), fitted and
/// scored in pools of 1, 2 and 3 threads: bit-identical results.
#[test]
fn same_results_for_any_thread_count() {
    let n = 20_000;
    let mut state = 12345u64;
    let data: Vec<f32> = (0..n * 3)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32;
            ((i / 3) % 4) as f32 * 3.0 + noise
        })
        .collect();
    let points = FeatureMatrix::from_rows(n, 3, data);
    let params = KMeansParams {
        n_init: 2,
        seed: 3,
        ..Default::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let s = sweep(
                &Backend::Cpu,
                &points,
                &[2, 3, 4],
                &params,
                SilhouetteMode::Sample(3000),
            )
            .unwrap();
            let labels: Vec<Vec<u32>> = s.fits.iter().map(|f| f.labels.clone()).collect();
            let numbers: Vec<u64> = s
                .metrics
                .iter()
                .flat_map(|m| {
                    [
                        m.inertia,
                        m.silhouette.unwrap(),
                        m.silhouette_sqeuclidean.unwrap(),
                        m.calinski_harabasz.unwrap(),
                        m.davies_bouldin.unwrap(),
                    ]
                })
                .map(f64::to_bits)
                .collect();
            (labels, numbers, s.chosen)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_eq!(one.2, 4, "four groups");
}
