//! `segmint demo`: the pipeline on the bundled sample, into one folder.

use std::path::PathBuf;
use std::time::Instant;

use crate::cli::{DemoArgs, FeatureArgs, InputArgs};
use segmint::Error;
use segmint::output::write_output;

use super::features::FeaturesSummary;
use super::{load_features, thousands};

/// The bundled sample (datasets/README.md says how it was made).
const SAMPLE: &[u8] = include_bytes!("../../datasets/messaging_sample.csv");

pub fn run(args: &DemoArgs, quiet: bool) -> Result<(), Error> {
    let started = Instant::now();
    let dir = &args.output;
    std::fs::create_dir_all(dir).map_err(|source| Error::Output {
        path: dir.clone(),
        source,
    })?;
    let transactions = dir.join("transactions.csv");
    write_output(&transactions, |out| out.write_all(SAMPLE))?;

    let input = InputArgs {
        user_col: None,
        time_col: None,
        amount_col: None,
        channel_col: None,
        status_col: None,
        no_header: false,
        delimiter: Default::default(),
        time_format: Default::default(),
        success_status: ["delivered", "read", "opened", "clicked"]
            .map(String::from)
            .to_vec(),
        skip_bad_rows: false,
        no_mmap: false,
        chunk_bytes: None,
    };
    let feature = FeatureArgs {
        as_of: None,
        dormant_days: 30.0,
    };
    let inputs: Vec<PathBuf> = vec![transactions.clone()];
    let (table, report) = load_features(&inputs, &input, &feature, quiet)?;
    let features = dir.join("features.csv");
    write_output(&features, |out| table.write_csv(out))?;
    if quiet {
        return Ok(());
    }
    let summary = FeaturesSummary::new(
        &table,
        report,
        features.display().to_string(),
        started.elapsed().as_secs_f64(),
    );
    println!(
        "segmint demo: the bundled messaging-platform sample\n{}\n",
        summary.describe()
    );

    // The users that carry the revenue, as the analysis opens with.
    let total: f64 = table.users.iter().map(|u| u.monetary.to_f64()).sum();
    let mut order: Vec<usize> = (0..table.users.len()).collect();
    order.sort_by(|&a, &b| table.users[b].monetary.cmp(&table.users[a].monetary));
    println!(
        "{:<10} {:>12} {:>12} {:>8} {:>11} {:>9} {:>8}",
        "user", "transactions", "revenue", "share", "active days", "success", "trend"
    );
    for &i in order.iter().take(8) {
        let u = &table.users[i];
        println!(
            "{:<10} {:>12} {:>12.2} {:>7.1}% {:>11} {:>8.1}% {:>8}",
            u.user_id,
            thousands(u.frequency),
            u.monetary.to_f64(),
            100.0 * u.monetary.to_f64() / total,
            u.active_days,
            100.0 * u.success_rate.unwrap_or(0.0),
            u.usage_trend
                .map_or_else(|| "-".to_string(), |t| format!("{:+.0}%", 100.0 * t)),
        );
    }
    println!(
        "\nfiles: {} (input), {} (features)",
        transactions.display(),
        features.display()
    );
    Ok(())
}
