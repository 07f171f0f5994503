//! `segmint score`: new users into the segments of a fitted model.

use std::time::Instant;

use serde::Serialize;

use crate::cli::{FeatureArgs, Format, InputArgs, ScoreArgs};
use segmint::Error;
use segmint::backend::{Labeling, Workload};
use segmint::cluster::SilhouetteMode;
use segmint::cluster::metrics::silhouettes;
use segmint::cluster::model::{InputSchema, Model, ModelError};
use segmint::features::matrix::FeatureSpec;
use segmint::ingest::IngestError;
use segmint::ingest::IngestReport;
use segmint::insights::segments::user_insights;
use segmint::output::{Outputs, describe as describe_output};
use segmint::report::scores::Scores;

use super::cluster::{roots, table_from_file, table_from_logs};
use super::fit::sizes_by_name;
use super::{Session, input_paths, is_stdout, say_json, tell};

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
    let quiet = session.quiet;
    let mode = SilhouetteMode::parse(&args.silhouette)?;
    if args.format == Format::Json && is_stdout(&args.output) {
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
    let specs = model.feature_specs();
    if let Some(asked) = &args.features {
        let asked = FeatureSpec::parse_list(asked).map_err(Error::Usage)?;
        model.check_features(&asked, &model_path)?;
    }
    let (table, report) = match (&model.input, &args.features_input) {
        (InputSchema::FeatureTable { key_col, delimiter }, Some(path)) => {
            let input = input_args(&[], delimiter, None)?;
            (
                table_from_file(path, key_col.clone(), Some(&specs), &input)?,
                None,
            )
        }
        (InputSchema::Transactions { .. }, None) => {
            let input = transactions_input(&model.input)?;
            let feature = FeatureArgs {
                as_of: args.as_of.clone(),
                dormant_days: match &model.input {
                    InputSchema::Transactions { dormant_days, .. } => *dormant_days,
                    _ => unreachable!(),
                },
            };
            let (table, report) = table_from_logs(&args.inputs, &input, &feature, quiet)?;
            (table, Some(report))
        }
        (InputSchema::FeatureTable { .. }, None) => {
            return Err(Error::Usage(format!(
                "{model_path} was fitted on a feature table: give one with --features-input"
            )));
        }
        (InputSchema::Transactions { .. }, Some(_)) => {
            return Err(Error::Usage(format!(
                "{model_path} was fitted on transaction logs: give logs, not --features-input"
            )));
        }
    };
    let raw = table.select(&specs)?;
    // The frame holds the centres too: new users may all sit far from them.
    let points = model.scaler.transform_with(&raw, &model.centres);
    let n = points.n();
    let silhouette_ks: Vec<usize> = if mode.resolve(n) == SilhouetteMode::None {
        Vec::new()
    } else {
        vec![model.k]
    };
    let backend = session.backend(&Workload {
        n,
        d: points.d(),
        runs: &[],
        silhouettes: &silhouette_ks,
    })?;
    let (segments, squared) =
        backend.assign(&points, &points.frame.to_working(&model.centres.concat()))?;
    let sil = silhouettes(
        &backend,
        &points,
        &[Labeling {
            labels: &segments,
            k: model.k,
        }],
        mode,
        model.seed,
    )?
    .pop()
    .flatten();
    let distances = roots(&squared, &points.frame);
    // RFM quintiles rank the users being scored against each other.
    let insights = user_insights(&table, &segments, &model.churn);
    let scores = Scores {
        table: &table,
        segments: &segments,
        names: &model.segment_names,
        distances: &distances,
        insights: insights.as_ref(),
        silhouettes: sil
            .as_ref()
            .filter(|(s, _)| !s.values.is_empty())
            .map(|(s, _)| s.values.as_slice()),
    };
    outputs.write(&args.output, |out| scores.write_csv(out))?;
    outputs.commit()?;
    let mut sizes = vec![0u64; model.k];
    for &s in &segments {
        sizes[s as usize] += 1;
    }
    let summary = ScoreSummary {
        output: if is_stdout(&args.output) {
            "<stdout>".into()
        } else {
            describe_output(&args.output)
        },
        users: n,
        k: model.k,
        segment_names: model.segment_names.clone(),
        segment_sizes: sizes,
        silhouette: sil.map(|(s, _)| s.mean),
        input: report,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = format!(
        "{} users scored into {} segments ({:.2} s) -> {}\nsegments: {}",
        summary.users,
        summary.k,
        summary.seconds,
        summary.output,
        sizes_by_name(&summary.segment_names, &summary.segment_sizes)
    );
    match args.format {
        Format::Json => say_json(&summary),
        Format::Table => tell(text, quiet, is_stdout(&args.output)),
    }
}

fn bad_model(reason: String) -> Error {
    Error::Model(ModelError::Invalid {
        path: "the model".into(),
        reason,
    })
}

fn input_args(
    success: &[String],
    delimiter: &str,
    time_format: Option<&str>,
) -> Result<InputArgs, Error> {
    Ok(InputArgs {
        user_col: None,
        time_col: None,
        amount_col: None,
        channel_col: None,
        status_col: None,
        no_header: false,
        delimiter: delimiter.parse().map_err(bad_model)?,
        time_format: time_format.unwrap_or("auto").parse().map_err(bad_model)?,
        success_status: success.to_vec(),
        skip_bad_rows: false,
        no_mmap: false,
        chunk_bytes: None,
    })
}

/// The reading options recorded in a model fitted on logs.
fn transactions_input(schema: &InputSchema) -> Result<InputArgs, Error> {
    let InputSchema::Transactions {
        user_col,
        time_col,
        amount_col,
        channel_col,
        status_col,
        no_header,
        delimiter,
        time_format,
        success_statuses,
        ..
    } = schema
    else {
        unreachable!("called for transaction models")
    };
    let mut input = input_args(success_statuses, delimiter, Some(time_format))?;
    input.user_col = user_col.clone();
    input.time_col = time_col.clone();
    input.amount_col = amount_col.clone();
    input.channel_col = channel_col.clone();
    input.status_col = status_col.clone();
    input.no_header = *no_header;
    Ok(input)
}
