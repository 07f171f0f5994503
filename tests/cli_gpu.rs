//! `--device` and `segmint devices` through the real binary: the GPU gives
//! the CPU's results; `auto` falls back to the CPU saying why; `gpu`
//! without an adapter is an error (exit 1). "No adapter" is simulated by
//! pointing the Vulkan loader at a driver list that does not exist.

use crate::common;

use common::{ok, sample, segmint, text};

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// segmint with no Vulkan driver to find.
fn without_adapters() -> Command {
    let mut c = segmint();
    c.env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env_remove("SEGMINT_ADAPTER");
    c
}

#[test]
fn gpu_without_an_adapter_is_an_error() {
    let out = without_adapters()
        .args(["--device", "gpu", "sweep"])
        .arg(sample())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no GPU adapter: wgpu found no Vulkan, Metal or DX12 adapter"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn auto_without_an_adapter_clusters_on_the_cpu_and_says_why() {
    let out = without_adapters()
        .args(["sweep", "--k", "2..4", "--format", "json"])
        .arg(sample())
        .output()
        .unwrap();
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(summary["backend"], "cpu");
    let err = text(&out.stderr);
    assert_eq!(
        err.trim(),
        "segmint: clustering on the CPU: no GPU adapter: wgpu found no Vulkan, Metal or DX12 adapter"
    );
    // --quiet and --device cpu say nothing.
    for flags in [&["--quiet"][..], &["--device", "cpu"][..]] {
        let out = without_adapters()
            .args(flags)
            .args(["sweep", "--k", "2..4", "--format", "json"])
            .arg(sample())
            .output()
            .unwrap();
        ok(&out);
        assert_eq!(text(&out.stderr), "", "{flags:?}");
    }
}

#[test]
fn devices_lists_adapters_and_the_choice() {
    let out = without_adapters()
        .args(["devices", "--format", "json"])
        .output()
        .unwrap();
    let d: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(d["adapters"], serde_json::json!([]));
    assert_eq!(d["auto"], Value::Null);
    assert_eq!(d["gpu"], Value::Null);
    let table = ok(&without_adapters().arg("devices").output().unwrap());
    assert!(
        table.contains("no Vulkan, Metal or DX12 adapter found"),
        "{table}"
    );
    assert!(
        table.contains("--device auto uses the CPU backend"),
        "{table}"
    );

    let bad = segmint()
        .args(["--device", "tpu", "devices"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("expected auto, gpu or cpu"));
}

#[test]
fn an_adapter_asked_for_by_name_must_exist() {
    let out = segmint()
        .env("SEGMINT_ADAPTER", "no such adapter")
        .args(["--device", "gpu", "sweep"])
        .arg(sample())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no adapter matches SEGMINT_ADAPTER=\"no such adapter\""),
        "{}",
        text(&out.stderr)
    );
}

/// Sweep, fit and score on the GPU print what the CPU prints (the sample
/// is small: metrics agree to the digits shown).
#[test]
fn the_gpu_gives_the_cpus_results() {
    if common::gpu().is_none() {
        return;
    }
    let run = |device: &str, args: &[&str]| -> Value {
        let out = segmint()
            .args(["--device", device])
            .args(args)
            .arg(sample())
            .args(["--format", "json"])
            .output()
            .unwrap();
        serde_json::from_str(&ok(&out)).unwrap()
    };
    let (gpu, cpu) = (run("gpu", &["sweep"]), run("cpu", &["sweep"]));
    assert_eq!(gpu["backend"], "gpu");
    assert_eq!(gpu["chosen"], cpu["chosen"]);
    assert_eq!(gpu["knee"], cpu["knee"]);
    let (g, c) = (
        gpu["results"].as_array().unwrap(),
        cpu["results"].as_array().unwrap(),
    );
    for (g, c) in g.iter().zip(c) {
        for metric in [
            "inertia",
            "silhouette",
            "calinski_harabasz",
            "davies_bouldin",
        ] {
            let (a, b) = (g[metric].as_f64().unwrap(), c[metric].as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-5 * b.abs(),
                "k = {}: {metric} {a} vs {b}",
                c["k"]
            );
        }
        assert_eq!(g["n_iter"], c["n_iter"]);
    }

    let dir = tempfile::tempdir().unwrap();
    let scores = |device: &str| {
        let path = dir.path().join(format!("{device}.csv"));
        let model = dir.path().join(format!("{device}.json"));
        segmint()
            .args(["--device", device, "fit"])
            .arg(sample())
            .arg("-o")
            .arg(&path)
            .arg("--model")
            .arg(&model)
            .assert()
            .success();
        let rescored = dir.path().join(format!("{device}-again.csv"));
        segmint()
            .args(["--device", device, "score"])
            .arg(sample())
            .arg("--model")
            .arg(&model)
            .arg("-o")
            .arg(&rescored)
            .assert()
            .success();
        let column = |path: &Path, name: &str| -> Vec<String> {
            let mut reader = csv::Reader::from_path(path).unwrap();
            let c = reader
                .headers()
                .unwrap()
                .iter()
                .position(|h| h == name)
                .unwrap();
            reader
                .records()
                .map(|r| r.unwrap()[c].to_string())
                .collect()
        };
        (
            column(&path, "segment"),
            column(&rescored, "segment"),
            column(&path, "churn_risk"),
        )
    };
    let (gpu_fit, gpu_score, gpu_churn) = scores("gpu");
    let (cpu_fit, _, cpu_churn) = scores("cpu");
    assert_eq!(gpu_fit, cpu_fit);
    assert_eq!(gpu_score, gpu_fit);
    assert_eq!(gpu_churn, cpu_churn);
}
