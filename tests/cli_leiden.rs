//! Graph communities through the real binary (`--method leiden`): planted
//! blocks of a generated log found (and not found where nothing is
//! planted), the same scores on every thread count, edge lists alone or
//! beside logs, items projected onto users, `score` placing new users by
//! their edges, the model's members, and bad edge lists or flags refused.

use crate::common;

use common::{fails, ok, segmint};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    segmint().args(args).output().expect("run segmint")
}

fn column(path: &Path, name: &str) -> Vec<String> {
    common::csv_column(path, name)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("a JSON summary on stdout")
}

/// Column `value` of a CSV file keyed by its `user_id` column.
fn by_user(path: &Path, value: &str) -> HashMap<String, String> {
    column(path, "user_id")
        .into_iter()
        .zip(column(path, value))
        .collect()
}

/// Normalised mutual information of two labelings of the same items, the
/// mutual information over the arithmetic mean of the two entropies (1
/// when both put every item in one group).
fn nmi(a: &[String], b: &[String]) -> f64 {
    assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let mut ca: HashMap<&str, f64> = HashMap::new();
    let mut cb: HashMap<&str, f64> = HashMap::new();
    let mut joint: HashMap<(&str, &str), f64> = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        *ca.entry(x).or_default() += 1.0;
        *cb.entry(y).or_default() += 1.0;
        *joint.entry((x, y)).or_default() += 1.0;
    }
    let entropy =
        |c: &HashMap<&str, f64>| -> f64 { c.values().map(|&v| -(v / n) * (v / n).ln()).sum() };
    let (ha, hb) = (entropy(&ca), entropy(&cb));
    let mi: f64 = joint
        .iter()
        .map(|(&(x, y), &v)| (v / n) * (v * n / (ca[x] * cb[y])).ln())
        .sum();
    if ha + hb == 0.0 {
        1.0
    } else {
        mi / ((ha + hb) / 2.0)
    }
}

#[test]
fn nmi_helper_is_right() {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Same partition, other names: 1.
    let a = l(&["0", "0", "1", "1", "2", "2"]);
    let b = l(&["x", "x", "y", "y", "z", "z"]);
    assert!((nmi(&a, &b) - 1.0).abs() < 1e-12);
    // Independent: 0.
    let a = l(&["0", "0", "1", "1"]);
    let b = l(&["x", "y", "x", "y"]);
    assert!(nmi(&a, &b).abs() < 1e-12);
    // One group against two halves: I = 0, so 0.
    let b2 = l(&["x", "x", "x", "x"]);
    assert!(nmi(&a, &b2).abs() < 1e-12);
}

/// A generated log with `blocks` planted communities among `users` users
/// (a `peer_id` column) and its truth file (`user_id,block`).
fn planted(dir: &Path, name: &str, users: usize, p_in: &str, seed: &str) -> (PathBuf, PathBuf) {
    let (log, truth) = (
        dir.join(format!("{name}.csv")),
        dir.join(format!("{name}_truth.csv")),
    );
    let users = users.to_string();
    let rows = (users.parse::<usize>().unwrap() * 100 / 3).to_string();
    ok(&run(&[
        "generate",
        "-q",
        "--users",
        &users,
        "--rows",
        &rows,
        "--blocks",
        "6",
        "--p-in",
        p_in,
        "--seed",
        seed,
        "-o",
        s(&log),
        "--truth-out",
        s(&truth),
    ]));
    (log, truth)
}

/// `fit --method leiden --peer-col peer_id LOG`, its JSON summary.
fn fit_peers(log: &Path, scores: &Path, model: &Path, threads: Option<&str>) -> Value {
    let mut args = vec![];
    if let Some(t) = threads {
        args.extend(["--threads", t]);
    }
    args.extend([
        "fit",
        "-q",
        "--method",
        "leiden",
        "--peer-col",
        "peer_id",
        s(log),
        "-o",
        s(scores),
        "--model",
        s(model),
        "--format",
        "json",
    ]);
    json(&run(&args))
}

/// NMI of the scores' `community` against the truth's block, over the
/// scored users.
fn nmi_to_truth(scores: &Path, truth: &Path) -> f64 {
    let block = by_user(truth, "block");
    let users = column(scores, "user_id");
    let found = column(scores, "community");
    let planted: Vec<String> = users.iter().map(|u| block[u].clone()).collect();
    nmi(&found, &planted)
}

#[test]
fn planted_blocks_are_found_and_the_summary_describes_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let (log, truth) = planted(dir.path(), "log", 3000, "0.8", "7");
    // The log's last column names each row's peer, another user.
    let header = std::fs::read_to_string(&log).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.ends_with(",peer_id"), "{header}");
    let peers = column(&log, "peer_id");
    assert!(
        peers.iter().all(|p| p.len() == 5 && p.starts_with('u')),
        "{:?}",
        &peers[..5]
    );
    let truth_header = std::fs::read_to_string(&truth).unwrap();
    assert!(truth_header.starts_with("user_id,block\n"));
    assert_eq!(column(&truth, "user_id").len(), 3000);

    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let summary = fit_peers(&log, &scores, &model, None);
    let score = nmi_to_truth(&scores, &truth);
    assert!(score >= 0.95, "NMI {score}");

    let users = summary["users"].as_u64().unwrap();
    assert_eq!(column(&scores, "user_id").len() as u64, users);
    let c = &summary["communities"];
    assert_eq!(c["count"], 6, "{c}");
    assert_eq!(c["segments"], 6);
    assert_eq!(c["split"], 0);
    assert_eq!(c["other_users"], 0);
    assert_eq!(c["objective"], "modularity");
    assert_eq!(c["resolution"], 1.0);
    let modularity = c["modularity"].as_f64().unwrap();
    assert!(modularity > 0.5, "{modularity}");
    assert_eq!(c["quality"], c["modularity"]);
    // 80% of each user's rows go inside its block.
    let inside = c["inside_weight_share"].as_f64().unwrap();
    assert!((0.75..0.85).contains(&inside), "{inside}");
    // The default --min-community-size is 1% of the users.
    assert_eq!(
        c["min_community_size"].as_u64().unwrap(),
        (users as f64 / 100.0).ceil() as u64
    );
    assert!(c["iterations"].as_u64().unwrap() >= 1);
    assert!(c["seconds_graph"].as_f64().unwrap() >= 0.0);
    assert!(c["seconds_leiden"].as_f64().unwrap() >= 0.0);
    assert_eq!(summary["k"], 6);
    let sizes = summary["segment_sizes"].as_array().unwrap();
    assert_eq!(
        sizes.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        users
    );

    let g = &summary["graph"];
    assert_eq!(g["source"], "peers");
    assert_eq!(g["nodes"].as_u64().unwrap(), users);
    assert!(g["edges"].as_u64().unwrap() > 0);
    let p = &g["peers"];
    assert_eq!(p["kind"], "users");
    assert_eq!(p["column"], "peer_id");
    assert_eq!(p["rows"], 100_000);
    // Every row goes somewhere: to a user, an outsider (a user of the
    // generator without rows of its own), itself or no peer.
    let count = |k: &str| p[k].as_u64().unwrap();
    assert_eq!(
        count("rows_to_users")
            + count("rows_to_outsiders")
            + count("rows_to_self")
            + count("rows_without_peer"),
        100_000,
        "{p}"
    );
    assert!(count("rows_to_users") > 80_000, "{p}");
    // Edges weighed by count: one per row between two users.
    assert_eq!(
        g["total_weight"].as_f64().unwrap(),
        count("rows_to_users") as f64
    );
}

#[test]
fn without_planted_blocks_the_communities_say_nothing_of_them() {
    let dir = tempfile::tempdir().unwrap();
    // A peer in the user's block with the chance a random peer has (1/6).
    let (log, truth) = planted(dir.path(), "log", 3000, "0.1667", "7");
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let summary = fit_peers(&log, &scores, &model, None);
    let score = nmi_to_truth(&scores, &truth);
    // Measured about 0.005 (0.004 to 0.014 over seeds and p_in up to 0.2).
    assert!(score < 0.1, "NMI {score}");
    let modularity = summary["communities"]["modularity"].as_f64().unwrap();
    assert!(modularity < 0.2, "{modularity}");
}

#[test]
fn every_thread_count_gives_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    for (name, p_in) in [("planted", "0.8"), ("random", "0.1667")] {
        let (log, _) = planted(dir.path(), name, 3000, p_in, "7");
        let read = |threads: &str| {
            let (scores, model) = (
                dir.path().join(format!("{name}_{threads}.csv")),
                dir.path().join(format!("{name}_{threads}.json")),
            );
            fit_peers(&log, &scores, &model, Some(threads));
            std::fs::read(&scores).unwrap()
        };
        let one = read("1");
        assert!(one.len() > 10_000);
        assert!(one == read("3"), "{name}: --threads 1 and 3 differ");
    }
}

/// Modularity (resolution 1) of `groups` over the weighted edges.
fn modularity(edges: &[(&str, &str, f64)], groups: &[&[&str]]) -> f64 {
    let group_of = |u: &str| groups.iter().position(|g| g.contains(&u)).unwrap();
    let m: f64 = edges.iter().map(|e| e.2).sum();
    let mut inside = vec![0.0; groups.len()];
    let mut degree = vec![0.0; groups.len()];
    for &(a, b, w) in edges {
        if group_of(a) == group_of(b) {
            inside[group_of(a)] += w;
        }
        degree[group_of(a)] += w;
        degree[group_of(b)] += w;
    }
    inside
        .iter()
        .zip(&degree)
        .map(|(i, d)| i / m - (d / (2.0 * m)).powi(2))
        .sum()
}

#[test]
fn an_edge_list_alone_is_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    // A triangle a-b-c and a heavier 4-clique d-e-f-g, joined by c-d.
    let edges: &[(&str, &str, f64)] = &[
        ("a", "b", 1.0),
        ("b", "c", 1.0),
        ("a", "c", 1.0),
        ("d", "e", 2.0),
        ("d", "f", 2.0),
        ("d", "g", 2.0),
        ("e", "f", 2.0),
        ("e", "g", 2.0),
        ("f", "g", 2.0),
        ("c", "d", 0.5),
    ];
    let mut body = String::from("src,dst,weight\n");
    for (a, b, w) in edges {
        body.push_str(&format!("{a},{b},{w}\n"));
    }
    let input = dir.path().join("edges.csv");
    std::fs::write(&input, body).unwrap();
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let summary = json(&run(&[
        "fit",
        "-q",
        "--method",
        "leiden",
        "--edges-input",
        s(&input),
        "-o",
        s(&scores),
        "--model",
        s(&model),
        "--min-community-size",
        "1",
        "--format",
        "json",
    ]));
    let header = std::fs::read_to_string(&scores).unwrap();
    let header: Vec<&str> = header.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[..4],
        ["user_id", "segment", "segment_name", "community"]
    );
    assert_eq!(header[header.len() - 2..], ["degree", "strength"]);
    // Two communities, segments ranked by size: the clique first.
    let segment = by_user(&scores, "segment");
    for u in ["d", "e", "f", "g"] {
        assert_eq!(segment[u], "0", "{u}");
    }
    for u in ["a", "b", "c"] {
        assert_eq!(segment[u], "1", "{u}");
    }
    let community = by_user(&scores, "community");
    assert_eq!(community.values().collect::<HashSet<_>>().len(), 2);
    assert_eq!(community["a"], community["c"]);
    assert_eq!(community["d"], community["g"]);
    assert_ne!(community["c"], community["d"]);
    // Degree and strength: c has three edges weighing 2.5, d four of 6.5.
    let (degree, strength) = (by_user(&scores, "degree"), by_user(&scores, "strength"));
    assert_eq!((degree["c"].as_str(), strength["c"].as_str()), ("3", "2.5"));
    assert_eq!((degree["d"].as_str(), strength["d"].as_str()), ("4", "6.5"));
    assert_eq!((degree["a"].as_str(), strength["a"].as_str()), ("2", "2"));
    assert_eq!((degree["e"].as_str(), strength["e"].as_str()), ("3", "6"));

    assert_eq!(summary["segment_order_by"], "size");
    assert_eq!(summary["segment_sizes"], serde_json::json!([4, 3]));
    assert_eq!(
        summary["features"],
        serde_json::json!(["degree", "strength"])
    );
    assert_eq!(summary["users"], 7);
    let c = &summary["communities"];
    assert_eq!(c["count"], 2);
    assert_eq!(c["min_community_size"], 1);
    let want = modularity(edges, &[&["a", "b", "c"], &["d", "e", "f", "g"]]);
    let got = c["modularity"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    let share = c["inside_weight_share"].as_f64().unwrap();
    assert!((share - 15.0 / 15.5).abs() < 1e-9, "{share}");
    let g = &summary["graph"];
    assert_eq!(g["source"], "edges");
    assert_eq!(g["nodes"], 7);
    assert_eq!(g["edges"], 10);
    assert_eq!(g["edge_rows"], 10);
    assert_eq!(g["total_weight"], 15.5);
    assert_eq!(g["isolated"], 0);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["method"]["graph"]["source"], "edges");
    assert_eq!(
        m["method"]["members"],
        serde_json::json!([["d", "e", "f", "g"], ["a", "b", "c"]])
    );
}

#[test]
fn bad_edge_lists_are_refused_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("edges.csv");
    let out = dir.path().join("s.csv");
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "-q",
            "--method",
            "leiden",
            "--edges-input",
            s(&input),
            "-o",
            s(&out),
            "--min-community-size",
            "1",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let line = |n: usize| format!("{}:{n}:", input.display());
    let cases: &[(&str, usize, &[&str])] = &[
        ("a,b,1\na,a,1\n", 3, &["a self loop", "\"a\""]),
        (
            "a,b,1\nb,c,-1\n",
            3,
            &["column 3", "weight \"-1\"", "expected a positive number"],
        ),
        (
            "a,b,1\nb,c,heavy\n",
            3,
            &["weight \"heavy\"", "expected a positive number"],
        ),
        (
            "a,b,1\nb,c,0\n",
            3,
            &["weight \"0\"", "expected a positive number"],
        ),
        (
            "a,b,NaN\n",
            2,
            &["weight \"NaN\"", "expected a positive number"],
        ),
        (
            "a,b,1\nb,c,1,4\n",
            3,
            &["expected 3 fields like the header, found 4"],
        ),
        (
            "a,b,1\nb,c,1\nc\n",
            4,
            &["expected 3 fields like the header, found 1"],
        ),
    ];
    for (rows, n, parts) in cases {
        std::fs::write(&input, format!("src,dst,weight\n{rows}")).unwrap();
        let mut want = vec![line(*n)];
        want.extend(parts.iter().map(|p| p.to_string()));
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        fails(&fit(&[]), 3, &want);
        assert!(!out.exists(), "{rows}");
    }
    // A header without edges.
    std::fs::write(&input, "src,dst,weight\n").unwrap();
    fails(&fit(&[]), 3, &[&line(1), "no edges"]);

    // Beside logs, an id that is not one of the logs' users.
    let (log, _) = planted(dir.path(), "log", 300, "0.8", "7");
    let user = column(&log, "user_id")[0].clone();
    std::fs::write(&input, format!("src,dst,weight\n{user},{user}x,1\n")).unwrap();
    fails(
        &fit(&[s(&log)]),
        3,
        &[
            &line(2),
            &format!("\"{user}x\" is not one of the users being segmented"),
        ],
    );
    assert!(!out.exists());

    // No such file: an input error.
    let missing = dir.path().join("missing.csv");
    fails(
        &run(&[
            "fit",
            "-q",
            "--method",
            "leiden",
            "--edges-input",
            s(&missing),
            "-o",
            s(&out),
        ]),
        4,
        &[s(&missing)],
    );
    assert!(!out.exists());
}

#[test]
fn graph_flags_out_of_place_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = planted(dir.path(), "log", 300, "0.8", "7");
    let log = s(&log);
    let table = dir.path().join("table.csv");
    std::fs::write(&table, "user_id,f0,f1\nu0001,1,2\nu0002,3,4\nu0003,5,1\n").unwrap();
    let out = dir.path().join("s.csv");
    let o = s(&out);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["sweep", "--method", "leiden", "--knn", "5", log],
            &[
                "--method leiden finds its own number of communities",
                "fit --method leiden",
            ],
        ),
        (
            &["fit", "--method", "leiden", log, "-o", o],
            &[
                "--method leiden needs one user graph",
                "--peer-col",
                "--edges-input",
                "--knn",
            ],
        ),
        (
            &["fit", "--knn", "5", log, "-o", o],
            &["--knn applies to graph communities: add --method leiden"],
        ),
        (
            &["fit", "--peer-col", "peer_id", log, "-o", o],
            &["--peer-col applies to graph communities: add --method leiden"],
        ),
        (
            &[
                "fit", "--method", "leiden", "--k", "4", "--knn", "5", log, "-o", o,
            ],
            &["leave out --k"],
        ),
        (
            &[
                "fit",
                "--method",
                "leiden",
                "--peer-col",
                "peer_id",
                "--features-input",
                s(&table),
                "-o",
                o,
            ],
            &[
                "--peer-col reads a column of transaction logs",
                "not --features-input",
            ],
        ),
        (
            &["fit", "--method", "leiden", "--knn", "0", log, "-o", o],
            &["--knn 0: expected at least 1"],
        ),
    ];
    for (args, parts) in cases {
        fails(&run(args), 2, parts);
        assert!(!out.exists(), "{args:?}");
    }
}

#[test]
fn items_shared_by_users_are_projected_and_hubs_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("user_id,created_at,total_price,product\n");
    let bought: &[(&str, &[&str])] = &[
        ("p1", &["u1", "u2", "u3"]),
        ("p2", &["u1", "u2"]),
        ("p3", &["u4", "u5"]),
        ("hub", &["u1", "u2", "u3", "u4", "u5"]),
    ];
    for (day, (product, users)) in bought.iter().enumerate() {
        for (hour, user) in users.iter().enumerate() {
            body.push_str(&format!(
                "{user},2025-01-0{} 1{hour}:00:00,{}.50,{product}\n",
                day + 1,
                hour + 1
            ));
        }
    }
    let log = dir.path().join("orders.csv");
    std::fs::write(&log, body).unwrap();
    let scores = dir.path().join("s.csv");
    let summary = json(&run(&[
        "fit",
        "-q",
        "--method",
        "leiden",
        "--peer-col",
        "product",
        "--peers",
        "items",
        "--max-peer-degree",
        "3",
        "--min-community-size",
        "1",
        "--format",
        "json",
        s(&log),
        "-o",
        s(&scores),
    ]));
    let g = &summary["graph"];
    assert_eq!(g["source"], "peers");
    let p = &g["peers"];
    assert_eq!(p["kind"], "items", "{p}");
    assert_eq!(p["column"], "product");
    assert_eq!(p["rows"], 12);
    assert_eq!(p["distinct_peers"], 4, "{p}");
    assert_eq!(p["capped_peers"], 1, "{p}");
    assert_eq!(p["max_peer_degree"], 3);
    // Without the hub: u1-u2, u1-u3, u2-u3 (p1) and u4-u5 (p3). Newman's
    // weights, 1/(k - 1) per shared item of k users: p1 0.5 a pair, p2 and
    // p3 1.
    assert_eq!(g["nodes"], 5);
    assert_eq!(g["edges"], 4, "{g}");
    assert_eq!(g["total_weight"], 3.5, "{g}");
    let community = by_user(&scores, "community");
    assert_eq!(community.len(), 5);
    assert_eq!(community["u1"], community["u2"]);
    assert_eq!(community["u1"], community["u3"]);
    assert_eq!(community["u4"], community["u5"]);
    assert_ne!(community["u1"], community["u4"]);
    assert_eq!(summary["communities"]["count"], 2);
    assert_eq!(summary["communities"]["inside_weight_share"], 1.0);
}

#[test]
fn score_keeps_members_and_places_new_users_by_their_edges() {
    let dir = tempfile::tempdir().unwrap();
    let (log, truth) = planted(dir.path(), "fit", 3000, "0.8", "7");
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    fit_peers(&log, &scores, &model, None);
    // A second log of the same blocks with 300 more users; two users more
    // with no peer among the fitted users.
    let (log2, truth2) = planted(dir.path(), "score", 3300, "0.8", "7");
    let mut body = std::fs::read_to_string(&log2).unwrap();
    body.push_str("t9999999,zz1,2025-04-02 10:00:00,SMS,delivered,0.5,nobody\n");
    body.push_str("t9999998,zz2,2025-04-02 11:00:00,SMS,delivered,0.5,\n");
    std::fs::write(&log2, body).unwrap();
    let scored = dir.path().join("s2.csv");
    let summary = json(&run(&[
        "score",
        "-q",
        "--model",
        s(&model),
        s(&log2),
        "-o",
        s(&scored),
        "--format",
        "json",
    ]));
    let users = column(&scored, "user_id");
    let placed = column(&scored, "placed_by");
    let segment = column(&scored, "segment");
    assert_eq!(summary["users"].as_u64().unwrap(), users.len() as u64);
    let p = &summary["placed_by"];
    let counted = |how: &str| placed.iter().filter(|p| *p == how).count() as u64;
    let total: u64 = ["member", "edges", "features"]
        .iter()
        .map(|how| {
            assert_eq!(p[how].as_u64().unwrap(), counted(how), "{how}");
            counted(how)
        })
        .sum();
    assert_eq!(total, users.len() as u64, "{p}");
    assert!(counted("member") > 2000, "{p}");
    assert!(counted("edges") > 200, "{p}");
    assert_eq!(counted("features"), 2, "{p}");

    // Each fitted segment's planted block: the majority of its members'.
    let fitted = by_user(&scores, "segment");
    let (block, block2) = (by_user(&truth, "block"), by_user(&truth2, "block"));
    let mut votes: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    for (u, seg) in &fitted {
        *votes.entry(seg).or_default().entry(&block[u]).or_default() += 1;
    }
    let block_of: HashMap<&str, &str> = votes
        .iter()
        .map(|(seg, v)| (*seg, *v.iter().max_by_key(|(_, n)| **n).unwrap().0))
        .collect();
    let (mut by_edges, mut right) = (0, 0);
    for ((u, how), seg) in users.iter().zip(&placed).zip(&segment) {
        match how.as_str() {
            "member" => assert_eq!(fitted.get(u), Some(seg), "{u}"),
            "edges" => {
                assert!(!fitted.contains_key(u), "{u}");
                by_edges += 1;
                right += usize::from(block_of[seg.as_str()] == block2[u]);
            }
            "features" => assert!(u.starts_with("zz"), "{u}"),
            other => panic!("placed_by {other:?}"),
        }
        if fitted.contains_key(u) {
            assert_eq!(how, "member", "{u}");
        }
    }
    assert!(right * 10 >= by_edges * 9, "{right} of {by_edges}");
}

#[test]
fn the_model_holds_the_members_and_a_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = planted(dir.path(), "log", 1500, "0.8", "3");
    let (scores, model) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let summary = fit_peers(&log, &scores, &model, None);
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let method = &m["method"];
    assert_eq!(method["name"], "leiden");
    assert_eq!(method["graph"]["source"], "peers");
    assert_eq!(method["graph"]["peers"], "users");
    // One list per segment: its users, every fitted user once.
    let members = method["members"].as_array().unwrap();
    assert_eq!(members.len() as u64, summary["k"].as_u64().unwrap());
    let fitted = by_user(&scores, "segment");
    let mut seen = HashSet::new();
    for (i, list) in members.iter().enumerate() {
        let list = list.as_array().unwrap();
        assert_eq!(
            list.len() as u64,
            summary["segment_sizes"][i].as_u64().unwrap()
        );
        for u in list {
            let u = u.as_str().unwrap();
            assert!(seen.insert(u.to_string()), "{u} twice");
            assert_eq!(fitted[u], i.to_string(), "{u}");
        }
    }
    assert_eq!(seen.len(), fitted.len());

    // A user in two segments' members.
    let first = m["method"]["members"][0][0].clone();
    m["method"]["members"][1]
        .as_array_mut()
        .unwrap()
        .push(first.clone());
    let damaged = dir.path().join("damaged.json");
    std::fs::write(&damaged, serde_json::to_string(&m).unwrap()).unwrap();
    let out = dir.path().join("s2.csv");
    fails(
        &run(&[
            "score",
            "-q",
            "--model",
            s(&damaged),
            s(&log),
            "-o",
            s(&out),
        ]),
        3,
        &[s(&damaged), &format!("{first} is a member of two segments")],
    );
    assert!(!out.exists());
}
