//! `segmint score`: new users into the segments of a fitted model, read
//! as the model says its users were read.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::emit::summary;
use super::{Session, behind_spinner, input_paths, load_logs, rereadable, timed};
use crate::cli::feature_specs;
use crate::cli::{Format, ScoreArgs};
use segmint::Error;
use segmint::cluster::SilhouetteMode;
use segmint::features::FeatureOptions;
use segmint::features::matrix::NumericTable;
use segmint::formats::TableFormat;
use segmint::graph::UserGraph;
use segmint::graph::build::{
    DEFAULT_MAX_PEER_DEGREE, PeerOptions, knn_graph, peer_graph, read_edges,
};
use segmint::ingest::numeric::{NumericOptions, read_numeric_table};
use segmint::ingest::{Delimiter, IngestError, IngestOptions, IngestReport, Input, inputs};
use segmint::insights::segments::INSIGHT_COLUMNS;
use segmint::output::{Outputs, is_stdout, summary_name};
use segmint::report::text::sizes_by_name;
use segmint::segment::model::GraphSpec;
use segmint::segment::{self, InputSchema, MethodModel, Model, PlacedBy};
use segmint::values::time::{MS_PER_DAY, day_of};

#[derive(Serialize)]
struct ScoreSummary {
    output: String,
    users: usize,
    k: usize,
    segment_names: Vec<String>,
    segment_sizes: Vec<u64>,
    silhouette: Option<f64>,
    /// A Leiden model: users placed as fitted members, by their edges, by
    /// their features.
    #[serde(skip_serializing_if = "Option::is_none")]
    placed_by: Option<PlacedCounts>,
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
                .chain(args.edges_input.as_deref())
                .chain([args.model.as_path()])
                .chain(args.population.as_deref()),
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
    let population = args
        .population
        .as_deref()
        .map(super::distributed::read_population)
        .transpose()?;
    if let Some(asked) = feature_specs(args.features.as_deref())? {
        model.check_features(&asked, &model_path)?;
    }
    let leiden = match &model.method {
        MethodModel::Leiden { graph, .. } => Some(graph),
        _ => None,
    };
    if args.edges_input.is_some() && leiden.is_none_or(|g| g.source != "edges") {
        return Err(Error::Usage(format!(
            "--edges-input places users by their edges with a Leiden model fitted on an edge list; {model_path} is not one"
        )));
    }
    // A peers model reads the logs again for their counterparties.
    let logs = if leiden.is_some_and(|g| g.source == "peers") {
        rereadable(&args.inputs)?
    } else {
        inputs(&args.inputs)
    };
    let (table, report, mut graph) = timed("reading", || {
        read_users(&args.users(), &logs, &model, &model_path, session.quiet)
    })?;
    let points = timed("points", || model.points(&table))?;
    if let Some(spec) = leiden
        && graph.is_none()
    {
        graph = scored_graph(
            &args.users(),
            &logs,
            &model,
            spec,
            &table,
            &points,
            session.quiet,
        )?;
    }
    let work = segment::score_work(&model, &points, silhouette);
    // A Leiden model places users on the CPU: no GPU to look for.
    let backend = match leiden {
        Some(_) => segmint::backend::Backend::Cpu,
        None => session.backend(&work.as_workload())?,
    };
    let placement = behind_spinner(session.quiet, "scoring", || {
        segment::score(
            &backend,
            &model,
            &table,
            &points,
            graph.as_ref().map(|g| &g.graph),
            silhouette,
            population.as_ref(),
        )
    })?;
    let scores = placement.scores(&table, &model.segment_names);
    let format = TableFormat::of_output(&args.output, args.output_format);
    timed("writing", || {
        outputs.write(&args.output, |out| match format {
            TableFormat::Csv => scores.write_csv(out),
            columnar => scores.write_table(out, columnar),
        })?;
        outputs.commit()
    })?;
    let result = ScoreSummary {
        output: summary_name(&args.output),
        users: points.n(),
        k: model.k,
        segment_names: model.segment_names.clone(),
        segment_sizes: placement.sizes(model.k),
        silhouette: placement.silhouette.map(|(mean, _)| mean),
        placed_by: placement.placed_by.as_ref().map(|how| PlacedCounts {
            member: how.iter().filter(|&&h| h == PlacedBy::Member).count(),
            edges: how.iter().filter(|&&h| h == PlacedBy::Edges).count(),
            features: how.iter().filter(|&&h| h == PlacedBy::Features).count(),
        }),
        input: report,
        seconds: started.elapsed().as_secs_f64(),
    };
    summary(
        args.format,
        session.quiet,
        scores_on_stdout,
        &result,
        || {
            let mut text = format!(
                "{} users scored into {} segments ({:.2} s) -> {}\nsegments: {}",
                result.users,
                result.k,
                result.seconds,
                result.output,
                sizes_by_name(&result.segment_names, &result.segment_sizes)
            );
            if let Some(p) = &result.placed_by {
                text.push_str(&format!(
                    "\nplaced: {} fitted users in their segments, {} by their edges, {} by the nearest centroid",
                    p.member, p.edges, p.features
                ));
            }
            text
        },
    )
}

/// Where the users to score are, and how their logs are windowed.
pub(super) struct Users<'a> {
    pub inputs: &'a [PathBuf],
    pub features_input: Option<&'a Path>,
    pub edges_input: Option<&'a Path>,
    pub as_of: Option<&'a str>,
    pub window_start: Option<&'a str>,
    /// A logs model's users from a features table: also read the columns
    /// of RFM, churn and lifetime value (else the model's alone).
    pub insights: bool,
}

impl ScoreArgs {
    fn users(&self) -> Users<'_> {
        Users {
            inputs: &self.inputs,
            features_input: self.features_input.as_deref(),
            edges_input: self.edges_input.as_deref(),
            as_of: self.as_of.as_deref(),
            window_start: self.window_start.as_deref(),
            insights: true,
        }
    }
}

/// `--as-of`, read in the model's time format.
fn as_of(args: &Users<'_>, model: &Model) -> Result<Option<i64>, Error> {
    model_time(model, "--as-of", args.as_of)
}

/// A time flag's value, read in the model's time format.
fn model_time(model: &Model, flag: &str, text: Option<&str>) -> Result<Option<i64>, Error> {
    let time_format = model.input.time_format().unwrap_or_default();
    text.map(|text| {
        time_format.parse(text.as_bytes()).map_err(|e| {
            Error::Usage(format!(
                "{flag} {text:?}: expected {} ({e})",
                time_format.expected()
            ))
        })
    })
    .transpose()
}

/// How a logs model reads the scored users' logs: its options, with
/// `--as-of` and `--window-start`.
fn logs_options(args: &Users<'_>, model: &Model) -> Result<(IngestOptions, FeatureOptions), Error> {
    let (mut options, mut features) = model
        .input
        .logs_options(as_of(args, model)?)
        .ok_or_else(|| Error::Internal("a logs model reads logs".into()))?;
    if let Some(ms) = model_time(model, "--window-start", args.window_start)? {
        let day = day_of(ms);
        options.since = Some(day * MS_PER_DAY);
        features.window_start = Some(day);
    }
    options.validate().map_err(Error::Usage)?;
    Ok((options, features))
}

/// How a Leiden model placed the scored users.
#[derive(Serialize)]
struct PlacedCounts {
    member: usize,
    edges: usize,
    features: usize,
}

/// The scored users' graph, built as the model's was: from the logs'
/// counterparty column, the `--edges-input` list over them, or their kNN
/// graph; `None` for an edge-list model scored without `--edges-input`.
fn scored_graph(
    args: &Users<'_>,
    logs: &[Input],
    model: &Model,
    spec: &GraphSpec,
    table: &NumericTable,
    points: &segmint::features::matrix::FeatureMatrix,
    quiet: bool,
) -> Result<Option<UserGraph>, Error> {
    let graph = match spec.source.as_str() {
        "peers" => {
            let InputSchema::Transactions {
                peer_col: Some(column),
                ..
            } = &model.input
            else {
                return Err(Error::Internal("a peers model names its column".into()));
            };
            let (options, _) = logs_options(args, model)?;
            let peers = PeerOptions {
                column: column.clone(),
                weight: spec.edge_weight.unwrap_or_default(),
                kind: spec.peers.unwrap_or_default(),
                max_peer_degree: spec.max_peer_degree.unwrap_or(DEFAULT_MAX_PEER_DEGREE),
            };
            behind_spinner(quiet, "graph", || {
                peer_graph(logs, &options, &table.keys, &peers)
            })?
        }
        "edges" => match args.edges_input {
            Some(path) => read_edges(path, Some(&table.keys))?.graph,
            None => return Ok(None),
        },
        _ => {
            // Too few or too many users for their own kNN graph: all are
            // placed as members or by the nearest centroid.
            let k = spec.knn.unwrap_or(1);
            if points.n() <= k || points.n() > segmint::graph::build::MAX_KNN_USERS {
                return Ok(None);
            }
            knn_graph(points, k)?
        }
    };
    Ok(Some(graph))
}

/// The users to score, read as the model's users were: logs with its
/// column and format options (`--as-of` in its time format), a feature
/// table with its key column, or an edge list (with its graph).
pub(super) fn read_users(
    args: &Users<'_>,
    logs: &[Input],
    model: &Model,
    model_path: &str,
    quiet: bool,
) -> Result<(NumericTable, Option<IngestReport>, Option<UserGraph>), Error> {
    if let InputSchema::Edges {} = model.input {
        let Some(path) = args.edges_input else {
            return Err(Error::Usage(format!(
                "{model_path} was fitted on an edge list alone: give the users' edges with --edges-input"
            )));
        };
        if !args.inputs.is_empty() || args.features_input.is_some() {
            return Err(Error::Usage(format!(
                "{model_path} was fitted on an edge list alone: give only --edges-input"
            )));
        }
        let prepared = segment::prepare_edges(path, Some(model.feature_specs()), model.scaling)?;
        return Ok((prepared.table, None, prepared.graph));
    }
    let (table, report) = read_table(args, logs, model, model_path, quiet)?;
    Ok((table, report, None))
}

/// The users of logs or a feature table, as [`read_users`] reads them.
fn read_table(
    args: &Users<'_>,
    logs: &[Input],
    model: &Model,
    model_path: &str,
    quiet: bool,
) -> Result<(NumericTable, Option<IngestReport>), Error> {
    match (&model.input, args.features_input) {
        (InputSchema::FeatureTable { key_col, delimiter }, Some(path)) => {
            // Checked when the model was read.
            let delimiter = delimiter.parse::<Delimiter>().unwrap_or_default();
            let specs = model.feature_specs();
            let table =
                segment::read_feature_table(path, key_col.clone(), delimiter, None, Some(&specs))?;
            Ok((table, None))
        }
        (InputSchema::Transactions { .. }, None) => {
            let (options, features) = logs_options(args, model)?;
            let (table, report) =
                load_logs(logs, &options, &features, options.as_of.is_some(), quiet)?;
            Ok((NumericTable::from_features(&table), Some(report)))
        }
        (InputSchema::FeatureTable { .. }, None) => Err(Error::Usage(format!(
            "{model_path} was fitted on a feature table: give one with --features-input"
        ))),
        (InputSchema::Transactions { .. }, Some(path)) => {
            if matches!(model.method, MethodModel::Leiden { .. }) {
                return Err(Error::Usage(format!(
                    "{model_path} places users by their graph, built from the logs: give logs, not --features-input"
                )));
            }
            // A table `segmint features` wrote: the columns the model and
            // the insights read.
            let mut columns: Vec<String> = Vec::new();
            let wanted = model
                .feature_specs()
                .into_iter()
                .map(|spec| spec.column)
                .chain([model.segment_order_by.clone()])
                .chain(
                    INSIGHT_COLUMNS
                        .iter()
                        .chain(&segmint::insights::btyd::COLUMNS)
                        .filter(|_| args.insights)
                        .map(|c| c.to_string()),
                );
            for column in wanted {
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
            let options = NumericOptions {
                key_column: None,
                columns: Some(columns),
                prefer: None,
                delimiter: Delimiter::default(),
                format: None,
            };
            Ok((read_numeric_table(path, &options)?, None))
        }
        (InputSchema::Edges {}, _) => Err(Error::Internal("read by read_users".into())),
    }
}
