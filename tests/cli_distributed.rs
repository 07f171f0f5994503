//! One run in pieces, without Spark: a generated log cut into 3 pieces by
//! user, each piece run on its own, gives what the whole log gives.
//! Features with one `--as-of`, `--window-start`, `--trend-days` and
//! `--channels`; scores against one `population`; `lloyd-step` and
//! `lloyd-merge` against the same commands on the whole table (bit for
//! bit but for the order of additions) and against `fit --init`. The
//! Spark stage itself is `spark_stage`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{fails, ok, segmint};

const AS_OF: &str = "2025-06-30T23:59:59Z";
const START: &str = "2025-04-01";
const TREND: &str = "35";

struct Run {
    dir: tempfile::TempDir,
    log: PathBuf,
    pieces: Vec<PathBuf>,
}

impl Run {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A generated log, and the same rows in 3 pieces by user (a hash of the
/// key, as a repartition by user does).
fn log_in_pieces() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    ok(&segmint()
        .args([
            "generate", "--users", "500", "--rows", "15000", "--seed", "5", "-q",
        ])
        .args(["-o", s(&log)])
        .output()
        .unwrap());
    let text = fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let user = header.split(',').position(|c| c == "user_id").unwrap();
    let mut pieces = vec![format!("{header}\n"); 3];
    for line in lines {
        let key = line.split(',').nth(user).unwrap();
        let h = key
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        pieces[(h % 3) as usize].push_str(&format!("{line}\n"));
    }
    let pieces = pieces
        .into_iter()
        .enumerate()
        .map(|(i, rows)| {
            let path = dir.path().join(format!("piece{i}.csv"));
            fs::write(&path, rows).unwrap();
            path
        })
        .collect();
    Run { dir, log, pieces }
}

/// A CSV's header and its rows sorted (pieces come in any order).
fn sorted_rows(paths: &[PathBuf]) -> (String, Vec<String>) {
    let mut header = String::new();
    let mut rows = Vec::new();
    for path in paths {
        let text = fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        header = lines.next().unwrap().to_string();
        rows.extend(lines.map(str::to_string));
    }
    rows.sort();
    (header, rows)
}

/// `features` of `input` into `out`, with one window for every piece.
fn write_features(input: &Path, out: &Path, extra: &[&str]) {
    ok(&segmint()
        .args(["features", s(input), "-o", s(out), "-q"])
        .args(window())
        .args(extra)
        .output()
        .unwrap());
}

/// The features of each piece, all with `channels`.
fn piece_features(run: &Run, channels: &str) -> Vec<PathBuf> {
    (run.pieces.iter().enumerate())
        .map(|(i, piece)| {
            let out = run.path(&format!("features{i}.csv"));
            write_features(piece, &out, &["--channels", channels]);
            out
        })
        .collect()
}

fn window() -> [&'static str; 6] {
    [
        "--as-of",
        AS_OF,
        "--window-start",
        START,
        "--trend-days",
        TREND,
    ]
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn centres(model: &Value) -> Vec<Vec<f64>> {
    model["method"]["centres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn gap(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs() / y.abs())
        .fold(0.0, f64::max)
}

#[test]
fn features_in_pieces_are_the_whole_logs() {
    let run = log_in_pieces();
    let whole = run.path("whole.csv");
    write_features(&run.log, &whole, &[]);
    let parts = piece_features(&run, "WhatsApp,Email,SMS,Call,Email");
    assert_eq!(sorted_rows(&parts), sorted_rows(&[whole]));
}

#[test]
fn window_and_channel_options_refuse_what_would_differ() {
    let run = log_in_pieces();
    let out = run.path("f.csv");
    let features = |extra: &[&str]| {
        segmint()
            .args(["features", s(&run.log), "-o", s(&out)])
            .args(extra)
            .output()
            .unwrap()
    };
    fails(
        &features(&["--channels", "Email,SMS"]),
        3,
        &["log.csv: channel", "is not one --channels lists"],
    );
    fails(
        &features(&["--window-start", "2025-07-01", "--as-of", AS_OF]),
        2,
        &["--window-start \"2025-07-01\" is after --as-of"],
    );
    fails(
        &features(&["--window-start", "April"]),
        2,
        &["--window-start \"April\""],
    );
    assert!(!out.exists());
    // A later start leaves the earlier rows out: they count as before it.
    let summary = ok(&features(&[
        "--window-start",
        "2025-06-01",
        "--format",
        "json",
        "-q",
    ]));
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["window_start"], "2025-06-01");
    assert!(
        summary["rows_before_since"].as_u64().unwrap() > 0,
        "{summary}"
    );
    // A channel listed but never seen is a column of zeros.
    ok(&features(&[
        "--channels",
        "Call,Email,Fax,SMS,WhatsApp",
        "-q",
    ]));
    let fax = crate::common::csv_column(&out, "share_Fax");
    assert!(fax.iter().all(|v| v == "0"), "{fax:?}");
}

/// `fit` on the whole log (a K-Means model of logs), then `score` of the
/// pieces against one population: the whole log's scores.
#[test]
fn scores_in_pieces_against_one_population_are_the_whole_logs() {
    let run = log_in_pieces();
    let model = run.path("model.json");
    ok(&segmint()
        .args(["fit", s(&run.log), "--k", "4", "--model", s(&model), "-q"])
        .args(["-o", s(&run.path("fit.csv"))])
        .args(window())
        .output()
        .unwrap());
    let features = run.path("features.csv");
    write_features(&run.log, &features, &[]);
    let population = run.path("population.json");
    ok(&segmint()
        .args([
            "population",
            "--features-input",
            s(&features),
            "--model",
            s(&model),
        ])
        .args(["-o", s(&population)])
        .output()
        .unwrap());
    let p = json(&population);
    assert_eq!(p["format"], "segmint-population");
    assert_eq!(p["rfm"]["recency"].as_array().unwrap().len(), 4);
    let whole = run.path("whole.csv");
    let window = ["--as-of", AS_OF, "--window-start", START];
    ok(&segmint()
        .args([
            "score",
            s(&run.log),
            "--model",
            s(&model),
            "-o",
            s(&whole),
            "-q",
        ])
        .args(window)
        .output()
        .unwrap());
    let mut parts = Vec::new();
    let mut alone = Vec::new();
    for (i, piece) in run.pieces.iter().enumerate() {
        let out = run.path(&format!("scores{i}.csv"));
        ok(&segmint()
            .args(["score", s(piece), "--model", s(&model), "-o", s(&out), "-q"])
            .args(["--population", s(&population)])
            .args(window)
            .output()
            .unwrap());
        parts.push(out);
        let out = run.path(&format!("alone{i}.csv"));
        ok(&segmint()
            .args(["score", s(piece), "--model", s(&model), "-o", s(&out), "-q"])
            .args(window)
            .output()
            .unwrap());
        alone.push(out);
    }
    assert_eq!(
        sorted_rows(&parts),
        sorted_rows(std::slice::from_ref(&whole))
    );
    // Without the population each piece ranks its own users.
    assert_ne!(sorted_rows(&alone), sorted_rows(&[whole]));
    // A file that is not a population is refused.
    fails(
        &segmint()
            .args([
                "score",
                s(&run.log),
                "--model",
                s(&model),
                "-o",
                s(&run.path("x.csv")),
            ])
            .args(["--population", s(&model)])
            .output()
            .unwrap(),
        3,
        &["not a population file"],
    );
}

/// Runs `lloyd-step` on every table of `tables` with `model`, then
/// `lloyd-merge` with `extra`; the merged model's JSON and the summary.
fn step(
    run: &Run,
    tables: &[PathBuf],
    model: &Path,
    out: &str,
    extra: &[&str],
) -> (PathBuf, Value) {
    let mut steps = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let path = run.path(&format!("{out}-step{i}.json"));
        ok(&segmint()
            .args([
                "lloyd-step",
                "--features-input",
                s(table),
                "--model",
                s(model),
            ])
            .args(["-o", s(&path)])
            .output()
            .unwrap());
        steps.push(path);
    }
    let next = run.path(&format!("{out}.json"));
    let summary = ok(&segmint()
        .arg("lloyd-merge")
        .args(steps.iter().map(|p| s(p)))
        .args(["--model", s(model), "-o", s(&next), "--format", "json"])
        .args(extra)
        .output()
        .unwrap());
    (next, serde_json::from_str(&summary).unwrap())
}

/// Lloyd to convergence from `model`'s centres, then the finishing pass.
fn lloyd(run: &Run, tables: &[PathBuf], start: &Path, name: &str) -> (PathBuf, usize) {
    let mut model = start.to_path_buf();
    for i in 1..=300 {
        let (next, summary) = step(run, tables, &model, &format!("{name}{i}"), &[]);
        model = next;
        if summary["converged"] == true {
            let (last, _) = step(run, tables, &model, &format!("{name}-final"), &["--finish"]);
            return (last, i);
        }
    }
    panic!("{name}: no convergence in 300 steps");
}

#[test]
fn lloyd_steps_in_pieces_are_one_lloyd() {
    let run = log_in_pieces();
    let tables = piece_features(&run, "Call,Email,SMS,WhatsApp");
    let whole = run.path("features.csv");
    write_features(&run.log, &whole, &[]);
    // The template: a fit on one piece (a sample), K = 3.
    let template = run.path("template.json");
    ok(&segmint()
        .args([
            "fit",
            s(&run.pieces[0]),
            "--k",
            "3",
            "--model",
            s(&template),
            "-q",
        ])
        .args(["-o", s(&run.path("sample.csv"))])
        .args(window())
        .output()
        .unwrap());
    // The whole data's scale, from the pieces' statistics.
    let init = run.path("init.csv");
    fs::write(&init, "f,m,a\n-0.5,-0.5,-0.5\n0.2,0.3,0.1\n1.5,1.5,1.5\n").unwrap();
    let (start, summary) = step(
        &run,
        &tables,
        &template,
        "rescaled",
        &["--rescale", "--init", s(&init)],
    );
    assert_eq!(summary["converged"], false);
    let (whole_start, _) = step(
        &run,
        std::slice::from_ref(&whole),
        &template,
        "whole-rescaled",
        &["--rescale", "--init", s(&init)],
    );
    let scaler = |m: &Value| m["scaler"].clone();
    let (a, b) = (json(&start), json(&whole_start));
    for (x, y) in ["mean", "std"].iter().flat_map(|k| {
        let (xa, ya) = (scaler(&a)[k].clone(), scaler(&b)[k].clone());
        (0..3).map(move |j| (xa[j].as_f64().unwrap(), ya[j].as_f64().unwrap()))
    }) {
        assert!((x - y).abs() <= 1e-14 * y.abs(), "{x} vs {y}");
    }
    // Lloyd in pieces and on the whole table, from the same start.
    let (final_model, n_pieces) = lloyd(&run, &tables, &start, "pieces");
    let (one, n_one) = lloyd(&run, std::slice::from_ref(&whole), &start, "one");
    assert_eq!(n_pieces, n_one);
    let (pieces, one) = (json(&final_model), json(&one));
    assert!(gap(&centres(&pieces), &centres(&one)) < 1e-12);
    assert_eq!(pieces["users"], one["users"]);
    // `fit` from the same start (its scaler and centres): it too sums in
    // f64 (in another order), so its centres agree to rounding, with the
    // same labels.
    let fit = run.path("fit.json");
    let fit_scores = run.path("fit-scores.csv");
    ok(&segmint()
        .args(["fit", "--features-input", s(&whole), "--k", "3", "-q"])
        .args([
            "--init",
            s(&start),
            "--model",
            s(&fit),
            "-o",
            s(&fit_scores),
        ])
        .output()
        .unwrap());
    assert!(gap(&centres(&pieces), &centres(&json(&fit))) < 1e-12);
    let scores = run.path("scores.csv");
    ok(&segmint()
        .args([
            "score",
            "--features-input",
            s(&whole),
            "--model",
            s(&final_model),
        ])
        .args(["-o", s(&scores), "-q"])
        .output()
        .unwrap());
    let segment = |p: &Path| crate::common::csv_column(p, "segment");
    assert_eq!(segment(&scores), segment(&fit_scores));
}

/// A features table and a K-Means model of it stopped after one Lloyd
/// iteration, so that a further step moves its centres.
fn table_and_model(run: &Run) -> (PathBuf, PathBuf) {
    let features = run.path("features.csv");
    ok(&segmint()
        .args(["features", s(&run.log), "-o", s(&features), "-q"])
        .output()
        .unwrap());
    let model = run.path("model.json");
    ok(&segmint()
        .args(["fit", "--features-input", s(&features), "--k", "3", "-q"])
        .args(["--max-iter", "1", "--model", s(&model)])
        .args(["-o", s(&run.path("fit.csv"))])
        .output()
        .unwrap());
    (features, model)
}

#[test]
fn lloyd_merge_refuses_steps_it_cannot_add_up() {
    let run = log_in_pieces();
    let (features, model) = table_and_model(&run);
    let (moved, _) = step(&run, std::slice::from_ref(&features), &model, "moved", &[]);
    // A step of another model's centres.
    let stale = run.path("moved-step0.json");
    let merge = |model: &Path, steps: &[&Path]| {
        segmint()
            .arg("lloyd-merge")
            .args(steps.iter().map(|p| s(p)))
            .args(["--model", s(model), "-o", s(&run.path("out.json"))])
            .output()
            .unwrap()
    };
    // moved-step0.json ran with `model`; merged into `moved`, it is stale.
    fails(&merge(&moved, &[&stale]), 3, &["a step of another model"]);
    fails(
        &merge(&model, &[&features]),
        3,
        &["not a result of `segmint lloyd-step`"],
    );
    // A centre no user is nearest to.
    let mut far = json(&model);
    far["method"]["centres"][2] = serde_json::json!([1e6, 1e6, 1e6]);
    let far_model = run.path("far.json");
    fs::write(&far_model, far.to_string()).unwrap();
    let (_, _) = step(
        &run,
        std::slice::from_ref(&features),
        &far_model,
        "far-probe",
        &["--finish"],
    );
    let far_step = run.path("far-probe-step0.json");
    fails(
        &merge(&far_model, &[&far_step]),
        3,
        &["segment 2", "has no users"],
    );
    assert!(!run.path("out.json").exists());
    // `fit --init` needs a K, and as many centres.
    let fit = |extra: &[&str]| {
        segmint()
            .args([
                "fit",
                "--features-input",
                s(&features),
                "-o",
                s(&run.path("f.csv")),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    fails(
        &fit(&["--init", s(&model), "--k", "auto"]),
        2,
        &["--init starts a K-Means fit"],
    );
    fails(
        &fit(&["--init", s(&model), "--k", "4"]),
        2,
        &["3 centres for --k 4"],
    );
}

#[test]
fn lloyd_step_cache_keeps_a_pieces_features() {
    let run = log_in_pieces();
    let (features, model) = table_and_model(&run);
    let cache = run.path("piece.points");
    let step = |input: &Path, model: &Path, out: &str| {
        segmint()
            .args([
                "lloyd-step",
                "--features-input",
                s(input),
                "--model",
                s(model),
            ])
            .args(["--cache", s(&cache), "-o", s(&run.path(out))])
            .output()
            .unwrap()
    };
    // The first step reads the table and writes the cache; the next reads
    // the cache alone (its input is not read: here, an empty file).
    ok(&step(&features, &model, "first.json"));
    assert!(cache.exists());
    let empty = run.path("empty.csv");
    fs::write(&empty, "").unwrap();
    ok(&step(&empty, &model, "second.json"));
    assert_eq!(
        fs::read(run.path("first.json")).unwrap(),
        fs::read(run.path("second.json")).unwrap()
    );
    // A model of other features is refused, and so is a damaged file.
    let mut other = json(&model);
    other["features"] = serde_json::json!(["frequency", "monetary", "recency_days"]);
    let other_model = run.path("other.json");
    fs::write(&other_model, other.to_string()).unwrap();
    fails(
        &step(&empty, &other_model, "x.json"),
        3,
        &["not a lloyd-step cache"],
    );
    let bytes = fs::read(&cache).unwrap();
    fs::write(&cache, &bytes[..bytes.len() - 3]).unwrap();
    fails(&step(&empty, &model, "x.json"), 3, &["truncated"]);
    assert!(!run.path("x.json").exists());
}
