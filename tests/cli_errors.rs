//! Bad input through the `segmint features` binary (README, "Input" and "Bad input and exit codes"):
//! the exit code, a message naming the file, the line, the column (number
//! and header name) where one field is to blame and what was expected, and
//! no output file (nor a stray temporary file) left behind.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

const HEADER: &str = "user_id,created_at,total_price,channel,status\n";

fn segmint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_segmint"))
}

/// A temporary folder holding input files, with `out.csv` as the target.
struct Case {
    dir: TempDir,
    inputs: Vec<PathBuf>,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().expect("tempdir"),
            inputs: Vec::new(),
        }
    }

    /// One input file, `in.csv`, holding `bytes`.
    fn with(bytes: impl AsRef<[u8]>) -> Case {
        let mut case = Case::new();
        case.add("in.csv", bytes);
        case
    }

    fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, bytes).expect("write input");
        self.inputs.push(path.clone());
        path
    }

    fn input(&self) -> &Path {
        &self.inputs[0]
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out.csv")
    }

    /// `segmint features <inputs> -o out.csv <args>`.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = segmint();
        cmd.arg("features");
        cmd.args(&self.inputs);
        cmd.arg("-o").arg(self.out()).args(args);
        cmd.output().expect("run segmint")
    }

    /// Only the inputs are in the folder: no output, no temporary file.
    fn assert_nothing_written(&self) {
        let found: BTreeSet<String> = fs::read_dir(self.dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        let inputs: BTreeSet<String> = self
            .inputs
            .iter()
            .filter(|p| p.starts_with(self.dir.path()))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            found, inputs,
            "a failed run must leave no output or temporary file behind"
        );
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code, not a signal")
}

/// Runs a failing case and checks the exit code, that the message contains
/// every piece of `needles`, and that nothing was written.
fn expect_failure(case: &Case, args: &[&str], exit: i32, needles: &[&str]) -> String {
    let out = case.run(args);
    let err = stderr(&out);
    assert_eq!(
        code(&out),
        exit,
        "exit code; stderr:\n{err}\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains("segmint: error: "),
        "stderr lacks the error prefix:\n{err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "panic:\n{err}");
    assert!(!case.out().exists(), "out.csv left behind");
    case.assert_nothing_written();
    err
}

/// `<path>: line L, column C (name): `
fn at(case: &Case, line: u64, column: usize, name: &str) -> String {
    format!(
        "{}: line {line}, column {column} ({name}): ",
        case.input().display()
    )
}

/// `<path>: line L: ` (no single field to blame).
fn at_line(case: &Case, line: u64) -> String {
    format!("{}: line {line}: ", case.input().display())
}

// ---------------------------------------------------------------- row errors

#[test]
fn wrong_field_count() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read\nu2,2025-01-01,2\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at_line(&case, 3), "expected 5 fields, found 3"],
    );
    // Too many fields too.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read,extra\nu2,2025-01-01,2,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at_line(&case, 2), "expected 5 fields, found 6"],
    );
}

#[test]
fn unparsable_amount() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read\nu2,2025-01-01,abc,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 3, "total_price"),
            "expected a decimal number",
            "found \"abc\"",
        ],
    );
}

#[test]
fn nan_and_infinite_amounts() {
    for value in ["NaN", "nan", "inf", "-inf", "Infinity"] {
        let case = Case::with(format!(
            "{HEADER}u1,2025-01-01,1.5,SMS,read\nu1,2025-01-02,2,SMS,read\nu2,2025-01-01,{value},SMS,read\n"
        ));
        expect_failure(
            &case,
            &[],
            3,
            &[
                &at(&case, 4, 3, "total_price"),
                "expected a finite number",
                &format!("found \"{value}\""),
            ],
        );
    }
}

#[test]
fn unparsable_time() {
    // The first row settles the format (iso); a later row does not fit it.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01 10:00:00,1,SMS,read\nu1,yesterday,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected an ISO 8601 time",
            "found \"yesterday\"",
        ],
    );
    // No row to detect the format from.
    let case = Case::with(format!("{HEADER}u1,yesterday,1,SMS,read\n"));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 2, 2, "created_at"), "yesterday", "--time-format"],
    );
    // A forced format.
    let case = Case::with(format!(
        "{HEADER}u1,1735689600,1,SMS,read\nu1,17356896x0,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &["--time-format", "unix"],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected unix seconds",
            "found \"17356896x0\"",
        ],
    );
}

#[test]
fn impossible_times() {
    for (value, format) in [
        ("2025-02-30", "auto"),
        ("2025-01-02 25:00:00", "auto"),
        ("2025-01-02 10:60:00", "iso"),
        ("2025-13-01", "iso"),
        ("2023-02-29T00:00:00Z", "auto"),
    ] {
        let case = Case::with(format!(
            "{HEADER}u1,2025-01-01 10:00:00,1,SMS,read\nu1,{value},1,SMS,read\n"
        ));
        expect_failure(
            &case,
            &["--time-format", format],
            3,
            &[
                &at(&case, 3, 2, "created_at"),
                "expected an ISO 8601 time",
                &format!("found \"{value}\""),
            ],
        );
    }
    let case = Case::with(format!(
        "{HEADER}u1,20250101,1,SMS,read\nu1,20250230,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected a date as YYYYMMDD",
            "found \"20250230\"",
        ],
    );
}

#[test]
fn empty_user_key() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n,2025-01-01,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 1, "user_id"), "expected a user key"],
    );
    // Quoted empty key is empty too.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n\"\",2025-01-01,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 1, "user_id"), "expected a user key"],
    );
}

#[test]
fn invalid_utf8_in_key() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"u1,2025-01-01,1,SMS,read\nu\xff\xfe2,2025-01-01,1,SMS,read\n");
    let case = Case::with(bytes);
    expect_failure(&case, &[], 3, &[&at(&case, 3, 1, "user_id"), "UTF-8"]);
}

/// The input is UTF-8 (README, "Input"); channel values become column names
/// (`share_<channel>`), so invalid bytes there are bad input too. Without
/// the check, two different invalid values both became `share_\u{FFFD}`.
#[test]
fn invalid_utf8_in_channel() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"u1,2025-01-01,1,SMS,read\nu1,2025-01-01,1,\xff,read\nu1,2025-01-01,1,\xfe,read\n",
    );
    let case = Case::with(bytes);
    expect_failure(&case, &[], 3, &[&at(&case, 3, 4, "channel"), "UTF-8"]);
}

#[test]
fn crlf_line_ends_do_not_leak_into_values_or_lines() {
    let case = Case::with(
        "user_id,created_at,total_price\r\nu1,2025-01-01,1\r\nu2,2025-01-01,abc\r\nu3,2025-01-01,1\r\n",
    );
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 3, "total_price"), "found \"abc\""],
    );
}

#[test]
fn quoted_fields_with_newlines_count_physical_lines() {
    // The record on line 2 spans lines 2-3; the bad row starts on line 4.
    let case =
        Case::with("user_id,created_at,total_price\n\"u\n1\",2025-01-01,1\nu2,2025-01-01,abc\n");
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 4, 3, "total_price"), "found \"abc\""],
    );
}

#[test]
fn other_delimiters_and_no_header() {
    let case = Case::with("user_id;created_at;total_price\nu1;2025-01-01;1\nu2;2025-01-01;1,5x\n");
    expect_failure(
        &case,
        &["--delimiter", ";"],
        3,
        &[&at(&case, 3, 3, "total_price"), "found \"1,5x\""],
    );
    let case = Case::with("  u1  2025-01-01  1\n\tu2 2025-01-01 zz\n");
    let err = expect_failure(
        &case,
        &[
            "--delimiter",
            "whitespace",
            "--no-header",
            "--user-col",
            "1",
            "--time-col",
            "2",
            "--amount-col",
            "3",
        ],
        3,
        &[
            &format!("{}: line 2, column 3", case.input().display()),
            "expected a decimal number",
            "found \"zz\"",
        ],
    );
    // Without a header there is no name to show.
    assert!(!err.contains("column 3 ("), "{err}");
}

#[test]
fn unterminated_quote() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n\"u2,2025-01-01,1,SMS,read\nu3,2025-01-01,1,SMS,read\n"
    ));
    expect_failure(&case, &[], 3, &[&at_line(&case, 3), "quote"]);
    // At the very end of the input.
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n\""));
    expect_failure(&case, &[], 3, &[&at_line(&case, 3), "quote"]);
}

// ------------------------------------------------------------ header errors

#[test]
fn missing_required_column_lists_the_header() {
    let case = Case::with("user_id,created_at,price\nu1,2025-01-01,1\n");
    expect_failure(
        &case,
        &[],
        3,
        &[
            &case.input().display().to_string(),
            "\"total_price\"",
            "--amount-col",
            "\"user_id\", \"created_at\", \"price\"",
        ],
    );
}

#[test]
fn unknown_column_given_with_a_flag() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    expect_failure(
        &case,
        &["--amount-col", "price"],
        3,
        &[
            &case.input().display().to_string(),
            "\"price\"",
            "--amount-col",
            "\"user_id\", \"created_at\", \"total_price\", \"channel\", \"status\"",
        ],
    );
    // An optional column named explicitly must exist too.
    expect_failure(
        &case,
        &["--channel-col", "medium"],
        3,
        &["\"medium\"", "--channel-col"],
    );
}

#[test]
fn empty_file() {
    let case = Case::with("");
    expect_failure(
        &case,
        &[],
        3,
        &[&case.input().display().to_string(), "empty"],
    );
}

#[test]
fn header_only_file() {
    for text in [
        HEADER,
        "user_id,created_at,total_price",
        "user_id,created_at,total_price\r\n",
    ] {
        let case = Case::with(text);
        expect_failure(&case, &[], 3, &["no transactions"]);
    }
}

#[test]
fn every_row_after_as_of_is_no_transactions() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    expect_failure(
        &case,
        &["--as-of", "2024-12-31"],
        3,
        &["no transactions", "after --as-of"],
    );
}

// --------------------------------------------------------------- I/O errors

#[test]
fn nonexistent_input() {
    let mut case = Case::new();
    let missing = case.dir.path().join("missing.csv");
    case.inputs.push(missing.clone());
    let out = case.run(&[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(&missing.display().to_string()));
    assert!(!case.out().exists());
    assert_eq!(fs::read_dir(case.dir.path()).unwrap().count(), 0);
}

#[test]
fn directory_as_input() {
    let mut case = Case::new();
    let sub = case.dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    case.inputs.push(sub.clone());
    let out = case.run(&[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(&sub.display().to_string()));
    assert!(!case.out().exists());
    assert_eq!(fs::read_dir(case.dir.path()).unwrap().count(), 1);
}

#[test]
fn unwritable_output_is_an_io_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let target = case.dir.path().join("no/such/dir/out.csv");
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("out.csv"), "{}", stderr(&out));
}

#[test]
fn output_path_that_is_a_directory_is_an_io_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let target = case.dir.path().join("sub");
    fs::create_dir(&target).unwrap();
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
    let names: BTreeSet<String> = fs::read_dir(case.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["in.csv".to_string(), "sub".to_string()])
    );
}

// ------------------------------------------------- positions in big inputs

/// `rows` data rows after the header; data row `i` is on line `i + 2`.
fn big_log(rows: usize, bad_lines: &[(u64, &str)]) -> String {
    let mut text = String::from("user_id,created_at,total_price,channel,status\n");
    for i in 0..rows {
        let line = i as u64 + 2;
        if let Some((_, row)) = bad_lines.iter().find(|(l, _)| *l == line) {
            text.push_str(row);
            text.push('\n');
            continue;
        }
        let _ = writeln!(
            text,
            "user{:03},2025-03-{:02} {:02}:{:02}:{:02},{}.{:02},{},{}",
            i % 397,
            1 + i % 28,
            i % 24,
            i % 60,
            (i * 7) % 60,
            i % 50,
            i % 100,
            ["SMS", "Email", "WhatsApp"][i % 3],
            ["read", "failed"][i % 2]
        );
    }
    text
}

/// Every way of reading: threads, chunk sizes, memory map or not.
const READ_VARIANTS: &[&[&str]] = &[
    &["--chunk-bytes", "4096"],
    &["--chunk-bytes", "4096", "--threads", "1"],
    &["--chunk-bytes", "4096", "--threads", "2"],
    &["--chunk-bytes", "4096", "--no-mmap"],
    &["--chunk-bytes", "100", "--threads", "2"],
    &[],
];

#[test]
fn bad_row_in_a_later_chunk_reports_its_line() {
    let case = Case::with(big_log(
        10_000,
        &[(5000, "user5000,2025-03-05 10:00:00,12.x5,SMS,read")],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at(&case, 5000, 3, "total_price"), "found \"12.x5\""],
        );
    }
}

#[test]
fn first_of_two_bad_rows_is_reported() {
    // The later one is a different error, so the message tells them apart.
    let case = Case::with(big_log(
        10_000,
        &[
            (3001, "user3001,2025-03-05 10:00:00,1,SMS"),
            (7002, "user7002,2025-03-05 10:00:00,oops,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        let err = expect_failure(
            &case,
            variant,
            3,
            &[&at_line(&case, 3001), "expected 5 fields, found 4"],
        );
        assert!(!err.contains("oops"), "{variant:?}: {err}");
    }
    // Reversed: the earlier one is now the amount.
    let case = Case::with(big_log(
        10_000,
        &[
            (2999, "user2999,2025-03-05 10:00:00,oops,SMS,read"),
            (3000, "user3000,2025-03-05 10:00:00,1,SMS"),
            (9999, ",2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at(&case, 2999, 3, "total_price"), "found \"oops\""],
        );
    }
}

#[test]
fn unterminated_quote_in_a_later_chunk() {
    let case = Case::with(big_log(
        10_000,
        &[(6000, "user6000,\"2025-03-05 10:00:00,1,SMS,read")],
    ));
    for variant in READ_VARIANTS {
        expect_failure(&case, variant, 3, &[&at_line(&case, 6000), "quote"]);
    }
}

#[test]
fn a_quote_after_a_bad_row_still_has_the_block_read_quoted() {
    // Read quoted, the quote left open at line 9000 comes first (before
    // any row is read), whichever chunks the bad row at line 3000 stops.
    let case = Case::with(big_log(
        10_000,
        &[
            (3000, "user3000,2025-03-05 10:00:00,12.x5,SMS,read"),
            (9000, "user9000,\"2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(&case, variant, 3, &[&at_line(&case, 9000), "quote"]);
    }
    // Read quoted, a lone carriage return ends a record: line 3000 is
    // then short of fields, not a bad amount.
    let case = Case::with(big_log(
        10_000,
        &[
            (3000, "user3000,2025-03-05 10:00:00,1\r5,SMS,read"),
            (9000, "\"user9000\",2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at_line(&case, 3000), "expected 5 fields, found 3"],
        );
    }
}

#[test]
fn bad_row_read_from_stdin_names_stdin() {
    let log = big_log(
        10_000,
        &[(5000, "user5000,2025-03-05 10:00:00,12.x5,SMS,read")],
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    for variant in [&["--chunk-bytes", "4096"][..], &[]] {
        let out = segmint()
            .args(["features", "-", "-o"])
            .arg(&target)
            .args(variant)
            .write_stdin(log.clone())
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("<stdin>: line 5000, column 3 (total_price): "),
            "{}",
            stderr(&out)
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[test]
fn error_in_the_second_file_names_it() {
    let mut case = Case::new();
    case.add(
        "day1.csv",
        format!("{HEADER}u1,2025-01-01,1,SMS,read\nu2,2025-01-01,2,SMS,read\n"),
    );
    let second = case.add(
        "day2.csv",
        format!("{HEADER}u1,2025-01-02,1,SMS,read\nu2,2025-01-02,bad,SMS,read\n"),
    );
    let err = expect_failure(
        &case,
        &[],
        3,
        &[&format!(
            "{}: line 3, column 3 (total_price): ",
            second.display()
        )],
    );
    assert!(!err.contains("day1.csv"), "{err}");
    // A header problem in the second file names it too.
    let mut case = Case::new();
    case.add("day1.csv", format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let second = case.add("day2.csv", "user_id,when,total_price\nu1,2025-01-02,1\n");
    expect_failure(
        &case,
        &[],
        3,
        &[&second.display().to_string(), "\"created_at\"", "\"when\""],
    );
}

// -------------------------------------------------------------- usage errors

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
