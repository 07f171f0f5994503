//! `segmint sweep`, `fit` and `score` through the real binary: outputs,
//! the fit/score round trip, and every bad parameter (README,
//! "Clustering" and "Bad input and exit codes": a clear message, the exit code, no output file left behind).

use crate::common;

use common::{fails, ok, sample, segmint, zip_eq};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

/// A small numeric feature table.
fn table(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    path
}

fn column(text: &str, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let c = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    reader
        .records()
        .map(|r| r.unwrap()[c].to_string())
        .collect()
}

fn numbers(text: &str, name: &str) -> Vec<f64> {
    column(text, name)
        .iter()
        .map(|v| {
            if v.is_empty() {
                f64::NAN
            } else {
                v.parse().unwrap()
            }
        })
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
    assert!(fitted.starts_with(
        "user_id,segment,segment_name,distance,silhouette,\
         rfm_r,rfm_f,rfm_m,rfm_segment,churn_risk,churn_reason,overdue,frequency,monetary,"
    ));
    assert_eq!(fitted.lines().count(), 21);
    let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["format"], "segmint-model");
    assert_eq!(m["version"], 3);
    assert_eq!(m["method"]["name"], "kmeans");
    assert_eq!(m["method"]["centres"].as_array().unwrap().len(), 3);
    assert_eq!(
        m["segment_names"],
        serde_json::json!(["Power User", "Loyal User", "Casual User"])
    );
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
        let v: Vec<f64> = zip_eq(&segments, &monetary)
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
    for name in [
        "distance",
        "segment_name",
        "rfm_r",
        "rfm_f",
        "rfm_m",
        "rfm_segment",
        "churn_risk",
        "churn_reason",
    ] {
        assert_eq!(column(&again, name), column(&fitted, name), "{name}");
    }
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
        &["k = 21", "20 users to cluster"],
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
        "v4.json",
        &text.replace("\"version\": 3", "\"version\": 4"),
    );
    fails(
        &run(&["score", input, "--model", newer.to_str().unwrap(), "-o", o]),
        3,
        &["model version 4"],
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
        3,
        // A logs model scores a table `segmint features` wrote; a log is
        // not one.
        &["no column \"frequency\""],
    );
    assert!(!Path::new(o).exists());
}

/// RFM quintile score by rank, written out independently of the library:
/// users ordered worst first, ties by row order; rank r of n scores
/// 1 + floor(5 r / n).
fn quintiles(values: &[f64], higher_is_better: bool) -> Vec<u32> {
    let n = values.len();
    let worse = |a: f64, b: f64| if higher_is_better { a < b } else { a > b };
    (0..n)
        .map(|i| {
            let rank = (0..n)
                .filter(|&j| worse(values[j], values[i]) || (values[j] == values[i] && j < i))
                .count();
            1 + (5 * rank / n) as u32
        })
        .collect()
}

/// The R x F grid of the README's "Segments and insights".
fn rfm_name(r: u32, f: u32) -> &'static str {
    match (r, f) {
        (5, 4 | 5) => "Champions",
        (3 | 4, 4 | 5) => "Loyal",
        (4 | 5, 2 | 3) => "Potential Loyalist",
        (5, 1) => "New",
        (4, 1) => "Promising",
        (3, 3) => "Need Attention",
        (3, 1 | 2) => "About to Sleep",
        (1 | 2, 3 | 4) => "At Risk",
        (1 | 2, 5) => "Cannot Lose Them",
        _ => "Hibernating",
    }
}

/// The churn rules of the README's "Churn early warning" with the default
/// thresholds, for a log without a lifetime fit (no P(alive)) and a trend
/// `trend` already judged against the log's; `overdue` in expected gaps.
fn churn_rule(
    segment: &str,
    recency: f64,
    overdue: f64,
    trend: f64,
    failures: f64,
) -> &'static str {
    // An empty trend or failure rate (NaN here) fires no rule.
    if segment == "0" && trend <= -0.20 {
        "Critical (Top Segment)"
    } else if recency > 30.0 && overdue > 3.0 {
        "Dormant"
    } else if trend <= -0.30 && failures >= 0.50 {
        "High Risk (Quality Issue)"
    } else if trend <= -0.30 {
        "High Risk (Declining)"
    } else if trend <= -0.15 {
        "Moderate Risk"
    } else {
        "Safe"
    }
}

/// Each user's trend against the log's and whether its drop is beyond
/// `z` standard deviations of a Poisson count, recomputed from the
/// scores' columns (the window is `days` long): the transactions the
/// earlier rate expects in the window, E = days * rate, with rate =
/// frequency / (window - days + (1 + trend) * days), against (1 + trend)
/// * E; the log's trend is their totals' ratio.
fn judged_trends(text: &str, days: f64, z: f64) -> Vec<f64> {
    let frequency = numbers(text, "frequency");
    let volume = numbers(text, "avg_daily_volume");
    let trend = numbers(text, "cadence_trend");
    let counts: Vec<Option<(f64, f64)>> = (0..trend.len())
        .map(|i| {
            if trend[i].is_nan() {
                return None;
            }
            let window = frequency[i] / volume[i];
            let expected = days * frequency[i] / (window - days + (1.0 + trend[i]) * days);
            Some((expected, (1.0 + trend[i]) * expected))
        })
        .collect();
    let (e, a) = counts
        .iter()
        .flatten()
        .fold((0.0, 0.0), |(e, a), (x, y)| (e + x, a + y));
    let base = a / e;
    counts
        .iter()
        .map(|c| match c {
            Some((expected, actual)) => {
                let expected = expected * base;
                if expected - actual >= z * expected.sqrt() {
                    actual / expected - 1.0
                } else {
                    f64::NAN
                }
            }
            None => f64::NAN,
        })
        .collect()
}

#[test]
fn scores_carry_rfm_and_churn_by_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    ok(&run(&[
        "fit",
        sample().to_str().unwrap(),
        "-o",
        scores.to_str().unwrap(),
    ]));
    let text = fs::read_to_string(&scores).unwrap();
    let recency = numbers(&text, "recency_days");
    let r = quintiles(&recency, false);
    let f = quintiles(&numbers(&text, "frequency"), true);
    let m = quintiles(&numbers(&text, "monetary"), true);
    let parse = |name| -> Vec<u32> {
        column(&text, name)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    assert_eq!(parse("rfm_r"), r);
    assert_eq!(parse("rfm_f"), f);
    assert_eq!(parse("rfm_m"), m);
    let names: Vec<&str> = zip_eq(&r, &f).map(|(&r, &f)| rfm_name(r, f)).collect();
    assert_eq!(column(&text, "rfm_segment"), names);

    let segments = column(&text, "segment");
    // The sample's users come back every day: a 7-day trend window.
    let trend = judged_trends(&text, 7.0, 2.0);
    let overdue = numbers(&text, "overdue");
    let failures = numbers(&text, "failure_rate");
    let expected: Vec<&str> = (0..segments.len())
        .map(|i| churn_rule(&segments[i], recency[i], overdue[i], trend[i], failures[i]))
        .collect();
    let risks = column(&text, "churn_risk");
    assert_eq!(risks, expected);
    // The sample's silent-churn client, the biggest ones and the dormant
    // ones are all there.
    assert!(risks.iter().any(|r| r.starts_with("Critical")), "{risks:?}");
    assert!(risks.iter().any(|r| r == "Dormant"), "{risks:?}");
    let reasons = column(&text, "churn_reason");
    for (risk, reason) in zip_eq(&risks, &reasons) {
        assert_eq!(risk == "Safe", reason.is_empty(), "{risk}: {reason:?}");
    }
    assert_eq!(
        column(&text, "segment_name"),
        segments
            .iter()
            .map(|s| ["Power User", "Loyal User", "Casual User"][s.parse::<usize>().unwrap()])
            .collect::<Vec<_>>()
    );
}

#[test]
fn fit_takes_segment_names_and_churn_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    let model = dir.path().join("model.json");
    let out = run(&[
        "fit",
        sample().to_str().unwrap(),
        "--segment-names",
        "Whales, Dolphins ,Minnows",
        "--trend-z",
        "0",
        "--moderate-decline",
        "-0.01",
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("Whales 3, Dolphins 12, Minnows 5"),
        "{stdout}"
    );
    let text = fs::read_to_string(&scores).unwrap();
    let names = column(&text, "segment_name");
    assert!(
        names
            .iter()
            .all(|n| ["Whales", "Dolphins", "Minnows"].contains(&n.as_str()))
    );
    let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(
        m["segment_names"],
        serde_json::json!(["Whales", "Dolphins", "Minnows"])
    );
    assert_eq!(m["churn"]["moderate_decline"], -0.01);
    // The looser threshold flags users whose trend is -1% .. -15%
    // (judged against the log's, beyond noise: --trend-z 0 here).
    let risks = column(&text, "churn_risk");
    let trend = judged_trends(&text, 7.0, 0.0);
    for (risk, t) in zip_eq(&risks, &trend) {
        if risk == "Safe" {
            assert!(t.is_nan() || *t > -0.01, "trend {t} left Safe");
        }
    }

    for (list, message) in [
        ("Whales,Dolphins", "2 names but K = 3"),
        ("A,,B", "name 2 is empty"),
        ("A,B,A", "\"A\" is given twice"),
    ] {
        let out = run(&[
            "fit",
            sample().to_str().unwrap(),
            "--segment-names",
            list,
            "-o",
            dir.path().join("x.csv").to_str().unwrap(),
        ]);
        fails(&out, 2, &[message]);
    }
    let out = run(&[
        "fit",
        sample().to_str().unwrap(),
        "--decline",
        "0.3",
        "-o",
        dir.path().join("x.csv").to_str().unwrap(),
    ]);
    fails(&out, 2, &["--decline must be a fraction in [-1, 0]"]);
    assert!(!dir.path().join("x.csv").exists());
}

/// `--k auto` tries the K of `--k-range` that the users allow (2 to
/// users - 1), where an explicit `--k` list past them is an error.
#[test]
fn fit_auto_takes_the_range_the_users_allow() {
    let dir = tempfile::tempdir().unwrap();
    let five = table(
        dir.path(),
        "five.csv",
        "user_id,x,y\na,0,0\nb,0.1,0\nc,5,5\nd,5.1,5\ne,9,0\n",
    );
    let scores = dir.path().join("s.csv");
    let out = run(&[
        "--device",
        "cpu",
        "fit",
        "--features-input",
        five.to_str().unwrap(),
        "--k",
        "auto",
        "-o",
        scores.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    let k = summary["k"].as_u64().unwrap();
    assert!((2..=4).contains(&k), "k = {k}");
    fails(
        &run(&[
            "--device",
            "cpu",
            "sweep",
            "--features-input",
            five.to_str().unwrap(),
            "--k",
            "2..10",
        ]),
        2,
        &["more than the 5 users"],
    );
}
