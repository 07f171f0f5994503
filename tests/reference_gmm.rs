//! Gaussian mixtures against scikit-learn.
//!
//! Each fixture of `tests/fixtures/gmm/` holds points, a start (weights,
//! means, precisions) and what scikit-learn 1.9.1's `GaussianMixture`
//! computed from it: `tests/reference/gmm_reference.py` wrote them, for
//! the four covariance types. Compared here, from the same start: the
//! mean log-likelihood of every iteration (1e-6 relative), the parameters
//! after the last (1e-6 relative to their scale), the score, BIC and AIC,
//! the labels of the points clear of a tie, and the membership
//! probabilities of held-back points.

use crate::common::zip_eq;

use std::path::Path;

use ndarray::{Array1, Array2, Array3};
use serde_json::Value;

use segmint::backend::Backend;
use segmint::backend::cpu::mixture::{Source, posteriors};
use segmint::cluster::gmm::{self, CovarianceType, Covariances, GaussianMixture, Mixture};
use segmint::features::matrix::FeatureMatrix;

const CASES: [&str; 2] = ["overlap", "wide"];
const TYPES: [&str; 4] = ["full", "tied", "diag", "spherical"];

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().expect("rows").len();
    let data = floats(v);
    Array2::from_shape_vec((rows, data.len() / rows), data).expect("a matrix")
}

fn points(v: &Value) -> FeatureMatrix {
    let m = matrix(v);
    let (n, d) = m.dim();
    FeatureMatrix::from_rows(n, d, m.iter().map(|&x| x as f32).collect())
}

/// `a` within `rel` of `b`, relative to `scale`.
fn close(what: &str, a: &[f64], b: &[f64], rel: f64, scale: f64) {
    for (i, (x, y)) in zip_eq(a, b).enumerate() {
        assert!(
            (x - y).abs() <= rel * scale.max(y.abs()),
            "{what}[{i}]: segmint {x}, scikit-learn {y}"
        );
    }
}

fn precisions(kind: CovarianceType, k: usize, v: &Value) -> Covariances {
    let p = floats(v);
    match kind {
        CovarianceType::Full => {
            let d = ((p.len() / k) as f64).sqrt() as usize;
            Covariances::Full(Array3::from_shape_vec((k, d, d), p).unwrap())
        }
        CovarianceType::Tied => Covariances::Tied(matrix(v)),
        CovarianceType::Diag => Covariances::Diag(matrix(v)),
        CovarianceType::Spherical => Covariances::Spherical(Array1::from(p)),
    }
}

fn covariances(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    }
}

#[test]
fn em_follows_scikit_learn_iteration_by_iteration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gmm");
    for case in CASES {
        for kind_name in TYPES {
            let name = format!("{case}_{kind_name}");
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let f: Value = serde_json::from_str(&text).unwrap();
            let kind: CovarianceType = kind_name.parse().unwrap();
            let k = f["k"].as_u64().unwrap() as usize;
            let reg = f["reg_covar"].as_f64().unwrap();
            let x = points(&f["points"]);
            let start = Mixture::from_precisions(
                floats(&f["weights_init"]),
                matrix(&f["means_init"]),
                &precisions(kind, k, &f["precisions_init"]),
            )
            .expect("a positive definite start");
            let expected_bounds = floats(&f["lower_bounds"]);
            let runs = gmm::em(
                &Backend::Cpu,
                &x,
                vec![start],
                expected_bounds.len(),
                0.0,
                reg,
            )
            .unwrap();
            let run = runs.into_iter().next().unwrap();
            assert!(!run.converged, "{name}: tol 0 runs every iteration");
            assert!(run.raised.is_empty(), "{name}: {:?}", run.raised);
            let (mixture, bounds) = (&run.mixture, &run.lower_bounds);
            close(
                &format!("{name} lower bounds"),
                bounds,
                &expected_bounds,
                1e-6,
                0.0,
            );
            let scale = 1.0;
            close(
                &format!("{name} weights"),
                &mixture.weights,
                &floats(&f["weights"]),
                1e-6,
                scale,
            );
            close(
                &format!("{name} means"),
                mixture.means.as_slice().unwrap(),
                &floats(&f["means"]),
                1e-6,
                scale,
            );
            close(
                &format!("{name} covariances"),
                &covariances(&mixture.covariances),
                &floats(&f["covariances"]),
                1e-6,
                scale,
            );
            let fit: GaussianMixture = gmm::finish_fit(&Backend::Cpu, &x, run.clone()).unwrap();
            let n = x.n();
            close(
                &format!("{name} score, bic, aic"),
                &[fit.log_likelihood, fit.bic(n), fit.aic(n)],
                &[
                    f["score"].as_f64().unwrap(),
                    f["bic"].as_f64().unwrap(),
                    f["aic"].as_f64().unwrap(),
                ],
                1e-6,
                0.0,
            );
            let margins = floats(&f["label_margins"]);
            let labels = floats(&f["labels"]);
            let mut compared = 0;
            for (i, (&l, &m)) in zip_eq(&labels, &margins).enumerate() {
                if m > 1e-4 {
                    assert_eq!(fit.labels[i], l as u32, "{name}: label of point {i}");
                    compared += 1;
                }
            }
            assert!(compared > n * 9 / 10, "{name}: {compared} labels compared");
            // Membership probabilities of users the fit never saw.
            let held = points(&f["held_back"]);
            let mut labels = vec![0u32; held.n()];
            let mut lls = vec![0.0; held.n()];
            let mut probs = vec![0.0f32; held.n() * k];
            posteriors(
                Source::Rows(&held),
                &fit.mixture.components(),
                &mut labels,
                &mut lls,
                Some(&mut probs),
            );
            let probs: Vec<f64> = probs.iter().map(|&p| f64::from(p)).collect();
            close(
                &format!("{name} predict_proba"),
                &probs,
                &floats(&f["predict_proba_held_back"]),
                1e-5,
                1.0,
            );
        }
    }
}
