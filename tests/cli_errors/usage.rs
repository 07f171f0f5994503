//! Usage errors, and `--skip-bad-rows`.

use super::*;

fn expect_usage(case: &Case, args: &[&str], needle: &str) {
    let out = case.run(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks {needle:?}:\n{err}"
    );
    assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
    case.assert_nothing_written();
}

#[test]
fn usage_errors() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    expect_usage(&case, &["--no-header"], "--no-header");
    expect_usage(
        &case,
        &[
            "--no-header",
            "--user-col",
            "user_id",
            "--time-col",
            "2",
            "--amount-col",
            "3",
        ],
        "position",
    );
    expect_usage(&case, &["--delimiter", "xyz"], "xyz");
    expect_usage(&case, &["--time-format", "xyz"], "xyz");
    expect_usage(&case, &["--as-of", "garbage"], "garbage");
    expect_usage(&case, &["--threads", "0"], "--threads");
    expect_usage(&case, &["--chunk-bytes", "0"], "chunk");
    expect_usage(&case, &["--frobnicate"], "--frobnicate");
}

#[test]
fn json_summary_with_output_on_stdout_is_a_usage_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .args(["-o", "-", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("json"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing may be written to stdout");
}

#[test]
fn missing_output_flag_is_a_usage_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    case.assert_nothing_written();
}

// ------------------------------------------------------------ --skip-bad-rows

fn skip_case() -> Case {
    Case::with(
        "user_id,created_at,total_price\n\
         u1,2025-01-01,1\n\
         u2,bad,1\n\
         u3,2025-01-02,x\n\
         u4,2025-01-03,2,9\n\
         ,2025-01-01,1\n\
         u5,2025-01-02,3\n\
         u6,2025-01-01,NaN\n\
         u7,2025-01-01,inf\n\
         u1,2025-01-03,2.5\n",
    )
}

#[test]
fn skip_bad_rows_counts_reports_and_keeps_the_good_rows() {
    let case = skip_case();
    let out = case.run(&["--skip-bad-rows"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("skipped 6 bad rows"), "{err}");
    let input = case.input().display().to_string();
    // The first offending lines, in order.
    let expected = [
        format!("{input}: line 3, column 2 (created_at)"),
        format!("{input}: line 4, column 3 (total_price)"),
        format!("{input}: line 5: expected 3 fields, found 4"),
        format!("{input}: line 6, column 1 (user_id)"),
        format!("{input}: line 8, column 3 (total_price)"),
    ];
    let mut from = 0;
    for needle in &expected {
        let pos = err[from..]
            .find(needle.as_str())
            .unwrap_or_else(|| panic!("stderr lacks {needle:?} (in order):\n{err}"));
        from += pos + needle.len();
    }
    let csv = fs::read_to_string(case.out()).unwrap();
    let users: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(users, ["u1", "u5"], "{csv}");
    // u1 kept both good rows: frequency 2, monetary 3.5.
    let u1: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(&u1[..3], ["u1", "2", "3.5"], "{csv}");
    // Only the output file was added.
    let names: BTreeSet<String> = fs::read_dir(case.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["in.csv".to_string(), "out.csv".to_string()])
    );
}

#[test]
fn skip_bad_rows_json_summary() {
    let case = skip_case();
    let out = case.run(&["--skip-bad-rows", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(summary["skipped_rows"], 6, "{summary}");
    assert_eq!(summary["rows"], 3, "{summary}");
    assert_eq!(summary["users"], 2, "{summary}");
}

#[test]
fn skip_bad_rows_matches_the_clean_file() {
    // Bad rows spread over many chunks; what remains equals the file
    // without them, whatever the chunking.
    let bad: Vec<(u64, String)> = (0..40)
        .map(|k| {
            (
                100 + k * 211,
                format!("user{k},2025-03-05 10:00:00,??,SMS,read"),
            )
        })
        .collect();
    let bad_refs: Vec<(u64, &str)> = bad.iter().map(|(l, s)| (*l, s.as_str())).collect();
    let dirty = big_log(10_000, &bad_refs);
    let clean: String = dirty
        .lines()
        .enumerate()
        .filter(|(i, _)| !bad.iter().any(|(l, _)| *l == *i as u64 + 1))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let clean_case = Case::with(clean);
    let out = clean_case.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let expected = fs::read(clean_case.out()).unwrap();
    let case = Case::with(dirty);
    for variant in READ_VARIANTS {
        let mut args = vec!["--skip-bad-rows"];
        args.extend_from_slice(variant);
        let out = case.run(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 0, "{err}");
        assert!(err.contains("skipped 40 bad rows"), "{variant:?}: {err}");
        // The examples are the first bad lines, whatever the chunking.
        let first = format!("{}: line 100, column 3", case.input().display());
        assert!(err.contains(&first), "{variant:?}: {err}");
        let second = format!("{}: line 311, column 3", case.input().display());
        assert!(err.contains(&second), "{variant:?}: {err}");
        assert_eq!(
            fs::read(case.out()).unwrap(),
            expected,
            "{variant:?}: skipping differs from the clean file"
        );
        fs::remove_file(case.out()).unwrap();
    }
}

#[test]
fn skip_bad_rows_with_nothing_left() {
    let case = Case::with("user_id,created_at,total_price\nu1,bad,1\nu2,2025-01-01,x\n");
    expect_failure(
        &case,
        &["--skip-bad-rows"],
        3,
        &["no transactions", "2 bad rows skipped"],
    );
}
