//! Properties of the library (README, "Input" and "Features"):
//! - no input makes `ingest` panic, whatever the delimiter, chunking,
//!   reading mode or `skip_bad_rows`;
//! - skipping is consistent: accepted + skipped rows = data rows, and the
//!   error without skipping is the first row skipped with it;
//! - the feature table's bytes do not depend on chunk size, thread count,
//!   memory mapping or how the log is split into files;
//! - the features of generated logs hold their invariants and agree with a
//!   naive recount of the log.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use segmint::features::table::{FeatureOptions, FeatureRows, FeatureTable};
use segmint::generate::{GenerateParams, generate};
use segmint::ingest::{Delimiter, IngestError, IngestOptions, Ingested, ingest};

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Keep failures on screen, not in files beside the tests.
        failure_persistence: None,
        ..Config::default()
    }
}

const DELIMITERS: [Delimiter; 5] = [
    Delimiter::Byte(b','),
    Delimiter::Byte(b';'),
    Delimiter::Byte(b'\t'),
    Delimiter::Byte(b'|'),
    Delimiter::Whitespace,
];

fn delimiter_text(d: Delimiter) -> &'static str {
    match d {
        Delimiter::Byte(b',') => ",",
        Delimiter::Byte(b';') => ";",
        Delimiter::Byte(b'\t') => "\t",
        Delimiter::Byte(b'|') => "|",
        Delimiter::Byte(_) => unreachable!(),
        Delimiter::Whitespace => " ",
    }
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write temp file");
    file.flush().unwrap();
    file
}

fn run_ingest(paths: &[PathBuf], options: &IngestOptions) -> Result<Ingested, IngestError> {
    ingest(&segmint::ingest::inputs(paths), options, &|_bytes| {})
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// The feature table of `paths` as CSV bytes, checked to be the bytes
/// that `segmint features` writes without building the table.
fn feature_csv(paths: &[PathBuf], options: &IngestOptions) -> Vec<u8> {
    let ingested = run_ingest(paths, options).expect("generated logs are valid");
    let rows = FeatureRows::from_aggregate(
        ingested.aggregate,
        ingested.has_channel,
        ingested.has_status,
        &FeatureOptions::default(),
    )
    .expect("a non-empty table");
    let mut streamed = Vec::new();
    rows.write_csv(&mut streamed).expect("write to memory");
    let mut out = Vec::new();
    rows.into_table()
        .write_csv(&mut out)
        .expect("write to memory");
    assert!(
        streamed == out,
        "features written from rows and from the table differ"
    );
    out
}

fn generated(users: u64, rows: u64, days: u32, seed: u64) -> Vec<u8> {
    let params = GenerateParams {
        users,
        rows,
        days,
        seed,
        start_day: days_from_civil(2025, 4, 1),
        blocks: None,
    };
    let mut out = Vec::new();
    generate(&params, &mut out).expect("generate to memory");
    out
}

/// Days since 1970-01-01 (proleptic Gregorian), written here independently
/// of the crate.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ------------------------------------------------------------ no panics

/// Every reading of `bytes`: each delimiter, with and without skipping,
/// memory-mapped in the given chunk size, and (`also_read`) read without a
/// map too. Only errors are allowed, never a panic (a panic in a rayon
/// worker reaches this thread and fails the case).
///
/// Reading without a map allocates a large buffer, so it is done for one
/// delimiter per case (the case picks it) to keep the property fast.
fn ingest_every_way(bytes: &[u8], chunk_bytes: usize, has_header: bool, unmapped: Option<usize>) {
    let file = write_temp(bytes);
    let paths = [file.path().to_path_buf()];
    let mut runs: Vec<(Delimiter, bool, bool)> = Vec::new();
    for delimiter in DELIMITERS {
        for skip_bad_rows in [false, true] {
            runs.push((delimiter, skip_bad_rows, true));
        }
    }
    if let Some(d) = unmapped {
        runs.push((DELIMITERS[d], false, false));
        runs.push((DELIMITERS[d], true, false));
    }
    for (delimiter, skip_bad_rows, use_mmap) in runs {
        let mut options = IngestOptions {
            delimiter,
            skip_bad_rows,
            chunk_bytes,
            use_mmap,
            has_header,
            ..IngestOptions::default()
        };
        if !has_header {
            options.columns.user = Some("1".into());
            options.columns.time = Some("2".into());
            options.columns.amount = Some("3".into());
            options.columns.channel = Some("4".into());
        }
        if let Ok(ingested) = run_ingest(&paths, &options) {
            // What was accepted must also turn into a table and CSV.
            assert!(ingested.report.rows > 0);
            let table = FeatureTable::from_aggregate(
                ingested.aggregate,
                ingested.has_channel,
                ingested.has_status,
                &FeatureOptions::default(),
            )
            .expect("rows were accepted");
            let mut out = Vec::new();
            table.write_csv(&mut out).unwrap();
            assert!(!out.is_empty());
        }
    }
}

/// Which delimiter, if any, is also read without a memory map.
fn unmapped() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![3 => Just(None), 1 => (0usize..5).prop_map(Some)]
}

fn chunk_size() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..64, Just(IngestOptions::default().chunk_bytes)]
}

/// Text from a small alphabet that trips CSV parsers.
fn csv_like(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            'a', ',', '1', '"', '\n', '\r', ';', '-', ':', '.', ' ', '0', '\t', '|', '2', 'e',
        ]),
        0..max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        chunk_bytes in chunk_size(),
        has_header in any::<bool>(),
        unmapped in unmapped(),
    ) {
        ingest_every_way(&bytes, chunk_bytes, has_header, unmapped);
    }

    #[test]
    fn csv_like_text_never_panics(
        body in csv_like(400),
        header_delimiter in 0usize..5,
        bom in any::<bool>(),
        chunk_bytes in chunk_size(),
        unmapped in unmapped(),
    ) {
        let sep = delimiter_text(DELIMITERS[header_delimiter]);
        let mut text = String::new();
        if bom {
            text.push('\u{FEFF}');
        }
        text.push_str(&["user_id", "created_at", "total_price", "channel", "status"].join(sep));
        text.push('\n');
        text.push_str(&body);
        ingest_every_way(text.as_bytes(), chunk_bytes, true, unmapped);
    }

    #[test]
    fn csv_like_rows_never_panic(
        rows in proptest::collection::vec(
            (
                proptest::sample::select(vec!["a", "b", "1", "", " a", "\"q,1\"", "\"", "é"]),
                proptest::sample::select(vec![
                    "2025-01-01", "2025-01-01 10:00:00", "2025-01-01T10:00:00.5+02:00",
                    "1735689600", "1735689600000", "20250101", "20250230", "2025-02-30",
                    "x", "", "-1", "9999-12-31 23:59:59",
                ]),
                proptest::sample::select(vec!["1", "-1.5", "", "NaN", "1e3", ".", "0.0000000001", "1e19"]),
                csv_like(6),
            ),
            0..40,
        ),
        chunk_bytes in chunk_size(),
        unmapped in unmapped(),
    ) {
        let mut text = String::from("user_id,created_at,total_price,channel\n");
        for (user, time, amount, channel) in rows {
            text.push_str(&format!("{user},{time},{amount},{channel}\n"));
        }
        ingest_every_way(text.as_bytes(), chunk_bytes, true, unmapped);
    }
}

// ------------------------------------------------------- skipping is exact

/// One field of a row, good or bad; none holds a delimiter, quote or line
/// end, so every line is exactly one record.
fn row_strategy() -> impl Strategy<Value = String> {
    let user = proptest::sample::select(vec!["a", "b", "c", "longer-user-key-000000000001", ""]);
    let time = proptest::sample::select(vec![
        "2025-01-01 10:00:00",
        "2025-01-03 23:59:59",
        "2025-01-10T08:00:00Z",
        "2025-01-05",
        "2025-02-30",
        "2025-01-01 24:00:00",
        "never",
    ]);
    let amount = proptest::sample::select(vec!["1", "2.5", "-0.25", "0", "abc", "NaN", "inf"]);
    let channel = proptest::sample::select(vec!["SMS", "Email", ""]);
    let status = proptest::sample::select(vec!["read", "failed", "", "sent"]);
    let shape = 0u8..12;
    (user, time, amount, channel, status, shape).prop_map(|(u, t, a, c, s, shape)| match shape {
        // A field too few or too many now and then.
        0 => format!("{u},{t},{a},{c}"),
        1 => format!("{u},{t},{a},{c},{s},extra"),
        _ => format!("{u},{t},{a},{c},{s}"),
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn skipping_accounts_for_every_row_and_matches_the_first_error(
        rows in proptest::collection::vec(row_strategy(), 1..60),
        crlf in any::<bool>(),
        chunk_bytes in prop_oneof![1usize..200, Just(1usize << 20)],
        use_mmap in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("user_id,created_at,total_price,channel,status{end}");
        for row in &rows {
            text.push_str(row);
            text.push_str(end);
        }
        let file = write_temp(text.as_bytes());
        let paths = [file.path().to_path_buf()];
        let options = IngestOptions {
            chunk_bytes,
            use_mmap,
            ..IngestOptions::default()
        };
        let skip = IngestOptions { skip_bad_rows: true, ..options.clone() };
        let strict = run_ingest(&paths, &options);
        let lenient = run_ingest(&paths, &skip);
        match lenient {
            Ok(read) => {
                let report = &read.report;
                prop_assert_eq!(report.rows + report.skipped_rows, rows.len() as u64);
                prop_assert_eq!(
                    report.skipped_examples.len() as u64,
                    report.skipped_rows.min(5)
                );
                // Examples are in line order.
                let lines: Vec<u64> = report
                    .skipped_examples
                    .iter()
                    .map(|e| line_of(e, file.path()))
                    .collect();
                prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "{:?}", lines);
                match strict {
                    Ok(all) => {
                        prop_assert_eq!(report.skipped_rows, 0);
                        prop_assert_eq!(all.report.rows, rows.len() as u64);
                    }
                    Err(IngestError::Row(e)) => {
                        prop_assert!(report.skipped_rows > 0);
                        prop_assert_eq!(e.to_string(), report.skipped_examples[0].clone());
                    }
                    Err(e) => prop_assert!(false, "unexpected error {e}"),
                }
            }
            Err(IngestError::NoRows { .. }) => {
                prop_assert!(matches!(strict, Err(IngestError::Row(_))), "{:?}", strict.err());
            }
            // A file whose every row has an unreadable time cannot have
            // its time format detected.
            Err(IngestError::Row(e)) => {
                prop_assert!(e.to_string().contains("cannot tell the time format"), "{}", e);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

/// The line number of a row error's message `<path>: line L...`.
fn line_of(message: &str, path: &Path) -> u64 {
    let rest = message
        .strip_prefix(&format!("{}: line ", path.display()))
        .unwrap_or_else(|| panic!("not a row error of {}: {message}", path.display()));
    rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap()]
        .parse()
        .unwrap()
}

// ------------------------------------------- same bytes whatever the split

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn aggregation_ignores_chunks_threads_mapping_and_files(
        seed in any::<u64>(),
        users in 1u64..50,
        rows in 1u64..2000,
        days in 1u32..100,
        split_at in 0.0f64..1.0,
    ) {
        let log = generated(users, rows, days, seed);
        let file = write_temp(&log);
        let paths = [file.path().to_path_buf()];
        let len = log.len();
        let reference = pool(2).install(|| feature_csv(&paths, &IngestOptions::default()));
        let mut configs: Vec<(usize, usize, bool)> = Vec::new();
        for chunk_bytes in [len, len / 2, len / 7, 64, 1] {
            for threads in [1, 2] {
                configs.push((chunk_bytes.max(1), threads, true));
            }
        }
        // Plain reads (slower to set up): whole and small chunks.
        configs.push((len, 1, false));
        configs.push((64, 2, false));
        for (chunk_bytes, threads, use_mmap) in configs {
            let options = IngestOptions {
                chunk_bytes,
                use_mmap,
                ..IngestOptions::default()
            };
            let got = pool(threads).install(|| feature_csv(&paths, &options));
            prop_assert!(
                got == reference,
                "chunk_bytes {} threads {} mmap {} differ",
                chunk_bytes, threads, use_mmap
            );
        }

        // The same log cut into two files (each with the header).
        let text = std::str::from_utf8(&log).unwrap();
        let header_end = text.find('\n').unwrap() + 1;
        let body: Vec<&str> = text[header_end..].split_inclusive('\n').collect();
        let cut = ((body.len() as f64) * split_at) as usize;
        let first = format!("{}{}", &text[..header_end], body[..cut].concat());
        let second = format!("{}{}", &text[..header_end], body[cut..].concat());
        let (a, b) = (write_temp(first.as_bytes()), write_temp(second.as_bytes()));
        let parts = [a.path().to_path_buf(), b.path().to_path_buf()];
        let options = IngestOptions { chunk_bytes: 97, ..IngestOptions::default() };
        let got = pool(2).install(|| feature_csv(&parts, &options));
        prop_assert!(got == reference, "two files differ from one");
    }
}

// ------------------------------------------------------ feature invariants

/// A naive recount of one user from the generated CSV.
#[derive(Default)]
struct Recount {
    frequency: u64,
    /// Sum of amounts in 1e-4 units (the generator writes four decimals).
    monetary_1e4: i128,
    first: String,
    last: String,
    days: BTreeSet<String>,
    hours: BTreeSet<String>,
    channels: BTreeMap<String, u64>,
    successes: u64,
}

fn recount(log: &[u8]) -> BTreeMap<String, Recount> {
    let text = std::str::from_utf8(log).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (cu, ct, cc, cs, ca) = (
        col("user_id"),
        col("created_at"),
        col("channel"),
        col("status"),
        col("total_price"),
    );
    let mut users: BTreeMap<String, Recount> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let r = users.entry(f[cu].to_string()).or_default();
        r.frequency += 1;
        let (whole, frac) = f[ca].split_once('.').unwrap_or((f[ca], ""));
        assert!(frac.len() <= 4, "{line}");
        let negative = whole.starts_with('-');
        let units: i128 = whole.trim_start_matches('-').parse::<i128>().unwrap() * 10_000
            + format!("{frac:0<4}").parse::<i128>().unwrap();
        r.monetary_1e4 += if negative { -units } else { units };
        let t = f[ct];
        if r.first.is_empty() || t < r.first.as_str() {
            r.first = t.to_string();
        }
        if t > r.last.as_str() {
            r.last = t.to_string();
        }
        r.days.insert(t[..10].to_string());
        r.hours.insert(t[..13].to_string());
        *r.channels.entry(f[cc].to_string()).or_default() += 1;
        if ["delivered", "read", "opened", "clicked"].contains(&f[cs]) {
            r.successes += 1;
        }
    }
    users
}

/// `YYYY-MM-DD HH:MM:SS` as UTC milliseconds.
fn ms_of(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let day = days_from_civil(n(0..4), n(5..7), n(8..10));
    ((day * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn features_of_generated_logs_hold_their_invariants(
        seed in any::<u64>(),
        users in 1u64..50,
        rows in 1u64..2000,
        days in 1u32..120,
    ) {
        let log = generated(users, rows, days, seed);
        let file = write_temp(&log);
        let ingested = run_ingest(&[file.path().to_path_buf()], &IngestOptions::default())
            .expect("generated logs are valid");
        prop_assert_eq!(ingested.report.rows, rows);
        prop_assert!(ingested.has_channel && ingested.has_status);
        let table = FeatureTable::from_aggregate(
            ingested.aggregate,
            ingested.has_channel,
            ingested.has_status,
            &FeatureOptions::default(),
        )
        .expect("rows");
        let expected = recount(&log);

        // One row per user, sorted strictly by byte order.
        let keys: Vec<&str> = table.users.iter().map(|u| u.user_id.as_str()).collect();
        prop_assert!(
            keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            "users not strictly sorted"
        );
        prop_assert_eq!(
            keys.clone(),
            expected.keys().map(String::as_str).collect::<Vec<_>>()
        );

        let as_of = expected.values().map(|r| ms_of(&r.last)).max().unwrap();
        let first_ms = expected.values().map(|r| ms_of(&r.first)).min().unwrap();
        let window_days = as_of.div_euclid(86_400_000) - first_ms.div_euclid(86_400_000) + 1;
        prop_assert_eq!(table.as_of_ms, as_of);
        prop_assert_eq!(table.window_days, window_days);
        let channel_names: BTreeSet<&str> = expected
            .values()
            .flat_map(|r| r.channels.keys().map(String::as_str))
            .collect();
        prop_assert_eq!(
            table.channels.iter().map(String::as_str).collect::<Vec<_>>(),
            channel_names.iter().copied().collect::<Vec<_>>()
        );

        let mut total = 0;
        for (row, u) in table.users.iter().enumerate() {
            let r = &expected[&u.user_id];
            total += u.frequency;
            // Invariants.
            prop_assert!(u.frequency >= u.active_hours, "{:?}", u);
            prop_assert!(u.active_hours >= u.active_days, "{:?}", u);
            prop_assert!(u.active_days >= 1, "{:?}", u);
            prop_assert!(u.first_seen_ms <= u.last_seen_ms);
            prop_assert!(u.recency_days >= 0.0, "{:?}", u);
            prop_assert!(u.recency_days <= u.tenure_days, "{:?}", u);
            let shares = table.shares(row);
            prop_assert_eq!(shares.len(), table.channels.len());
            let sum: f64 = shares.iter().sum();
            prop_assert!((sum - 1.0).abs() <= 1e-12, "shares sum to {}", sum);
            prop_assert!(shares.iter().all(|s| (0.0..=1.0).contains(s)));
            prop_assert_eq!(
                u.channel_diversity,
                Some(shares.iter().filter(|&&s| s > 0.0).count() as u64)
            );
            let success = u.success_rate.expect("status column present");
            prop_assert!((0.0..=1.0).contains(&success), "{:?}", u);
            let failure = u.failure_rate.expect("status column present");
            prop_assert!((success + failure - 1.0).abs() <= 1e-12);
            prop_assert_eq!(u.is_dormant, u.recency_days > 30.0);
            prop_assert!(
                (u.avg_daily_volume - u.frequency as f64 / window_days as f64).abs() <= 1e-12
            );
            prop_assert_eq!(u.usage_trend.is_some(), u.avg_daily_prev.is_some_and(|p| p > 0.0));

            // Agreement with the naive recount.
            prop_assert_eq!(u.frequency, r.frequency);
            prop_assert_eq!(u.monetary.0, r.monetary_1e4 * 100_000, "monetary of {}", u.user_id);
            prop_assert_eq!(u.first_seen_ms, ms_of(&r.first));
            prop_assert_eq!(u.last_seen_ms, ms_of(&r.last));
            prop_assert_eq!(u.active_days, r.days.len() as u64);
            prop_assert_eq!(u.active_hours, r.hours.len() as u64);
            prop_assert_eq!(u.success_rate, Some(r.successes as f64 / r.frequency as f64));
            prop_assert_eq!(shares.len(), table.channels.len());
            for (name, share) in table.channels.iter().zip(shares) {
                let count = r.channels.get(name).copied().unwrap_or(0);
                prop_assert_eq!(*share, count as f64 / r.frequency as f64);
            }
            prop_assert_eq!(
                u.recency_days,
                (as_of - ms_of(&r.last)) as f64 / 86_400_000.0
            );
        }
        prop_assert_eq!(total, rows);
    }
}
