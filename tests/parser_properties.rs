//! The parsers other than the log reader's (see `properties`): feature
//! tables, scores files, model files and amounts. None panics on any
//! bytes; each either reads its input or says what is wrong with it.
//! Amounts in exponent notation read exactly as the same number written
//! out in full.

use std::io::Write as _;

use proptest::prelude::*;
use proptest::test_runner::Config;

use segmint::ingest::numeric::{NumericOptions, read_numeric_table};
use segmint::ingest::scores::read_scores;
use segmint::segment::Model;
use segmint::values::amount::Money;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write temp file");
    file.flush().unwrap();
    file
}

/// Bytes that look like a CSV table more often than noise does.
fn table_like(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(vec![
                &b"user_id"[..], b"segment", b"segment_name", b"x", b"1", b"-2.5", b"1e308",
                b"NaN", b"", b"\"", b"\"a,b\"", b"\xEF\xBB\xBF", b"\xFF", b"0", b"999", b"1000",
            ])
            .prop_map(<[u8]>::to_vec),
            2 => proptest::sample::select(vec![&b","[..], b"\n", b"\r\n", b"\r", b";"])
                .prop_map(<[u8]>::to_vec),
            1 => proptest::collection::vec(any::<u8>(), 0..4),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// A model file with some of its text changed.
fn model_like() -> impl Strategy<Value = Vec<u8>> {
    const MODELS: [&str; 2] = [
        include_str!("fixtures/model/valid-v2.json"),
        include_str!("fixtures/model/valid-v3.json"),
    ];
    (
        0..MODELS.len(),
        0..MODELS[1].len(),
        0..12usize,
        proptest::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(move |(which, at, cut, insert)| {
            let model = MODELS[which];
            let at = at.min(model.len());
            let mut bytes = model.as_bytes().to_vec();
            let end = (at + cut).min(bytes.len());
            bytes.splice(at..end, insert);
            bytes
        })
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn feature_tables_never_panic(bytes in table_like(60), key in any::<bool>()) {
        let file = write_temp(&bytes);
        let options = NumericOptions {
            key_column: key.then(|| "user_id".to_string()),
            ..NumericOptions::default()
        };
        if let Ok(table) = read_numeric_table(file.path(), &options) {
            prop_assert_eq!(table.values.len(), table.keys.len() * table.columns.len());
        }
    }

    #[test]
    fn scores_files_never_panic(bytes in table_like(60)) {
        let file = write_temp(&bytes);
        if let Ok(scores) = read_scores(file.path()) {
            prop_assert_eq!(scores.users.len(), scores.segments.len());
            for &s in &scores.segments {
                prop_assert!((s as usize) < scores.names.len());
            }
        }
    }

    #[test]
    fn model_files_never_panic(bytes in model_like()) {
        if let Ok(model) = Model::from_bytes(&bytes, "m.json") {
            // What was accepted is whole: as many centres and names as K.
            prop_assert_eq!(model.method.centres().len(), model.k);
            prop_assert_eq!(model.segment_names.len(), model.k);
        }
    }

    #[test]
    fn arbitrary_model_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Model::from_bytes(&bytes, "m.json");
    }

    #[test]
    fn exponent_amounts_are_the_number_written_out(
        negative in any::<bool>(),
        int in "[0-9]{0,12}",
        frac in "[0-9]{0,12}",
        exponent in -25i32..25,
    ) {
        prop_assume!(!(int.is_empty() && frac.is_empty()));
        let sign = if negative { "-" } else { "" };
        let with_exponent = format!("{sign}{int}.{frac}e{exponent}");
        // The same digits with the point moved by hand.
        let digits = format!("{int}{frac}");
        let point = int.len() as i64 + i64::from(exponent);
        let written_out = if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        prop_assert_eq!(
            Money::parse(with_exponent.as_bytes()),
            Money::parse(written_out.as_bytes()),
            "{} vs {}", with_exponent, written_out
        );
    }
}

/// The files the model property changes are valid to begin with: a
/// property that only ever sees refused files would prove nothing.
#[test]
fn the_model_fixtures_load() {
    for (name, text) in [
        (
            "valid-v2.json",
            include_str!("fixtures/model/valid-v2.json"),
        ),
        (
            "valid-v3.json",
            include_str!("fixtures/model/valid-v3.json"),
        ),
    ] {
        let model = Model::from_bytes(text.as_bytes(), name).unwrap();
        assert_eq!(model.method.name(), "kmeans", "{name}");
        assert_eq!(model.version, 3, "{name} loads as the current version");
    }
}
