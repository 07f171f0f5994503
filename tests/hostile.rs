//! What a careless or hostile user does, through the real binary: outputs
//! that are devices, pipes, links, inputs or each other; failures part-way
//! through; closed and full standard streams; signals; absurd flags and
//! extreme values; damaged model and scores files. Each case once lost
//! data, panicked or reported numbers it should not have.

use crate::common;

use common::{fails, ok, sample, segmint, text};

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// A folder holding a copy of the bundled sample as `tx.csv`.
fn with_sample() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tx.csv");
    fs::copy(sample(), &log).unwrap();
    (dir, log)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A character device to write to as an output, made in `dir` where this
/// process may (as root) so that a regression replacing devices with
/// plain files cannot damage the machine's own; else the system's.
fn device(dir: &Path, name: &str, minor: u32) -> PathBuf {
    let own = dir.join(name);
    let made = Command::new("mknod")
        .args(["-m", "666"])
        .arg(&own)
        .args(["c", "1", &minor.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        own
    } else {
        Path::new("/dev").join(name)
    }
}

/// `/dev/null`, or one like it (see [`device`]).
fn null_device(dir: &Path) -> PathBuf {
    device(dir, "null", 3)
}

/// `/dev/full`, or one like it (see [`device`]).
fn full_device(dir: &Path) -> PathBuf {
    device(dir, "full", 7)
}

/// The binary as a plain process, for streams assert_cmd cannot give.
fn process() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_segmint"));
    c.arg("--device").arg("cpu");
    c
}

// ------------------------------------------------------------- targets

#[test]
fn devices_and_pipes_are_written_in_place() {
    let (dir, log) = with_sample();
    let devices = tempfile::tempdir().unwrap();
    let (null, full) = (null_device(devices.path()), full_device(devices.path()));
    // /dev/null stays a device.
    ok(&segmint()
        .args(["features", "-q", "-o"])
        .arg(&null)
        .arg(&log)
        .output()
        .unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata(&null).unwrap().file_type().is_char_device());
        // A named pipe gets the CSV and stays a pipe.
        let fifo = dir.path().join("features.pipe");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                fs::File::open(fifo)
                    .unwrap()
                    .read_to_end(&mut bytes)
                    .unwrap();
                bytes
            })
        };
        ok(&segmint()
            .args(["features", "-q", "-o"])
            .arg(&fifo)
            .arg(&log)
            .output()
            .unwrap());
        let piped = reader.join().unwrap();
        assert!(piped.starts_with(b"user_id,frequency,monetary"));
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
    // A full device is a write error, named.
    fails(
        &segmint()
            .args(["features", "-q", "-o"])
            .arg(&full)
            .arg(&log)
            .output()
            .unwrap(),
        4,
        &[&format!("cannot write {}", full.display())],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata(&full).unwrap().file_type().is_char_device());
    }
}

#[cfg(unix)]
#[test]
fn a_link_is_followed_not_replaced() {
    let (dir, log) = with_sample();
    let target = dir.path().join("real.csv");
    fs::write(&target, "old\n").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    ok(&segmint()
        .args(["features", "-q", "-o"])
        .arg(&link)
        .arg(&log)
        .output()
        .unwrap());
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read(&target).unwrap().starts_with(b"user_id,"));
    // A dangling link creates its target.
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink("new.csv", &dangling).unwrap();
    ok(&segmint()
        .args(["features", "-q", "-o"])
        .arg(&dangling)
        .arg(&log)
        .output()
        .unwrap());
    assert!(
        fs::read(dir.path().join("new.csv"))
            .unwrap()
            .starts_with(b"user_id,")
    );
    assert_eq!(
        names_in(dir.path()),
        ["dangling.csv", "link.csv", "new.csv", "real.csv", "tx.csv"]
    );
}

#[test]
fn an_input_is_never_an_output() {
    let (dir, log) = with_sample();
    let before = fs::read(&log).unwrap();
    let model = dir.path().join("model.json");
    ok(&segmint()
        .args(["--device", "cpu", "fit", "-q", "-o"])
        .arg(dir.path().join("s.csv"))
        .arg("--model")
        .arg(&model)
        .arg(&log)
        .output()
        .unwrap());
    let model_before = fs::read(&model).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec!["features".into(), s(&log), "-o".into(), s(&log)],
        vec!["report".into(), s(&log), "-o".into(), s(&log)],
        vec![
            "report".into(),
            s(&log),
            "-o".into(),
            "r.html".into(),
            "--json".into(),
            s(&log),
        ],
        vec![
            "fit".into(),
            s(&log),
            "-o".into(),
            "x.csv".into(),
            "--model".into(),
            s(&log),
        ],
        vec![
            "score".into(),
            s(&log),
            "--model".into(),
            s(&model),
            "-o".into(),
            s(&log),
        ],
        vec![
            "score".into(),
            s(&log),
            "--model".into(),
            s(&model),
            "-o".into(),
            s(&model),
        ],
    ];
    for args in &cases {
        let out = segmint()
            .current_dir(dir.path())
            .args(["--device", "cpu"])
            .args(args)
            .output()
            .unwrap();
        fails(&out, 2, &["also an input", "never writes over its inputs"]);
    }
    // Through a symbolic link and a hard link.
    #[cfg(unix)]
    {
        let soft = dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&log, &soft).unwrap();
        let hard = dir.path().join("hard.csv");
        fs::hard_link(&log, &hard).unwrap();
        for output in [&soft, &hard] {
            fails(
                &segmint()
                    .arg("features")
                    .arg(&log)
                    .arg("-o")
                    .arg(output)
                    .output()
                    .unwrap(),
                2,
                &["also an input"],
            );
        }
        // Standard input that is the file.
        fails(
            &process()
                .args(["features", "-", "-o"])
                .arg(&log)
                .stdin(fs::File::open(&log).unwrap())
                .output()
                .unwrap(),
            2,
            &["standard input"],
        );
    }
    assert_eq!(fs::read(&log).unwrap(), before, "the log was overwritten");
    assert_eq!(fs::read(&model).unwrap(), model_before);
}

#[test]
fn two_outputs_of_a_run_are_never_one_file() {
    let (dir, log) = with_sample();
    for args in [
        vec!["fit", "-o", "x.csv", "--model", "x.csv"],
        vec!["fit", "-o", "x.csv", "--model", "./x.csv"],
        vec!["report", "-o", "r.html", "--json", "r.html"],
        vec!["report", "-o", "-", "--json", "-"],
    ] {
        let out = segmint()
            .current_dir(dir.path())
            .args(["--device", "cpu"])
            .args(&args)
            .arg(&log)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(names_in(dir.path()), ["tx.csv"]);
}

#[test]
fn a_failed_run_replaces_none_of_its_outputs() {
    let (dir, log) = with_sample();
    let devices = tempfile::tempdir().unwrap();
    let full = full_device(devices.path());
    let report = dir.path().join("r.html");
    let scores = dir.path().join("s.csv");
    fs::write(&report, "earlier report").unwrap();
    fs::write(&scores, "earlier scores").unwrap();
    // The second output fails after the work: the first is not replaced.
    fails(
        &segmint()
            .args(["--device", "cpu", "report", "-q", "-o"])
            .arg(&report)
            .arg("--json")
            .arg(&full)
            .arg(&log)
            .output()
            .unwrap(),
        4,
        &["No space left"],
    );
    fails(
        &segmint()
            .args(["--device", "cpu", "fit", "-q", "-o"])
            .arg(&scores)
            .arg("--model")
            .arg(&full)
            .arg(&log)
            .output()
            .unwrap(),
        4,
        &["No space left"],
    );
    // An output that cannot be made fails before any work.
    fails(
        &segmint()
            .args(["--device", "cpu", "report", "-q", "-o"])
            .arg(&report)
            .arg("--json")
            .arg(dir.path().join("missing/summary.json"))
            .arg(&log)
            .output()
            .unwrap(),
        4,
        &["missing/summary.json"],
    );
    assert_eq!(fs::read_to_string(&report).unwrap(), "earlier report");
    assert_eq!(fs::read_to_string(&scores).unwrap(), "earlier scores");
    assert_eq!(names_in(dir.path()), ["r.html", "s.csv", "tx.csv"]);
}

#[cfg(unix)]
#[test]
fn permissions_carry_over_and_read_only_files_stay() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, log) = with_sample();
    let private = dir.path().join("private.csv");
    fs::write(&private, "old").unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    ok(&segmint()
        .args(["features", "-q", "-o"])
        .arg(&private)
        .arg(&log)
        .output()
        .unwrap());
    let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(fs::read(&private).unwrap().starts_with(b"user_id,"));

    let locked = dir.path().join("locked.csv");
    fs::write(&locked, "keep me").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
    fails(
        &segmint()
            .args(["features", "-q", "-o"])
            .arg(&locked)
            .arg(&log)
            .output()
            .unwrap(),
        4,
        &["read-only"],
    );
    assert_eq!(fs::read_to_string(&locked).unwrap(), "keep me");
}

// ------------------------------------------------------- standard streams

/// Runs segmint with standard output on /dev/full.
fn into_full(args: &[&str]) -> std::process::Output {
    process()
        .args(args)
        .stdout(fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs segmint with standard output a pipe whose reader has gone.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = process()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn standard_output_failures_are_errors_and_closed_pipes_are_not() {
    let (dir, log) = with_sample();
    let log = log.to_str().unwrap();
    let scores = dir.path().join("s.csv");
    let scores = scores.to_str().unwrap();
    let out_csv = dir.path().join("out.csv");
    let out_csv = out_csv.to_str().unwrap();
    ok(&segmint()
        .args(["--device", "cpu", "fit", "-q", log, "-o", scores])
        .output()
        .unwrap());
    let demo = dir.path().join("demo");
    let cases: Vec<Vec<&str>> = vec![
        vec!["features", log, "-o", out_csv, "--format", "json"],
        vec!["features", log, "-o", "-"],
        vec!["sweep", log, "--k", "2..4"],
        vec!["fit", log, "-o", out_csv],
        vec!["transitions", scores, scores],
        vec!["devices"],
        vec!["demo", "-o", demo.to_str().unwrap()],
        vec!["generate", "--users", "5", "--rows", "50", "-o", "-"],
        vec!["--help"],
    ];
    for args in &cases {
        let full = into_full(args);
        let err = text(&full.stderr);
        assert_eq!(
            full.status.code(),
            Some(4),
            "{args:?} into /dev/full: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] != "--help" {
            assert!(
                err.contains("cannot write standard output"),
                "{args:?}: {err}"
            );
        }
        let closed = into_closed_pipe(args);
        let err = text(&closed.stderr);
        assert_eq!(
            closed.status.code(),
            Some(0),
            "{args:?} into a closed pipe: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

// ---------------------------------------------------------------- signals

#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_no_temporary_file() {
    for (named, signal) in [(true, "INT"), (true, "TERM"), (false, "INT")] {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("big.csv");
        let mut child = process()
            .args(["generate", "--users", "100000", "--rows", "100000000", "-o"])
            .arg(&output)
            .env("SEGMINT_NAMED_TEMP_FILES", if named { "1" } else { "0" })
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Until bytes are being written (a named temporary file exists and
        // grows), or a while for the unnamed kind.
        let started = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let growing = fs::read_dir(dir.path())
                .unwrap()
                .any(|e| e.unwrap().metadata().unwrap().len() > 1 << 20);
            if growing || (!named && started.elapsed().as_millis() > 800) {
                break;
            }
            assert!(started.elapsed().as_secs() < 60, "nothing was written");
        }
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        let expected = if signal == "INT" { 2 } else { 15 };
        assert_eq!(status.signal(), Some(expected), "{status:?}");
        assert!(
            names_in(dir.path()).is_empty(),
            "{:?}",
            names_in(dir.path())
        );
    }
}

#[test]
fn a_piped_log_read_twice_leaves_no_copy() {
    let (dir, log) = with_sample();
    let tmp = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.html");
    let mut child = process()
        .args(["report", "-q", "-", "-o"])
        .arg(&report)
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&fs::read(&log).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        fs::read_to_string(&report)
            .unwrap()
            .contains("&lt;stdin&gt;")
    );
    assert!(
        names_in(tmp.path()).is_empty(),
        "{:?}",
        names_in(tmp.path())
    );
    // A bad row of standard input is named as such, not by a copy.
    let out = segmint()
        .args(["--device", "cpu", "report", "-", "-o"])
        .arg(&report)
        .env("TMPDIR", tmp.path())
        .write_stdin("user_id,created_at,total_price\nu1,2025-01-01,1\nu2,2025-01-02,oops\n")
        .output()
        .unwrap();
    fails(&out, 3, &["<stdin>: line 3, column 3 (total_price)"]);
}

#[cfg(unix)]
#[test]
fn a_named_pipe_can_be_read_twice() {
    let (dir, log) = with_sample();
    let fifo = dir.path().join("log.pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let (fifo, log) = (fifo.clone(), log.clone());
        std::thread::spawn(move || {
            fs::OpenOptions::new()
                .write(true)
                .open(fifo)
                .unwrap()
                .write_all(&fs::read(log).unwrap())
                .unwrap();
        })
    };
    let summary = |input: &Path, name: &str| -> Value {
        let json = dir.path().join(name);
        ok(&segmint()
            .args(["--device", "cpu", "report", "-q", "-o"])
            .arg(dir.path().join(format!("{name}.html")))
            .arg("--json")
            .arg(&json)
            .arg(input)
            .output()
            .unwrap());
        serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap()
    };
    let piped = summary(&fifo, "piped.json");
    writer.join().unwrap();
    let direct = summary(&log, "direct.json");
    assert_eq!(piped["kpis"], direct["kpis"]);
    assert_eq!(piped["channels"], direct["channels"]);
    assert_eq!(
        piped["segmentation"]["profiles"],
        direct["segmentation"]["profiles"]
    );
}

// ----------------------------------------------------------- flags and data

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
