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
        "trends",
        "cohorts",
        "channels",
        "funnel",
        "activity",
        "concentration",
        "choosing-k",
        "segments",
        "rfm",
        "lifetime",
        "churn",
    ];
    for id in sections {
        let found = doc.select(&select(&format!("section#{id} > h2"))).count();
        assert_eq!(found, 1, "section {id}");
    }
    let charts = [
        "chart-trends",
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
    // Small figures in full, large ones abbreviated, the full figure as
    // the tooltip.
    for (key, shown, full) in [
        ("users", "20", "20"),
        ("transactions", "25.0k", "25,000"),
        ("revenue", "873.10", "873.10"),
    ] {
        let card = doc
            .select(&select(&format!(".kpi[data-key=\"{key}\"]")))
            .next()
            .unwrap();
        let text: String = card
            .select(&select(".value"))
            .next()
            .unwrap()
            .text()
            .collect();
        assert_eq!(text, shown, "kpi {key}");
        assert_eq!(card.value().attr("title"), Some(full), "kpi {key}");
    }
    // Times of day: the hour x weekday heatmap, no weekday-only chart.
    // The one sentence instead of a section's content: the lifetime
    // models, which a log of customers all active every day cannot fit.
    assert_eq!(doc.select(&select("#chart-weekdays")).count(), 0);
    let absent: Vec<&str> = doc
        .select(&select("p.absent"))
        .map(|p| p.value().attr("data-absent").unwrap())
        .collect();
    assert_eq!(absent, ["lifetime"]);
    sample_has_no_lifetime_value(&doc, &summary);

    // Weekly trends: the window starts on a Tuesday and ends on a
    // Monday, so the first and the last weeks are partial.
    let periods = summary["trends"]["periods"].as_array().unwrap();
    assert_eq!(summary["trends"]["period"], "week");
    let trends = doc.select(&select("#chart-trends svg")).next().unwrap();
    assert_eq!(
        trends.select(&select("rect")).count(),
        3 * periods.len(),
        "a column per week and metric"
    );
    assert_eq!(trends.select(&select("rect.partial")).count(), 3 * 2);
    assert_eq!(periods[0]["partial"], true);
    assert_eq!(periods[periods.len() - 1]["partial"], true);

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

/// The bundled sample's lifetime section: one sentence with the reason
/// the models have no fit, no table, no chart, no card; the contact list
/// ranked by risk, without P(alive) or CLV columns.
fn sample_has_no_lifetime_value(doc: &Html, summary: &Value) {
    // Without BG/NBD there is no prediction, whether Gamma-Gamma (spend
    // alone) was fitted or not.
    assert_eq!(summary["lifetime"]["bgnbd"]["params"], Value::Null);
    let section = doc.select(&select("section#lifetime")).next().unwrap();
    for element in ["table", "svg", ".kpi", "figure"] {
        assert_eq!(
            section.select(&select(element)).count(),
            0,
            "lifetime: {element}"
        );
    }
    let sentences: Vec<String> = section
        .select(&select("p"))
        .map(|p| p.text().collect())
        .collect();
    assert_eq!(sentences.len(), 1, "{sentences:?}");
    let sentence = &sentences[0];
    assert!(
        sentence.contains("the likelihood has no finite maximum on this data"),
        "{sentence}"
    );
    // Each model's own reason, without "no fit (" around it.
    assert!(!sentence.contains("no fit ("), "{sentence}");
    assert!(
        sentence.contains("BG/NBD: the likelihood")
            && sentence.contains("Gamma-Gamma: the likelihood"),
        "{sentence}"
    );
    assert!(sentence.ends_with("alike."), "{sentence}");
    for key in ["clv", "value_at_risk"] {
        let card = format!("section#kpis .kpi[data-key=\"{key}\"]");
        assert_eq!(doc.select(&select(&card)).count(), 0, "{key}");
    }
    assert_eq!(summary["churn"]["ranked_by"], "risk");
    let contacts = doc.select(&select("#at-risk")).next().unwrap();
    assert_eq!(contacts.value().attr("data-ranked-by"), Some("risk"));
    let heads: Vec<String> = contacts
        .select(&select("thead th"))
        .map(|th| th.text().collect())
        .collect();
    assert!(
        !heads
            .iter()
            .any(|h| h.contains("P(alive)") || h.contains("CLV")),
        "{heads:?}"
    );
    let churn: String = doc
        .select(&select("section#churn"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(churn.contains("most urgent risk first"), "{churn}");
    assert!(churn.contains("High Risk (Lapsing) cannot fire"), "{churn}");
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

/// A purchase log as public retail datasets give it: dates without times,
/// no channel and no status column, revenue in the millions. 40 users
/// over 8 weeks from 1 March 2025; returns the log and its revenue in
/// cents.
pub fn date_only_log(dir: &Path) -> (PathBuf, u64) {
    let mut log = String::from("user_id,created_at,total_price\n");
    let mut cents = 0u64;
    for user in 0..40u64 {
        for day in 0..56u64 {
            // Each user buys on some days, busier ones more often, and
            // some users stop early (churn).
            if (day * (user + 3)) % 7 >= 2 + user % 4 || day > 20 + user * 3 {
                continue;
            }
            let amount = 300_000 + 1_337 * user + 17 * day;
            cents += amount;
            let (month, date) = if day < 31 {
                (3, day + 1)
            } else {
                (4, day - 30)
            };
            log.push_str(&format!(
                "c{user:03},2025-{month:02}-{date:02},{}.{:02}\n",
                amount / 100,
                amount % 100
            ));
        }
    }
    (write(dir, "retail.csv", &log), cents)
}

/// "2,500,315.63" from cents.
fn full_money(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", cents % 100)
}

/// The report adapts to what the log holds: no channel column, no status
/// column and no time of day give one sentence each instead of empty
/// charts, a weekday chart instead of the hour x weekday heatmaps, and
/// key figures that fit their cards with the exact values kept.
#[test]
fn report_of_a_date_only_log_without_channels_or_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let (log, cents) = date_only_log(dir.path());
    let html = dir.path().join("r.html");
    let json = dir.path().join("s.json");
    let out = segmint()
        .args(["--device", "cpu", "report"])
        .arg(&log)
        .args(["--k-range", "2..4", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = ok(&out);
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    let page = fs::read_to_string(html).unwrap();
    let doc = Html::parse_document(&page);
    let kpis = &summary["kpis"];
    let revenue = kpis["revenue"].as_f64().unwrap();
    assert!(
        (revenue - cents as f64 / 100.0).abs() < 1e-6,
        "{revenue} vs {cents} cents"
    );
    assert!(revenue > 1e6, "revenue in the millions: {revenue}");
    assert_eq!(summary["channels"], serde_json::json!([]));
    assert_eq!(summary["funnel"], serde_json::json!([]));
    assert_eq!(kpis["success_rate"], Value::Null);

    // The terminal: counts and money with separators alike.
    let money = full_money(cents);
    assert!(
        stdout.contains(&format!("revenue {money}, success rate -")),
        "{stdout}"
    );

    // No empty chart: the channel and status sections are one sentence.
    for (section, what, flag) in [
        ("channels", "channel", "--channel-col"),
        ("funnel", "status", "--status-col"),
    ] {
        let sel = format!("section#{section}");
        let sec = doc.select(&select(&sel)).next().expect(section);
        assert_eq!(sec.select(&select("svg")).count(), 0, "{section}: a chart");
        assert_eq!(
            sec.select(&select("table")).count(),
            0,
            "{section}: a table"
        );
        let sentence: Vec<String> = sec
            .select(&select(&format!("p.absent[data-absent=\"{what}\"]")))
            .map(|p| p.text().collect())
            .collect();
        assert_eq!(sentence.len(), 1, "{section}");
        assert!(
            sentence[0].contains(&format!("no {what} column")) && sentence[0].contains(flag),
            "{section}: {}",
            sentence[0]
        );
    }
    for id in ["chart-channels", "chart-funnel"] {
        assert_eq!(doc.select(&select(&format!("#{id}"))).count(), 0, "{id}");
    }

    // Dates only: transactions per weekday, no hour axis, for all and per
    // segment.
    let activity = doc.select(&select("section#activity")).next().unwrap();
    let k = summary["segmentation"]["k"].as_u64().unwrap();
    assert_eq!(k, 3);
    let mut weekday_charts = vec!["figure#chart-weekdays svg".to_string()];
    weekday_charts.extend((0..k).map(|s| format!("figure#chart-weekdays-segment-{s} svg")));
    for id in &weekday_charts {
        let svg = activity
            .select(&select(id))
            .next()
            .unwrap_or_else(|| panic!("{id}"));
        let text: String = svg.text().collect();
        for day in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
            assert!(text.contains(day), "{id}: {day}");
        }
        // Seven columns, drawn.
        assert!(svg.inner_html().matches("<rect").count() >= 7, "{id}");
    }
    assert!(
        activity
            .select(&select("[id^=\"chart-heatmap\"]"))
            .next()
            .is_none(),
        "a heatmap with an hour axis"
    );
    let activity_text: String = activity.text().collect();
    for hour in ["0h", "3h", "12h", "21h"] {
        assert!(
            !activity_text.split_whitespace().any(|w| w == hour),
            "hour axis label {hour}"
        );
    }
    let why: String = activity
        .select(&select("p.absent[data-absent=\"hour\"]"))
        .next()
        .expect("the sentence about the missing time of day")
        .text()
        .collect();
    assert!(why.contains("dates without times"), "{why}");
    // The weekday chart counts every transaction.
    let rows: Vec<Vec<u64>> = serde_json::from_value(summary["heatmap"].clone()).unwrap();
    let total: u64 = rows.iter().flatten().sum();
    assert_eq!(total, kpis["transactions"].as_u64().unwrap());
    assert!(rows.iter().all(|day| day[1..].iter().all(|&n| n == 0)));

    // Key figures: exact values in data-value (the JSON's), abbreviated
    // text, the full figure as the tooltip.
    for key in [
        "users",
        "transactions",
        "revenue",
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
        assert!(card.value().attr("title").is_some(), "kpi {key}: a tooltip");
    }
    let card = doc
        .select(&select(".kpi[data-key=\"revenue\"]"))
        .next()
        .unwrap();
    assert_eq!(value(card), revenue);
    assert_eq!(card.value().attr("title"), Some(money.as_str()));
    let shown: String = card
        .select(&select(".value"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        shown.ends_with('M') && shown.len() <= 5,
        "revenue shown as {shown}"
    );
    // The success rate says why it has no value.
    let card = doc
        .select(&select(".kpi[data-key=\"success_rate\"]"))
        .next()
        .unwrap();
    assert!(card.value().attr("data-value").is_none());
    let text: String = card.text().collect();
    assert!(text.contains("no status"), "{text}");

    // Measures without data are named, not shown as dashes: channel
    // diversity and success rate in the profiles, failure rate in the
    // churn table.
    for key in ["channel_diversity", "success_rate"] {
        let row = format!("section#segments tr[data-key=\"{key}\"]");
        assert_eq!(doc.select(&select(&row)).count(), 0, "{key}");
    }
    let heads: Vec<String> = doc
        .select(&select("section#churn #at-risk thead th"))
        .map(|th| th.text().collect())
        .collect();
    assert!(!heads.iter().any(|h| h == "failure rate"), "{heads:?}");
    assert!(heads.iter().any(|h| h == "trend"), "{heads:?}");

    // Every number on the page is one.
    assert!(!page.contains("NaN") && !page.contains("1000k"));
    for element in doc.select(&select("[data-value]")) {
        assert!(value(element).is_finite(), "{:?}", element.value());
    }
}

/// A retail purchase log: dates without times, no channel or status, 400
/// customers over ten months from 1 September 2024, each with their own
/// pace (a purchase every 5 to 60 days), spend and chance of leaving
/// after each purchase; a fifth buy once. Deterministic (SplitMix64).
pub fn retail_log(dir: &Path) -> PathBuf {
    write(dir, "retail.csv", &retail(false))
}

/// [`retail_log`]'s text; with `flat`, every purchase costs 25.00 (the
/// same customers and days), which leaves Gamma-Gamma nothing to fit.
fn retail(flat: bool) -> String {
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    // Days from 2024-09-01 as a date.
    let date = |day: u32| {
        const MONTHS: [(u32, u32, u32); 10] = [
            (2024, 9, 30),
            (2024, 10, 31),
            (2024, 11, 30),
            (2024, 12, 31),
            (2025, 1, 31),
            (2025, 2, 28),
            (2025, 3, 31),
            (2025, 4, 30),
            (2025, 5, 31),
            (2025, 6, 30),
        ];
        let mut day = day;
        for (year, month, length) in MONTHS {
            if day < length {
                return format!("{year}-{month:02}-{:02}", day + 1);
            }
            day -= length;
        }
        unreachable!("within the ten months")
    };
    let mut log = String::from("user_id,created_at,total_price\n");
    for user in 0..400 {
        let first = (next() * 250.0) as u32;
        let gap = 5.0 + next() * 55.0;
        let leave = if next() < 0.2 {
            1.0
        } else {
            0.03 + next() * 0.25
        };
        let spend = 10.0 + next() * 150.0;
        let mut day = first;
        while day < 300 {
            let amount = spend * (0.7 + 0.6 * next());
            let amount = if flat { 25.0 } else { amount };
            log.push_str(&format!("r{user:04},{},{amount:.2}\n", date(day)));
            if next() < leave {
                break;
            }
            day += 1 + (-(1.0 - next()).ln() * gap) as u32;
        }
    }
    log
}

/// The report of [`retail_log`] and its JSON summary.
fn retail_report(dir: &Path) -> (Value, String) {
    let html = dir.join("retail.html");
    let json = dir.join("retail.json");
    ok(&segmint()
        .args(["--device", "cpu", "report"])
        .arg(retail_log(dir))
        .args(["--k-range", "2..4", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap());
    let summary = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    (summary, fs::read_to_string(html).unwrap())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// The numbers in `data-value` of the elements `selector` picks.
fn values(doc: &Html, selector: &str) -> Vec<f64> {
    doc.select(&select(selector)).map(value).collect()
}

/// The page's numbers are the summary's: equal but for the last bit
/// serde_json's reading of a decimal may change (without its
/// `float_roundtrip` feature), never a rounding of the page's.
fn assert_same(shown: &[f64], expected: &[f64], what: &str) {
    assert_eq!(
        shown.len(),
        expected.len(),
        "{what}: {shown:?} vs {expected:?}"
    );
    for (a, b) in shown.iter().zip(expected) {
        assert!(
            a == b || (a - b).abs() <= 1e-14 * b.abs(),
            "{what}: {shown:?} vs {expected:?}"
        );
    }
}

/// A retail log, where the lifetime models fit: the trends, cohorts and
/// lifetime value sections, the segments' traits and the contact list
/// ranked by CLV, every number the JSON summary's.
#[test]
fn report_of_a_retail_log_shows_trends_cohorts_and_lifetime_value() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, page) = retail_report(dir.path());
    let doc = Html::parse_document(&page);
    let lifetime = &summary["lifetime"];
    let bgnbd = &lifetime["bgnbd"]["params"];
    assert!(bgnbd.is_object(), "BG/NBD fitted: {}", lifetime["bgnbd"]);
    assert!(
        lifetime["gamma_gamma"]["params"].is_object(),
        "Gamma-Gamma fitted: {}",
        lifetime["gamma_gamma"]
    );
    for id in ["trends", "cohorts", "lifetime"] {
        let section = doc
            .select(&select(&format!("section#{id}")))
            .next()
            .unwrap_or_else(|| panic!("section {id}"));
        assert_eq!(section.select(&select("p.absent")).count(), 0, "{id}");
    }

    // Trends: monthly, the last month partial (the log ends on 27 June),
    // a column per month and metric, and the table's figures.
    let trends = &summary["trends"];
    assert_eq!(trends["period"], "month");
    let periods = trends["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 10);
    let partial = periods.iter().filter(|p| p["partial"] == true).count();
    assert_eq!(partial, 1);
    let svg = doc.select(&select("#chart-trends svg")).next().unwrap();
    assert_eq!(svg.select(&select("rect")).count(), 3 * periods.len());
    assert_eq!(svg.select(&select("rect.partial")).count(), 3 * partial);
    let caption: String = doc
        .select(&select("#chart-trends figcaption"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(caption.contains("partial months"), "{caption}");
    for (key, field) in [
        ("revenue", "revenue"),
        ("transactions", "transactions"),
        ("active_users", "active_users"),
    ] {
        let shown = values(&doc, &format!("#trend-table span[data-key=\"{key}\"]"));
        let expected: Vec<f64> = periods.iter().map(|p| f(&p[field])).collect();
        assert_same(&shown, &expected, key);
    }
    let march = periods
        .iter()
        .position(|p| p["start"] == "2025-03-01")
        .unwrap();
    let row = doc
        .select(&select("#trend-table tbody tr"))
        .nth(march)
        .unwrap();
    let revenue = row
        .select(&select("span[data-key=\"revenue\"]"))
        .next()
        .unwrap();
    assert_same(&[value(revenue)], &[f(&periods[march]["revenue"])], "March");
    let text: String = revenue.text().collect();
    assert_eq!(
        text.replace(',', "").parse::<f64>().unwrap(),
        (f(&periods[march]["revenue"]) * 100.0).round() / 100.0
    );

    // Cohorts: one row per month that acquired users, the share of each
    // cohort active in each later month.
    let cohorts = summary["cohorts"].as_array().unwrap();
    let acquiring: Vec<&Value> = cohorts.iter().filter(|c| f(&c["users"]) > 0.0).collect();
    assert!(acquiring.len() >= 8, "{cohorts:?}");
    let rows: Vec<_> = doc.select(&select("#cohort-table tbody tr")).collect();
    assert_eq!(rows.len(), acquiring.len());
    for (row, cohort) in rows.iter().zip(&acquiring) {
        assert_eq!(row.value().attr("data-month"), cohort["month"].as_str());
        let users = f(&cohort["users"]);
        let cells: Vec<_> = row.select(&select("td[data-users]")).collect();
        let active = cohort["active"].as_array().unwrap();
        assert_eq!(cells.len(), active.len() - 1, "{}", cohort["month"]);
        for (cell, n) in cells.iter().zip(&active[1..]) {
            let n = f(n);
            assert_eq!(cell.value().attr("data-users"), Some(&*n.to_string()));
            assert_eq!(value(*cell), n / users);
        }
    }
    // The first cohort's second month, as the page writes it.
    let first = acquiring[0];
    let cell = rows[0].select(&select("td[data-users]")).nth(1).unwrap();
    let shown: String = cell.text().collect();
    let share = f(&first["active"][2]) / f(&first["users"]);
    assert_eq!(shown, format!("{:.1}%", 100.0 * share));
    // A month without new users is named, not drawn as a row of zeros.
    if acquiring.len() < cohorts.len() {
        let section: String = doc
            .select(&select("section#cohorts"))
            .next()
            .unwrap()
            .text()
            .collect();
        assert!(section.contains("without new users"), "{section}");
    }

    // Lifetime value: the parameters, the totals, per segment.
    let section = doc.select(&select("section#lifetime")).next().unwrap();
    for (key, field) in [("r", "r"), ("alpha", "alpha"), ("a", "a"), ("b", "b")] {
        let param = section
            .select(&select(&format!("span[data-param=\"{key}\"]")))
            .next()
            .unwrap_or_else(|| panic!("parameter {key}"));
        assert_same(&[value(param)], &[f(&bgnbd[field])], key);
    }
    let r: String = section
        .select(&select("span[data-param=\"r\"]"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        (r.parse::<f64>().unwrap() - f(&bgnbd["r"])).abs() < 0.005 * f(&bgnbd["r"]),
        "r shown as {r}"
    );
    for (key, field) in [("p", "p"), ("q", "q"), ("v", "v")] {
        let param = section
            .select(&select(&format!("span[data-param=\"{key}\"]")))
            .next()
            .unwrap();
        assert_same(
            &[value(param)],
            &[f(&lifetime["gamma_gamma"]["params"][field])],
            key,
        );
    }
    for key in [
        "expected_transactions",
        "clv",
        "value_at_risk",
        "mean_p_alive",
        "likely_gone",
    ] {
        let card = section
            .select(&select(&format!(".kpi[data-key=\"{key}\"]")))
            .next()
            .unwrap_or_else(|| panic!("lifetime card {key}"));
        assert_same(&[value(card)], &[f(&lifetime[key])], key);
        assert!(card.value().attr("title").is_some(), "{key}: a tooltip");
    }
    let clv = f(&lifetime["clv"]);
    let at_risk = f(&lifetime["value_at_risk"]);
    assert!(
        clv > 0.0 && at_risk > 0.0 && at_risk < clv,
        "{clv} {at_risk}"
    );
    let segments = lifetime["segments"].as_array().unwrap();
    for key in ["mean_p_alive", "expected_transactions", "clv"] {
        let shown = values(
            &doc,
            &format!("#lifetime-segments span[data-key=\"{key}\"]"),
        );
        let expected: Vec<f64> = segments.iter().map(|s| f(&s[key])).collect();
        assert_same(&shown, &expected, key);
    }
    assert_eq!(
        section.select(&select("#chart-lifetime svg")).count(),
        1,
        "CLV per segment"
    );
    let words: String = section.text().collect();
    assert!(words.contains("drops out for good"), "{words}");

    // Key figures: the CLV and the value at risk, and the users active in
    // the trend window (longer than a week here).
    let kpis = &summary["kpis"];
    assert_ne!(kpis["recent_days"], 7);
    for (key, expected) in [
        ("clv", clv),
        ("value_at_risk", at_risk),
        ("active_recent", f(&kpis["active_recent"])),
    ] {
        let card = doc
            .select(&select(&format!("section#kpis .kpi[data-key=\"{key}\"]")))
            .next()
            .unwrap_or_else(|| panic!("kpi {key}"));
        assert_same(&[value(card)], &[expected], key);
    }

    // The contact list: ranked by CLV, with P(alive), CLV and how many
    // gaps late, the JSON's values in its order.
    let churn = &summary["churn"];
    assert_eq!(churn["ranked_by"], "clv");
    let contacts = doc.select(&select("#at-risk")).next().unwrap();
    assert_eq!(contacts.value().attr("data-ranked-by"), Some("clv"));
    let heads: Vec<String> = contacts
        .select(&select("thead th"))
        .map(|th| th.text().collect())
        .collect();
    for head in ["CLV (90 days)", "P(alive)", "gaps late"] {
        assert!(heads.iter().any(|h| h == head), "{head}: {heads:?}");
    }
    let listed = churn["at_risk"].as_array().unwrap();
    assert!(!listed.is_empty());
    for key in ["clv", "p_alive", "overdue"] {
        let shown = values(&doc, &format!("#at-risk span[data-key=\"{key}\"]"));
        let expected: Vec<f64> = listed
            .iter()
            .filter(|u| !u[key].is_null())
            .map(|u| f(&u[key]))
            .collect();
        assert_same(&shown, &expected, key);
    }
    let section: String = doc
        .select(&select("section#churn"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        section.contains("by customer lifetime value: the most value at risk first"),
        "{section}"
    );
    // The rules with the new thresholds, and why the trend window is as
    // long as it is.
    let rules: Vec<String> = doc
        .select(&select("section#churn ol.rules li"))
        .map(|li| li.text().collect())
        .collect();
    assert_eq!(rules.len(), 7, "{rules:?}");
    assert!(
        rules[1].starts_with("Dormant: no transaction for more than 30 days and for more than 3 ")
    );
    assert!(
        rules[2].starts_with("High Risk (Lapsing): P(alive) below 50%, and at least 2 usual gaps")
    );
    assert!(section.contains("2 standard deviations"), "{section}");
    let explanation = summary["cadence"]["explanation"].as_str().unwrap();
    assert!(
        section.contains(&explanation[1..]),
        "{explanation} in {section}"
    );
    assert_same(
        &values(&doc, "section#churn span[data-key=\"gap_p50\"]"),
        &[f(&summary["cadence"]["gaps"]["p50"])],
        "median gap",
    );

    // Each segment's traits, in its card.
    let profiles = summary["segmentation"]["profiles"].as_array().unwrap();
    for (i, profile) in profiles.iter().enumerate() {
        let shown: Vec<String> = doc
            .select(&select(&format!(".segment-card[data-segment=\"{i}\"] li")))
            .map(|li| li.text().collect())
            .collect();
        let expected: Vec<&str> = profile["traits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap())
            .collect();
        assert!(!expected.is_empty(), "segment {i} has traits");
        assert_eq!(shown, expected, "segment {i}");
    }

    // Every number on the page is one.
    assert!(!page.contains("NaN") && !page.contains("inf<"));
    for element in doc.select(&select("[data-value]")) {
        assert!(value(element).is_finite(), "{:?}", element.value());
    }
}

/// A log of one month: the cohorts section is one sentence.
#[test]
fn a_log_of_one_month_has_no_cohort_triangle() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::from("user_id,created_at,total_price\n");
    for user in 0..6 {
        for day in (1 + user..28).step_by(3 + user) {
            log.push_str(&format!("u{user},2025-02-{day:02},{}.50\n", 10 + user));
        }
    }
    let path = write(dir.path(), "february.csv", &log);
    let html = dir.path().join("r.html");
    ok(&segmint()
        .args(["--device", "cpu", "report"])
        .arg(&path)
        .args(["--k", "2", "--k-range", "2..3", "-o"])
        .arg(&html)
        .output()
        .unwrap());
    let doc = Html::parse_document(&fs::read_to_string(html).unwrap());
    let section = doc.select(&select("section#cohorts")).next().unwrap();
    assert_eq!(section.select(&select("table")).count(), 0);
    let sentences: Vec<String> = section
        .select(&select("p.absent[data-absent=\"cohorts\"]"))
        .map(|p| p.text().collect())
        .collect();
    assert_eq!(sentences.len(), 1);
    assert!(
        sentences[0].contains("a single month (Feb 2025)") && sentences[0].contains("6 users"),
        "{}",
        sentences[0]
    );
    // Weeks of February: a chart, not a sentence.
    assert_eq!(doc.select(&select("#chart-trends svg")).count(), 1);
}

/// A retail log where every purchase costs the same: BG/NBD fits,
/// Gamma-Gamma cannot. P(alive) and expected transactions are shown, and
/// nothing that needs a CLV: no CLV cards or columns, a contact list
/// ranked by risk, and one note saying why.
#[test]
fn report_without_a_spend_model_shows_p_alive_but_no_clv() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(dir.path(), "flat.csv", &retail(true));
    let html = dir.path().join("r.html");
    let json = dir.path().join("s.json");
    ok(&segmint()
        .args(["--device", "cpu", "report"])
        .arg(&log)
        .args(["--k-range", "2..4", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap());
    let summary: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    let doc = Html::parse_document(&fs::read_to_string(html).unwrap());
    let lifetime = &summary["lifetime"];
    assert!(
        lifetime["bgnbd"]["params"].is_object(),
        "{}",
        lifetime["bgnbd"]
    );
    assert_eq!(lifetime["gamma_gamma"]["params"], Value::Null);
    assert_eq!(lifetime["clv"], Value::Null);
    let section = doc.select(&select("section#lifetime")).next().unwrap();
    let why: String = section
        .select(&select("p[data-absent=\"gamma_gamma\"]"))
        .next()
        .expect("why there is no CLV")
        .text()
        .collect();
    assert!(why.contains("no CLV or value at risk"), "{why}");
    let keys: Vec<&str> = section
        .select(&select(".kpi"))
        .map(|k| k.value().attr("data-key").unwrap())
        .collect();
    assert_eq!(
        keys,
        ["expected_transactions", "mean_p_alive", "likely_gone"]
    );
    for key in keys {
        let card = section
            .select(&select(&format!(".kpi[data-key=\"{key}\"]")))
            .next()
            .unwrap();
        assert_same(&[value(card)], &[f(&lifetime[key])], key);
    }
    for key in ["clv", "value_at_risk"] {
        assert_eq!(
            doc.select(&select(&format!(".kpi[data-key=\"{key}\"]")))
                .count(),
            0,
            "{key}"
        );
    }
    assert_eq!(section.select(&select("#chart-lifetime")).count(), 0);
    let heads: Vec<String> = section
        .select(&select("#lifetime-segments thead th"))
        .map(|th| th.text().collect())
        .collect();
    assert_eq!(
        heads,
        ["segment", "users", "mean P(alive)", "expected transactions"]
    );
    let models: String = section
        .select(&select("#lifetime-models"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        models.contains("No fit: the likelihood has no finite maximum"),
        "{models}"
    );

    // The contact list: by risk, with P(alive) but no CLV.
    assert_eq!(summary["churn"]["ranked_by"], "risk");
    let heads: Vec<String> = doc
        .select(&select("#at-risk thead th"))
        .map(|th| th.text().collect())
        .collect();
    assert!(heads.iter().any(|h| h == "P(alive)"), "{heads:?}");
    assert!(!heads.iter().any(|h| h.starts_with("CLV")), "{heads:?}");
}
