//! Lifetime value and cadence-aware churn through the command line: `fit`
//! writes P(alive), expected transactions and CLV beside each user (equal
//! to what the `lifetimes` package computes for the same log, see
//! `reference_btyd`), keeps the parameters in the model, and `score`
//! gives the same users the same values; the horizon names the columns;
//! bad flags are refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{csv_column, fails, ok, segmint};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btyd")
        .join(name)
}

/// Column `name` of `path`, by user.
fn by_user(path: &Path, name: &str) -> HashMap<String, String> {
    csv_column(path, "user_id")
        .into_iter()
        .zip(csv_column(path, name))
        .collect()
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-3),
        "{what}: segmint {got}, lifetimes {want}"
    );
}

#[test]
fn fit_and_score_agree_with_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let (scores, model, rescored) = (
        dir.path().join("scores.csv"),
        dir.path().join("model.json"),
        dir.path().join("rescored.csv"),
    );
    let log = fixture("gen_dates.csv");
    let out = segmint()
        .args([
            "fit",
            log.to_str().unwrap(),
            "--k",
            "3",
            "-q",
            "--format",
            "json",
        ])
        .args([
            "-o",
            scores.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    let params: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("gen_dates.params.json")).unwrap())
            .unwrap();
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    for name in ["r", "alpha", "a", "b"] {
        let want = params["bgnbd"][name].as_f64().unwrap();
        let fitted = summary["lifetime"]["bgnbd"]["params"][name]
            .as_f64()
            .unwrap();
        close(&format!("summary {name}"), fitted, want, 1e-4);
        assert_eq!(m["lifetime"]["bgnbd"][name].as_f64(), Some(fitted));
    }
    for name in ["p", "q", "v"] {
        let want = params["gamma_gamma"][name].as_f64().unwrap();
        let fitted = summary["lifetime"]["gamma_gamma"]["params"][name]
            .as_f64()
            .unwrap();
        close(&format!("summary {name}"), fitted, want, 1e-4);
        assert_eq!(m["lifetime"]["gamma_gamma"][name].as_f64(), Some(fitted));
    }
    assert_eq!(m["lifetime"]["horizon_days"], 90);

    // Per user, against lifetimes.
    let expected = fixture("gen_dates.expected.csv");
    for (ours, theirs) in [
        ("p_alive", "p_alive"),
        ("expected_tx_90d", "expected_tx_90"),
        ("clv_90d", "clv_90"),
    ] {
        let want = by_user(&expected, theirs);
        let got = by_user(&scores, ours);
        assert_eq!(got.len(), want.len());
        for (user, value) in &got {
            let want: f64 = want[user].parse().unwrap();
            close(
                &format!("{user} {ours}"),
                value.parse().unwrap(),
                want,
                1e-6,
            );
        }
    }

    // The model scores the same users alike.
    ok(&segmint()
        .args([
            "score",
            log.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "-q",
        ])
        .args(["-o", rescored.to_str().unwrap()])
        .output()
        .unwrap());
    for column in [
        "p_alive",
        "expected_tx_90d",
        "clv_90d",
        "overdue",
        "churn_risk",
    ] {
        assert_eq!(
            csv_column(&scores, column),
            csv_column(&rescored, column),
            "{column}"
        );
    }
}

#[test]
fn horizon_and_discount_shape_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("gen_times.csv");
    let run = |extra: &[&str], name: &str| {
        let scores = dir.path().join(name);
        ok(&segmint()
            .args(["fit", log.to_str().unwrap(), "--k", "2", "-q"])
            .args(["-o", scores.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap());
        scores
    };
    let plain = run(&[], "plain.csv");
    let short = run(&["--horizon", "30"], "short.csv");
    let discounted = run(&["--discount-rate", "0.01"], "discounted.csv");
    let numbers = |path: &Path, column: &str| -> Vec<f64> {
        csv_column(path, column)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let (tx90, tx30) = (
        numbers(&plain, "expected_tx_90d"),
        numbers(&short, "expected_tx_30d"),
    );
    assert!(tx90.iter().zip(&tx30).all(|(a, b)| b <= a));
    assert!(tx90.iter().zip(&tx30).any(|(a, b)| b < a));
    // The discount lowers every positive CLV, and matches lifetimes'.
    let (clv, disc) = (numbers(&plain, "clv_90d"), numbers(&discounted, "clv_90d"));
    assert!(
        clv.iter()
            .zip(&disc)
            .all(|(a, b)| b <= a && (*a == 0.0 || b < a))
    );
    let want = by_user(&fixture("gen_times.expected.csv"), "clv_90_discounted");
    for (user, got) in by_user(&discounted, "clv_90d") {
        let want: f64 = want[&user].parse().unwrap();
        close(&user, got.parse().unwrap(), want, 1e-6);
    }
}

#[test]
fn the_sample_has_no_lifetime_fit_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    let out = segmint()
        .args(["fit", crate::common::sample().to_str().unwrap(), "--k", "3"])
        .args(["-o", scores.to_str().unwrap()])
        .output()
        .unwrap();
    let text = ok(&out) + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("no BG/NBD"), "{text}");
    let header = std::fs::read_to_string(&scores).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.contains(",overdue,") && !header.contains("p_alive"),
        "{header}"
    );
}

#[test]
fn bad_lifetime_and_cadence_flags_are_refused() {
    let sample = crate::common::sample();
    let sample = sample.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    let out = out.to_str().unwrap();
    for (flags, message) in [
        (&["--horizon", "0"][..], "--horizon must be at least 1 day"),
        (
            &["--discount-rate=-0.1"][..],
            "--discount-rate must be a finite rate >= 0",
        ),
        (&["--trend-days", "0"][..], "--trend-days 0"),
        (
            &["--p-alive-risk", "1.5"][..],
            "--p-alive-risk must be a probability in [0, 1]",
        ),
        (&["--dormant-gaps=-1"][..], "--dormant-gaps must be"),
        (&["--trend-z", "nan"][..], "--trend-z must be"),
    ] {
        let run = segmint()
            .args(["fit", sample, "-o", out])
            .args(flags)
            .output()
            .unwrap();
        fails(&run, 2, &[message]);
        assert!(!Path::new(out).exists(), "{flags:?} wrote {out}");
    }
}
