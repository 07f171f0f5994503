//! Bad input through the `segmint features` binary (README, "Input" and "Bad input and exit codes"):
//! the exit code, a message naming the file, the line, the column (number
//! and header name) where one field is to blame and what was expected, and
//! no output file (nor a stray temporary file) left behind.

mod big_inputs;
mod files;
mod rows;
mod usage;

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
