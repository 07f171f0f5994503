//! segmint as a stage of Apache Spark jobs, in Spark's local mode
//! (`tests/spark/spark_test.py`, with `tests/spark/segmint_spark.py`, the
//! helper the README's recipe uses): a generated log in 4 partitions by
//! user gives the single-machine features and scores, and the distributed
//! K-Means the centres of a NumPy f64 Lloyd from the same start (1e-9) and
//! of `segmint fit --init` (1e-6: its kernel sums in f32 lanes), with its
//! labels.
//!
//! It needs the venv `tests/reference/.venv-spark` (PySpark, PyArrow and
//! NumPy of `tests/spark/requirements-spark.txt`) and a Java runtime, both
//! installed by `tests/run.sh`. Without them the test says so and passes,
//! unless `SEGMINT_REQUIRE_SPARK=1` (set by CI), where it fails.

use std::path::Path;
use std::process::Command;

use crate::common::text;

/// Why Spark cannot run here, if it cannot.
fn missing(python: &Path) -> Option<String> {
    if !python.exists() {
        return Some(format!("{} is missing", python.display()));
    }
    match Command::new(python)
        .args(["-c", "import pyspark, pyarrow, numpy"])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Some(format!(
                "{}: {}",
                python.display(),
                text(&out.stderr).trim()
            ));
        }
        Err(e) => return Some(format!("{}: {e}", python.display())),
    }
    match Command::new("java").arg("-version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("no Java runtime (java -version fails)".into()),
    }
}

#[test]
fn spark_local_mode_gives_the_single_machine_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("tests/reference/.venv-spark/bin/python");
    if let Some(why) = missing(&python) {
        if std::env::var("SEGMINT_REQUIRE_SPARK").as_deref() == Ok("1") {
            panic!(
                "SEGMINT_REQUIRE_SPARK=1 but Spark cannot run: {why} (tests/run.sh installs it)"
            );
        }
        eprintln!(
            "skipping the Spark stage test: {why}; tests/run.sh makes the venv from \
             tests/spark/requirements-spark.txt (SEGMINT_REQUIRE_SPARK=1 makes this a failure)"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .arg(root.join("tests/spark/spark_test.py"))
        .arg(env!("CARGO_BIN_EXE_segmint"))
        .arg(work.path())
        // Spark's workers run this interpreter too.
        .env("PYSPARK_PYTHON", &python)
        .env("PYSPARK_DRIVER_PYTHON", &python)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    let verdict: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("spark_test:") || l.contains("Error"))
        .collect();
    assert!(
        out.status.success(),
        "spark_test.py failed: {}\n{}",
        verdict.join("\n"),
        stderr
            .chars()
            .rev()
            .take(4000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    eprintln!("spark stage: {}", text(&out.stdout).trim());
}
