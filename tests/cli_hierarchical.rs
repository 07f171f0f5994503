//! Hierarchical segments through the real binary (README, "Hierarchical
//! segments"): a fit's segments are the tree's cut (SciPy's, checked in
//! reference_hierarchical), the model places new users at the nearest
//! segment centroid, every K of a sweep comes from one tree, and bad flags
//! or sizes are refused before any work.

use crate::common;

use common::{fails, ok, sample, segmint};

use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

fn column(path: &Path, name: &str) -> Vec<String> {
    common::csv_column(path, name)
}

/// A feature table: `groups` well-separated groups of users on 2 features
/// (a plain LCG, the same file everywhere).
fn table(dir: &Path, n: usize, groups: usize) -> std::path::PathBuf {
    let mut state = 5u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut body = String::from("user_id,f0,f1\n");
    for i in 0..n {
        let g = (i % groups) as f64;
        body.push_str(&format!(
            "u{i:05},{},{}\n",
            g * 10.0 + next(),
            (g * 7.0) % 13.0 + next()
        ));
    }
    let path = dir.join("table.csv");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_tree_cut_at_k_is_the_segments_and_score_places_new_users() {
    let dir = tempfile::tempdir().unwrap();
    let input = table(dir.path(), 600, 4);
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    for linkage in ["ward", "average", "complete", "single"] {
        let out = run(&[
            "fit",
            "-q",
            "--method",
            "hierarchical",
            "--linkage",
            linkage,
            "--k",
            "4",
            "--features-input",
            input.to_str().unwrap(),
            "-o",
            scores.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
        // Four separated groups: each a segment of 150.
        assert_eq!(
            summary["segment_sizes"],
            serde_json::json!([150, 150, 150, 150])
        );
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
        assert_eq!(m["method"]["name"], "hierarchical");
        assert_eq!(m["method"]["linkage"], linkage);
        assert_eq!(m["method"]["micro_clusters"], Value::Null);
        let top = m["method"]["top"].as_array().unwrap();
        assert_eq!(top.len(), 30);
        assert_eq!(top.last().unwrap()["size"], 600);
        // Scoring the same users at the nearest centroid: these groups are
        // far apart, so every user stays in its segment.
        let rescored = dir.path().join("r.csv");
        ok(&run(&[
            "score",
            "-q",
            "--features-input",
            input.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "-o",
            rescored.to_str().unwrap(),
        ]));
        assert_eq!(
            column(&scores, "segment"),
            column(&rescored, "segment"),
            "{linkage}"
        );
    }
}

#[test]
fn a_sweep_cuts_one_tree_and_micro_clusters_stand_in_for_users() {
    let dir = tempfile::tempdir().unwrap();
    let input = table(dir.path(), 3000, 5);
    let sweep = |micro: &str| -> Value {
        serde_json::from_str(&ok(&run(&[
            "sweep",
            "--method",
            "hierarchical",
            "--micro-clusters",
            micro,
            "--k",
            "2..8",
            "--features-input",
            input.to_str().unwrap(),
            "--format",
            "json",
        ])))
        .unwrap()
    };
    let (exact, micro) = (sweep("0"), sweep("100"));
    assert_eq!(exact["chosen"], 5);
    assert_eq!(micro["chosen"], 5);
    // Cuts of one tree: each K's inertia at most the one before.
    let inertias: Vec<f64> = exact["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["inertia"].as_f64().unwrap())
        .collect();
    assert!(inertias.windows(2).all(|w| w[1] <= w[0]), "{inertias:?}");
}

#[test]
fn tree_flags_and_sizes_past_the_limits_are_refused() {
    let input = sample();
    let input = input.to_str().unwrap();
    fails(
        &run(&["fit", input, "--linkage", "ward", "-o", "-"]),
        2,
        &["--linkage applies to hierarchical clustering: add --method hierarchical"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "hierarchical",
            "--linkage",
            "median",
            "-o",
            "-",
        ]),
        2,
        &["--linkage", "expected ward, average, complete or single"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "hierarchical",
            "--micro-clusters",
            "1",
            "-o",
            "-",
        ]),
        2,
        &["--micro-clusters must be 0 (the exact tree) or at least 2, got 1"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "hierarchical",
            "--n-init",
            "3",
            "-o",
            "-",
        ]),
        2,
        &["--n-init does not apply to --method hierarchical"],
    );
    fails(
        &run(&[
            "fit",
            input,
            "--method",
            "gmm",
            "--micro-clusters",
            "5",
            "-o",
            "-",
        ]),
        2,
        &["--micro-clusters applies to hierarchical clustering"],
    );
    // Average linkage over more users than its matrix takes.
    let dir = tempfile::tempdir().unwrap();
    let big = table(dir.path(), 20_001, 3);
    fails(
        &run(&[
            "fit",
            "--method",
            "hierarchical",
            "--linkage",
            "average",
            "--micro-clusters",
            "0",
            "--features-input",
            big.to_str().unwrap(),
            "-o",
            dir.path().join("o.csv").to_str().unwrap(),
        ]),
        2,
        &[
            "average linkage holds a distance matrix",
            "--linkage ward",
            "--micro-clusters M",
        ],
    );
    assert!(!dir.path().join("o.csv").exists());
}

/// `--linkage-out` of an exact fit with `--scale none` is SciPy's linkage
/// matrix of the same points (tests/fixtures/hierarchical), and
/// `segment_path` names each segment's parent at the coarser cut.
#[test]
fn the_linkage_out_file_is_scipys_matrix_and_paths_nest() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hierarchical");
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("overlap_average.json")).unwrap(),
    )
    .unwrap();
    let mut body = String::from("user_id,a,b\n");
    for (i, p) in fixture["points"].as_array().unwrap().iter().enumerate() {
        let p = p.as_array().unwrap();
        body.push_str(&format!("u{i:04},{},{}\n", p[0], p[1]));
    }
    let input = dir.path().join("points.csv");
    std::fs::write(&input, body).unwrap();
    let (scores, z) = (dir.path().join("s.csv"), dir.path().join("z.csv"));
    ok(&run(&[
        "fit",
        "-q",
        "--method",
        "hierarchical",
        "--linkage",
        "average",
        "--micro-clusters",
        "0",
        "--scale",
        "none",
        "--k",
        "6",
        "--parent-k",
        "2",
        "--features-input",
        input.to_str().unwrap(),
        "-o",
        scores.to_str().unwrap(),
        "--linkage-out",
        z.to_str().unwrap(),
    ]));
    let mut reader = csv::Reader::from_path(&z).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["left", "right", "height", "size"]
    );
    let rows: Vec<Vec<f64>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(|v| v.parse().unwrap()).collect())
        .collect();
    let want = fixture["merges"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (got, want) in rows.iter().zip(want) {
        let want: Vec<f64> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!((got[0], got[1], got[3]), (want[0], want[1], want[3]));
        // The commands hold features in f32 after centring them (README,
        // "How it works"): heights to f32 rounding, not the library's 1e-9.
        assert!(
            (got[2] - want[2]).abs() <= 2e-6 * want[2],
            "{} vs {}",
            got[2],
            want[2]
        );
    }
    // Paths: parent/segment, the parent in 0..2, one parent per segment.
    let segments = column(&scores, "segment");
    let paths = column(&scores, "segment_path");
    let mut parent_of = std::collections::HashMap::new();
    for (s, p) in segments.iter().zip(&paths) {
        let (parent, own) = p.split_once('/').unwrap();
        assert_eq!(own, s);
        assert!(parent == "0" || parent == "1", "{p}");
        assert_eq!(
            parent_of.entry(s.clone()).or_insert(parent.to_string()),
            parent
        );
    }
    assert_eq!(parent_of.len(), 6);
    // The flags of other methods, and a parent cut not coarser, refused.
    fails(
        &run(&[
            "fit",
            sample().to_str().unwrap(),
            "--linkage-out",
            "z.csv",
            "-o",
            "-",
        ]),
        2,
        &["--linkage-out writes a hierarchical tree: add --method hierarchical"],
    );
    fails(
        &run(&[
            "fit",
            sample().to_str().unwrap(),
            "--method",
            "hierarchical",
            "--k",
            "3",
            "--parent-k",
            "3",
            "-o",
            dir.path().join("x.csv").to_str().unwrap(),
        ]),
        2,
        &["--parent-k must be at least 1 and below the K of the segments, got 3"],
    );
    assert!(!dir.path().join("x.csv").exists());
}

/// A hierarchical report draws the top of the tree: its section and
/// chart, leaves that hold every user, one row per K with its cut's
/// height; the JSON summary holds the same numbers.
#[test]
fn the_report_draws_the_top_of_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    ok(&run(&[
        "report",
        "-q",
        sample().to_str().unwrap(),
        "--method",
        "hierarchical",
        "--k",
        "4",
        "-o",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"tree\">"));
    assert!(page.contains("<figure id=\"chart-tree\">"));
    assert!(page.contains("Agglomerative clustering (ward linkage)"));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tree = &summary["segmentation"]["tree"];
    // 20 users: all 19 merges are the top; 20 leaves of one user each.
    assert_eq!(tree["merges"].as_array().unwrap().len(), 19);
    let leaves = tree["leaves"].as_array().unwrap();
    let users: u64 = leaves.iter().map(|l| l["users"].as_u64().unwrap()).sum();
    assert_eq!(users, 20);
    assert_eq!(tree["merges"][18]["users"], 20);
    // Leaves in drawing order: each segment's leaves side by side.
    let order: Vec<u64> = leaves
        .iter()
        .map(|l| l["segment"].as_u64().unwrap())
        .collect();
    let mut runs = order.clone();
    runs.dedup();
    assert_eq!(runs.len(), 4, "{order:?}");
    let heights = tree["heights"].as_array().unwrap();
    assert_eq!(heights.len(), 9);
    let k4 = heights.iter().find(|h| h["k"] == 4).unwrap();
    assert_eq!(k4["height"], tree["merges"][16]["height"]);
}

/// `--height H` cuts the tree at H: the K left is the one written, and a
/// height above the last merge (one segment) is refused.
#[test]
fn a_cut_at_a_height_picks_its_k() {
    let dir = tempfile::tempdir().unwrap();
    let input = table(dir.path(), 600, 4);
    let fit = |height: &str| {
        run(&[
            "fit",
            "-q",
            "--method",
            "hierarchical",
            "--height",
            height,
            "--features-input",
            input.to_str().unwrap(),
            "-o",
            dir.path().join("s.csv").to_str().unwrap(),
            "--linkage-out",
            dir.path().join("z.csv").to_str().unwrap(),
            "--format",
            "json",
        ])
    };
    // The heights of the last merges, from a first fit's tree.
    let first: Value = serde_json::from_str(&ok(&fit("0.5"))).unwrap();
    assert!(first["tree"]["seconds_tree"].as_f64().unwrap() >= 0.0);
    let heights: Vec<f64> = csv::Reader::from_path(dir.path().join("z.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap()[2].parse().unwrap())
        .collect();
    let n = heights.len() + 1;
    for k in [2usize, 4, 6] {
        // Halfway between the merges that leave k and k - 1.
        let h = (heights[n - k - 1] + heights[n - k]) / 2.0;
        let summary: Value = serde_json::from_str(&ok(&fit(&h.to_string()))).unwrap();
        assert_eq!(summary["k"], k, "height {h}");
    }
    let above = heights[n - 2] * 2.0;
    fails(
        &fit(&above.to_string()),
        2,
        &["leaves one segment", "cut lower"],
    );
    fails(
        &fit("NaN"),
        2,
        &["--height must be a finite number >= 0, got NaN"],
    );
}

/// Cuts the tree cannot give are refused before anything is written: a K
/// above the micro-clusters, a height below the first merge (every user
/// alone), a parent cut not coarser than K, --parent-k outside fit.
#[test]
fn cuts_the_tree_cannot_give_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = table(dir.path(), 600, 4);
    let input = input.to_str().unwrap();
    let out = dir.path().join("s.csv");
    let out = out.to_str().unwrap();
    let hierarchical = ["--method", "hierarchical", "--features-input", input];
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit", "-o", out];
        args.extend_from_slice(&hierarchical);
        args.extend_from_slice(extra);
        run(&args)
    };
    fails(
        &fit(&["--micro-clusters", "5", "--k", "8"]),
        2,
        &["K = 8 is more than the 5 micro-clusters"],
    );
    fails(
        &fit(&["--height", "0"]),
        2,
        &["leaves every user alone", "cut higher"],
    );
    fails(
        &fit(&["--k", "4", "--parent-k", "4"]),
        2,
        &["--parent-k must be at least 1 and below the K of the segments, got 4"],
    );
    assert!(!Path::new(out).exists());
    let mut sweep = vec!["sweep", "--parent-k", "2"];
    sweep.extend_from_slice(&hierarchical);
    fails(
        &run(&sweep),
        2,
        &["--parent-k sets the segment_path column"],
    );
}

/// A fit's segments are the tree's cut, not the nearest centroid's: single
/// linkage keeps a long line of users (0 to 10, a step of 0.1) apart from a
/// blob 3 past its end, though the line's far end is nearer the blob's
/// centroid (13) than its own (5). `score`, which places users at the
/// nearest centroid, moves those users: the README says so.
#[test]
fn a_fit_keeps_the_trees_segments_where_centroids_would_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("user_id,x,y\n");
    for i in 0..=100 {
        body.push_str(&format!("line{i:03},{},0\n", f64::from(i) / 10.0));
    }
    for i in 0..50 {
        body.push_str(&format!(
            "blob{i:03},{},{}\n",
            13.0 + f64::from(i % 5) * 0.01,
            f64::from(i / 5) * 0.01
        ));
    }
    let input = dir.path().join("t.csv");
    std::fs::write(&input, body).unwrap();
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let summary: Value = serde_json::from_str(&ok(&run(&[
        "fit",
        "-q",
        "--method",
        "hierarchical",
        "--linkage",
        "single",
        "--scale",
        "none",
        "--k",
        "2",
        "--features-input",
        input.to_str().unwrap(),
        "-o",
        scores.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    let mut sizes: Vec<u64> = summary["segment_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 101]);
    let rescored = dir.path().join("r.csv");
    ok(&run(&[
        "score",
        "-q",
        "--features-input",
        input.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "-o",
        rescored.to_str().unwrap(),
    ]));
    let (fitted, scored) = (column(&scores, "segment"), column(&rescored, "segment"));
    let moved = fitted.iter().zip(&scored).filter(|(a, b)| a != b).count();
    // x from 9.1 to 10 is nearer 13 than 5: 10 users.
    assert_eq!(moved, 10);
}
