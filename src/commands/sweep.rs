//! `segmint sweep`: every K of a range, every metric, the knee and the
//! chosen K.

use std::time::Instant;

use crate::cli::{Format, SweepArgs};
use segmint::Error;
use segmint::cluster::params::parse_k_list;

use segmint::output::Outputs;
use segmint::report::sweep::SweepSummary;

use super::cluster::{cluster, prepare};
use super::{Session, input_paths, is_stdout, say_json, tell};

pub fn run(args: &SweepArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let ks = parse_k_list(&args.k)?;
    let mode = args.kmeans.validate()?;
    if args.format == Format::Json && args.output.as_deref().is_some_and(is_stdout) {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the CSV to a file with -o"
                .into(),
        ));
    }
    let mut outputs = Outputs::plan(
        &input_paths(&args.data.inputs, args.data.features_input.as_deref()),
        &args.output.as_deref().into_iter().collect::<Vec<_>>(),
    )?;
    let started = Instant::now();
    let prepared = prepare(&args.data, quiet)?;
    let (backend, result) = cluster(session, &prepared.points, &ks, &args.kmeans, mode)?;
    let names = prepared.feature_names();
    let summary = SweepSummary::new(
        &result,
        prepared.points.n(),
        &names,
        &backend,
        started.elapsed().as_secs_f64(),
    );
    if let Some(path) = &args.output {
        outputs.write(path, |out| summary.write_csv(out))?;
    }
    outputs.commit()?;
    match args.format {
        Format::Json => say_json(&summary),
        Format::Table => tell(
            summary.describe(),
            quiet,
            args.output.as_deref().is_some_and(is_stdout),
        ),
    }
}
