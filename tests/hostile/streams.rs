//! Closed and full standard streams, and signals: errors where they are
//! failures, quiet where a reader has gone, no temporary file left behind.

use super::*;

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
