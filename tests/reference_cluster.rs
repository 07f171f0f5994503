//! Clustering against scikit-learn.
//!
//! Each case of `tests/fixtures/cluster/` holds a feature table and the
//! values scikit-learn 1.9.1 (and a plain numpy loop, for the single Lloyd
//! step) computed from it: `tests/reference/cluster_reference.py` wrote
//! them (see `tests/fixtures/cluster/README.md`). Compared here: the
//! z-score scaler, one Lloyd pass from the given centres, a whole Lloyd fit
//! (labels, centres, inertia, iterations), and every metric on
//! scikit-learn's labels, within 1e-5 relative. The Lloyd and silhouette
//! checks run on every backend (the GPU one when an adapter exists, see
//! tests/common).

use crate::common;
use common::zip_eq;

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde_json::Value;

use segmint::backend::{Backend, Kernels, Labeling, LloydAlgorithm};
use segmint::cluster::lloyd;
use segmint::cluster::metrics::{calinski_harabasz, davies_bouldin, silhouette_sqeuclidean};
use segmint::features::matrix::{FeatureSpec, Scaler};
use segmint::ingest::numeric::{NumericOptions, read_numeric_table};

const CASES: [&str; 6] = [
    "blobs",
    "wide",
    "one_dim",
    "empty_cluster",
    "log1p_features",
    "constant_column",
];

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().expect("rows").iter().map(floats).collect();
    let d = rows[0].len();
    Array2::from_shape_vec((rows.len(), d), rows.concat()).expect("rectangular")
}

fn labels(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("labels")
        .iter()
        .map(|x| x.as_u64().expect("a label") as u32)
        .collect()
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-5 * expected.abs().max(1e-3);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs scikit-learn {expected}"
    );
}

struct Case {
    expected: Value,
    scaled: segmint::features::matrix::FeatureMatrix,
}

fn load(name: &'static str) -> Case {
    let dir = case_dir(name);
    let expected: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let specs: Vec<FeatureSpec> = FeatureSpec::parse_list(
        &expected["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let table = read_numeric_table(&dir.join("features.csv"), &NumericOptions::default()).unwrap();
    let raw = table.select(&specs).unwrap();
    let scaler = Scaler::fit(&raw);
    for (j, (m, s)) in scaler.mean.iter().zip(&scaler.std).enumerate() {
        close(
            *m,
            floats(&expected["mean"])[j],
            &format!("{name}: mean {j}"),
        );
        close(*s, floats(&expected["std"])[j], &format!("{name}: std {j}"));
    }
    let scaled = scaler.transform(&raw);
    let reference = matrix(&expected["scaled"]);
    assert_eq!(scaled.values.dim(), reference.dim(), "{name}: shape");
    for (a, b) in scaled.values.iter().zip(reference.iter()) {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{name}: scaled value {a} vs {b}"
        );
    }
    Case { expected, scaled }
}

fn one_lloyd_step_matches_numpy<K: Kernels>(backend: &K) {
    for name in CASES {
        let case = load(name);
        let Some(step) = case.expected.get("one_step") else {
            continue;
        };
        let init = matrix(&case.expected["init"]);
        let device = backend.upload(&case.scaled).unwrap();
        let mut runs = backend
            .lloyd_start(&device, std::slice::from_ref(&init), LloydAlgorithm::Lloyd)
            .unwrap();
        let stats = backend
            .lloyd_step(&device, &mut runs, &[0], true)
            .unwrap()
            .pop()
            .unwrap();
        assert!(!stats.empty, "{name}: no empty cluster in one step");
        let (centres, got) = backend.lloyd_finish(runs).unwrap().pop().unwrap();
        assert_eq!(got, labels(&step["labels"]), "{name}: one-step labels");
        close(
            stats.inertia,
            step["inertia"].as_f64().unwrap(),
            &format!("{name}: one-step inertia"),
        );
        for (a, b) in zip_eq(centres.iter(), matrix(&step["centres"]).iter()) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{name}: one-step centre {a} vs {b}"
            );
        }
    }
}

/// Both ways of finding the nearest centres (Hamerly's bounds only run on
/// the CPU; the GPU runs Lloyd's passes for either).
fn lloyd_fit_matches_scikit_learn(backend: &Backend) {
    for (name, algorithm) in CASES
        .iter()
        .flat_map(|&n| [(n, LloydAlgorithm::Lloyd), (n, LloydAlgorithm::Hamerly)])
    {
        let case = load(name);
        let e = &case.expected;
        let fit = lloyd(
            backend,
            &case.scaled,
            vec![matrix(&e["init"])],
            e["max_iter"].as_u64().unwrap() as usize,
            e["tol"].as_f64().unwrap(),
            algorithm,
        )
        .unwrap()
        .pop()
        .unwrap();
        let km = &e["kmeans"];
        assert_eq!(
            fit.labels,
            labels(&km["labels"]),
            "{name} ({algorithm:?}): labels"
        );
        assert_eq!(
            fit.n_iter as u64,
            km["n_iter"].as_u64().unwrap(),
            "{name}: iterations"
        );
        close(
            fit.inertia,
            km["inertia"].as_f64().unwrap(),
            &format!("{name}: inertia"),
        );
        let centres = matrix(&km["centres"]);
        for (a, b) in zip_eq(fit.centres.iter(), centres.iter()) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{name}: centre {a} vs {b}"
            );
        }
    }
}

fn silhouette_matches_scikit_learn(backend: &Backend) {
    for name in CASES {
        let case = load(name);
        let e = &case.expected;
        let labels = labels(&e["kmeans"]["labels"]);
        let k = e["k"].as_u64().unwrap() as usize;
        let sil = backend
            .silhouette(&case.scaled, &[Labeling { labels: &labels, k }])
            .unwrap()
            .pop()
            .unwrap();
        close(
            sil.mean,
            e["silhouette"].as_f64().unwrap(),
            &format!("{name}: silhouette"),
        );
        for (i, (a, b)) in zip_eq(&sil.values, floats(&e["silhouette_samples"])).enumerate() {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-5,
                "{name}: silhouette of point {i}: {a} vs {b}"
            );
        }
    }
}

/// The backend checks, once per backend.
macro_rules! on_every_backend {
    ($($name:ident: $kernels:expr, $backend:expr);*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn one_lloyd_step() {
                if let Some(k) = $kernels {
                    one_lloyd_step_matches_numpy(&k);
                }
            }

            #[test]
            fn lloyd_fit() {
                if let Some(b) = $backend {
                    lloyd_fit_matches_scikit_learn(&b);
                }
            }

            #[test]
            fn silhouette() {
                if let Some(b) = $backend {
                    silhouette_matches_scikit_learn(&b);
                }
            }
        }
    )*};
}

on_every_backend!(
    cpu: Some(segmint::backend::CpuBackend), Some(Backend::Cpu);
    gpu: common::gpu_kernels(), common::gpu()
);

#[test]
fn metrics_match_scikit_learn() {
    for name in CASES {
        let case = load(name);
        let e = &case.expected;
        let labels = labels(&e["kmeans"]["labels"]);
        let k = e["k"].as_u64().unwrap() as usize;
        let points = &case.scaled;
        close(
            silhouette_sqeuclidean(points, &labels, k).unwrap(),
            e["silhouette_sqeuclidean"].as_f64().unwrap(),
            &format!("{name}: squared-Euclidean silhouette"),
        );
        close(
            calinski_harabasz(points, &labels, k).unwrap(),
            e["calinski_harabasz"].as_f64().unwrap(),
            &format!("{name}: Calinski-Harabasz"),
        );
        close(
            davies_bouldin(points, &labels, k).unwrap(),
            e["davies_bouldin"].as_f64().unwrap(),
            &format!("{name}: Davies-Bouldin"),
        );
    }
}
