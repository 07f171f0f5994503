//! `segmint sweep`, `fit` and `score` through the real binary: outputs,
//! the fit/score round trip, and every bad parameter (SPEC sections 4 and
//! 6: a clear message, the exit code, no output file left behind).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn segmint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_segmint"))
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/messaging_sample.csv")
}

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Fails with `code` and a message containing every one of `parts`.
#[track_caller]
fn fails(out: &Output, code: i32, parts: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for part in parts {
        assert!(err.contains(part), "expected {part:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A small numeric feature table.
fn table(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    path
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(c).unwrap().to_string())
        .collect()
}

#[test]
fn sweep_reports_every_k_with_every_metric() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sweep.csv");
    let out = run(&[
        "sweep",
        sample().to_str().unwrap(),
        "--k",
        "2..6",
        "--format",
        "json",
        "-o",
        csv.to_str().unwrap(),
    ]);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for (row, k) in results.iter().zip(2..) {
        assert_eq!(row["k"], k);
        for key in [
            "inertia",
            "silhouette",
            "silhouette_sqeuclidean",
            "calinski_harabasz",
            "davies_bouldin",
        ] {
            assert!(row[key].is_number(), "k = {k}: {key}");
        }
        let s = row["silhouette"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&s));
        assert_eq!(row["silhouette_on"], 20, "20 users: exact");
    }
    // The chosen K has the highest silhouette.
    let best = results
        .iter()
        .max_by(|a, b| {
            a["silhouette"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["silhouette"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(summary["chosen"], best["k"]);
    let written = fs::read_to_string(&csv).unwrap();
    assert!(written.starts_with("k,inertia,silhouette,"));
    assert_eq!(written.lines().count(), 6);
    // The table form names the chosen K.
    let table = ok(&run(&["sweep", sample().to_str().unwrap(), "--k", "2..4"]));
    assert!(table.contains("chosen k ="), "{table}");
}

#[test]
fn fit_then_score_reproduces_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    let model = dir.path().join("model.json");
    let out = run(&[
        "fit",
        sample().to_str().unwrap(),
        "--k",
        "3",
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(summary["k"], 3);
    let fitted = fs::read_to_string(&scores).unwrap();
    assert!(fitted.starts_with("user_id,segment,distance,silhouette,frequency,monetary,"));
    assert_eq!(fitted.lines().count(), 21);
    let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["format"], "segmint-model");
    assert_eq!(m["version"], 1);
    assert_eq!(
        m["features"],
        serde_json::json!(["log1p:frequency", "log1p:monetary", "active_days"])
    );

    // Segment 0 has the highest mean monetary.
    let segments = column(&fitted, "segment");
    let monetary: Vec<f64> = column(&fitted, "monetary")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let mean = |s: &str| {
        let v: Vec<f64> = segments
            .iter()
            .zip(&monetary)
            .filter(|(g, _)| g.as_str() == s)
            .map(|(_, m)| *m)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean("0") > mean("1") && mean("1") > mean("2"));

    let rescored = dir.path().join("rescored.csv");
    ok(&run(&[
        "score",
        sample().to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "-o",
        rescored.to_str().unwrap(),
    ]));
    let again = fs::read_to_string(&rescored).unwrap();
    assert_eq!(column(&again, "segment"), segments);
    assert_eq!(column(&again, "distance"), column(&fitted, "distance"));
}

#[test]
fn fit_auto_takes_the_sweeps_choice() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    let sweep: Value = serde_json::from_str(&ok(&run(&[
        "sweep",
        sample().to_str().unwrap(),
        "--k",
        "2..5",
        "--format",
        "json",
    ])))
    .unwrap();
    let fit: Value = serde_json::from_str(&ok(&run(&[
        "fit",
        sample().to_str().unwrap(),
        "--k",
        "auto",
        "--k-range",
        "2..5",
        "-o",
        scores.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(fit["k"], sweep["chosen"]);
}

#[test]
fn features_input_tables_cluster_like_logs() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.csv");
    ok(&run(&[
        "features",
        sample().to_str().unwrap(),
        "-o",
        features.to_str().unwrap(),
    ]));
    let from_log = ok(&run(&[
        "sweep",
        sample().to_str().unwrap(),
        "--k",
        "2..4",
        "--format",
        "json",
    ]));
    let from_table = ok(&run(&[
        "sweep",
        "--features-input",
        features.to_str().unwrap(),
        "--k",
        "2..4",
        "--format",
        "json",
    ]));
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    assert_eq!(strip(&from_log), strip(&from_table));

    // Any numeric table, with a chosen key column and transforms.
    let t = table(
        dir.path(),
        "t.csv",
        "name,id,x,y\na,1,1,10\nb,2,1.5,11\nc,3,9,50\nd,4,9.5,52\n",
    );
    let scores = dir.path().join("s.csv");
    ok(&run(&[
        "fit",
        "--features-input",
        t.to_str().unwrap(),
        "--key-col",
        "id",
        "--features",
        "x,log1p:y",
        "--k",
        "2",
        "-o",
        scores.to_str().unwrap(),
    ]));
    let written = fs::read_to_string(&scores).unwrap();
    assert_eq!(column(&written, "user_id"), ["1", "2", "3", "4"]);
    // Segments ordered by the first feature's mean (no monetary column).
    assert_eq!(column(&written, "segment"), ["1", "1", "0", "0"]);
}

#[test]
fn same_labels_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let path = dir.path().join(format!("s{threads}.csv"));
        ok(&run(&[
            "--threads",
            threads,
            "fit",
            sample().to_str().unwrap(),
            "--k",
            "4",
            "--n-init",
            "3",
            "--seed",
            "9",
            "-o",
            path.to_str().unwrap(),
        ]));
        outputs.push(fs::read(&path).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn bad_parameters_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.csv");
    let s = sample();
    let input = s.to_str().unwrap();
    let o = out.to_str().unwrap();
    fails(
        &run(&["fit", input, "--k", "0", "-o", o]),
        2,
        &["k must be at least 1"],
    );
    fails(
        &run(&["fit", input, "--k", "21", "-o", o]),
        2,
        &["k = 21", "20 distinct users"],
    );
    fails(
        &run(&["fit", input, "--k", "three", "-o", o]),
        2,
        &["--k \"three\""],
    );
    fails(
        &run(&["sweep", input, "--k", "6..2"]),
        2,
        &["the range is empty"],
    );
    fails(
        &run(&["sweep", input, "--k", "0..3"]),
        2,
        &["k must be at least 1"],
    );
    fails(
        &run(&["fit", input, "--features", "nope", "-o", o]),
        2,
        &["no column \"nope\"", "frequency"],
    );
    fails(
        &run(&["fit", input, "--features", "sqrt:monetary", "-o", o]),
        2,
        &["unknown transform \"sqrt\""],
    );
    fails(
        &run(&["fit", input, "--n-init", "0", "-o", o]),
        2,
        &["--n-init"],
    );
    fails(
        &run(&["fit", input, "--max-iter", "0", "-o", o]),
        2,
        &["--max-iter"],
    );
    fails(&run(&["fit", input, "--tol=-1", "-o", o]), 2, &["--tol"]);
    fails(
        &run(&["fit", input, "--silhouette", "sample:1", "-o", o]),
        2,
        &["--silhouette \"sample:1\""],
    );
    fails(
        &run(&["sweep", input, "--key-col", "user_id"]),
        2,
        &["--key-col"],
    );
    assert!(!out.exists(), "no output after a failed run");
}

#[test]
fn bad_feature_values_are_data_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.csv");
    let o = out.to_str().unwrap();
    let t = table(dir.path(), "t.csv", "user_id,x\na,1\nb,two\nc,3\n");
    fails(
        &run(&[
            "fit",
            "--features-input",
            t.to_str().unwrap(),
            "--k",
            "2",
            "-o",
            o,
        ]),
        3,
        &["t.csv: line 3, column 2 (x): expected a number, found \"two\""],
    );
    for (name, value, shown) in [
        ("nan.csv", "NaN", "an empty value"),
        ("inf.csv", "inf", "inf"),
        ("empty.csv", "", "an empty value"),
    ] {
        let t = table(
            dir.path(),
            name,
            &format!("user_id,x\na,1\nb,{value}\nc,3\n"),
        );
        fails(
            &run(&[
                "fit",
                "--features-input",
                t.to_str().unwrap(),
                "--k",
                "2",
                "-o",
                o,
            ]),
            3,
            &["user \"b\"", shown, "column \"x\""],
        );
    }
    let t = table(dir.path(), "dup.csv", "user_id,x\na,1\na,2\n");
    fails(
        &run(&[
            "fit",
            "--features-input",
            t.to_str().unwrap(),
            "--k",
            "1",
            "-o",
            o,
        ]),
        3,
        &["appears again"],
    );
    // A log where usage_trend is empty for someone (all of u2's activity
    // is in the last 7 days) cannot cluster on it.
    let log = table(
        dir.path(),
        "log.csv",
        "user_id,created_at,total_price\nu1,2025-01-01,1\nu1,2025-01-20,1\nu2,2025-01-19,2\nu3,2025-01-02,1\n",
    );
    fails(
        &run(&[
            "fit",
            log.to_str().unwrap(),
            "--features",
            "usage_trend",
            "--k",
            "2",
            "-o",
            o,
        ]),
        3,
        &["user \"u2\"", "an empty value", "usage_trend"],
    );
    assert!(!out.exists());
}

#[test]
fn score_refuses_other_models() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let scores = dir.path().join("scores.csv");
    let s = sample();
    let input = s.to_str().unwrap();
    ok(&run(&[
        "fit",
        input,
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]));
    let o = dir.path().join("new.csv");
    let o = o.to_str().unwrap();
    let text = fs::read_to_string(&model).unwrap();
    let newer = table(
        dir.path(),
        "v2.json",
        &text.replace("\"version\": 1", "\"version\": 2"),
    );
    fails(
        &run(&["score", input, "--model", newer.to_str().unwrap(), "-o", o]),
        3,
        &["model version 2"],
    );
    fails(
        &run(&[
            "score",
            input,
            "--model",
            model.to_str().unwrap(),
            "--features",
            "frequency",
            "-o",
            o,
        ]),
        3,
        &["fitted on features [log1p:frequency, log1p:monetary, active_days]"],
    );
    let garbage = table(dir.path(), "g.json", "{\"hello\": 1}");
    fails(
        &run(&[
            "score",
            input,
            "--model",
            garbage.to_str().unwrap(),
            "-o",
            o,
        ]),
        3,
        &["not a segmint model"],
    );
    fails(
        &run(&[
            "score",
            input,
            "--model",
            "/nonexistent/model.json",
            "-o",
            o,
        ]),
        4,
        &["model.json"],
    );
    fails(
        &run(&[
            "score",
            "--features-input",
            input,
            "--model",
            model.to_str().unwrap(),
            "-o",
            o,
        ]),
        2,
        &["fitted on transaction logs"],
    );
    assert!(!Path::new(o).exists());
}
