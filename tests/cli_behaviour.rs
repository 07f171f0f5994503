//! Behaviour of the binary on good input (README, "Command reference"): deterministic
//! `generate`, `features` giving the same bytes whatever the input path
//! (file, standard input, memory map or reads), thread count and chunking,
//! `-o -`, the JSON summary, and atomic replacement of the output file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

fn segmint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_segmint"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}; stderr:\n{}",
        out.status.code(),
        stderr(out)
    );
}

/// `segmint generate <args> -o <path>`, checked.
fn generate_to(path: &Path, args: &[&str]) -> Vec<u8> {
    let out = segmint()
        .arg("generate")
        .args(args)
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    check_ok(&out, &format!("generate {args:?}"));
    fs::read(path).unwrap()
}

/// `segmint features <inputs> -o <out> <args>`, checked; the output bytes.
fn features_to(inputs: &[&Path], out_path: &Path, args: &[&str]) -> Vec<u8> {
    let out = segmint()
        .arg("features")
        .args(inputs)
        .arg("-o")
        .arg(out_path)
        .args(args)
        .output()
        .unwrap();
    check_ok(&out, &format!("features {args:?}"));
    fs::read(out_path).unwrap()
}

/// A generated log of about 20k rows in a fresh folder.
fn log_20k() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tx.csv");
    generate_to(
        &path,
        &[
            "--users", "700", "--rows", "20000", "--days", "60", "--seed", "7",
        ],
    );
    (dir, path)
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

// ------------------------------------------------------------------ generate

#[test]
fn generate_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--users", "50", "--rows", "3000", "--seed", "11"];
    let a = generate_to(&dir.path().join("a.csv"), &args);
    let b = generate_to(&dir.path().join("b.csv"), &args);
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, different bytes");

    let other = generate_to(
        &dir.path().join("c.csv"),
        &["--users", "50", "--rows", "3000", "--seed", "12"],
    );
    assert_ne!(a, other, "another seed gave the same bytes");

    let text = String::from_utf8(a.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3001, "--rows rows plus a header");
    assert_eq!(
        lines[0],
        "transaction_id,user_id,created_at,channel,status,total_price"
    );
    assert!(text.ends_with('\n'));
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), 6, "{line}");
    }
    let users: BTreeSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(
        users.len() <= 50 && users.len() > 1,
        "{} distinct users",
        users.len()
    );

    // Thread count does not change a byte.
    for threads in ["1", "2", "3"] {
        let out = segmint()
            .args(["--threads", threads, "generate"])
            .args(args)
            .arg("-o")
            .arg(dir.path().join("t.csv"))
            .output()
            .unwrap();
        check_ok(&out, "generate --threads");
        assert_eq!(
            fs::read(dir.path().join("t.csv")).unwrap(),
            a,
            "--threads {threads} changed the bytes"
        );
    }

    // Standard output carries the same bytes.
    let out = segmint()
        .arg("generate")
        .args(args)
        .args(["-o", "-"])
        .output()
        .unwrap();
    check_ok(&out, "generate -o -");
    assert_eq!(out.stdout, a, "-o - differs from the file");
}

#[test]
fn generate_options_shape_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = generate_to(
        &dir.path().join("g.csv"),
        &[
            "--users",
            "5",
            "--rows",
            "400",
            "--days",
            "3",
            "--start",
            "2024-02-28",
        ],
    );
    let text = String::from_utf8(bytes).unwrap();
    let dates: BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| &l.split(',').nth(2).unwrap()[..10])
        .collect();
    let allowed = BTreeSet::from(["2024-02-28", "2024-02-29", "2024-03-01"]);
    assert!(
        dates.is_subset(&allowed),
        "dates outside --start/--days: {dates:?}"
    );
    let users: BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(users.len() <= 5, "{users:?}");

    for bad in [
        &["--users", "0", "--rows", "10"][..],
        &["--users", "5", "--rows", "10", "--start", "2024-13-01"],
        &["--users", "5", "--rows", "10", "--days", "0"],
    ] {
        let target = dir.path().join("bad.csv");
        let out = segmint()
            .arg("generate")
            .args(bad)
            .arg("-o")
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(!target.exists(), "{bad:?} left a file");
    }
}

// ------------------------------------------------------------------ features

#[test]
fn features_identical_across_input_paths_threads_and_chunks() {
    let (dir, log) = log_20k();
    let out = dir.path().join("f.csv");
    let reference = features_to(&[&log], &out, &[]);
    let text = std::str::from_utf8(&reference).unwrap();
    assert!(
        text.starts_with("user_id,frequency,monetary,"),
        "{text:.200}"
    );
    assert!(text.lines().count() > 100, "too few users");

    let variants: &[&[&str]] = &[
        &["--no-mmap"],
        &["--threads", "1"],
        &["--threads", "2"],
        &["--chunk-bytes", "100"],
        &["--chunk-bytes", "100", "--threads", "1"],
        &["--chunk-bytes", "4096", "--no-mmap", "--threads", "2"],
        &["--chunk-bytes", "1"],
    ];
    for args in variants {
        // `--threads` is global: put it before the subcommand too.
        let got = features_to(&[&log], &out, args);
        assert!(
            got == reference,
            "features {args:?} differ from the default run"
        );
    }
    let out_cmd = segmint()
        .args(["--threads", "1", "features"])
        .arg(&log)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    check_ok(&out_cmd, "--threads before the subcommand");
    assert!(fs::read(&out).unwrap() == reference);
}

#[test]
fn features_from_stdin_and_to_stdout() {
    let (dir, log) = log_20k();
    let reference = features_to(&[&log], &dir.path().join("f.csv"), &[]);
    let input = fs::read(&log).unwrap();

    // `-` as input.
    for args in [&[][..], &["--chunk-bytes", "100"], &["--threads", "1"]] {
        let out_path = dir.path().join("stdin.csv");
        let out = segmint()
            .args(["features", "-", "-o"])
            .arg(&out_path)
            .args(args)
            .write_stdin(input.clone())
            .output()
            .unwrap();
        check_ok(&out, "features -");
        assert!(
            fs::read(&out_path).unwrap() == reference,
            "stdin {args:?} differs from the file"
        );
    }

    // `-o -`: the CSV and nothing else on stdout.
    let out = segmint()
        .arg("features")
        .arg(&log)
        .args(["-o", "-"])
        .output()
        .unwrap();
    check_ok(&out, "features -o -");
    assert!(out.stdout == reference, "-o - differs from the file");

    // Both at once: a pipe stage.
    let out = segmint()
        .args(["features", "-", "-o", "-", "--quiet"])
        .write_stdin(input)
        .output()
        .unwrap();
    check_ok(&out, "features - -o -");
    assert!(out.stdout == reference, "- -o - differs from the file");
}

#[test]
fn several_inputs_are_one_log() {
    // Split one log after its header into two partitions; the result is
    // the same as reading the whole.
    let (dir, log) = log_20k();
    let reference = features_to(&[&log], &dir.path().join("f.csv"), &[]);
    let text = fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // Interleave rows so each user is in both parts.
    let (mut a, mut b) = (format!("{header}\n"), format!("{header}\n"));
    for (i, row) in rows.iter().enumerate() {
        let part = if i % 3 == 0 { &mut a } else { &mut b };
        part.push_str(row);
        part.push('\n');
    }
    let (pa, pb) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    fs::write(&pa, a).unwrap();
    fs::write(&pb, b).unwrap();
    let got = features_to(&[&pa, &pb], &dir.path().join("ab.csv"), &[]);
    assert!(got == reference, "two partitions differ from the whole log");
    let got = features_to(
        &[&pb, &pa],
        &dir.path().join("ba.csv"),
        &["--chunk-bytes", "512"],
    );
    assert!(got == reference, "input order changed the result");
}

#[test]
fn json_summary() {
    let (dir, log) = log_20k();
    let out_path = dir.path().join("f.csv");
    let out = segmint()
        .arg("features")
        .arg(&log)
        .arg("-o")
        .arg(&out_path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    check_ok(&out, "--format json");
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is valid JSON");
    let csv = fs::read_to_string(&out_path).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let users = csv.lines().count() - 1;
    assert_eq!(summary["users"].as_u64(), Some(users as u64), "{summary}");
    assert_eq!(summary["rows"].as_u64(), Some(20_000), "{summary}");
    let channels: Vec<&str> = summary["channels"]
        .as_array()
        .expect("channels is an array")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let share_columns: Vec<&str> = header
        .iter()
        .filter_map(|h| h.strip_prefix("share_"))
        .collect();
    assert_eq!(channels, share_columns, "{summary}");
    let mut sorted = channels.clone();
    sorted.sort();
    assert_eq!(channels, sorted);
    assert_eq!(
        BTreeSet::from_iter(channels.iter().copied()),
        BTreeSet::from(["Call", "Email", "SMS", "WhatsApp"])
    );
    assert_eq!(summary["skipped_rows"].as_u64(), Some(0), "{summary}");
}

#[test]
fn quiet_prints_nothing_on_success() {
    let (dir, log) = log_20k();
    let out = segmint()
        .arg("--quiet")
        .arg("features")
        .arg(&log)
        .arg("-o")
        .arg(dir.path().join("f.csv"))
        .output()
        .unwrap();
    check_ok(&out, "--quiet");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(&out));
    // Without --quiet a summary is printed for people.
    let out = segmint()
        .arg("features")
        .arg(&log)
        .arg("-o")
        .arg(dir.path().join("f.csv"))
        .output()
        .unwrap();
    check_ok(&out, "features");
    assert!(String::from_utf8_lossy(&out.stdout).contains("users"));
}

// ------------------------------------------------------------ atomic output

#[test]
fn existing_output_is_fully_replaced() {
    let (dir, log) = log_20k();
    let fresh_dir = tempfile::tempdir().unwrap();
    let reference = features_to(&[&log], &fresh_dir.path().join("f.csv"), &[]);

    let out_path = dir.path().join("f.csv");
    // Longer than the real output: a non-truncating write would leave a tail.
    let old = vec![b'#'; reference.len() * 2 + 12345];
    fs::write(&out_path, &old).unwrap();
    let got = features_to(&[&log], &out_path, &[]);
    assert!(got == reference, "the old file was not fully replaced");
    assert_eq!(
        names_in(dir.path()),
        BTreeSet::from(["f.csv".to_string(), "tx.csv".to_string()]),
        "temporary file left behind"
    );

    // The same for generate.
    let g = dir.path().join("g.csv");
    fs::write(&g, vec![b'x'; 1 << 20]).unwrap();
    let bytes = generate_to(&g, &["--users", "3", "--rows", "10"]);
    assert!(bytes.starts_with(b"transaction_id,"));
    assert!(bytes.len() < 4096, "the old 1 MiB file was not replaced");
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 11);
}

#[test]
fn failing_run_leaves_existing_output_untouched() {
    let (dir, log) = log_20k();
    let out_path = dir.path().join("f.csv");
    let old = b"previous,results\n1,2\n".to_vec();
    fs::write(&out_path, &old).unwrap();

    // A bad row deep in the log, found after earlier chunks were read.
    let text = fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len();
    lines[n - 10] = "t_bad,u_bad,2025-05-01 10:00:00,SMS,read,not-a-price".into();
    let bad = dir.path().join("bad.csv");
    fs::write(&bad, lines.join("\n") + "\n").unwrap();

    for args in [&[][..], &["--chunk-bytes", "1000"], &["--no-mmap"]] {
        let out = segmint()
            .arg("features")
            .arg(&bad)
            .arg("-o")
            .arg(&out_path)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("line {}, column 6 (total_price)", n - 9)),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            fs::read(&out_path).unwrap(),
            old,
            "{args:?}: output touched"
        );
    }
    // A usage error and a missing input leave it alone too.
    for (args, code) in [
        (vec!["--as-of".to_string(), "garbage".into()], 2),
        (vec![], 4),
    ] {
        let input = if code == 4 {
            dir.path().join("missing.csv")
        } else {
            log.clone()
        };
        let out = segmint()
            .arg("features")
            .arg(&input)
            .arg("-o")
            .arg(&out_path)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert_eq!(fs::read(&out_path).unwrap(), old);
    }
    assert_eq!(
        names_in(dir.path()),
        BTreeSet::from(["bad.csv".into(), "f.csv".into(), "tx.csv".to_string()]),
        "temporary file left behind"
    );
}

#[test]
fn output_file_is_readable_by_others() {
    // Written through a temporary file, but an ordinary file in the end.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let (dir, log) = log_20k();
        let out_path = dir.path().join("f.csv");
        features_to(&[&log], &out_path, &[]);
        let mode = fs::metadata(&out_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "mode {mode:o}");
    }
}

#[test]
fn time_format_is_found_past_the_first_window() {
    // 5 MiB of rows whose times no format reads, then one that reads:
    // reading starts with a 4 MiB window, and the time format must still
    // be found within a whole (32 MiB) window, as it was before, whether
    // the file is mapped, read or piped in.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("late_times.csv");
    let mut text = String::from("user_id,created_at,total_price\n");
    let mut bad = 0;
    while text.len() < 5 << 20 {
        text.push_str("u1,soon,1.5\n");
        bad += 1;
    }
    text.push_str("u2,2025-04-01 10:00:00,2\n");
    fs::write(&log, &text).unwrap();
    let skip = ["--skip-bad-rows", "--quiet", "--format", "json"];
    let summary = |out: &Output| -> serde_json::Value {
        check_ok(out, "features --skip-bad-rows");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for read in [&[][..], &["--no-mmap"]] {
        let out = segmint()
            .arg("features")
            .arg(&log)
            .arg("-o")
            .arg(dir.path().join("f.csv"))
            .args(skip)
            .args(read)
            .output()
            .unwrap();
        let json = summary(&out);
        assert_eq!(json["rows"], 1, "{read:?}");
        assert_eq!(json["skipped_rows"], bad, "{read:?}");
    }
    let out = segmint()
        .args(["features", "-", "-o"])
        .arg(dir.path().join("stdin.csv"))
        .args(skip)
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(summary(&out)["rows"], 1, "stdin");
    // Without skipping, the first row is the error, as an unreadable time.
    let out = segmint()
        .arg("features")
        .arg(&log)
        .arg("-o")
        .arg(dir.path().join("strict.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("cannot tell the time format"),
        "{}",
        stderr(&out)
    );
}
