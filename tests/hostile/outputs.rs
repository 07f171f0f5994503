//! Outputs that are devices, pipes, links, inputs or each other, and runs
//! that fail part-way: no user file is ever lost.

use super::*;

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
