//! `segmint demo`: the whole pipeline on the bundled sample, into one
//! folder: features, the sweep over K, the fit (scores and model) and the
//! report with its JSON summary.

use std::path::Path;
use std::time::Instant;

use clap::Parser;

use super::emit::say;
use super::{Segmenting, Session, analyse, behind_spinner};
use crate::cli::{ChurnArgs, DemoArgs, FeatureArgs, InputArgs, KMeansArgs, log_options};
use segmint::Error;
use segmint::ingest::Input;
use segmint::output::{Outputs, write_output};
use segmint::report::sweep::SweepSummary;
use segmint::report::text::report_lines;
use segmint::report::write_report;
use segmint::segment::{KChoice, SegmentOptions};

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
    let (options, feature_options) = log_options(&defaults.input, &defaults.feature)?;
    let (method, silhouette) = defaults.kmeans.method()?;
    let segmenting = Segmenting {
        method,
        k: KChoice::Fixed(3),
        range: (2..=10).collect(),
        options: SegmentOptions {
            names: None,
            churn: defaults.churn.thresholds(&defaults.feature)?,
            lifetime: defaults.churn.lifetime()?,
        },
        silhouette,
    };
    let inputs = vec![Input::new(&transactions)];
    let (backend, analysis) = analyse(
        session,
        &inputs,
        &options,
        &feature_options,
        None,
        &segmenting,
    )?;
    outputs.write(&features, |out| analysis.table.write_csv(out))?;
    let fitted = &analysis.fitted;
    let (reported, feature_names) = (fitted.reported_sweep(), analysis.prepared.feature_names());
    let sweep_summary = SweepSummary::new(
        &reported,
        analysis.prepared.points.n(),
        &feature_names,
        &backend,
        started.elapsed().as_secs_f64(),
    );
    outputs.write(&sweep, |out| sweep_summary.write_csv(out))?;
    let segmentation = &fitted.segmentation;
    let model_made = &segmentation.model;
    let user_scores = segmentation
        .placement
        .scores(&analysis.prepared.table, &model_made.segment_names);
    outputs.write(&scores, |out| user_scores.write_csv(out))?;
    outputs.write(&model, |out| out.write_all(model_made.to_json().as_bytes()))?;
    let summary = behind_spinner(quiet, "analysing", || analysis.summary(&inputs))?;
    write_report(&mut outputs, &summary, &report, Some(&json))?;
    outputs.commit()?;
    if quiet {
        return Ok(());
    }
    say(format_args!(
        "segmint demo: the bundled messaging-platform sample ({:.2} s)\n",
        started.elapsed().as_secs_f64()
    ))?;
    say(format_args!("{}\n", report_lines(&summary)))?;
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
