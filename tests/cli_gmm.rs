//! Gaussian mixtures through the real binary (README, "Gaussian
//! mixtures"): the probability columns, fit and score agreeing, the same
//! result on every thread count, BIC and AIC in sweeps, degenerate data
//! regularised rather than failed, and bad flags refused.

use crate::common;

use common::{fails, ok, sample, segmint};

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

fn rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
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
    let (header, fitted) = rows(&scores);
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
    for row in &fitted {
        let segment: usize = row[1].parse().unwrap();
        let p: Vec<f64> = row[5..8].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
        assert_eq!(row[4], row[5 + segment], "probability is the segment's");
        let top = p.iter().copied().fold(0.0, f64::max);
        assert_eq!(p[segment], top, "the segment is the most probable");
    }
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
    let (_, scored) = rows(&again);
    for (a, b) in fitted.iter().zip(&scored) {
        assert_eq!(a[..8], b[..8], "score places users as the fit did");
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (threads, covariance) in [("1", "full"), ("2", "full"), ("1", "tied"), ("2", "tied")] {
        let out = dir.path().join(format!("{threads}{covariance}.csv"));
        ok(&run(&[
            "--threads",
            threads,
            "fit",
            sample().to_str().unwrap(),
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
    let (header, rows) = rows(&csv);
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
