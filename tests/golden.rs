//! What users see must not change by accident: every command's outputs on
//! the bundled sample and on a generated log, byte for byte, against the
//! files in `tests/fixtures/golden/` (timings and the like blanked out).
//!
//! After a change meant to alter outputs, rewrite them with
//! `SEGMINT_BLESS=1 cargo test --profile ci golden` and review the diff.

use crate::common;

use common::{ok, sample, segmint};

use std::fs;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// Timings and speeds, which change from run to run, and the thread
/// count, which changes from machine to machine, as `#`.
fn normalise(text: &str) -> String {
    let text = &blank_threads(text);
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        // `"seconds": <number>` in JSON.
        if text[i..].starts_with("\"seconds\": ") {
            out.push_str("\"seconds\": #");
            i += "\"seconds\": ".len();
            while i < bytes.len() && (bytes[i].is_ascii_digit() || b".e-+".contains(&bytes[i])) {
                i += 1;
            }
            continue;
        }
        // A decimal number followed by " s", " MB/s" or " MB" (a duration,
        // a speed, or a size the generator reports with its speed).
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let number = &text[start..i];
            let rest = &text[i..];
            let unit = [" s)", " s,", " s\n", " MB/s"]
                .iter()
                .find(|u| rest.starts_with(**u));
            if unit.is_some_and(|u| number.contains('.') || *u == " MB/s") {
                out.push('#');
            } else {
                out.push_str(number);
            }
            continue;
        }
        let c = text[i..].chars().next().expect("a char");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `cpu (2 threads)` as `cpu (# threads)`.
fn blank_threads(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("cpu (") {
        let (before, after) = rest.split_at(at + "cpu (".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(" thread") {
            out.push('#');
            rest = &after[digits..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Compares (or, with SEGMINT_BLESS=1, writes) one golden file.
#[track_caller]
fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    let actual = normalise(actual);
    if std::env::var("SEGMINT_BLESS").as_deref() == Ok("1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (SEGMINT_BLESS=1 writes it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or(expected.lines().count().min(actual.lines().count()), |l| l);
        panic!(
            "{name} changed at line {}:\n  was: {:?}\n  now: {:?}",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            actual.lines().nth(line).unwrap_or("")
        );
    }
}

/// Runs segmint in `dir` on the CPU; its standard output and error.
fn run(dir: &Path, args: &[&str]) -> (String, String) {
    let out = segmint()
        .current_dir(dir)
        .args(["--device", "cpu"])
        .args(args)
        .output()
        .unwrap();
    let stdout = ok(&out);
    (stdout, common::text(&out.stderr))
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap()
}

/// Every command on one log (`tx.csv` in `dir`), into golden files named
/// `<prefix>/...`.
fn every_command(dir: &Path, prefix: &str, split_at: &str) {
    let (out, _) = run(
        dir,
        &[
            "features",
            "tx.csv",
            "-o",
            "features.csv",
            "--format",
            "json",
        ],
    );
    check(
        &format!("{prefix}/features.csv"),
        &read(dir, "features.csv"),
    );
    check(&format!("{prefix}/features.json"), &out);

    let (out, _) = run(dir, &["sweep", "tx.csv", "-o", "sweep.csv"]);
    check(&format!("{prefix}/sweep.csv"), &read(dir, "sweep.csv"));
    check(&format!("{prefix}/sweep.txt"), &out);
    let (out, _) = run(dir, &["sweep", "tx.csv", "--k", "2..5", "--format", "json"]);
    check(&format!("{prefix}/sweep.json"), &out);

    let (out, _) = run(
        dir,
        &[
            "fit",
            "tx.csv",
            "-o",
            "scores.csv",
            "--model",
            "model.json",
            "--format",
            "json",
        ],
    );
    check(&format!("{prefix}/fit.json"), &out);
    check(&format!("{prefix}/scores.csv"), &read(dir, "scores.csv"));
    check(&format!("{prefix}/model.json"), &read(dir, "model.json"));
    let (out, _) = run(dir, &["fit", "tx.csv", "--k", "auto", "-o", "auto.csv"]);
    check(&format!("{prefix}/fit-auto.txt"), &out);
    check(&format!("{prefix}/fit-auto.csv"), &read(dir, "auto.csv"));

    let (out, _) = run(
        dir,
        &[
            "score",
            "tx.csv",
            "--model",
            "model.json",
            "-o",
            "rescored.csv",
            "--silhouette",
            "exact",
        ],
    );
    check(&format!("{prefix}/score.txt"), &out);
    check(
        &format!("{prefix}/rescored.csv"),
        &read(dir, "rescored.csv"),
    );
    // The same model as the version 2 file written before models named
    // their method places the same users in the same segments.
    fs::copy(
        golden_dir().join(prefix).join("model-v2.json"),
        dir.join("model-v2.json"),
    )
    .unwrap();
    let (out_v2, _) = run(
        dir,
        &[
            "score",
            "tx.csv",
            "--model",
            "model-v2.json",
            "-o",
            "rescored-v2.csv",
            "--silhouette",
            "exact",
        ],
    );
    // Segments and RFM as the version 3 model gives them, distances and
    // silhouettes to f32 precision (the version 2 file holds the centres
    // of a fit whose sums were f32 partial sums, 1e-7 from today's); the
    // churn columns follow the 7-day trend the old model knew, without
    // lifetime value (it has no fitted parameters).
    let columns = |text: &str, wanted: &[usize]| -> Vec<Vec<String>> {
        text.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                wanted.iter().map(|&c| fields[c].to_string()).collect()
            })
            .collect()
    };
    let (v2, v3) = (read(dir, "rescored-v2.csv"), read(dir, "rescored.csv"));
    let placed = [0, 1, 2, 5, 6, 7, 8];
    assert_eq!(
        columns(&v2, &placed),
        columns(&v3, &placed),
        "{prefix}: scores of the version 2 model"
    );
    for (a, b) in columns(&v2, &[3, 4])
        .iter()
        .zip(columns(&v3, &[3, 4]))
        .skip(1)
    {
        for (x, y) in a.iter().zip(&b) {
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                "{prefix}: version 2 distance or silhouette {x} vs {y}"
            );
        }
    }
    check(
        &format!("{prefix}/rescored-v2.csv"),
        &read(dir, "rescored-v2.csv"),
    );
    check(&format!("{prefix}/score-v2.txt"), &out_v2);

    let (out, _) = run(
        dir,
        &[
            "report",
            "tx.csv",
            "-o",
            "report.html",
            "--json",
            "summary.json",
        ],
    );
    check(&format!("{prefix}/report.txt"), &out);
    check(&format!("{prefix}/report.html"), &read(dir, "report.html"));
    check(
        &format!("{prefix}/summary.json"),
        &read(dir, "summary.json"),
    );

    let (out, _) = run(dir, &["transitions", "scores.csv", "rescored.csv"]);
    check(&format!("{prefix}/transitions.txt"), &out);
    let (out, err) = run(
        dir,
        &[
            "transitions",
            "tx.csv",
            "--split-at",
            split_at,
            "--format",
            "json",
        ],
    );
    check(&format!("{prefix}/transitions-split.json"), &out);
    check(&format!("{prefix}/transitions-split.err"), &err);
}

#[test]
fn outputs_on_the_sample_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(sample(), dir.path().join("tx.csv")).unwrap();
    every_command(dir.path(), "sample", "2025-06-01");
    let (out, _) = run(dir.path(), &["demo", "-o", "demo"]);
    check("sample/demo.txt", &out);
    for name in [
        "features.csv",
        "sweep.csv",
        "scores.csv",
        "model.json",
        "report.html",
        "summary.json",
    ] {
        check(
            &format!("demo/{name}"),
            &read(&dir.path().join("demo"), name),
        );
    }
}

#[test]
fn outputs_on_a_generated_log_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run(
        dir.path(),
        &[
            "generate", "--users", "300", "--rows", "20000", "--seed", "7", "-o", "tx.csv",
        ],
    );
    check("generated/generate.txt", &out);
    every_command(dir.path(), "generated", "2025-06-15");
}
