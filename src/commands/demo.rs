//! `segmint demo`: the whole pipeline on the bundled sample, into one
//! folder: features, the sweep over K, the fit (scores and model) and the
//! report with its JSON summary.

use std::path::Path;
use std::time::Instant;

use clap::Parser;

use crate::cli::{ChurnArgs, DemoArgs, FeatureArgs, InputArgs, KMeansArgs};
use segmint::Error;
use segmint::ingest::Input;
use segmint::output::{Outputs, write_output};
use segmint::report::sweep::SweepSummary;

use super::analyse::{AnalysisArgs, analyse};
use super::report::{describe, write_report};
use super::{Session, say};

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
    // The input of everything else, so written first, on its own.
    write_output(&transactions, |out| out.write_all(SAMPLE))?;
    let features = file("features.csv");
    let sweep = file("sweep.csv");
    let scores = file("scores.csv");
    let model = file("model.json");
    let report = file("report.html");
    let json = file("summary.json");
    let paths: [&Path; 6] = [&features, &sweep, &scores, &model, &report, &json];
    let mut outputs = Outputs::plan(&[&transactions], &paths)?;

    let defaults = Defaults::parse_from(["segmint"]);
    let inputs = vec![Input::new(&transactions)];
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
    outputs.write(&features, |out| analysis.table.write_csv(out))?;
    let feature_names = analysis.prepared.feature_names();
    let sweep_summary = SweepSummary::new(
        &analysis.sweep,
        analysis.prepared.points.n(),
        &feature_names,
        &analysis.backend,
        started.elapsed().as_secs_f64(),
    );
    outputs.write(&sweep, |out| sweep_summary.write_csv(out))?;
    let fitted = &analysis.fitted;
    outputs.write(&scores, |out| {
        fitted.scores(&analysis.prepared).write_csv(out)
    })?;
    outputs.write(&model, |out| {
        out.write_all(fitted.model.to_json().as_bytes())
    })?;
    let summary = analysis.summary(&inputs, quiet)?;
    write_report(&mut outputs, &summary, &report, Some(&json))?;
    outputs.commit()?;
    if quiet {
        return Ok(());
    }
    say(format_args!(
        "segmint demo: the bundled messaging-platform sample ({:.2} s)\n",
        started.elapsed().as_secs_f64()
    ))?;
    say(format_args!("{}\n", describe(&summary)))?;
    say("users to contact first:")?;
    for u in summary.churn.at_risk.iter().take(5) {
        say(format_args!(
            "  {:<8} {:<12} {:<26} {}",
            u.user_id, u.segment, u.risk, u.reason
        ))?;
    }
    say("")?;
    say(format_args!("{}\n", sweep_summary.describe()))?;
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
        say(format_args!("{:<32} {what}", path.display()))?;
    }
    Ok(())
}
