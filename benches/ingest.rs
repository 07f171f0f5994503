//! Ingest throughput: a generated log on disk -> feature table, in bytes
//! per second, per (threads, rows). `cargo bench --bench ingest`.
//!
//! The peer comparison (DuckDB, Polars) on large files lives in
//! `benches/compare/`.

use std::io::Write;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use segmint::features::table::{FeatureOptions, FeatureTable};
use segmint::generate::{GenerateParams, generate};
use segmint::ingest::{IngestOptions, ingest};

fn write_log(dir: &tempfile::TempDir, users: u64, rows: u64) -> PathBuf {
    let path = dir.path().join(format!("tx_{rows}.csv"));
    let params = GenerateParams {
        users,
        rows,
        days: 91,
        seed: 42,
        start_day: 20_179,
        blocks: None,
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create log"));
    generate(&params, &mut file).expect("generate log");
    file.flush().expect("flush log");
    path
}

fn features(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    for (users, rows) in [(10_000, 1_000_000), (100_000, 4_000_000)] {
        let path = write_log(&dir, users, rows);
        let bytes = std::fs::metadata(&path).expect("log size").len();
        group.throughput(Throughput::Bytes(bytes));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let inputs = vec![segmint::ingest::Input::new(&path)];
            let id = BenchmarkId::new(format!("threads={threads}"), format!("rows={rows}"));
            group.bench_with_input(id, &inputs, |b, inputs| {
                b.iter(|| {
                    pool.install(|| {
                        let ingested =
                            ingest(inputs, &IngestOptions::default(), &|_| {}).expect("ingest");
                        FeatureTable::from_aggregate(
                            ingested.aggregate,
                            ingested.has_channel,
                            ingested.has_status,
                            &FeatureOptions::default(),
                        )
                        .expect("some rows")
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, features);
criterion_main!(benches);
