//! `segmint features` against independent reference outputs.
//!
//! Every case of `tests/fixtures/features/cases.txt` runs the real binary on
//! its inputs with its arguments and compares the CSV it writes with the
//! expected file, which `tests/reference/features_reference.py` (a separate
//! plain-Python implementation of the feature contract) produced. See
//! `tests/fixtures/features/README.md`.
//!
//! Comparison: same header, same number of rows; text, integer and boolean
//! cells equal exactly; float cells equal within 1e-9 relative or 1e-12
//! absolute; empty cells equal. All cases run and every difference is listed
//! before the test fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/features")
}

#[derive(Debug)]
struct Case {
    name: String,
    inputs: Vec<String>,
    args: Vec<String>,
    expected: String,
}

/// Reads `cases.txt` (the same format the Python generator reads).
fn read_cases() -> Vec<Case> {
    let path = fixtures().join("cases.txt");
    let text = fs::read_to_string(&path).expect("read cases.txt");
    let mut cases: Vec<Case> = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            cases.push(Case {
                name: line[1..line.len() - 1].to_string(),
                inputs: Vec::new(),
                args: Vec::new(),
                expected: String::new(),
            });
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("cases.txt:{}: expected `key = value`", number + 1));
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("cases.txt:{}: key before any [case]", number + 1));
        let words = || value.split_whitespace().map(str::to_string).collect();
        match key.trim() {
            "inputs" => case.inputs = words(),
            "args" => case.args = words(),
            "expected" => case.expected = value.trim().to_string(),
            other => panic!("cases.txt:{}: unknown key {other:?}", number + 1),
        }
    }
    for case in &cases {
        assert!(
            !case.inputs.is_empty() && !case.expected.is_empty(),
            "case {} needs inputs and expected",
            case.name
        );
    }
    cases
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Columns compared as numbers; all others (user_id, frequency, monetary,
/// first_seen, last_seen, active_days, active_hours, channel_diversity,
/// is_dormant) must match text for text.
fn is_float_column(name: &str) -> bool {
    name.starts_with("share_")
        || matches!(
            name,
            "recency_days"
                | "tenure_days"
                | "success_rate"
                | "failure_rate"
                | "avg_daily_volume"
                | "avg_daily_last_7d"
                | "avg_daily_prev"
                | "usage_trend"
                | "gap_days"
                | "repeat_spend"
                | "cadence_trend"
        )
}

fn floats_match(expected: &str, actual: &str) -> bool {
    if expected.is_empty() || actual.is_empty() {
        return expected.is_empty() && actual.is_empty();
    }
    match (expected.parse::<f64>(), actual.parse::<f64>()) {
        (Ok(e), Ok(a)) => {
            let diff = (e - a).abs();
            e == a || diff <= 1e-12 || diff <= 1e-9 * e.abs().max(a.abs())
        }
        _ => false,
    }
}

/// Differences between an expected and an actual table, one line each.
fn compare(case: &str, expected: &[Vec<String>], actual: &[Vec<String>]) -> Vec<String> {
    let mut problems = Vec::new();
    let (Some(want_header), Some(got_header)) = (expected.first(), actual.first()) else {
        problems.push(format!(
            "{case}: empty output (expected {} lines)",
            expected.len()
        ));
        return problems;
    };
    if want_header != got_header {
        problems.push(format!(
            "{case}: header differs\n    expected: {}\n    actual:   {}",
            want_header.join(","),
            got_header.join(",")
        ));
        return problems;
    }
    if expected.len() != actual.len() {
        problems.push(format!(
            "{case}: {} user rows expected, {} written",
            expected.len() - 1,
            actual.len() - 1
        ));
    }
    for (index, (want, got)) in expected.iter().zip(actual).enumerate().skip(1) {
        if want.len() != got.len() {
            problems.push(format!(
                "{case}: row {index}: {} cells expected, {} written",
                want.len(),
                got.len()
            ));
            continue;
        }
        let user = &want[0];
        for ((column, w), g) in want_header.iter().zip(want).zip(got) {
            let same = if is_float_column(column) {
                floats_match(w, g)
            } else {
                w == g
            };
            if !same {
                problems.push(format!(
                    "{case}: row {index} (user {user:?}), column {column}: expected {w:?}, segmint {g:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn features_match_reference_outputs() {
    let dir = fixtures();
    let cases = read_cases();
    assert!(
        cases.len() >= 20,
        "cases.txt lists only {} cases",
        cases.len()
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut problems = Vec::new();
    for case in &cases {
        let out = tmp.path().join(format!("{}.csv", case.name));
        let mut cmd = Command::cargo_bin("segmint").expect("segmint binary");
        cmd.arg("features")
            .args(case.inputs.iter().map(|i| dir.join(i)))
            .args(&case.args)
            .arg("--quiet")
            .arg("-o")
            .arg(&out);
        let result = cmd.output().expect("run segmint");
        if !result.status.success() {
            problems.push(format!(
                "{}: segmint failed ({}): {}",
                case.name,
                result.status,
                String::from_utf8_lossy(&result.stderr).trim()
            ));
            continue;
        }
        let expected = read_csv(&dir.join(&case.expected));
        let actual = read_csv(&out);
        problems.extend(compare(&case.name, &expected, &actual));
    }
    assert!(
        problems.is_empty(),
        "{} difference(s) from the reference outputs:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Keeps the fixture folder and cases.txt in step: every file a case names
/// exists, and every file in the folder is used by some case.
#[test]
fn fixture_folder_matches_cases() {
    let dir = fixtures();
    let mut used: BTreeSet<String> = ["cases.txt", "README.md"].map(String::from).into();
    for case in read_cases() {
        for file in case.inputs.iter().chain([&case.expected]) {
            assert!(
                dir.join(file).is_file(),
                "case {}: missing {file}",
                case.name
            );
            used.insert(file.clone());
        }
    }
    for entry in fs::read_dir(&dir).expect("read fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            used.contains(&name),
            "{name} is in {} but no case uses it",
            dir.display()
        );
    }
}

#[test]
fn float_comparison_tolerance() {
    assert!(floats_match("0.2", "0.19999999999999996"));
    assert!(floats_match("1.0", "1"));
    assert!(floats_match("", ""));
    assert!(floats_match("0.0", "1e-13"));
    assert!(!floats_match("0.0", ""));
    assert!(!floats_match("0.25", "0.2500001"));
}
