//! `segmint fit`: K-Means on the users' features; per-user scores and the
//! model file.

use std::time::Instant;

use serde::Serialize;

use crate::cli::{FitArgs, Format, KMeansArgs};
use segmint::Error;
use segmint::backend::Backend;
use segmint::backend::Labeling;
use segmint::cluster::metrics::{cheap_metrics, silhouettes};
use segmint::cluster::model::{MODEL_FORMAT, MODEL_VERSION, Model, segment_ranks};
use segmint::cluster::params::parse_k_list;
use segmint::cluster::{Metrics, ParamsError, Sweep};
use segmint::ingest::IngestReport;
use segmint::insights::churn::ChurnThresholds;
use segmint::insights::naming::{default_names, parse_names};
use segmint::insights::segments::{UserInsights, user_insights};
use segmint::output::{Outputs, describe as describe_output};
use segmint::report::scores::Scores;

use super::analyse::sweep_ks;
use super::cluster::{Prepared, centres_by_segment, cluster, column_values, prepare, roots};
use super::{Session, input_paths, is_stdout, say_json, tell};

/// The JSON summary of a fit.
#[derive(Serialize)]
struct FitSummary {
    output: String,
    model: Option<String>,
    users: usize,
    features: Vec<String>,
    backend: &'static str,
    device: String,
    n_iter: usize,
    converged: bool,
    segment_order_by: String,
    segment_names: Vec<String>,
    /// Users per segment, segment 0 first.
    segment_sizes: Vec<u64>,
    #[serde(flatten)]
    metrics: Metrics,
    /// How the transaction logs were read (rows, skipped bad rows); none
    /// for a feature table.
    #[serde(flatten)]
    input: Option<IngestReport>,
    seconds: f64,
}

/// The chosen fit of a sweep made into a model, and what it says of each
/// user: segment (numbered by value), distance, silhouette, RFM and churn.
pub struct Fitted {
    pub model: Model,
    pub segments: Vec<u32>,
    pub distances: Vec<f64>,
    pub silhouettes: Option<Vec<f32>>,
    /// The metrics of `segments`, the labels written.
    pub metrics: Metrics,
    /// `None` for a feature table without the RFM columns.
    pub insights: Option<UserInsights>,
}

impl Fitted {
    pub fn new(
        backend: &Backend,
        prepared: &Prepared,
        result: &Sweep,
        chosen: usize,
        segment_names: Vec<String>,
        churn: ChurnThresholds,
        kmeans: &KMeansArgs,
    ) -> Result<Fitted, Error> {
        let fit = &result.fits[chosen];
        let k = fit.k();
        let points = &prepared.points;
        // Segments ordered by mean of the ordering column, highest first.
        let order_by = prepared.order_column();
        let rank = segment_ranks(
            &fit.labels,
            k,
            &column_values(&prepared.table, &order_by),
            &fit.centres,
        );
        let centres = centres_by_segment(&fit.centres, &rank);
        // Labels and distances as `score` computes them (the nearest
        // centre; an exact tie to the lower segment), so that scoring the
        // same input with the model reproduces them.
        let n = points.n();
        let (segments, squared) =
            backend.assign(points, &points.frame.to_working(&centres.concat()))?;
        // A user tied between two centres (exactly, or within rounding)
        // may sit in another segment than the fit's label said: then the
        // metrics are computed again, on the labels written.
        let relabelled = fit
            .labels
            .iter()
            .zip(&segments)
            .any(|(&label, &segment)| rank[label as usize] != segment);
        let (metrics, silhouettes) = if relabelled {
            let inertia = points
                .frame
                .squared(squared.iter().map(|&v| f64::from(v)).sum());
            let mut metrics = cheap_metrics(points, &segments, k, inertia);
            let labelling = [Labeling {
                labels: &segments,
                k,
            }];
            let sil = silhouettes(
                backend,
                points,
                &labelling,
                kmeans.silhouette()?,
                kmeans.seed,
            )?
            .pop()
            .flatten();
            let values = sil
                .as_ref()
                .and_then(|(s, _)| (!s.values.is_empty()).then(|| s.values.clone()));
            if let Some((s, on)) = sil {
                metrics.silhouette = Some(s.mean);
                metrics.silhouette_on = Some(on);
            }
            (metrics, values)
        } else {
            // Values follow users, not clusters: no reordering by segment.
            (
                result.metrics[chosen].clone(),
                result.silhouette_values[chosen].clone(),
            )
        };
        let model = Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            created_by: format!("segmint {}", env!("CARGO_PKG_VERSION")),
            input: prepared.schema.clone(),
            features: prepared.feature_names(),
            scaling: prepared.scaling,
            scaler: prepared.scaler.clone(),
            centres,
            segment_order_by: order_by,
            segment_names,
            churn,
            k,
            seed: kmeans.seed,
            n_init: kmeans.n_init,
            max_iter: kmeans.max_iter,
            tol: kmeans.tol,
            users: n,
            inertia: metrics.inertia,
            silhouette: metrics.silhouette,
        };
        let insights = user_insights(&prepared.table, &segments, &model.churn);
        Ok(Fitted {
            model,
            segments,
            distances: roots(&squared, &points.frame),
            silhouettes,
            metrics,
            insights,
        })
    }

    pub fn scores<'a>(&'a self, prepared: &'a Prepared) -> Scores<'a> {
        Scores {
            table: &prepared.table,
            segments: &self.segments,
            names: &self.model.segment_names,
            distances: &self.distances,
            silhouettes: self.silhouettes.as_deref(),
            insights: self.insights.as_ref(),
        }
    }
}

/// `--segment-names` for `k` segments, or the default names.
pub fn segment_names(list: Option<&str>, k: usize) -> Result<Vec<String>, Error> {
    match list {
        Some(list) => parse_names(list, k).map_err(|e| Error::Usage(e.to_string())),
        None => Ok(default_names(k)),
    }
}

pub fn run(args: &FitArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let fixed = match args.k.trim() {
        "auto" => {
            // Checked now; clamped to the users once they are known.
            if parse_k_list(&args.k_range)?.is_empty() {
                return Err(ParamsError::EmptyRange(args.k_range.clone()).into());
            }
            None
        }
        k => Some(
            k.parse::<usize>()
                .map_err(|_| ParamsError::BadRange(args.k.clone()))?,
        ),
    };
    let mode = args.kmeans.validate()?;
    let thresholds = args
        .churn
        .thresholds(&args.data.feature)
        .map_err(Error::Usage)?;
    if let (Some(list), Some(k)) = (&args.segment_names, fixed) {
        segment_names(Some(list), k)?;
    }
    if args.format == Format::Json && is_stdout(&args.output) {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the scores to a file with -o"
                .into(),
        ));
    }
    let outputs: Vec<&std::path::Path> = std::iter::once(args.output.as_path())
        .chain(args.model.as_deref())
        .collect();
    let mut outputs = Outputs::plan(
        &input_paths(&args.data.inputs, args.data.features_input.as_deref()),
        &outputs,
    )?;
    let started = Instant::now();
    let prepared = prepare(&args.data, quiet)?;
    let ks = match fixed {
        Some(k) => vec![k],
        None => sweep_ks("auto", &args.k_range, prepared.points.n())?.0,
    };
    let (backend, result) = cluster(session, &prepared.points, &ks, &args.kmeans, mode)?;
    let chosen = result.chosen_index();
    let fit = &result.fits[chosen];
    let k = fit.k();

    let names = segment_names(args.segment_names.as_deref(), k)?;
    let fitted = Fitted::new(
        &backend,
        &prepared,
        &result,
        chosen,
        names,
        thresholds,
        &args.kmeans,
    )?;
    let model = &fitted.model;
    if let Some(path) = &args.model {
        outputs.write(path, |out| out.write_all(model.to_json().as_bytes()))?;
    }
    outputs.write(&args.output, |out| fitted.scores(&prepared).write_csv(out))?;
    outputs.commit()?;
    let segments = &fitted.segments;
    let n = segments.len();
    let order_by = model.segment_order_by.clone();
    let mut sizes = vec![0u64; k];
    for &s in segments {
        sizes[s as usize] += 1;
    }
    let summary = FitSummary {
        output: display(&args.output),
        model: args.model.as_deref().map(display),
        users: n,
        features: model.features.clone(),
        backend: backend.name(),
        device: backend.describe(),
        n_iter: fit.n_iter,
        converged: fit.converged,
        segment_order_by: order_by,
        segment_names: model.segment_names.clone(),
        segment_sizes: sizes,
        metrics: fitted.metrics.clone(),
        input: prepared.ingest.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    match args.format {
        Format::Json => say_json(&summary),
        Format::Table => tell(describe(&summary), quiet, is_stdout(&args.output)),
    }
}

fn display(path: &std::path::Path) -> String {
    if is_stdout(path) {
        "<stdout>".into()
    } else {
        describe_output(path)
    }
}

fn describe(s: &FitSummary) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    format!(
        "{} users in {} segments ({} iterations{}, {:.2} s) -> {}{}\n\
         segments (by mean {}, highest first): {}\n\
         inertia {:.4}, silhouette {}{}, calinski-harabasz {}, davies-bouldin {}",
        s.users,
        s.metrics.k,
        s.n_iter,
        if s.converged { "" } else { ", not converged" },
        s.seconds,
        s.output,
        s.model
            .as_ref()
            .map_or(String::new(), |m| format!(", model {m}")),
        s.segment_order_by,
        sizes_by_name(&s.segment_names, &s.segment_sizes),
        s.metrics.inertia,
        opt(s.metrics.silhouette),
        match s.metrics.silhouette_on {
            Some(on) if on < s.users => format!(" (sample of {on})"),
            _ => String::new(),
        },
        s.metrics
            .calinski_harabasz
            .map_or("-".into(), |v| format!("{v:.1}")),
        opt(s.metrics.davies_bouldin),
    )
}

/// "Power User 3, Loyal User 12, Casual User 5"; past a dozen segments
/// the first ones and how many more.
pub fn sizes_by_name(names: &[String], sizes: &[u64]) -> String {
    const SHOWN: usize = 12;
    let mut parts: Vec<String> = names
        .iter()
        .zip(sizes)
        .take(SHOWN)
        .map(|(name, size)| format!("{name} {size}"))
        .collect();
    if names.len() > SHOWN {
        parts.push(format!("and {} more", names.len() - SHOWN));
    }
    parts.join(", ")
}
