//! `segmint fit`: K-Means on the users' features; per-user scores and the
//! model file.

use std::time::Instant;

use serde::Serialize;

use crate::cli::{FitArgs, Format};
use segmint::Error;
use segmint::backend::Backend;
use segmint::cluster::model::{MODEL_FORMAT, MODEL_VERSION, Model, segment_ranks};
use segmint::cluster::params::parse_k_list;
use segmint::cluster::{Metrics, ParamsError, sweep};
use segmint::output::write_output;
use segmint::report::scores::Scores;

use super::cluster::{centres_by_segment, column_values, prepare, roots};
use super::{is_stdout, spinner};

/// The JSON summary of a fit.
#[derive(Serialize)]
struct FitSummary {
    output: String,
    model: Option<String>,
    users: usize,
    features: Vec<String>,
    backend: &'static str,
    k: usize,
    n_iter: usize,
    converged: bool,
    segment_order_by: String,
    /// Users per segment, segment 0 first.
    segment_sizes: Vec<u64>,
    #[serde(flatten)]
    metrics: Metrics,
    seconds: f64,
}

pub fn run(args: &FitArgs, quiet: bool) -> Result<(), Error> {
    let ks = if args.k == "auto" {
        parse_k_list(&args.k_range)?
    } else {
        vec![
            args.k
                .trim()
                .parse::<usize>()
                .map_err(|_| ParamsError::BadRange(args.k.clone()))?,
        ]
    };
    if ks.is_empty() {
        return Err(ParamsError::EmptyRange(args.k_range.clone()).into());
    }
    let mode = args.kmeans.silhouette()?;
    if args.format == Format::Json && is_stdout(&args.output) {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the scores to a file with -o"
                .into(),
        ));
    }
    let started = Instant::now();
    let prepared = prepare(&args.data, quiet)?;
    let backend = Backend::Cpu;
    let bar = spinner(quiet, "clustering");
    let result = sweep(
        &backend,
        &prepared.points,
        &ks,
        &args.kmeans.params(ks[0]),
        mode,
    );
    bar.finish_and_clear();
    let result = result?;
    let chosen = result.chosen_index();
    let fit = &result.fits[chosen];
    let k = fit.k();

    // Segments ordered by mean of the ordering column, highest first.
    let order_by = prepared.order_column();
    let rank = segment_ranks(&fit.labels, k, &column_values(&prepared.table, &order_by));
    let centres = centres_by_segment(&fit.centres, &rank);
    let model = Model {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        created_by: format!("segmint {}", env!("CARGO_PKG_VERSION")),
        input: prepared.schema.clone(),
        features: prepared.feature_names(),
        scaling: prepared.scaling,
        scaler: prepared.scaler.clone(),
        centres,
        segment_order_by: order_by.clone(),
        k,
        seed: args.kmeans.seed,
        n_init: args.kmeans.n_init,
        max_iter: args.kmeans.max_iter,
        tol: args.kmeans.tol,
        users: prepared.points.n(),
        inertia: fit.inertia,
        silhouette: result.metrics[chosen].silhouette,
    };
    // Labels and distances as `score` computes them, so that scoring the
    // same input with the model reproduces this file.
    let n = prepared.points.n();
    let mut segments = vec![0u32; n];
    let mut squared = vec![0.0f32; n];
    backend.assign(
        &backend.upload(&prepared.points),
        &model.centres_f32(),
        &mut segments,
        &mut squared,
    );
    // Values follow users, not clusters: no reordering by segment needed.
    let silhouettes = result.silhouette_values[chosen].as_deref();
    let distances = roots(&squared);
    let scores = Scores {
        table: &prepared.table,
        segments: &segments,
        distances: &distances,
        silhouettes,
    };
    write_output(&args.output, |out| scores.write_csv(out))?;
    if let Some(path) = &args.model {
        write_output(path, |out| out.write_all(model.to_json().as_bytes()))?;
    }
    let mut sizes = vec![0u64; k];
    for &s in &segments {
        sizes[s as usize] += 1;
    }
    let summary = FitSummary {
        output: display(&args.output),
        model: args.model.as_deref().map(display),
        users: n,
        features: model.features.clone(),
        backend: backend.name(),
        k,
        n_iter: fit.n_iter,
        converged: fit.converged,
        segment_order_by: order_by,
        segment_sizes: sizes,
        metrics: result.metrics[chosen].clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serialisable")
        ),
        Format::Table if quiet => {}
        Format::Table if is_stdout(&args.output) => eprintln!("{}", describe(&summary)),
        Format::Table => println!("{}", describe(&summary)),
    }
    Ok(())
}

fn display(path: &std::path::Path) -> String {
    if is_stdout(path) {
        "<stdout>".into()
    } else {
        path.display().to_string()
    }
}

fn describe(s: &FitSummary) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    format!(
        "{} users in {} segments ({} iterations{}, {:.2} s) -> {}{}\n\
         segment sizes (by mean {}, highest first): {}\n\
         inertia {:.4}, silhouette {}{}, calinski-harabasz {}, davies-bouldin {}",
        s.users,
        s.k,
        s.n_iter,
        if s.converged { "" } else { ", not converged" },
        s.seconds,
        s.output,
        s.model
            .as_ref()
            .map_or(String::new(), |m| format!(", model {m}")),
        s.segment_order_by,
        s.segment_sizes
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" / "),
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
