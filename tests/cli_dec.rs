//! Deep embedding clustering through the real binary (README, "Deep
//! embedding clustering"): the soft-assignment and latent columns, fit and
//! score agreeing, the same bytes for the same seed, the report's latent
//! space, and bad flags and damaged models refused.

use crate::common;

use common::{assert_memberships, csv_rows, fails, ok, segmint, zip_eq};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

/// A table of 600 users in three groups along a bent line, 4 features.
fn table(dir: &Path) -> PathBuf {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut body = String::from("user_id,a,b,c,d\n");
    for i in 0..600 {
        let g = (i % 3) as f64;
        let t = g * 2.0 + 0.6 * next();
        let v = [
            t,
            t * t * 0.5 + 0.3 * next(),
            (t * 1.3).sin() + 0.2 * next(),
            next(),
        ];
        let v: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
        body.push_str(&format!("u{i},{}\n", v.join(",")));
    }
    let path = dir.join("t.csv");
    fs::write(&path, body).unwrap();
    path
}

/// Small training so the tests stay quick.
const QUICK: [&str; 6] = [
    "--pretrain-epochs",
    "60",
    "--max-iter",
    "300",
    "--update-interval",
    "50",
];

fn fit(table: &Path, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (scores, model) = (
        dir.join(format!("{name}.csv")),
        dir.join(format!("{name}.json")),
    );
    let mut args = vec![
        "fit",
        "--features-input",
        table.to_str().unwrap(),
        "--method",
        "dec",
        "--k",
        "3",
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ];
    args.extend(QUICK);
    args.extend(extra);
    ok(&run(&args));
    (scores, model)
}

#[test]
fn scores_carry_soft_assignments_and_latent_codes_and_score_reproduces_them() {
    let dir = tempfile::tempdir().unwrap();
    let table = table(dir.path());
    let (scores, model) = fit(&table, dir.path(), "fit", &["--latent", "2"]);
    let (header, fitted) = csv_rows(&scores);
    assert_eq!(
        &header[..11],
        [
            "user_id",
            "segment",
            "segment_name",
            "distance",
            "probability",
            "p_0",
            "p_1",
            "p_2",
            "z_0",
            "z_1",
            "silhouette"
        ]
    );
    assert_memberships(&fitted, 3);
    let m: Value = serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    let method = &m["method"];
    assert_eq!(method["name"], "dec");
    assert_eq!(method["latent"], 2);
    assert_eq!(method["hidden"], serde_json::json!([64, 32]));
    // 4 -> 64 -> 32 -> 2.
    let layers = method["encoder"]["layers"].as_array().unwrap();
    let shapes: Vec<(u64, u64)> = layers
        .iter()
        .map(|l| {
            (
                l["inputs"].as_u64().unwrap(),
                l["outputs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shapes, [(4, 64), (64, 32), (32, 2)]);
    assert_eq!(layers[1]["weights"].as_array().unwrap().len(), 64 * 32);
    assert_eq!(method["latent_centres"].as_array().unwrap().len(), 3);
    assert!(method["pretrained_error"].as_f64().unwrap() < 0.5);
    let again = dir.path().join("again.csv");
    ok(&run(&[
        "score",
        "--features-input",
        table.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]));
    let (_, scored) = csv_rows(&again);
    for (a, b) in zip_eq(&fitted, &scored) {
        assert_eq!(a[..10], b[..10], "score places users as the fit did");
    }
    // A user's code does not depend on who is scored beside it: one user
    // alone, and a few, get the fit's bits.
    let text = fs::read_to_string(&table).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for picked in [vec![301], vec![1, 2, 3, 450, 599]] {
        let part = dir.path().join("part.csv");
        let mut body = format!("{}\n", lines[0]);
        for &i in &picked {
            body.push_str(&format!("{}\n", lines[i]));
        }
        fs::write(&part, body).unwrap();
        let out = dir.path().join("part_scores.csv");
        ok(&run(&[
            "score",
            "--features-input",
            part.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--silhouette",
            "none",
            "-o",
            out.to_str().unwrap(),
        ]));
        let (_, rows) = csv_rows(&out);
        for (row, &i) in zip_eq(&rows, &picked) {
            assert_eq!(row[..10], fitted[i - 1][..10], "user {i} scored apart");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_every_thread_count_and_another_seed_another_network() {
    let dir = tempfile::tempdir().unwrap();
    let table = table(dir.path());
    let (a, model_a) = fit(&table, dir.path(), "a", &["--seed", "3", "--threads", "1"]);
    let (b, model_b) = fit(&table, dir.path(), "b", &["--seed", "3", "--threads", "2"]);
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    assert_eq!(fs::read(&model_a).unwrap(), fs::read(&model_b).unwrap());
    let (_, model_c) = fit(&table, dir.path(), "c", &["--seed", "4"]);
    let encoder = |path: &Path| {
        let m: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        m["method"]["encoder"].clone()
    };
    assert_ne!(encoder(&model_a), encoder(&model_c));
}

#[test]
fn dec_flags_are_checked_and_damaged_models_refused() {
    let dir = tempfile::tempdir().unwrap();
    let table = table(dir.path());
    let t = table.to_str().unwrap();
    let o = dir.path().join("s.csv");
    let o = o.to_str().unwrap();
    let base = ["fit", "--features-input", t, "-o", o];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend(extra);
        run(&args)
    };
    fails(&with(&["--gamma", "1"]), 2, &["--gamma", "--method dec"]);
    fails(&with(&["--latent", "3"]), 2, &["--latent", "--method dec"]);
    fails(
        &with(&["--method", "dec", "--hidden", "64,0"]),
        2,
        &["--hidden", "64,0"],
    );
    fails(
        &with(&["--method", "dec", "--learning-rate", "0"]),
        2,
        &["--learning-rate", "above 0"],
    );
    fails(
        &with(&["--method", "dec", "--tol", "2"]),
        2,
        &["--tol", "0 to 1"],
    );
    fails(
        &with(&["--method", "dec", "--covariance", "full"]),
        2,
        &["--covariance"],
    );
    assert!(!Path::new(o).exists());

    // A learning rate that throws the weights past f32: an error, no
    // output.
    fails(
        &with(&["--method", "dec", "--learning-rate", "1e30"]),
        3,
        &["diverged", "--learning-rate"],
    );
    assert!(!Path::new(o).exists());

    let (_, model) = fit(&table, dir.path(), "m", &[]);
    let text = fs::read_to_string(&model).unwrap();
    let scored = dir.path().join("scored.csv");
    let score = |damaged: &Value| {
        let path = dir.path().join("damaged.json");
        fs::write(&path, damaged.to_string()).unwrap();
        run(&[
            "score",
            "--features-input",
            t,
            "--model",
            path.to_str().unwrap(),
            "-o",
            scored.to_str().unwrap(),
        ])
    };
    let mut short: Value = serde_json::from_str(&text).unwrap();
    short["method"]["encoder"]["layers"][1]["weights"]
        .as_array_mut()
        .unwrap()
        .pop();
    fails(&score(&short), 3, &["encoder layer 1", "64"]);
    let mut chain: Value = serde_json::from_str(&text).unwrap();
    chain["method"]["encoder"]["layers"][0]["inputs"] = Value::from(5);
    fails(&score(&chain), 3, &["encoder layer 0", "expected 4"]);
    let mut centres: Value = serde_json::from_str(&text).unwrap();
    centres["method"]["latent_centres"][0]
        .as_array_mut()
        .unwrap()
        .push(Value::from(0.5));
    fails(&score(&centres), 3, &["latent centres"]);
    assert!(!scored.exists());
}

#[test]
fn a_dec_report_shows_the_latent_space() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::sample();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let mut args = vec![
        "report",
        log.to_str().unwrap(),
        "--method",
        "dec",
        "--k",
        "3",
        "--k-range",
        "3",
        "-o",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend(QUICK);
    ok(&run(&args));
    let page = fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"latent\">"));
    assert!(page.contains("<figure id=\"chart-latent\">"));
    assert!(page.contains("The latent space"));
    let summary: Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let latent = &summary["segmentation"]["latent"];
    // The sample's 20 users, all drawn; every one in a segment of the fit.
    let points = latent["points"].as_array().unwrap();
    assert_eq!(points.len(), 20);
    assert!(points.iter().all(|p| p["segment"].as_u64().unwrap() < 3));
    let explained: Vec<f64> = latent["explained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(explained[0] >= explained[1] && explained[0] + explained[1] <= 1.0 + 1e-9);
}
