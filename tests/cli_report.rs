//! `segmint report` and `segmint transitions` through the real binary: the
//! HTML report parsed back (every section and chart there, every headline
//! number equal to the JSON summary's), self-containment, standard input,
//! transitions between two scores files and two periods of one log, and
//! bad parameters.

use crate::common;

use common::{fails, ok, sample, segmint, text};

use std::fs;
use std::path::{Path, PathBuf};

use scraper::{Html, Selector};
use serde_json::Value;

fn select(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// The report of the bundled sample, its JSON summary, and the HTML.
fn sample_report(dir: &Path) -> (Value, String) {
    let html = dir.join("report.html");
    let json = dir.join("summary.json");
    let out = segmint()
        .arg("report")
        .arg(sample())
        .arg("-o")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(stdout.contains("Power User"), "{stdout}");
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    (summary, fs::read_to_string(html).unwrap())
}

fn value(element: scraper::ElementRef<'_>) -> f64 {
    element
        .value()
        .attr("data-value")
        .expect("a data-value")
        .parse()
        .unwrap()
}

#[test]
fn report_has_every_section_and_the_numbers_of_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, html) = sample_report(dir.path());
    let doc = Html::parse_document(&html);

    let sections = [
        "kpis",
        "channels",
        "funnel",
        "activity",
        "concentration",
        "choosing-k",
        "segments",
        "rfm",
        "churn",
    ];
    for id in sections {
        let found = doc.select(&select(&format!("section#{id} > h2"))).count();
        assert_eq!(found, 1, "section {id}");
    }
    let charts = [
        "chart-channels",
        "chart-funnel",
        "chart-heatmap",
        "chart-pareto",
        "chart-elbow",
        "chart-silhouette",
        "chart-segments",
        "chart-churn",
    ];
    for id in charts {
        let svg = doc
            .select(&select(&format!("figure#{id} svg")))
            .next()
            .unwrap_or_else(|| panic!("chart {id}"));
        // A drawn chart, not an empty frame.
        assert!(
            svg.inner_html().matches("<rect").count()
                + svg.inner_html().matches("<polyline").count()
                > 3,
            "{id}"
        );
    }
    let k = summary["segmentation"]["k"].as_u64().unwrap() as usize;
    assert_eq!(k, 3);
    for s in 0..k {
        let id = format!("figure#chart-heatmap-segment-{s} svg");
        assert_eq!(doc.select(&select(&id)).count(), 1, "{id}");
    }

    // Key figures: each card carries the summary's value.
    let kpis = &summary["kpis"];
    for key in [
        "users",
        "transactions",
        "revenue",
        "success_rate",
        "arpu",
        "active_last_7d",
        "dormant_users",
        "at_risk_users",
        "revenue_at_risk",
    ] {
        let card = doc
            .select(&select(&format!(".kpi[data-key=\"{key}\"]")))
            .next()
            .unwrap_or_else(|| panic!("kpi {key}"));
        assert_eq!(value(card), kpis[key].as_f64().unwrap(), "kpi {key}");
    }
    assert_eq!(kpis["users"], 20);
    assert_eq!(kpis["transactions"], 25_000);

    // Segment names and sizes, in the table and the JSON.
    let names: Vec<String> = summary["segmentation"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Power User", "Loyal User", "Casual User"]);
    let heads: Vec<String> = doc
        .select(&select("section#segments table.profiles thead th"))
        .skip(1)
        .map(|th| th.text().collect())
        .collect();
    assert_eq!(heads, names);
    let profiles = summary["segmentation"]["profiles"].as_array().unwrap();
    let row = |key: &str| -> Vec<f64> {
        doc.select(&select(&format!(
            "section#segments table.profiles tr[data-key=\"{key}\"] span[data-value]"
        )))
        .map(value)
        .collect()
    };
    let field =
        |key: &str| -> Vec<f64> { profiles.iter().map(|p| p[key].as_f64().unwrap()).collect() };
    assert_eq!(row("users"), field("users"));
    assert_eq!(row("revenue_share"), field("revenue_share"));
    let sizes: u64 = profiles.iter().map(|p| p["users"].as_u64().unwrap()).sum();
    assert_eq!(sizes, 20);

    // RFM grid cells and churn counts add up to the users.
    let cells: f64 = doc
        .select(&select("section#rfm table.grid td[data-value]"))
        .map(value)
        .sum();
    assert_eq!(cells, 20.0);
    let risks = summary["churn"]["risks"].as_array().unwrap();
    let shown: Vec<f64> = doc
        .select(&select("section#churn table span[data-value]"))
        .take(risks.len())
        .map(value)
        .collect();
    let expected: Vec<f64> = risks.iter().map(|r| r["users"].as_f64().unwrap()).collect();
    assert_eq!(shown, expected);
    assert_eq!(expected.iter().sum::<f64>(), 20.0);

    // The Gini coefficient and top shares.
    let gini = doc.select(&select("[data-key=\"gini\"]")).next().unwrap();
    assert_eq!(
        value(gini),
        summary["concentration"]["gini"].as_f64().unwrap()
    );

    // Self-contained: nothing fetched, nothing run.
    for banned in ["<script", "<link", "<img", "url(", "src=", "@import"] {
        assert!(!html.contains(banned), "{banned} in the report");
    }
}

#[test]
fn report_reads_standard_input_like_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (from_file, _) = sample_report(dir.path());
    let json = dir.path().join("stdin.json");
    let out = segmint()
        .args(["report", "-", "-o"])
        .arg(dir.path().join("stdin.html"))
        .arg("--json")
        .arg(&json)
        .pipe_stdin(sample())
        .unwrap()
        .output()
        .unwrap();
    ok(&out);
    let mut from_stdin: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(from_stdin["inputs"][0], "<stdin>");
    from_stdin["inputs"] = from_file["inputs"].clone();
    assert_eq!(from_stdin, from_file);
}

#[test]
fn report_refuses_bad_parameters_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--segment-names", "Gold,Silver"], 2, "2 names but K = 3"),
        (&["--k", "0"], 2, "--k"),
        (&["--k", "25"], 2, "more than the 20 users"),
        (&["--k-range", "30..40", "--k", "auto"], 2, "--k-range"),
        (&["--decline", "0.5"], 2, "decline"),
        (&["--quality-failure-rate", "2"], 2, "failure"),
    ];
    for (extra, code, message) in cases {
        let out = segmint()
            .arg("report")
            .arg(sample())
            .arg("-o")
            .arg(&html)
            .args(*extra)
            .output()
            .unwrap();
        fails(&out, *code, &[message]);
        assert!(!html.exists(), "{extra:?} left a report");
    }
}

#[test]
fn report_takes_segment_names_and_k() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let out = segmint()
        .arg("report")
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("r.html"))
        .arg("--json")
        .arg(&json)
        .args(["--k", "4", "--segment-names", "Gold, Silver ,Bronze,Tin"])
        .output()
        .unwrap();
    ok(&out);
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(
        summary["segmentation"]["names"],
        serde_json::json!(["Gold", "Silver", "Bronze", "Tin"])
    );
    // Segments are ranked by mean revenue per user, highest first.
    let profiles = summary["segmentation"]["profiles"].as_array().unwrap();
    let mean = |p: &Value| p["revenue"].as_f64().unwrap() / p["users"].as_f64().unwrap();
    for pair in profiles.windows(2) {
        assert!(mean(&pair[0]) >= mean(&pair[1]), "{pair:?}");
    }
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    path
}

#[test]
fn transitions_between_two_scores_files() {
    let dir = tempfile::tempdir().unwrap();
    // a stays Power; b falls Power -> Casual; c rises Casual -> Loyal;
    // d leaves; e arrives.
    let old = write(
        dir.path(),
        "old.csv",
        "user_id,segment,segment_name,distance\n\
         a,0,Power User,0.1\nb,0,Power User,0.2\nc,2,Casual User,0.3\nd,1,Loyal User,0.4\n",
    );
    let new = write(
        dir.path(),
        "new.csv",
        "user_id,segment,segment_name,distance\n\
         a,0,Power User,0.1\nb,2,Casual User,0.2\nc,1,Loyal User,0.3\ne,2,Casual User,0.5\n",
    );
    let out = segmint()
        .arg("transitions")
        .arg(&old)
        .arg(&new)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let t: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        t["matrix"],
        serde_json::json!([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    );
    assert_eq!(
        (
            t["stayed"].as_u64(),
            t["moved_up"].as_u64(),
            t["moved_down"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(t["appeared"], serde_json::json!(["e"]));
    assert_eq!(t["disappeared"], serde_json::json!(["d"]));
    assert_eq!(t["downgrades"][0]["user"], "b");
    assert_eq!(t["downgrades"][0]["to_name"], "Casual User");

    // The table for people, and the matrix as CSV.
    let csv = dir.path().join("matrix.csv");
    let out = segmint()
        .arg("transitions")
        .arg(&old)
        .arg(&new)
        .arg("-o")
        .arg(&csv)
        .output()
        .unwrap();
    let table = ok(&out);
    assert!(
        table.contains("b") && table.contains("Power User -> Casual User"),
        "{table}"
    );
    assert_eq!(
        fs::read_to_string(csv).unwrap(),
        "from \\ to,Power User,Loyal User,Casual User\n\
         Power User,1,0,1\nLoyal User,0,0,0\nCasual User,0,1,0\n"
    );
}

#[test]
fn transitions_refuse_bad_scores_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", "user_id,segment\na,0\n");
    let cases: &[(&str, i32, &[&str])] = &[
        ("user,cluster\na,0\n", 3, &["user_id and segment"]),
        ("user_id,segment\na,x\n", 3, &["line 2", "segment"]),
        ("user_id,segment\na,0\na,1\n", 3, &["a"]),
        (
            "user_id,segment,segment_name\na,0,Top\nb,0,Other\n",
            3,
            &["line 3", "\"Other\"", "\"Top\""],
        ),
        // A damaged number must not size the matrix.
        (
            "user_id,segment\na,4000000000\n",
            3,
            &["line 2", "\"4000000000\"", "0 to 999"],
        ),
    ];
    for (body, code, parts) in cases {
        let bad = write(dir.path(), "bad.csv", body);
        let out = segmint()
            .arg("transitions")
            .arg(&good)
            .arg(&bad)
            .output()
            .unwrap();
        fails(&out, *code, parts);
    }
    let out = segmint().arg("transitions").arg(&good).output().unwrap();
    fails(&out, 2, &["two scores files"]);
    let out = segmint()
        .arg("transitions")
        .arg(&good)
        .arg(dir.path().join("missing.csv"))
        .output()
        .unwrap();
    fails(&out, 4, &["missing.csv"]);
}

/// A log over days 0..=19 of June 2025: the split at day 14 makes the new
/// period days 14..=19 and the old one, as long, days 8..=13.
fn two_period_log(dir: &Path) -> PathBuf {
    let mut log = String::from("user_id,created_at,total_price\n");
    let mut rows = |user: &str, days: std::ops::Range<u32>, per_day: u32| {
        for day in days {
            for i in 0..per_day {
                log.push_str(&format!(
                    "{user},2025-06-{:02} {:02}:{:02}:00,1.00\n",
                    day + 1,
                    i % 24,
                    i % 60
                ));
            }
        }
    };
    rows("a", 8..20, 40); // heavy in both periods
    rows("b", 8..14, 40); // heavy, then light
    rows("b", 14..20, 1);
    rows("c", 8..20, 1); // light in both
    rows("d", 8..14, 1); // only in the old period
    rows("e", 14..20, 1); // only in the new period
    rows("f", 0..6, 40); // before the old period: in neither
    write(dir, "periods.csv", &log)
}

#[test]
fn transitions_between_two_periods_of_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = segmint()
        .arg("transitions")
        .arg(two_period_log(dir.path()))
        .args(["--split-at", "2025-06-15", "--k", "2", "--format", "json"])
        .output()
        .unwrap();
    let t: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        t["old_names"],
        serde_json::json!(["Power User", "Casual User"])
    );
    assert_eq!(t["matrix"], serde_json::json!([[1, 1], [0, 1]]));
    assert_eq!(
        (
            t["stayed"].as_u64(),
            t["moved_up"].as_u64(),
            t["moved_down"].as_u64()
        ),
        (Some(2), Some(0), Some(1))
    );
    assert_eq!(t["appeared"], serde_json::json!(["e"]));
    assert_eq!(t["disappeared"], serde_json::json!(["d"]));
    assert_eq!(t["downgrades"][0]["user"], "b");
    let err = text(&out.stderr);
    assert!(
        err.contains("old period 2025-06-09T00:00:00Z to 2025-06-14T23:59:59.999Z"),
        "{err}"
    );

    // A split that leaves a period empty says which.
    for (at, period) in [
        ("2025-07-01", "the new period"),
        ("2025-06-01", "the old period"),
    ] {
        let out = segmint()
            .arg("transitions")
            .arg(two_period_log(dir.path()))
            .args(["--split-at", at, "--k", "2"])
            .output()
            .unwrap();
        fails(&out, 3, &[period, "holds no transactions"]);
    }
}

#[test]
fn demo_runs_the_whole_pipeline_into_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let out = segmint()
        .arg("demo")
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = ok(&out);
    let files = [
        "transactions.csv",
        "features.csv",
        "sweep.csv",
        "scores.csv",
        "model.json",
        "report.html",
        "summary.json",
    ];
    for name in files {
        let path = out_dir.join(name);
        assert!(path.is_file(), "{name}");
        assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    }
    assert!(stdout.contains("users to contact first"), "{stdout}");
    // The demo is `report` with its defaults: the same numbers.
    let report_dir = dir.path().join("report");
    fs::create_dir(&report_dir).unwrap();
    let (summary, _) = sample_report(&report_dir);
    let mut demo: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    demo["inputs"] = summary["inputs"].clone();
    assert_eq!(demo, summary);
    // 20 users in each per-user file, 9 K in the sweep.
    let lines = |name: &str| {
        fs::read_to_string(out_dir.join(name))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines("features.csv"), 21);
    assert_eq!(lines("scores.csv"), 21);
    assert_eq!(lines("sweep.csv"), 10);
    // The model scores the demo's own log into the same segments.
    let rescored = dir.path().join("rescored.csv");
    ok(&segmint()
        .arg("score")
        .arg(out_dir.join("transactions.csv"))
        .arg("--model")
        .arg(out_dir.join("model.json"))
        .args(["--silhouette", "exact", "-o"])
        .arg(&rescored)
        .output()
        .unwrap());
    // Identical but for the silhouettes' last bits (summed in another
    // order when segments are numbered otherwise than clusters).
    let read = |path: &Path| -> Vec<csv::StringRecord> {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let mut rows = vec![reader.headers().unwrap().clone()];
        rows.extend(reader.records().map(Result::unwrap));
        rows
    };
    let (again, fitted) = (read(&rescored), read(&out_dir.join("scores.csv")));
    assert_eq!(again[0], fitted[0]);
    assert_eq!(again.len(), fitted.len());
    let s = fitted[0].iter().position(|h| h == "silhouette").unwrap();
    for (a, b) in again[1..].iter().zip(&fitted[1..]) {
        for c in 0..a.len() {
            if c == s {
                let (x, y): (f64, f64) = (a[c].parse().unwrap(), b[c].parse().unwrap());
                assert!((x - y).abs() < 1e-6, "{x} vs {y}");
            } else {
                assert_eq!(a[c], b[c], "column {}", &fitted[0][c]);
            }
        }
    }
}

/// The analytics pass reads rows exactly as the features do: a row past
/// --as-of is left out before its text is checked.
#[test]
fn report_leaves_out_rows_past_as_of_before_checking_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = b"user_id,created_at,channel,total_price\n\
        a,2025-01-10 10:00:00,SMS,1.00\n\
        b,2025-01-11 10:00:00,SMS,2.00\n\
        c,2025-01-12 10:00:00,Email,3.00\n"
        .to_vec();
    log.extend_from_slice(b"\xff\xfe,2025-01-30 10:00:00,SMS,1.00\n");
    let path = dir.path().join("tx.csv");
    fs::write(&path, log).unwrap();
    let out = segmint()
        .args(["--device", "cpu", "report"])
        .arg(&path)
        .args([
            "--as-of",
            "2025-01-20",
            "--k",
            "2",
            "--k-range",
            "2..2",
            "-o",
        ])
        .arg(dir.path().join("r.html"))
        .output()
        .unwrap();
    ok(&out);
    // Without --as-of the bad row is read, and named.
    let out = segmint()
        .args(["--device", "cpu", "report"])
        .arg(&path)
        .args(["--k", "2", "--k-range", "2..2", "-o"])
        .arg(dir.path().join("r.html"))
        .output()
        .unwrap();
    fails(&out, 3, &["line 5", "user_id", "UTF-8"]);
}

/// Refunds: revenue shares stay within 0-100% and add up to 100%.
#[test]
fn revenue_shares_with_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::from("user_id,created_at,channel,total_price\n");
    for (user, amount, channel) in [
        ("a", "10.00", "SMS"),
        ("b", "10.00", "SMS"),
        ("c", "-8.00", "Refunds"),
        ("d", "-8.00", "Refunds"),
        ("e", "0.50", "Email"),
        ("f", "0.50", "Email"),
    ] {
        for day in 1..=3 {
            log.push_str(&format!(
                "{user},2025-01-0{day} 10:00:00,{channel},{amount}\n"
            ));
        }
    }
    let path = dir.path().join("tx.csv");
    fs::write(&path, log).unwrap();
    let json = dir.path().join("s.json");
    ok(&segmint()
        .args(["--device", "cpu", "report"])
        .arg(&path)
        .args(["--k", "2", "--k-range", "2..3", "-o"])
        .arg(dir.path().join("r.html"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap());
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    let shares = |list: &Value| -> Vec<f64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x["revenue_share"].as_f64().unwrap())
            .collect()
    };
    for list in [&summary["channels"], &summary["segmentation"]["profiles"]] {
        let s = shares(list);
        assert!(s.iter().all(|&v| (0.0..=1.0).contains(&v)), "{s:?}");
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{s:?}");
    }
    // Net revenue: 3 x (10 + 10 - 8 - 8 + 0.5 + 0.5).
    assert!((summary["kpis"]["revenue"].as_f64().unwrap() - 15.0).abs() < 1e-9);
}

/// Without a silhouette the report says so, rather than ringing a "best".
#[test]
fn report_without_silhouettes_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let json = dir.path().join("s.json");
    ok(&segmint()
        .args(["--device", "cpu", "report"])
        .arg(sample())
        .args(["--silhouette", "none", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap());
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(summary["sweep"]["best_silhouette"], Value::Null);
    let page = fs::read_to_string(html).unwrap();
    assert!(page.contains("not computed (--silhouette none)"));
    assert!(page.contains("Silhouettes: not computed"));
    assert!(!page.contains("ringed: the best"));
}
