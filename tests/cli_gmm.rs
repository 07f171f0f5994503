//! Gaussian mixtures through the real binary (README, "Gaussian
//! mixtures"): the probability columns, fit and score agreeing, the same
//! result on every thread count, BIC and AIC in sweeps, degenerate data
//! regularised rather than failed, and bad flags refused.

use crate::common;

use common::{assert_memberships, csv_rows, fails, ok, sample, segmint, zip_eq};

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

#[test]
fn scores_carry_membership_probabilities_and_score_reproduces_them() {
    let dir = tempfile::tempdir().unwrap();
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let input = sample();
    let input = input.to_str().unwrap();
    ok(&run(&[
        "fit",
        input,
        "--method",
        "gmm",
        "--k",
        "3",
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]));
    let (header, fitted) = csv_rows(&scores);
    assert_eq!(
        &header[..8],
        [
            "user_id",
            "segment",
            "segment_name",
            "distance",
            "probability",
            "p_0",
            "p_1",
            "p_2"
        ]
    );
    assert_memberships(&fitted, 3);
    let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["method"]["name"], "gmm");
    assert_eq!(m["method"]["covariance_type"], "full");
    assert_eq!(m["method"]["covariances"].as_array().unwrap().len(), 3);
    let again = dir.path().join("again.csv");
    ok(&run(&[
        "score",
        input,
        "--model",
        model.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]));
    let (_, scored) = csv_rows(&again);
    for (a, b) in zip_eq(&fitted, &scored) {
        assert_eq!(a[..8], b[..8], "score places users as the fit did");
    }
}

/// A table of `n` users in three overlapping groups, each value `shift +
/// scale * v` for a v near 0, written with every digit.
fn groups(dir: &Path, name: &str, n: usize, shift: f64, scale: f64) -> std::path::PathBuf {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut body = String::from("user_id,a,b,c\n");
    for i in 0..n {
        let g = (i % 3) as f64;
        let v = [g * 1.5 + next(), next() - g, next() * (1.0 + g)];
        let v: Vec<String> = v.iter().map(|x| format!("{}", shift + scale * x)).collect();
        body.push_str(&format!("u{i},{}\n", v.join(",")));
    }
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    path
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    // Several chunks of users, so that threads share the work.
    let table = groups(dir.path(), "t.csv", 5000, 0.0, 1.0);
    let mut outputs = Vec::new();
    for (threads, covariance) in [("1", "full"), ("2", "full"), ("1", "tied"), ("2", "tied")] {
        let out = dir.path().join(format!("{threads}{covariance}.csv"));
        ok(&run(&[
            "--threads",
            threads,
            "fit",
            "--features-input",
            table.to_str().unwrap(),
            "--method",
            "gmm",
            "--covariance",
            covariance,
            "--k",
            "4",
            "--n-init",
            "2",
            "--seed",
            "5",
            "--gmm-init",
            "k-means++",
            "--silhouette",
            "none",
            "-o",
            out.to_str().unwrap(),
        ]));
        outputs.push(fs::read(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[2], outputs[3]);
    assert_ne!(outputs[0], outputs[2]);
}

#[test]
fn sweeps_report_bic_and_aic_and_auto_takes_the_lowest_bic() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sweep.csv");
    ok(&run(&[
        "sweep",
        sample().to_str().unwrap(),
        "--method",
        "gmm",
        "--covariance",
        "spherical",
        "--k",
        "2..5",
        "-o",
        csv.to_str().unwrap(),
    ]));
    let (header, rows) = csv_rows(&csv);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let bic: Vec<f64> = rows.iter().map(|r| r[at("bic")].parse().unwrap()).collect();
    assert!(rows.iter().all(|r| r[at("aic")].parse::<f64>().is_ok()));
    let lowest = (0..bic.len())
        .min_by(|&a, &b| bic[a].total_cmp(&bic[b]))
        .unwrap();
    let chosen: Vec<&str> = rows.iter().map(|r| r[at("chosen")].as_str()).collect();
    assert_eq!(chosen[lowest], "true", "{bic:?} {chosen:?}");
    let summary = ok(&run(&[
        "fit",
        sample().to_str().unwrap(),
        "--method",
        "gmm",
        "--covariance",
        "spherical",
        "--k",
        "auto",
        "--k-range",
        "2..5",
        "--format",
        "json",
        "-o",
        dir.path().join("f.csv").to_str().unwrap(),
    ]));
    let s: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["k"], rows[lowest][0].parse::<u64>().unwrap());
    assert!(s["mixture"]["bic"].as_f64().unwrap().is_finite());
    // K-Means sweeps keep their columns.
    ok(&run(&[
        "sweep",
        sample().to_str().unwrap(),
        "--k",
        "2..3",
        "-o",
        csv.to_str().unwrap(),
    ]));
    assert!(!fs::read_to_string(&csv).unwrap().contains("bic"));
}

#[test]
fn duplicates_and_a_constant_column_are_regularised_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    let mut body = String::from("user_id,a,b,c\n");
    for i in 0..40 {
        if i < 20 {
            body.push_str(&format!("u{i},1,2,5\n"));
        } else {
            body.push_str(&format!("u{i},{},{},5\n", 3 + i % 7, i % 5));
        }
    }
    fs::write(&table, body).unwrap();
    let out = dir.path().join("s.csv");
    let summary = ok(&run(&[
        "fit",
        "--features-input",
        table.to_str().unwrap(),
        "--method",
        "gmm",
        "--k",
        "3",
        "--reg-covar",
        "0",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]));
    let s: Value = serde_json::from_str(&summary).unwrap();
    let raised = s["mixture"]["regularisation_raised"].as_array().unwrap();
    assert!(!raised.is_empty(), "{s}");
    assert!(
        raised
            .iter()
            .all(|r| r["reg_covar"].as_f64().unwrap() > 0.0)
    );
    let scores = fs::read_to_string(&out).unwrap();
    assert!(!scores.to_lowercase().contains("nan") && !scores.contains("inf"));
    // The words say so too.
    let text = run(&[
        "fit",
        "--features-input",
        table.to_str().unwrap(),
        "--method",
        "gmm",
        "--k",
        "3",
        "--reg-covar",
        "0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok(&text).contains("regularisation was raised"));
}

#[test]
fn mixture_flags_and_damaged_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.csv");
    let input = sample();
    let input = input.to_str().unwrap();
    let o = out.to_str().unwrap();
    fails(
        &run(&["fit", input, "--covariance", "diag", "-o", o]),
        2,
        &["--method gmm"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "gmm",
            "--covariance",
            "round",
            "-o",
            o,
        ]),
        2,
        &["--covariance", "full, tied, diag or spherical"],
    );
    fails(
        &run(&["fit", input, "--method", "gmm", "--reg-covar=-1", "-o", o]),
        2,
        &["--reg-covar"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "gmm",
            "--gmm-init",
            "random",
            "-o",
            o,
        ]),
        2,
        &["--gmm-init"],
    );
    assert!(!out.exists());
    let model = dir.path().join("m.json");
    ok(&run(&[
        "fit",
        input,
        "--method",
        "gmm",
        "--covariance",
        "diag",
        "-o",
        o,
        "--model",
        model.to_str().unwrap(),
    ]));
    let text = fs::read_to_string(&model).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["method"]["covariances"][1][0] = Value::from(-1.0);
    let damaged = dir.path().join("damaged.json");
    fs::write(&damaged, m.to_string()).unwrap();
    let scored = dir.path().join("scored.csv");
    fails(
        &run(&[
            "score",
            input,
            "--model",
            damaged.to_str().unwrap(),
            "-o",
            scored.to_str().unwrap(),
        ]),
        3,
        &["positive definite"],
    );
    assert!(!scored.exists());
    // A full covariance that is not symmetric is refused too.
    ok(&run(&[
        "fit",
        input,
        "--method",
        "gmm",
        "-o",
        o,
        "--model",
        model.to_str().unwrap(),
    ]));
    let text = fs::read_to_string(&model).unwrap();
    let mut asymmetric: Value = serde_json::from_str(&text).unwrap();
    let v = asymmetric["method"]["covariances"][0][0][1]
        .as_f64()
        .unwrap();
    asymmetric["method"]["covariances"][0][0][1] = Value::from(v * 1.5 + 0.1);
    fs::write(&damaged, asymmetric.to_string()).unwrap();
    fails(
        &run(&[
            "score",
            input,
            "--model",
            damaged.to_str().unwrap(),
            "-o",
            scored.to_str().unwrap(),
        ]),
        3,
        &["not symmetric"],
    );
}

#[test]
fn a_mixture_report_shows_how_certain_memberships_are() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    ok(&run(&[
        "report",
        sample().to_str().unwrap(),
        "--method",
        "gmm",
        "--k",
        "3",
        "-o",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]));
    let page = fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"certainty\">"));
    assert!(page.contains("A Gaussian mixture (full covariances)"));
    let summary: Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let mixture = &summary["segmentation"]["mixture"];
    let histogram = mixture["certainty"]["histogram"].as_array().unwrap();
    let users: u64 = histogram.iter().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(users, 20, "every user in one bin");
    let below: u64 = mixture["certainty"]["uncertain_by_segment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(below, mixture["certainty"]["uncertain"].as_u64().unwrap());
    // A K-Means report has neither.
    ok(&run(&[
        "report",
        sample().to_str().unwrap(),
        "--k",
        "3",
        "-o",
        html.to_str().unwrap(),
    ]));
    assert!(
        !fs::read_to_string(&html)
            .unwrap()
            .contains("id=\"certainty\"")
    );
}

#[test]
fn users_shifted_or_scaled_by_a_power_of_two_get_the_same_probabilities() {
    // Under --scale none, segmint centres the values and brings a wide
    // spread near 1 by a power of two: the mixture must come back in the
    // users' own units, and place them alike.
    let dir = tempfile::tempdir().unwrap();
    let fit = |table: &Path, reg: &str, name: &str| {
        let (scores, model) = (
            dir.path().join(format!("{name}.csv")),
            dir.path().join(format!("{name}.json")),
        );
        let summary = ok(&run(&[
            "fit",
            "--features-input",
            table.to_str().unwrap(),
            "--scale",
            "none",
            "--method",
            "gmm",
            "--k",
            "3",
            "--reg-covar",
            reg,
            "--format",
            "json",
            "--silhouette",
            "none",
            "-o",
            scores.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ]));
        let s: Value = serde_json::from_str(&summary).unwrap();
        let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
        (
            csv_rows(&scores).1,
            s["mixture"]["log_likelihood"].as_f64().unwrap(),
            m,
        )
    };
    let scale = 2f64.powi(40);
    let plain = groups(dir.path(), "plain.csv", 3000, 0.0, 1.0);
    let shifted = groups(dir.path(), "shifted.csv", 3000, 1000.0, 1.0);
    let scaled = groups(dir.path(), "scaled.csv", 3000, 0.0, scale);
    let (a, ll_a, model_a) = fit(&plain, "1e-6", "a");
    let (b, ll_b, model_b) = fit(&shifted, "1e-6", "b");
    let (c, ll_c, model_c) = fit(&scaled, &format!("{}", 1e-6 * scale * scale), "c");
    let probabilities = |rows: &[Vec<String>]| -> Vec<f64> {
        rows.iter()
            .flat_map(|r| r[4..8].iter().map(|v| v.parse::<f64>().unwrap()))
            .collect()
    };
    for (name, other) in [("shifted", &b), ("scaled", &c)] {
        for (x, y) in zip_eq(probabilities(&a), probabilities(other)) {
            assert!((x - y).abs() < 1e-4, "{name}: {x} vs {y}");
        }
    }
    assert!((ll_a - ll_b).abs() < 1e-6 * ll_a.abs(), "{ll_a} vs {ll_b}");
    // Densities per unit of the scaled values: 3 features, 2^40 each.
    let expected = ll_a - 3.0 * 40.0 * 2f64.ln();
    assert!(
        (ll_c - expected).abs() < 1e-6 * expected.abs(),
        "{ll_c} vs {expected}"
    );
    let means = |m: &Value| -> Vec<f64> {
        m["method"]["means"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect()
    };
    for (x, y) in zip_eq(means(&model_a), means(&model_b)) {
        assert!(
            (x + 1000.0 - y).abs() < 1e-6 * 1000.0,
            "shifted mean {x} vs {y}"
        );
    }
    for (x, y) in zip_eq(means(&model_a), means(&model_c)) {
        assert!(
            (x * scale - y).abs() < 1e-6 * scale,
            "scaled mean {x} vs {y}"
        );
    }
    let cov = |m: &Value| m["method"]["covariances"][0][0][0].as_f64().unwrap();
    assert!((cov(&model_a) * scale * scale - cov(&model_c)).abs() < 1e-6 * cov(&model_c));
    // The scaled model scores the scaled users as the fit placed them.
    let again = dir.path().join("again.csv");
    ok(&run(&[
        "score",
        "--features-input",
        scaled.to_str().unwrap(),
        "--model",
        dir.path().join("c.json").to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
        "--silhouette",
        "none",
    ]));
    for (x, y) in zip_eq(&c, &csv_rows(&again).1) {
        assert_eq!(x[..4], y[..4]);
    }
}
