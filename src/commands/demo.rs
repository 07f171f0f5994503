//! `segmint demo`: the whole pipeline on the bundled sample, into one
//! folder: features, the sweep over K, the fit (scores and model) and the
//! report with its JSON summary.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use crate::cli::{ChurnArgs, DemoArgs, FeatureArgs, InputArgs, KMeansArgs};
use segmint::Error;
use segmint::output::write_output;
use segmint::report::sweep::SweepSummary;

use super::Session;
use super::analyse::{AnalysisArgs, analyse};
use super::report::{describe, write_report};

/// The bundled sample (datasets/README.md says how it was made).
const SAMPLE: &[u8] = include_bytes!("../../datasets/messaging_sample.csv");

/// Every option of the pipeline at its command-line default, so that the
/// demo runs exactly what `segmint report` runs with no flags.
#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    feature: FeatureArgs,
    #[command(flatten)]
    kmeans: KMeansArgs,
    #[command(flatten)]
    churn: ChurnArgs,
}

pub fn run(args: &DemoArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let started = Instant::now();
    let dir = &args.output;
    std::fs::create_dir_all(dir).map_err(|source| Error::Output {
        path: dir.clone(),
        source,
    })?;
    let file = |name: &str| dir.join(name);
    let transactions = file("transactions.csv");
    write_output(&transactions, |out| out.write_all(SAMPLE))?;

    let defaults = Defaults::parse_from(["segmint"]);
    let inputs: Vec<PathBuf> = vec![transactions.clone()];
    let analysis = analyse(
        &AnalysisArgs {
            inputs: &inputs,
            input: &defaults.input,
            feature: &defaults.feature,
            features: &None,
            kmeans: &defaults.kmeans,
            k: "3",
            k_range: "2..10",
            segment_names: None,
            churn: &defaults.churn,
        },
        session,
    )?;
    let features = file("features.csv");
    write_output(&features, |out| analysis.table.write_csv(out))?;
    let sweep = file("sweep.csv");
    let feature_names = analysis.prepared.feature_names();
    let sweep_summary = SweepSummary::new(
        &analysis.sweep,
        analysis.prepared.points.n(),
        &feature_names,
        &analysis.backend,
        started.elapsed().as_secs_f64(),
    );
    write_output(&sweep, |out| sweep_summary.write_csv(out))?;
    let scores = file("scores.csv");
    let fitted = &analysis.fitted;
    write_output(&scores, |out| {
        fitted.scores(&analysis.prepared).write_csv(out)
    })?;
    let model = file("model.json");
    write_output(&model, |out| {
        out.write_all(fitted.model.to_json().as_bytes())
    })?;
    let summary = analysis.summary(&inputs, quiet)?;
    let report = file("report.html");
    let json = file("summary.json");
    write_report(&summary, &report, Some(&json))?;
    if quiet {
        return Ok(());
    }
    println!(
        "segmint demo: the bundled messaging-platform sample ({:.2} s)\n",
        started.elapsed().as_secs_f64()
    );
    println!("{}\n", describe(&summary));
    println!("users to contact first:");
    for u in summary.churn.at_risk.iter().take(5) {
        println!(
            "  {:<8} {:<12} {:<26} {}",
            u.user_id, u.segment, u.risk, u.reason
        );
    }
    println!();
    println!("{}\n", sweep_summary.describe());
    for (path, what) in [
        (
            &transactions,
            "the input: 25,000 messages of 20 business clients",
        ),
        (&features, "one row of features per user"),
        (&sweep, "every K of 2..10 with its metrics"),
        (&scores, "segment, RFM and churn risk per user"),
        (&model, "the K = 3 model, for `segmint score`"),
        (&report, "the report: open it in a browser"),
        (&json, "every number of the report"),
    ] {
        println!("{:<32} {what}", path.display());
    }
    Ok(())
}
