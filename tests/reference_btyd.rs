//! BG/NBD and Gamma-Gamma against the `lifetimes` package.
//!
//! Each case of `tests/fixtures/btyd/` is a log, what `lifetimes` 0.11.3
//! made of it (`tests/reference/btyd_reference.py` wrote them; versions in
//! each `.params.json`): per customer the frequency, recency, age and
//! repeat spend of `summary_data_from_transaction_data`, the parameters
//! `BetaGeoFitter` and `GammaGammaFitter` fitted, and per customer
//! P(alive), the expected transactions over 90 days, the expected spend
//! and the CLV over 90 days, undiscounted and at 1% a month. `gen_dates`
//! and `gen_times` were simulated from known parameters; `sample` is the
//! bundled log, where the likelihood has no finite maximum (lifetimes
//! fits none either), so its predictions use fixed parameters.
//!
//! Compared: the customers' data exactly, the parameters within 1e-4
//! relative (they agree far closer), the per-customer values within 1e-6
//! relative.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use segmint::features::FeatureTable;
use segmint::features::matrix::NumericTable;
use segmint::features::table::FeatureOptions;
use segmint::ingest::{IngestOptions, Input, ingest};
use segmint::insights::btyd::{self, BgNbd, Customer, GammaGamma};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btyd")
}

struct Expected {
    values: HashMap<String, Vec<f64>>,
    params: Value,
}

const COLUMNS: [&str; 9] = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_tx_90",
    "expected_spend",
    "clv_90",
    "clv_90_discounted",
];

fn expected(case: &str) -> Expected {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.expected.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[1..], COLUMNS);
    let values = lines
        .map(|line| {
            let mut cells = line.split(',');
            let key = cells.next().unwrap().to_string();
            (key, cells.map(|c| c.parse().unwrap()).collect())
        })
        .collect();
    let params = std::fs::read_to_string(fixtures().join(format!("{case}.params.json"))).unwrap();
    Expected {
        values,
        params: serde_json::from_str(&params).unwrap(),
    }
}

/// The customers of a log, keyed by user, as segmint's features give them.
fn customers(log: &Path) -> (Vec<String>, Vec<Customer>) {
    let options = IngestOptions::default();
    let ingested = ingest(&[Input::new(log)], &options, &|_| {}).unwrap();
    let table = FeatureTable::from_aggregate(
        ingested.aggregate,
        ingested.has_channel,
        ingested.has_status,
        &FeatureOptions::default(),
    )
    .unwrap();
    let numeric = NumericTable::from_features(&table);
    let customers = btyd::customers(&numeric).unwrap();
    let customers = customers.into_iter().map(|c| c.expect("valid")).collect();
    (numeric.keys.to_vec(), customers)
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-3),
        "{what}: segmint {got}, lifetimes {want}"
    );
}

fn bgnbd(v: &Value) -> BgNbd {
    let f = |k: &str| v[k].as_f64().unwrap();
    BgNbd {
        r: f("r"),
        alpha: f("alpha"),
        a: f("a"),
        b: f("b"),
    }
}

fn gamma_gamma(v: &Value) -> GammaGamma {
    let f = |k: &str| v[k].as_f64().unwrap();
    GammaGamma {
        p: f("p"),
        q: f("q"),
        v: f("v"),
    }
}

/// Per-customer values of `bg` and `gg` against the fixture's.
fn compare_predictions(
    case: &str,
    keys: &[String],
    customers: &[Customer],
    bg: &BgNbd,
    gg: &GammaGamma,
    want: &Expected,
) {
    for (key, c) in keys.iter().zip(customers) {
        let row = &want.values[key];
        let what = |name: &str| format!("{case} {key} {name}");
        let spend = gg.expected_spend(c);
        close(&what("p_alive"), bg.p_alive(c), row[4], 1e-6);
        close(&what("expected_tx_90"), bg.expected(90.0, c), row[5], 1e-6);
        close(&what("expected_spend"), spend, row[6], 1e-6);
        close(
            &what("clv_90"),
            btyd::clv(bg, spend, 90.0, 0.0, c),
            row[7],
            1e-6,
        );
        close(
            &what("clv_90_discounted"),
            btyd::clv(bg, spend, 90.0, 0.01, c),
            row[8],
            1e-6,
        );
    }
}

fn run(case: &str, log: &Path) {
    let want = expected(case);
    let (keys, customers) = customers(log);
    assert_eq!(keys.len(), want.values.len(), "{case}: customers");
    for (key, c) in keys.iter().zip(&customers) {
        let row = &want.values[key];
        let data = [f64::from(c.x), f64::from(c.t_x), f64::from(c.t)];
        assert_eq!(data[..], row[..3], "{case} {key}: frequency, recency, T");
        close(
            &format!("{case} {key} monetary_value"),
            c.spend.unwrap_or(0.0),
            row[3],
            1e-12,
        );
    }
    let predicted = &want.params["prediction_params"];
    let (bg, gg) = (
        bgnbd(&predicted["bgnbd"]),
        gamma_gamma(&predicted["gamma_gamma"]),
    );
    // The formulas, at lifetimes' parameters.
    compare_predictions(case, &keys, &customers, &bg, &gg, &want);
    if want.params["bgnbd"].is_null() {
        // No maximum: segmint refuses the fit as lifetimes does.
        let fit = btyd::fit_bgnbd(&customers);
        assert!(fit.is_err(), "{case}: BG/NBD fitted {fit:?}");
        let fit = btyd::fit_gamma_gamma(&customers);
        assert!(fit.is_err(), "{case}: Gamma-Gamma fitted {fit:?}");
        return;
    }
    // The fits, and the predictions at segmint's own parameters.
    let fitted_bg = btyd::fit_bgnbd(&customers).unwrap().params;
    let fitted_gg = btyd::fit_gamma_gamma(&customers).unwrap().params;
    for (name, got, want) in [
        ("r", fitted_bg.r, bg.r),
        ("alpha", fitted_bg.alpha, bg.alpha),
        ("a", fitted_bg.a, bg.a),
        ("b", fitted_bg.b, bg.b),
        ("p", fitted_gg.p, gg.p),
        ("q", fitted_gg.q, gg.q),
        ("v", fitted_gg.v, gg.v),
    ] {
        close(&format!("{case} {name}"), got, want, 1e-4);
    }
    compare_predictions(case, &keys, &customers, &fitted_bg, &fitted_gg, &want);
}

#[test]
fn simulated_dates() {
    run("gen_dates", &fixtures().join("gen_dates.csv"));
}

#[test]
fn simulated_times() {
    run("gen_times", &fixtures().join("gen_times.csv"));
}

#[test]
fn bundled_sample() {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/messaging_sample.csv");
    run("sample", &log);
}
