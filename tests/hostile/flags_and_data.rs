//! Absurd flags and extreme values, damaged model and scores files.

use super::*;

#[test]
fn thousands_of_threads_are_cut_to_the_cores() {
    let (_dir, log) = with_sample();
    let out = segmint()
        .args(["--threads", "100000", "features", "-o", "-"])
        .arg(&log)
        .output()
        .unwrap();
    let csv = ok(&out);
    assert_eq!(csv.lines().count(), 21);
    assert!(text(&out.stderr).contains("--threads 100000: this machine has"));
    fails(
        &segmint()
            .args(["--threads", "0", "features", "-o", "-"])
            .arg(&log)
            .output()
            .unwrap(),
        2,
        &["--threads must be at least 1"],
    );
}

#[test]
fn exponent_amounts_are_summed_exactly() {
    let out = segmint()
        .args(["features", "-", "-o", "-"])
        .write_stdin(
            "user_id,created_at,total_price\n\
             u1,2025-01-01,1.5e17\nu1,2025-01-02,1\n\
             u2,2025-01-01,1.23456789012345e10\nu2,2025-01-03,-2.5E-1\n",
        )
        .output()
        .unwrap();
    let csv = ok(&out);
    let monetary: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(monetary, ["150000000000000001", "12345678900.9845"]);
    fails(
        &segmint()
            .args(["features", "-", "-o", "-"])
            .write_stdin("user_id,created_at,total_price\nu1,2025-01-01,1e20\n")
            .output()
            .unwrap(),
        3,
        &["line 2, column 3", "below 1e20"],
    );
}

#[test]
fn values_past_f32_cluster_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    let model = dir.path().join("m.json");
    let scores = dir.path().join("s.csv");
    fs::write(&table, "user_id,x\na,1e39\nb,2e39\nc,1\nd,2\n").unwrap();
    let out = segmint()
        .args(["--device", "cpu", "fit", "--features-input"])
        .arg(&table)
        .args(["--k", "2", "--scale", "none", "--format", "json", "-o"])
        .arg(&scores)
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    for metric in [
        "inertia",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
    ] {
        assert!(
            summary[metric].as_f64().unwrap().is_finite(),
            "{metric}: {summary}"
        );
    }
    // Two users 1e39 apart: inertia 2 * (5e38)^2.
    let inertia = summary["inertia"].as_f64().unwrap();
    assert!((inertia / 5e77 - 1.0).abs() < 1e-6, "{inertia}");
    let body = fs::read_to_string(&scores).unwrap();
    let distance: f64 = body
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!((distance / 5e38 - 1.0).abs() < 1e-6, "{distance}");
    // The model fit wrote is one score reads.
    ok(&segmint()
        .args(["--device", "cpu", "score", "--features-input"])
        .arg(&table)
        .arg("--model")
        .arg(&model)
        .arg("-o")
        .arg(dir.path().join("r.csv"))
        .output()
        .unwrap());
    // Squares past f64: refused, not inf.
    fs::write(&table, "user_id,x\na,1e200\nb,2e200\nc,1\nd,2\n").unwrap();
    fails(
        &segmint()
            .args(["--device", "cpu", "fit", "--features-input"])
            .arg(&table)
            .args(["--k", "2", "--scale", "none", "-o"])
            .arg(&scores)
            .output()
            .unwrap(),
        3,
        &["too far apart"],
    );
    // A spread of 1e308 is a spread, not a constant column.
    fs::write(
        &table,
        "user_id,x,y\na,1e308,1\nb,1.5e308,2\nc,1,3\nd,2,4\n",
    )
    .unwrap();
    let out = segmint()
        .args(["--device", "cpu", "fit", "--features-input"])
        .arg(&table)
        .args(["--k", "2", "-o"])
        .arg(&scores)
        .output()
        .unwrap();
    ok(&out);
    assert!(
        !text(&out.stderr).contains("same for every user"),
        "{}",
        text(&out.stderr)
    );
    let body = fs::read_to_string(&scores).unwrap();
    let segments: Vec<&str> = body
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(segments, ["0", "0", "1", "1"]);
}

#[test]
fn different_segmentations_do_not_move_users_up_or_down() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.csv");
    let new = dir.path().join("new.csv");
    fs::write(
        &old,
        "user_id,segment,segment_name\na,0,Power User\nb,1,Loyal User\nc,2,Casual User\n",
    )
    .unwrap();
    fs::write(
        &new,
        "user_id,segment,segment_name\na,4,Casual User\nb,1,Power User\nc,3,Occasional User\n",
    )
    .unwrap();
    let out = segmint()
        .arg("transitions")
        .arg(&old)
        .arg(&new)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let t: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(t["ranked"], false);
    assert!(t["moved_down"].is_null() && t["stayed"].is_null());
    assert_eq!(t["downgrades"].as_array().unwrap().len(), 0);
    assert!(text(&out.stderr).contains("3 segments and the new one 5"));
    // Same K, other names: compared by rank, with a warning.
    fs::write(
        &new,
        "user_id,segment,segment_name\na,1,Silver\nb,0,Gold\nc,2,Bronze\n",
    )
    .unwrap();
    let out = segmint()
        .arg("transitions")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    let table = ok(&out);
    assert!(table.contains("moved up 1, moved down 1"), "{table}");
    assert!(text(&out.stderr).contains("named differently"));
}

#[test]
fn messages_stay_short_on_files_without_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cr.csv");
    let mut body = String::from("user_id,created_at,total_price\r");
    while body.len() < 4 << 20 {
        body.push_str("u1,2025-01-01,1\r");
    }
    fs::write(&log, body).unwrap();
    let out = segmint()
        .arg("features")
        .arg(&log)
        .args(["-o", "-"])
        .output()
        .unwrap();
    fails(
        &out,
        3,
        &["missing the required column \"total_price\"", "more"],
    );
    assert!(
        out.stderr.len() < 2000,
        "{} bytes of message",
        out.stderr.len()
    );
}

#[test]
fn crlf_tables_give_the_right_lines() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    fs::write(&table, "user_id,x\r\nu1,1\r\nu2,oops\r\nu3,2\r\n").unwrap();
    fails(
        &segmint()
            .args([
                "--device",
                "cpu",
                "fit",
                "--k",
                "2",
                "-o",
                "-",
                "--features-input",
            ])
            .arg(&table)
            .output()
            .unwrap(),
        3,
        &["line 3, column 2 (x)"],
    );
    let scores = dir.path().join("s.csv");
    fs::write(&scores, "user_id,segment\r\nu1,0\r\nu2,zero\r\n").unwrap();
    fails(
        &segmint()
            .arg("transitions")
            .arg(&scores)
            .arg(&scores)
            .output()
            .unwrap(),
        3,
        &["line 3, column 2 (segment)"],
    );
}

#[test]
fn skipped_rows_are_in_every_summary() {
    let (dir, log) = with_sample();
    let mut body = fs::read_to_string(&log).unwrap();
    body.push_str("t_bad,u001,2025-06-30 10:00:00,SMS,read,not-a-price\n");
    fs::write(&log, body).unwrap();
    let out = segmint()
        .args([
            "--device",
            "cpu",
            "fit",
            "--skip-bad-rows",
            "--format",
            "json",
            "-o",
        ])
        .arg(dir.path().join("s.csv"))
        .arg(&log)
        .output()
        .unwrap();
    let json = ok(&out);
    assert_eq!(json.matches("\"k\":").count(), 1, "{json}");
    let summary: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["skipped_rows"], 1);
    assert_eq!(summary["k"], 3);
    let report = dir.path().join("r.html");
    let summary_path = dir.path().join("r.json");
    ok(&segmint()
        .args(["--device", "cpu", "report", "-q", "--skip-bad-rows", "-o"])
        .arg(&report)
        .arg("--json")
        .arg(&summary_path)
        .arg(&log)
        .output()
        .unwrap());
    let summary: Value = serde_json::from_str(&fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["left_out"]["skipped_rows"], 1);
    let page = fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("data-key=\"skipped_rows\" data-value=\"1\">1 bad row was skipped"),
        "the report does not say a row was skipped"
    );
}

#[test]
fn a_column_named_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (header, twice) in [
        ("user_id,created_at,total_price,user_id", "user_id"),
        ("user_id,created_at,total_price,total_price", "total_price"),
        ("user_id,channel,created_at,total_price,channel", "channel"),
    ] {
        let fields = header.split(',').count();
        let row = ["u1", "2025-01-01", "1", "u2", "5"][..fields].join(",");
        let log = dir.path().join("dup.csv");
        fs::write(&log, format!("{header}\n{row}\n")).unwrap();
        fails(
            &segmint()
                .arg("features")
                .arg(&log)
                .args(["-o", "-"])
                .output()
                .unwrap(),
            3,
            &[&format!("names column \"{twice}\" twice")],
        );
    }
    let table = dir.path().join("t.csv");
    fs::write(&table, "user_id,x,user_id\na,1,b\nc,2,d\n").unwrap();
    fails(
        &segmint()
            .args([
                "--device",
                "cpu",
                "fit",
                "--k",
                "2",
                "-o",
                "-",
                "--features-input",
            ])
            .arg(&table)
            .output()
            .unwrap(),
        3,
        &["names column \"user_id\" twice"],
    );
}

#[test]
fn damaged_models_are_refused() {
    let (dir, log) = with_sample();
    let model = dir.path().join("m.json");
    ok(&segmint()
        .args(["--device", "cpu", "fit", "-q", "-o"])
        .arg(dir.path().join("s.csv"))
        .arg("--model")
        .arg(&model)
        .arg(&log)
        .output()
        .unwrap());
    let good: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    let score = |bytes: &[u8]| {
        let damaged = dir.path().join("damaged.json");
        fs::write(&damaged, bytes).unwrap();
        segmint()
            .args(["--device", "cpu", "score", "-q", "-o", "-", "--model"])
            .arg(&damaged)
            .arg(&log)
            .output()
            .unwrap()
    };
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        f(&mut m);
        serde_json::to_vec(&m).unwrap()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            edit(&|m| m["scaler"]["std"][0] = (-1.0).into()),
            "must be positive",
        ),
        (
            edit(&|m| m["scaler"]["std"][1] = 0.0.into()),
            "constant column",
        ),
        (
            edit(&|m| m["segment_names"][1] = "Power User".into()),
            "both named",
        ),
        (
            edit(&|m| {
                m["k"] = 0.into();
                m["method"]["centres"] = Value::Array(vec![]);
                m["segment_names"] = Value::Array(vec![]);
            }),
            "k must be at least 1, found 0",
        ),
        (
            edit(&|m| m["churn"]["dormant_days"] = (-5.0).into()),
            "churn.dormant_days",
        ),
        (
            edit(&|m| m["input"]["dormant_days"] = (-5.0).into()),
            "input.dormant_days",
        ),
        (
            b"{\"format\": \"segmint-model\", \xff}".to_vec(),
            "not UTF-8",
        ),
    ];
    for (bytes, message) in &cases {
        fails(&score(bytes), 3, &[message]);
    }
    // A byte-order mark is text, not damage.
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), &fs::read(&model).unwrap()].concat();
    ok(&score(&with_bom));
}

#[test]
fn messages_name_the_right_stream_and_dates_stay_four_digits() {
    let (_dir, log) = with_sample();
    let out = into_full(&["features", log.to_str().unwrap(), "-o", "-"]);
    let err = text(&out.stderr);
    assert!(err.contains("cannot write standard output"), "{err}");
    assert!(!err.contains("stdin"), "{err}");
    fails(
        &segmint()
            .args([
                "generate",
                "--users",
                "3",
                "--rows",
                "10",
                "--start",
                "9999-12-01",
                "-o",
                "-",
            ])
            .output()
            .unwrap(),
        2,
        &["past 9999-12-31"],
    );
}

#[test]
fn identical_users_and_zero_amounts_are_said_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    // Twenty identical users and K = 3: two segments cannot hold anyone.
    let log = dir.path().join("same.csv");
    let mut body = String::from("user_id,created_at,total_price\n");
    for u in 0..20 {
        body.push_str(&format!("u{u:02},2025-01-01 10:00:00,1\n"));
    }
    fs::write(&log, body).unwrap();
    let out = segmint()
        .args(["--device", "cpu", "fit", "--k", "3", "-o", "-"])
        .arg(&log)
        .output()
        .unwrap();
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("2 of the 3 segments are empty"), "{err}");
    assert!(err.contains("only 1 distinct"), "{err}");
    // Amounts all 0: the busier users are the top segment, whatever the seed.
    let log = dir.path().join("zero.csv");
    let mut body = String::from("user_id,created_at,total_price\n");
    for u in 0..30 {
        let transactions = if u < 10 {
            40
        } else if u < 20 {
            8
        } else {
            1
        };
        for t in 0..transactions {
            body.push_str(&format!("u{u:02},2025-01-{:02} 10:00:00,0\n", 1 + t % 28));
        }
    }
    fs::write(&log, body).unwrap();
    for seed in 0..6 {
        let out = segmint()
            .args([
                "--device", "cpu", "fit", "--k", "3", "-q", "-o", "-", "--seed",
            ])
            .arg(seed.to_string())
            .arg(&log)
            .output()
            .unwrap();
        let csv = ok(&out);
        for line in csv.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let user: usize = cells[0][1..].parse().unwrap();
            let expected = if user < 10 {
                "0"
            } else if user < 20 {
                "1"
            } else {
                "2"
            };
            assert_eq!(cells[1], expected, "seed {seed}: {line}");
        }
    }
    // Absurd restarts are a usage error before any work.
    fails(
        &segmint()
            .args([
                "--device",
                "cpu",
                "fit",
                "--n-init",
                "1000000000",
                "-o",
                "-",
            ])
            .arg(&log)
            .output()
            .unwrap(),
        2,
        &["--n-init must be at most 1000"],
    );
}

#[test]
fn one_bad_yyyymmdd_does_not_make_a_file_unix_seconds() {
    let out = segmint()
        .args(["features", "-", "-o", "-"])
        .write_stdin(
            "user_id,created_at,total_price\nu1,20251345,1\nu2,20250102,2\nu3,20250105,2\n",
        )
        .output()
        .unwrap();
    fails(
        &out,
        3,
        &["line 2, column 2 (created_at)", "YYYYMMDD", "20251345"],
    );
    // Eight digits that are never dates are seconds.
    let out = segmint()
        .args(["features", "-", "-o", "-"])
        .write_stdin("user_id,created_at,total_price\nu1,99999999,1\nu2,99999990,2\n")
        .output()
        .unwrap();
    assert!(ok(&out).contains("1973-03-03T09:46:39Z"));
}
