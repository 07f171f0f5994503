//! What a careless or hostile user does, through the real binary: outputs
//! that are devices, pipes, links, inputs or each other; failures part-way
//! through; closed and full standard streams; signals; absurd flags and
//! extreme values; damaged model and scores files. Each case once lost
//! data, panicked or reported numbers it should not have.

mod flags_and_data;
mod outputs;
mod streams;

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
