//! Shared by the test binaries: the backends under test.
//!
//! GPU tests run on any adapter wgpu finds, lavapipe (Mesa's software
//! Vulkan) included. Without one they print why and pass, unless
//! `SEGMINT_REQUIRE_GPU=1` (set by CI), where a missing adapter fails.

#![allow(dead_code)]

use std::sync::OnceLock;

/// `a` zipped with `b`, once both are checked to hold as many items: a
/// result shorter than its reference must fail the test, not pass on the
/// items the two have in common.
#[track_caller]
pub fn zip_eq<A, B>(a: A, b: B) -> std::iter::Zip<A::IntoIter, B::IntoIter>
where
    A: IntoIterator,
    A::IntoIter: ExactSizeIterator,
    B: IntoIterator,
    B::IntoIter: ExactSizeIterator,
{
    let (a, b) = (a.into_iter(), b.into_iter());
    assert_eq!(a.len(), b.len(), "results of different lengths");
    a.zip(b)
}

use segmint::backend::{Backend, DeviceChoice, GpuBackend, GpuOptions};

/// A GPU backend with `options`, or `None` (with a message) when there is
/// no adapter and none is required.
pub fn gpu_with(options: &GpuOptions) -> Option<Backend> {
    match GpuBackend::open(DeviceChoice::Gpu, options) {
        Ok(gpu) => Some(Backend::Gpu(gpu)),
        Err(e) => {
            if std::env::var("SEGMINT_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("SEGMINT_REQUIRE_GPU=1 but the GPU backend cannot run: {e}");
            }
            eprintln!("skipping a GPU test: {e} (SEGMINT_REQUIRE_GPU=1 makes this a failure)");
            None
        }
    }
}

/// The GPU backend's kernels with `options` (see [`gpu_with`]).
pub fn gpu_kernels_with(options: &GpuOptions) -> Option<GpuBackend> {
    match gpu_with(options)? {
        Backend::Gpu(g) => Some(g),
        Backend::Cpu => None,
    }
}

/// The GPU backend with the device's own limits, opened once per test
/// binary.
pub fn gpu() -> Option<Backend> {
    static GPU: OnceLock<Option<Backend>> = OnceLock::new();
    GPU.get_or_init(|| gpu_with(&GpuOptions::default())).clone()
}

/// The GPU backend's kernels (see [`gpu`]).
pub fn gpu_kernels() -> Option<GpuBackend> {
    match gpu()? {
        Backend::Gpu(g) => Some(g),
        Backend::Cpu => None,
    }
}

/// The segmint binary under test.
pub fn segmint() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_segmint"))
}

/// The bundled sample log.
pub fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/messaging_sample.csv")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Succeeded; its standard output.
#[track_caller]
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Failed with `code` and a message containing every one of `parts`,
/// without a panic.
#[track_caller]
pub fn fails(out: &std::process::Output, code: i32, parts: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for part in parts {
        assert!(err.contains(part), "expected {part:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// The values of column `name` of a CSV file with a header, in row order.
pub fn csv_column(path: &std::path::Path, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let c = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("{}: no column {name}", path.display()));
    reader
        .records()
        .map(|r| r.unwrap()[c].to_string())
        .collect()
}

/// The rows of a CSV file with a header: (header, rows).
pub fn csv_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Scores rows whose `probability` (column 4) and `p_0` ... (from column
/// 5) are memberships of `k` segments: they sum to 1, `probability` is
/// the user's segment's, and that segment is the most probable.
pub fn assert_memberships(rows: &[Vec<String>], k: usize) {
    for row in rows {
        let segment: usize = row[1].parse().unwrap();
        let p: Vec<f64> = row[5..5 + k].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
        assert_eq!(row[4], row[5 + segment], "probability is the segment's");
        let top = p.iter().copied().fold(0.0, f64::max);
        assert_eq!(p[segment], top, "the segment is the most probable");
    }
}
