//! File formats through the command line, against the fixtures of
//! `tests/fixtures/formats/` (written by PyArrow, gzip and zstandard, not
//! by segmint; see its README.md).
//!
//! Inputs: every Parquet, Arrow IPC and compressed file gives the features
//! of its CSV twin, byte for byte, read from a path or from standard
//! input, and so the same fit, report and peer graph (the second reader,
//! `ingest::scan`, too); a feature table clusters and scores alike in any
//! format; broken files, and a format that the bytes contradict, exit 3
//! naming the file and leave no output; a null key or amount is a row
//! error naming the row and the column, skipped under `--skip-bad-rows`.
//!
//! Outputs: features and scores written as Parquet, Arrow IPC file and
//! stream (by extension, or `--output-format` on standard output) carry
//! the right magic bytes, are read back by segmint as the CSV form is, and
//! by PyArrow (`tests/reference/read_table.py`, in the venv
//! `tests/reference/.venv-formats`) with the documented column types and
//! the CSV's values. Without that venv those checks say so and pass,
//! unless `SEGMINT_REQUIRE_PYARROW=1` (set by CI), where they fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{csv_column, csv_rows, fails, ok, segmint, text};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file of the fixtures' README with its CSV twin.
const TWINS: [(&str, &str); 15] = [
    ("log_dates.parquet", "log_dates.csv"),
    ("log_decimal.parquet", "log.csv"),
    ("log_int_users.parquet", "log_int_users.csv"),
    ("log_strings.parquet", "log.csv"),
    ("log_ts_ms.parquet", "log.csv"),
    ("log_ts_ms_utc.parquet", "log.csv"),
    ("log_ts_ns.parquet", "log.csv"),
    ("log_ts_ns_subms.parquet", "log.csv"),
    ("log_ts_s.parquet", "log_seconds.csv"),
    ("log_ts_us.parquet", "log.csv"),
    ("log.arrow", "log.csv"),
    ("log.arrows", "log.csv"),
    ("log.csv.gz", "log.csv"),
    ("log.csv.zst", "log.csv"),
    ("features.parquet", "features.csv"),
];

/// `segmint features INPUT -o OUT -q EXTRA...`.
fn features(input: &str, out: &Path, extra: &[&str]) -> Output {
    segmint()
        .args(["features", input, "-o", s(out), "-q"])
        .args(extra)
        .output()
        .unwrap()
}

/// `segmint features - -o OUT -q` with `bytes` on standard input.
fn features_stdin(bytes: Vec<u8>, out: &Path) -> Output {
    segmint()
        .args(["features", "-", "-o", s(out), "-q"])
        .write_stdin(bytes)
        .output()
        .unwrap()
}

/// The K-Means fit the tests compare: CPU, K = 3, a fixed seed.
const FIT: [&str; 7] = ["--k", "3", "--device", "cpu", "--seed", "1", "-q"];

/// `segmint fit INPUTS... -o SCORES --model MODEL` plus [`FIT`] and
/// `extra`; succeeds.
fn fit(inputs: &[&str], scores: &Path, model: &Path, extra: &[&str]) {
    ok(&segmint()
        .arg("fit")
        .args(inputs)
        .args(["-o", s(scores), "--model", s(model)])
        .args(FIT)
        .args(extra)
        .output()
        .unwrap());
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `t`, or its first 300 characters and an ellipsis.
fn shorten(t: &str) -> String {
    if t.chars().count() > 300 {
        format!("{}...", t.chars().take(300).collect::<String>())
    } else {
        t.to_string()
    }
}

/// Where two texts first differ, for a message that does not print both.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (text(a), text(b));
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => return "same lines, different line endings".into(),
            (x, y) => {
                let cut = |l: Option<&str>| l.map_or("(end of file)".into(), shorten);
                return format!("line {n}:\n  {}\n  {}", cut(x), cut(y));
            }
        }
    }
    unreachable!()
}

/// `a` and `b` hold the same bytes, or a message saying where not.
fn same_bytes(a: &Path, b: &Path) -> Result<(), String> {
    let (x, y) = (read(a), read(b));
    if x == y {
        Ok(())
    } else {
        Err(format!(
            "{} and {} differ at {}",
            a.display(),
            b.display(),
            first_difference(&x, &y)
        ))
    }
}

#[track_caller]
fn assert_same_bytes(a: &Path, b: &Path) {
    if let Err(e) = same_bytes(a, b) {
        panic!("{e}");
    }
}

/// `value` without the object keys that name files or time a run (at any
/// depth): what legitimately differs between runs on twin inputs.
fn without_run_details(value: &Value) -> Value {
    const DROPPED: [&str; 5] = ["inputs", "files", "output", "model", "bytes"];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !DROPPED.contains(&k.as_str()) && !k.starts_with("seconds"))
                .map(|(k, v)| (k.clone(), without_run_details(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_run_details).collect()),
        other => other.clone(),
    }
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// A JSON value's first difference from another, as a path.
fn json_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let here = format!("{at}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = json_difference(u, v, &here) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{here}: {u:?} vs {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| json_difference(u, v, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!(
            "{at}: {} vs {}",
            shorten(&a.to_string()),
            shorten(&b.to_string())
        )),
    }
}

#[track_caller]
fn assert_same_json(what: &str, a: &Value, b: &Value) {
    let (a, b) = (without_run_details(a), without_run_details(b));
    if let Some(d) = json_difference(&a, &b, "$") {
        panic!("{what}: the JSON differs at {d}");
    }
}

// ---------------------------------------------------------------- inputs

#[test]
fn formats_every_binary_log_gives_the_features_of_its_csv_twin() {
    let dir = tempfile::tempdir().unwrap();
    let mut twins: HashMap<&str, PathBuf> = HashMap::new();
    let mut failures = Vec::new();
    for (file, twin) in TWINS {
        if file.starts_with("features") {
            continue; // a feature table, not a log: see feature_tables_*
        }
        let want = twins
            .entry(twin)
            .or_insert_with(|| {
                let out = dir.path().join(format!("twin-{twin}.out.csv"));
                ok(&features(s(&fixture(twin)), &out, &[]));
                out
            })
            .clone();
        let got = dir.path().join(format!("{file}.out.csv"));
        let out = features(s(&fixture(file)), &got, &[]);
        if !out.status.success() {
            failures.push(format!(
                "{file}: exit {:?}: {}",
                out.status.code(),
                text(&out.stderr)
            ));
        } else if let Err(e) = same_bytes(&got, &want) {
            failures.push(format!("{file} vs its twin {twin}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "`segmint features FILE` differs from `segmint features TWIN.csv`:\n{}",
        failures.join("\n")
    );
}

#[test]
fn formats_input_format_that_agrees_with_the_bytes_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("want.csv");
    ok(&features(s(&fixture("log.csv")), &want, &[]));
    for (file, format) in [
        ("log_ts_ms.parquet", "parquet"),
        ("log.arrow", "arrow"),
        ("log.arrows", "arrow"),
        ("log.csv.gz", "csv"),
        ("log.csv.zst", "csv"),
        ("log.csv", "csv"),
    ] {
        let got = dir.path().join(format!("{file}.{format}.csv"));
        ok(&features(
            s(&fixture(file)),
            &got,
            &["--input-format", format],
        ));
        if let Err(e) = same_bytes(&got, &want) {
            panic!("{file} with --input-format {format}: {e}");
        }
    }
}

#[test]
fn formats_fit_on_binary_logs_scores_as_on_the_csv_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (want, want_model) = (dir.path().join("csv.csv"), dir.path().join("csv.json"));
    fit(&[s(&fixture("log.csv"))], &want, &want_model, &[]);
    for file in ["log_ts_us.parquet", "log_ts_ns.parquet", "log.arrows"] {
        let (got, model) = (
            dir.path().join(format!("{file}.csv")),
            dir.path().join(format!("{file}.json")),
        );
        fit(&[s(&fixture(file))], &got, &model, &[]);
        if let Err(e) = same_bytes(&got, &want) {
            panic!("fit on {file} and on log.csv: scores differ: {e}");
        }
        assert_same_json(
            &format!("the model fitted on {file} and on log.csv"),
            &json_file(&model),
            &json_file(&want_model),
        );
    }
}

#[test]
fn formats_standard_input_takes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("want.csv");
    ok(&features(s(&fixture("log.csv")), &want, &[]));
    for file in [
        "log.arrows",
        "log_ts_ms.parquet",
        "log.csv.gz",
        "log.arrow",
        "log.csv.zst",
        "log.csv",
    ] {
        let got = dir.path().join(format!("stdin-{file}.csv"));
        let out = features_stdin(read(&fixture(file)), &got);
        assert!(
            out.status.success(),
            "{file} on standard input: exit {:?}: {}",
            out.status.code(),
            text(&out.stderr)
        );
        if let Err(e) = same_bytes(&got, &want) {
            panic!("{file} on standard input: {e}");
        }
    }
}

/// Exit 3 naming `file` (a path, or `<stdin>`) with every one of `parts`,
/// and no file at `out`.
#[track_caller]
fn refused(out: &Output, what: &str, file: &str, parts: &[&str], outputs: &[&Path]) {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{what}: expected exit 3, stderr: {err}"
    );
    assert!(err.contains(file), "{what}: expected {file:?} in: {err}");
    for part in parts {
        assert!(err.contains(part), "{what}: expected {part:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{what}: {err}");
    for output in outputs {
        assert!(
            !output.exists(),
            "{what}: exit 3 but {} was written",
            output.display()
        );
    }
}

/// The broken files and contradicted formats, with what their messages
/// must say.
const BROKEN: [(&str, &[&str], &[&str]); 8] = [
    ("truncated.csv.gz", &[], &["gzip", "truncated"]),
    ("truncated.csv.zst", &[], &["zstd", "truncated"]),
    ("corrupt.parquet", &[], &["row group 1"]),
    ("truncated.parquet", &[], &["Parquet"]),
    ("not_parquet.parquet", &[], &["expected Parquet", "CSV"]),
    (
        "log.csv",
        &["--input-format", "parquet"],
        &["expected Parquet", "--input-format", "CSV"],
    ),
    (
        "log_ts_ms.parquet",
        &["--input-format", "csv"],
        &["expected CSV", "--input-format", "Parquet"],
    ),
    (
        "log_ts_ms.parquet",
        &["--input-format", "arrow"],
        &["expected Arrow", "--input-format", "Parquet"],
    ),
];

#[test]
fn formats_broken_or_contradicted_inputs_exit_3_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (file, extra, parts)) in BROKEN.iter().enumerate() {
        let what = format!("features {file} {}", extra.join(" "));
        for ext in ["csv", "parquet"] {
            let out_path = dir.path().join(format!("out{i}.{ext}"));
            let out = features(s(&fixture(file)), &out_path, extra);
            refused(&out, &what, file, parts, &[&out_path]);
        }
    }
}

#[test]
fn formats_broken_inputs_are_refused_by_fit_report_and_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let (scores, model) = (dir.path().join("scores.csv"), dir.path().join("m.json"));
    let out = segmint()
        .args(["fit", s(&fixture("truncated.csv.gz"))])
        .args(["-o", s(&scores), "--model", s(&model)])
        .args(FIT)
        .output()
        .unwrap();
    refused(
        &out,
        "fit truncated.csv.gz",
        "truncated.csv.gz",
        &["gzip"],
        &[&scores, &model],
    );

    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let out = segmint()
        .args(["report", s(&fixture("corrupt.parquet"))])
        .args(["-o", s(&html), "--json", s(&json), "--device", "cpu", "-q"])
        .output()
        .unwrap();
    refused(
        &out,
        "report corrupt.parquet",
        "corrupt.parquet",
        &["row group"],
        &[&html, &json],
    );

    for (file, parts) in [
        ("truncated.csv.zst", &["zstd", "truncated"][..]),
        ("truncated.csv.gz", &["gzip", "truncated"][..]),
        ("corrupt.parquet", &["row group"][..]),
        ("truncated.parquet", &["Parquet"][..]),
    ] {
        let got = dir.path().join(format!("stdin-{file}.csv"));
        let out = features_stdin(read(&fixture(file)), &got);
        refused(
            &out,
            &format!("{file} on standard input"),
            "<stdin>",
            parts,
            &[&got],
        );
    }
}

/// The null rows of the README: file, the row error's words, the user
/// that row belongs to in log.csv, and its amount there.
const NULL_ROWS: [(&str, &str, &str, f64); 2] = [
    (
        "log_null_user.parquet",
        "row 1237, column 1 (user_id)",
        "u83",
        6.39,
    ),
    (
        "log_null_amount.parquet",
        "row 778, column 3 (total_price)",
        "u23",
        3.58,
    ),
];

/// Column `name` of a features CSV, by user.
fn by_user(path: &Path, name: &str) -> HashMap<String, String> {
    csv_column(path, "user_id")
        .into_iter()
        .zip(csv_column(path, name))
        .collect()
}

#[test]
fn formats_null_key_or_amount_is_a_row_error_or_a_skipped_row() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.csv");
    ok(&features(s(&fixture("log.csv")), &full, &[]));
    let (frequency, monetary) = (by_user(&full, "frequency"), by_user(&full, "monetary"));
    for (file, row, user, amount) in NULL_ROWS {
        let path = fixture(file);
        let out_path = dir.path().join(format!("{file}.csv"));
        let out = features(s(&path), &out_path, &[]);
        refused(&out, file, s(&path), &[row], &[&out_path]);

        // On standard input, the same row of <stdin>.
        let out = features_stdin(read(&path), &out_path);
        refused(
            &out,
            &format!("{file} on standard input"),
            "<stdin>",
            &[row],
            &[&out_path],
        );

        // Skipped: reported on stderr and in the JSON summary; the row's
        // user has one transaction (and its amount) less.
        let out = segmint()
            .args(["features", s(&path), "-o", s(&out_path), "--skip-bad-rows"])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        ok(&out);
        assert!(
            err.contains("skipped 1 bad row") && err.contains(&format!("{}: {row}", s(&path))),
            "{file} --skip-bad-rows: expected the skipped row reported, stderr: {err}"
        );
        let out = segmint()
            .args(["features", s(&path), "-o", s(&out_path), "--skip-bad-rows"])
            .args(["-q", "--format", "json"])
            .output()
            .unwrap();
        let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
        assert_eq!(summary["skipped_rows"], 1, "{file}: {summary}");
        assert_eq!(summary["rows"], 1999, "{file}: {summary}");
        let example = summary["skipped_examples"][0].as_str().unwrap_or_default();
        assert!(example.contains(row), "{file}: skipped_examples: {summary}");

        let (f, m) = (
            by_user(&out_path, "frequency"),
            by_user(&out_path, "monetary"),
        );
        assert_eq!(f.len(), frequency.len(), "{file}: users");
        let want: u64 = frequency[user].parse().unwrap();
        assert_eq!(
            f[user].parse::<u64>().unwrap(),
            want - 1,
            "{file}: {user}'s frequency without the skipped row"
        );
        let (got, full): (f64, f64) = (m[user].parse().unwrap(), monetary[user].parse().unwrap());
        assert!(
            (full - got - amount).abs() < 1e-9,
            "{file}: {user}'s monetary {got}, {full} with the skipped row of {amount}"
        );
    }
}

#[test]
fn formats_feature_tables_fit_and_score_alike_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let (want, want_model) = (d("csv.csv"), d("csv.json"));
    fit(
        &["--features-input", s(&fixture("features.csv"))],
        &want,
        &want_model,
        &[],
    );
    for file in ["features.parquet", "features.arrow"] {
        let (got, model) = (d(&format!("{file}.csv")), d(&format!("{file}.json")));
        fit(&["--features-input", s(&fixture(file))], &got, &model, &[]);
        if let Err(e) = same_bytes(&got, &want) {
            panic!("fit --features-input {file} and features.csv: {e}");
        }
        assert_same_json(
            &format!("the model fitted on {file} and on features.csv"),
            &json_file(&model),
            &json_file(&want_model),
        );

        // On standard input.
        let got = d(&format!("stdin-{file}.csv"));
        ok(&segmint()
            .args(["fit", "--features-input", "-", "-o", s(&got)])
            .args(FIT)
            .write_stdin(read(&fixture(file)))
            .output()
            .unwrap());
        if let Err(e) = same_bytes(&got, &want) {
            panic!("fit --features-input - with {file} on standard input: {e}");
        }
    }

    // Scored with the CSV table's model: the same in every format.
    let scored = |file: &str| {
        let out = d(&format!("scored-{file}.csv"));
        ok(&segmint()
            .args(["score", "--features-input", s(&fixture(file))])
            .args(["--model", s(&want_model), "-o", s(&out), "-q"])
            .args(["--device", "cpu"])
            .output()
            .unwrap());
        out
    };
    let want_scored = scored("features.csv");
    for file in ["features.parquet", "features.arrow"] {
        if let Err(e) = same_bytes(&scored(file), &want_scored) {
            panic!("score --features-input {file} and features.csv: {e}");
        }
    }

    // A null cell is the CSV's empty cell: the same error, naming the
    // first user without a value.
    for file in ["features.csv", "features.parquet", "features.arrow"] {
        let got = d(&format!("nulls-{file}.csv"));
        let out = segmint()
            .args(["fit", "--features-input", s(&fixture(file)), "-o", s(&got)])
            .args(["--features", "frequency,monetary,recency_days"])
            .args(FIT)
            .output()
            .unwrap();
        fails(&out, 3, &[file, "\"c0004\"", "recency_days"]);
        assert!(
            !got.exists(),
            "{file}: exit 3 but {} written",
            got.display()
        );
    }
}

#[test]
fn formats_report_reads_binary_logs_as_their_csv_twin() {
    // The report's channel mix, funnel and heatmap come from the second
    // reader (ingest::scan), not from the features.
    let dir = tempfile::tempdir().unwrap();
    let report = |file: &str| {
        let (html, json) = (
            dir.path().join(format!("{file}.html")),
            dir.path().join(format!("{file}.json")),
        );
        ok(&segmint()
            .args(["report", s(&fixture(file)), "-o", s(&html)])
            .args(["--json", s(&json), "--device", "cpu", "-q"])
            .output()
            .unwrap());
        json_file(&json)
    };
    let want = report("log.csv");
    for section in ["channels", "funnel", "heatmap"] {
        assert!(
            want[section].as_array().is_some_and(|a| !a.is_empty()),
            "report --json has no {section}: {}",
            shorten(&want.to_string())
        );
    }
    assert_eq!(want["inputs"].as_array().map(Vec::len), Some(1));
    for file in [
        "log_ts_ms.parquet",
        "log_ts_ns.parquet",
        "log.arrows",
        "log.csv.zst",
    ] {
        assert_same_json(
            &format!("report --json on {file} and on log.csv"),
            &report(file),
            &want,
        );
    }
}

#[test]
fn formats_peer_graph_reads_binary_logs_as_their_csv_twin() {
    // Leiden over users linked by shared channels (items), weighed by
    // amount: the graph is built by the second reader (ingest::scan), and
    // the parquet's null channels are rows without a peer.
    let dir = tempfile::tempdir().unwrap();
    let leiden = |file: &str| {
        let scores = dir.path().join(format!("{file}.csv"));
        let out = segmint()
            .args(["fit", s(&fixture(file)), "-o", s(&scores)])
            .args([
                "--method",
                "leiden",
                "--peer-col",
                "channel",
                "--peers",
                "items",
            ])
            .args(["--max-peer-degree", "1000", "--edge-weight", "amount"])
            .args(["--device", "cpu", "--seed", "1", "-q", "--format", "json"])
            .output()
            .unwrap();
        let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
        (scores, summary)
    };
    let (want, want_summary) = leiden("log.csv");
    assert_eq!(
        want_summary["graph"]["peers"]["rows_without_peer"], 118,
        "log.csv has 118 rows without a channel: {}",
        want_summary["graph"]
    );
    for file in ["log_ts_ms.parquet", "log_strings.parquet", "log.arrow"] {
        let (got, summary) = leiden(file);
        if let Err(e) = same_bytes(&got, &want) {
            panic!("leiden on {file} and on log.csv: scores differ: {e}");
        }
        assert_same_json(
            &format!("leiden's graph on {file} and on log.csv"),
            &summary["graph"],
            &want_summary["graph"],
        );
    }
}

// --------------------------------------------------------------- outputs

/// What a file's first bytes say it is.
fn magic(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1") {
        "parquet"
    } else if bytes.starts_with(b"ARROW1") && bytes.ends_with(b"ARROW1") {
        "arrow-file"
    } else if bytes.starts_with(&[0xff; 4]) {
        "arrow-stream"
    } else {
        "other"
    }
}

/// The features of log.csv in every output form: (name, path, what
/// read_table.py calls its format).
struct FeatureOutputs {
    _dir: tempfile::TempDir,
    csv: PathBuf,
    tables: Vec<(String, PathBuf, &'static str)>,
}

fn feature_outputs() -> FeatureOutputs {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("log.csv");
    let csv = dir.path().join("f.csv");
    ok(&features(s(&log), &csv, &[]));
    let mut tables = Vec::new();
    for (name, want) in [
        ("f.parquet", "parquet"),
        ("f.arrow", "arrow-file"),
        ("f.arrows", "arrow-stream"),
    ] {
        let path = dir.path().join(name);
        ok(&features(s(&log), &path, &[]));
        tables.push((format!("-o {name}"), path, want));
    }
    for (format, want) in [("arrow", "arrow-stream"), ("parquet", "parquet")] {
        let out = segmint()
            .args([
                "features",
                s(&log),
                "-o",
                "-",
                "--output-format",
                format,
                "-q",
            ])
            .output()
            .unwrap();
        ok(&out);
        let path = dir.path().join(format!("stdout.{format}.bin"));
        std::fs::write(&path, &out.stdout).unwrap();
        tables.push((format!("-o - --output-format {format}"), path, want));
    }
    for (what, path, want) in &tables {
        assert_eq!(
            magic(&read(path)),
            *want,
            "features {what}: the bytes are not {want}"
        );
    }
    FeatureOutputs {
        _dir: dir,
        csv,
        tables,
    }
}

#[test]
fn formats_feature_outputs_read_back_as_feature_tables() {
    let outputs = feature_outputs();
    let dir = tempfile::tempdir().unwrap();
    let (want, want_model) = (dir.path().join("csv.csv"), dir.path().join("csv.json"));
    fit(
        &["--features-input", s(&outputs.csv)],
        &want,
        &want_model,
        &[],
    );
    for (i, (what, path, _)) in outputs.tables.iter().enumerate() {
        let (got, model) = (
            dir.path().join(format!("{i}.csv")),
            dir.path().join(format!("{i}.json")),
        );
        fit(&["--features-input", s(path)], &got, &model, &[]);
        if let Err(e) = same_bytes(&got, &want) {
            panic!("fit --features-input on `features {what}` and on its CSV form: {e}");
        }
        assert_same_json(
            &format!("the model fitted on `features {what}` and on its CSV form"),
            &json_file(&model),
            &json_file(&want_model),
        );
    }

    // The stream on standard output, piped into fit's standard input.
    let (_, stream, _) = outputs
        .tables
        .iter()
        .find(|(what, _, _)| what.contains("--output-format arrow"))
        .unwrap();
    let got = dir.path().join("piped.csv");
    ok(&segmint()
        .args(["fit", "--features-input", "-", "-o", s(&got)])
        .args(FIT)
        .write_stdin(read(stream))
        .output()
        .unwrap());
    assert_same_bytes(&got, &want);
}

#[test]
fn formats_csv_stays_the_default_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("log.csv");
    let file = dir.path().join("f.csv");
    ok(&features(s(&log), &file, &[]));
    let out = segmint()
        .args(["features", s(&log), "-o", "-", "-q"])
        .output()
        .unwrap();
    assert_eq!(
        ok(&out).as_bytes(),
        read(&file).as_slice(),
        "features -o - (no --output-format) must be the CSV of -o f.csv"
    );
    let explicit = dir.path().join("f.parquet.csv");
    ok(&features(s(&log), &explicit, &["--output-format", "csv"]));
    assert_same_bytes(&explicit, &file);
}

#[test]
fn formats_score_outputs_carry_their_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("log.csv");
    let (csv, model) = (dir.path().join("scores.csv"), dir.path().join("m.json"));
    fit(&[s(&log)], &csv, &model, &[]);
    for (name, want) in [
        ("scores.parquet", "parquet"),
        ("scores.arrow", "arrow-file"),
        ("scores.arrows", "arrow-stream"),
    ] {
        let path = dir.path().join(name);
        let m = dir.path().join(format!("{name}.json"));
        fit(&[s(&log)], &path, &m, &[]);
        assert_eq!(magic(&read(&path)), want, "fit -o {name}");
        assert_same_json(
            &format!("the model of fit -o {name} and of fit -o scores.csv"),
            &json_file(&m),
            &json_file(&model),
        );
        let rescored = dir.path().join(format!("re{name}"));
        ok(&segmint()
            .args(["score", s(&log), "--model", s(&model), "-o", s(&rescored)])
            .args(["-q", "--device", "cpu"])
            .output()
            .unwrap());
        assert_eq!(magic(&read(&rescored)), want, "score -o re{name}");
    }
    let out = segmint()
        .args(["fit", s(&log), "-o", "-", "--output-format", "arrow"])
        .args(FIT)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(
        magic(&out.stdout),
        "arrow-stream",
        "fit -o - --output-format arrow"
    );
}

// ------------------------------------------------------ PyArrow round trip

/// The venv's python with PyArrow, or `None` (with a message) when it is
/// missing and not required.
fn pyarrow() -> Option<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let python =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/.venv-formats/bin/python");
        if !python.exists() {
            return Err(format!("{} is missing", python.display()));
        }
        match std::process::Command::new(&python)
            .args(["-c", "import pyarrow"])
            .output()
        {
            Ok(out) if out.status.success() => Ok(python),
            Ok(out) => Err(format!(
                "{} cannot import pyarrow: {}",
                python.display(),
                text(&out.stderr).trim()
            )),
            Err(e) => Err(format!("{}: {e}", python.display())),
        }
    });
    match found {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            if std::env::var("SEGMINT_REQUIRE_PYARROW").as_deref() == Ok("1") {
                panic!(
                    "SEGMINT_REQUIRE_PYARROW=1 but PyArrow cannot run: {why} (tests/run.sh \
                     makes the venv from tests/reference/requirements-formats.txt)"
                );
            }
            eprintln!(
                "skipping a PyArrow round trip: {why}; make it with python3 -m venv \
                 tests/reference/.venv-formats && tests/reference/.venv-formats/bin/pip \
                 install -r tests/reference/requirements-formats.txt \
                 (SEGMINT_REQUIRE_PYARROW=1 makes this a failure)"
            );
            None
        }
    }
}

/// What `read_table.py` prints for `path` (its first `rows` rows).
fn read_table(python: &Path, path: &Path, rows: usize) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/read_table.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(path)
        .args(["--rows", &rows.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_table.py {}: exit {:?}: {}",
        path.display(),
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `read_table.py -` with `bytes` on standard input.
fn read_table_stdin(python: &Path, bytes: &[u8], rows: usize) -> Value {
    use std::io::Write;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/read_table.py");
    let mut child = std::process::Command::new(python)
        .arg(&script)
        .args(["-", "--rows", &rows.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "read_table.py -: exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A decimal's text without insignificant zeros: `219.790000000` and
/// `219.79` alike, `-0.50` as `-0.5`, `3.000` as `3`.
fn canonical_decimal(t: &str) -> String {
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    if whole == "0" && fraction.is_empty() {
        "0".into()
    } else if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// An ISO UTC time with exactly three fraction digits, as read_table.py
/// writes a timestamp[ms, tz=...] (`...:23Z` as `...:23.000Z`).
fn canonical_ms(t: &str) -> String {
    let Some(body) = t.strip_suffix('Z') else {
        return t.to_string();
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    format!("{whole}.{fraction:0<3}Z")
}

/// How far apart two floats are, in units in the last place.
fn ulps(a: f64, b: f64) -> u64 {
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

/// Whether the JSON value of a column of Arrow type `ty` is the CSV cell.
fn same_value(ty: &str, json: &Value, cell: &str) -> Result<(), String> {
    let differ = || Err(format!("{json} vs the CSV's {cell:?}"));
    if json.is_null() {
        // Null exactly where the CSV cell is empty.
        return if cell.is_empty() { Ok(()) } else { differ() };
    }
    if cell.is_empty() {
        return differ();
    }
    let is_string = ty == "string" || ty.starts_with("dictionary<values=string");
    let is_integer = ["int8", "int16", "int32", "int64"]
        .iter()
        .any(|t| ty == *t || ty == format!("u{t}"));
    let same = if is_string {
        json.as_str() == Some(cell)
    } else if is_integer {
        match (json.as_i64(), cell.parse::<i64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => json.as_u64().is_some() && json.as_u64() == cell.parse().ok(),
        }
    } else if ty == "double" {
        // serde_json (without float_roundtrip) may be one or two units in
        // the last place off the shortest text Python printed; segmint's
        // own read-back (the fit tests above) is the exact check.
        match (json.as_f64(), cell.parse::<f64>()) {
            (Some(a), Ok(b)) => ulps(a, b) <= 2,
            _ => false,
        }
    } else if ty == "float" {
        // An f32, printed by Python as the f64 it widens to: back to f32
        // it is exact, whatever the JSON parser's last bit.
        match (json.as_f64(), cell.parse::<f32>()) {
            (Some(a), Ok(b)) => (a as f32) == b,
            _ => false,
        }
    } else if ty.starts_with("decimal128(") {
        json.as_str()
            .is_some_and(|d| canonical_decimal(d) == canonical_decimal(cell))
    } else if ty.starts_with("timestamp[ms, tz=") {
        json.as_str() == Some(canonical_ms(cell).as_str())
    } else if ty == "bool" {
        json.as_bool().map(|b| b.to_string()).as_deref() == Some(cell)
    } else {
        return Err(format!("no comparison for type {ty}"));
    };
    if same { Ok(()) } else { differ() }
}

/// `table` (read_table.py's JSON) has `csv`'s columns, in its order, with
/// `types` (name → Arrow type, as PyArrow prints it; every column listed
/// must be there), all its rows, and the values of its first rows.
#[track_caller]
fn assert_table_is_csv(
    what: &str,
    table: &Value,
    want_format: &str,
    csv: &Path,
    types: &[(&str, &str)],
) {
    assert_eq!(
        table["format"], want_format,
        "{what}: read_table.py's format"
    );
    let (header, rows) = csv_rows(csv);
    let schema = table["schema"].as_array().unwrap();
    let names: Vec<&str> = schema.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, header, "{what}: the columns are not the CSV's");
    let type_of: HashMap<&str, &str> = schema
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
        .collect();
    for (name, ty) in types {
        let got = type_of
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no column {name}; columns {names:?}"));
        assert_eq!(got, ty, "{what}: the type of {name}");
    }
    assert_eq!(
        table["num_rows"].as_u64(),
        Some(rows.len() as u64),
        "{what}: rows"
    );
    let got_rows = table["rows"].as_array().unwrap();
    assert_eq!(
        got_rows.len(),
        rows.len().min(ROWS),
        "{what}: rows printed by read_table.py"
    );
    let mut failures = Vec::new();
    for (i, (got, want)) in got_rows.iter().zip(&rows).enumerate() {
        let got = got.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{what}: row {i}'s cells");
        for (c, (value, cell)) in got.iter().zip(want).enumerate() {
            if let Err(e) = same_value(type_of[header[c].as_str()], value, cell) {
                failures.push(format!("row {i} (user {}), {}: {e}", want[0], header[c]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: PyArrow's values differ from the CSV's ({} cells):\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The documented types of the feature table's columns (see
/// src/features/columnar.rs), as PyArrow names them.
const FEATURE_TYPES: [(&str, &str); 14] = [
    ("user_id", "string"),
    ("frequency", "int64"),
    ("monetary", "decimal128(38, 9)"),
    ("first_seen", "timestamp[ms, tz=UTC]"),
    ("last_seen", "timestamp[ms, tz=UTC]"),
    ("recency_days", "double"),
    ("tenure_days", "double"),
    ("active_days", "int64"),
    ("gap_days", "double"),
    ("channel_diversity", "int64"),
    ("share_SMS", "double"),
    ("success_rate", "double"),
    ("cadence_trend", "double"),
    ("is_dormant", "bool"),
];

/// Rows compared with the CSV: all 150 users of log.csv.
const ROWS: usize = 200;

#[test]
fn formats_pyarrow_reads_feature_outputs_as_their_csv() {
    let Some(python) = pyarrow() else { return };
    let outputs = feature_outputs();
    for (what, path, format) in &outputs.tables {
        let table = read_table(&python, path, ROWS);
        assert_table_is_csv(
            &format!("features {what}"),
            &table,
            format,
            &outputs.csv,
            &FEATURE_TYPES,
        );
    }
    // The stream, as a pipe would hand it over.
    let (_, stream, _) = outputs
        .tables
        .iter()
        .find(|(what, _, _)| what.contains("--output-format arrow"))
        .unwrap();
    let table = read_table_stdin(&python, &read(stream), ROWS);
    assert_table_is_csv(
        "features -o - --output-format arrow | read_table.py -",
        &table,
        "arrow-stream",
        &outputs.csv,
        &FEATURE_TYPES,
    );
}

/// The documented types of the scores' columns (see
/// src/report/scores_columnar.rs), as PyArrow names them.
const DICTIONARY: &str = "dictionary<values=string, indices=int32, ordered=0>";
const SCORE_TYPES: [(&str, &str); 11] = [
    ("user_id", "string"),
    ("segment", "uint32"),
    ("segment_name", DICTIONARY),
    ("distance", "double"),
    ("rfm_r", "uint8"),
    ("rfm_segment", DICTIONARY),
    ("churn_risk", DICTIONARY),
    ("churn_reason", "string"),
    ("overdue", "double"),
    ("frequency", "double"),
    ("monetary", "double"),
];

/// `fit`'s scores also have the (exact) silhouette, which `score` leaves
/// out.
fn fit_score_types() -> Vec<(&'static str, &'static str)> {
    let mut types = SCORE_TYPES.to_vec();
    types.push(("silhouette", "float"));
    types
}

#[test]
fn formats_pyarrow_reads_score_outputs_as_their_csv() {
    let Some(python) = pyarrow() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("log.csv");
    let (csv, model) = (dir.path().join("scores.csv"), dir.path().join("m.json"));
    fit(&[s(&log)], &csv, &model, &[]);
    let rescored_csv = dir.path().join("rescored.csv");
    let score = |out: &Path| {
        ok(&segmint()
            .args(["score", s(&log), "--model", s(&model), "-o", s(out)])
            .args(["-q", "--device", "cpu"])
            .output()
            .unwrap())
    };
    score(&rescored_csv);
    for (name, format) in [
        ("scores.parquet", "parquet"),
        ("scores.arrow", "arrow-file"),
        ("scores.arrows", "arrow-stream"),
    ] {
        let path = dir.path().join(name);
        fit(&[s(&log)], &path, &dir.path().join("m2.json"), &[]);
        let table = read_table(&python, &path, ROWS);
        assert_table_is_csv(
            &format!("fit -o {name}"),
            &table,
            format,
            &csv,
            &fit_score_types(),
        );

        let path = dir.path().join(format!("re{name}"));
        score(&path);
        let table = read_table(&python, &path, ROWS);
        assert_table_is_csv(
            &format!("score -o re{name}"),
            &table,
            format,
            &rescored_csv,
            &SCORE_TYPES,
        );
    }
    // The stream on standard output.
    let out = segmint()
        .args(["fit", s(&log), "-o", "-", "--output-format", "arrow"])
        .args(FIT)
        .output()
        .unwrap();
    ok(&out);
    let table = read_table_stdin(&python, &out.stdout, ROWS);
    assert_table_is_csv(
        "fit -o - --output-format arrow | read_table.py -",
        &table,
        "arrow-stream",
        &csv,
        &fit_score_types(),
    );
}

#[test]
fn formats_pyarrow_reads_the_scores_of_every_method() {
    let Some(python) = pyarrow() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("log.csv");
    let btyd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btyd/gen_dates.csv");
    let leiden = [
        "--method",
        "leiden",
        "--peer-col",
        "channel",
        "--peers",
        "items",
        "--max-peer-degree",
        "1000",
    ];
    // (method, log, flags, the types of the columns only it has)
    type Case<'a> = (&'a str, &'a Path, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        (
            "gmm",
            &log,
            &["--method", "gmm"],
            &[("probability", "float"), ("p_0", "float"), ("p_2", "float")],
        ),
        (
            "hierarchical",
            &log,
            &["--method", "hierarchical"],
            &[("segment_path", "string")],
        ),
        ("leiden", &log, &leiden, &[("community", "uint32")]),
        (
            "lifetime",
            &btyd,
            &[],
            &[
                ("p_alive", "double"),
                ("expected_tx_90d", "double"),
                ("clv_90d", "double"),
            ],
        ),
    ];
    for (name, input, extra, types) in cases {
        let (csv, arrow) = (
            dir.path().join(format!("{name}.csv")),
            dir.path().join(format!("{name}.arrow")),
        );
        for out in [&csv, &arrow] {
            // K is the default 3 (which leiden, finding its own, refuses).
            ok(&segmint()
                .args(["fit", s(input), "-o", s(out)])
                .args(&FIT[2..])
                .args(extra)
                .output()
                .unwrap());
        }
        let mut all = SCORE_TYPES.to_vec();
        all.extend_from_slice(types);
        let table = read_table(&python, &arrow, ROWS);
        assert_table_is_csv(
            &format!("fit ({name}) -o {name}.arrow"),
            &table,
            "arrow-file",
            &csv,
            &all,
        );
    }
}
