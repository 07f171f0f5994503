//! `segmint score`: new users into the segments of a fitted model, read
//! as the model says its users were read.

use std::time::Instant;

use serde::Serialize;

use super::emit::summary;
use super::{Session, behind_spinner, input_paths, load_logs};
use crate::cli::feature_specs;
use crate::cli::{Format, ScoreArgs};
use segmint::Error;
use segmint::cluster::SilhouetteMode;
use segmint::features::matrix::NumericTable;
use segmint::ingest::{Delimiter, IngestError, IngestReport, inputs};
use segmint::output::{Outputs, is_stdout, summary_name};
use segmint::report::text::sizes_by_name;
use segmint::segment::{self, InputSchema, Model};

#[derive(Serialize)]
struct ScoreSummary {
    output: String,
    users: usize,
    k: usize,
    segment_names: Vec<String>,
    segment_sizes: Vec<u64>,
    silhouette: Option<f64>,
    /// How the transaction logs were read; none for a feature table.
    #[serde(flatten)]
    input: Option<IngestReport>,
    seconds: f64,
}

pub fn run(args: &ScoreArgs, session: &Session) -> Result<(), Error> {
    let silhouette = SilhouetteMode::parse(&args.silhouette)?;
    let scores_on_stdout = is_stdout(&args.output);
    if args.format == Format::Json && scores_on_stdout {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the scores to a file with -o"
                .into(),
        ));
    }
    let mut outputs = Outputs::plan(
        &input_paths(
            &args.inputs,
            args.features_input
                .as_deref()
                .into_iter()
                .chain([args.model.as_path()]),
        ),
        &[&args.output],
    )?;
    let started = Instant::now();
    let model_path = args.model.display().to_string();
    let bytes = std::fs::read(&args.model).map_err(|source| IngestError::Io {
        path: args.model.clone(),
        source,
    })?;
    let model = Model::from_bytes(&bytes, &model_path)?;
    if let Some(asked) = feature_specs(args.features.as_deref())? {
        model.check_features(&asked, &model_path)?;
    }
    let (table, report) = read_users(args, &model, &model_path, session.quiet)?;
    let points = model.points(&table)?;
    let work = segment::score_work(&model, &points, silhouette);
    let backend = session.backend(&work.as_workload())?;
    let placement = behind_spinner(session.quiet, "scoring", || {
        segment::score(&backend, &model, &table, &points, silhouette)
    })?;
    let scores = placement.scores(&table, &model.segment_names);
    outputs.write(&args.output, |out| scores.write_csv(out))?;
    outputs.commit()?;
    let result = ScoreSummary {
        output: summary_name(&args.output),
        users: points.n(),
        k: model.k,
        segment_names: model.segment_names.clone(),
        segment_sizes: placement.sizes(model.k),
        silhouette: placement.silhouette.map(|(mean, _)| mean),
        input: report,
        seconds: started.elapsed().as_secs_f64(),
    };
    summary(
        args.format,
        session.quiet,
        scores_on_stdout,
        &result,
        || {
            format!(
                "{} users scored into {} segments ({:.2} s) -> {}\nsegments: {}",
                result.users,
                result.k,
                result.seconds,
                result.output,
                sizes_by_name(&result.segment_names, &result.segment_sizes)
            )
        },
    )
}

/// The users to score, read as the model's users were: logs with its
/// column and format options (`--as-of` in its time format), or a
/// feature table with its key column.
fn read_users(
    args: &ScoreArgs,
    model: &Model,
    model_path: &str,
    quiet: bool,
) -> Result<(NumericTable, Option<IngestReport>), Error> {
    match (&model.input, &args.features_input) {
        (InputSchema::FeatureTable { key_col, delimiter }, Some(path)) => {
            // Checked when the model was read.
            let delimiter = delimiter.parse::<Delimiter>().unwrap_or_default();
            let specs = model.feature_specs();
            let table =
                segment::read_feature_table(path, key_col.clone(), delimiter, Some(&specs))?;
            Ok((table, None))
        }
        (InputSchema::Transactions { .. }, None) => {
            let time_format = model.input.time_format().unwrap_or_default();
            let as_of = args
                .as_of
                .as_deref()
                .map(|text| {
                    time_format.parse(text.as_bytes()).map_err(|e| {
                        Error::Usage(format!(
                            "--as-of {text:?}: expected {} ({e})",
                            time_format.expected()
                        ))
                    })
                })
                .transpose()?;
            let (options, features) = model
                .input
                .logs_options(as_of)
                .ok_or_else(|| Error::Internal("a logs model reads logs".into()))?;
            options.validate().map_err(Error::Usage)?;
            let (table, report) = load_logs(
                &inputs(&args.inputs),
                &options,
                &features,
                as_of.is_some(),
                quiet,
            )?;
            Ok((NumericTable::from_features(&table), Some(report)))
        }
        (InputSchema::FeatureTable { .. }, None) => Err(Error::Usage(format!(
            "{model_path} was fitted on a feature table: give one with --features-input"
        ))),
        (InputSchema::Transactions { .. }, Some(_)) => Err(Error::Usage(format!(
            "{model_path} was fitted on transaction logs: give logs, not --features-input"
        ))),
    }
}
