//! `segmint sweep`: every K of a range, every metric, the knee and the
//! chosen K.

use std::time::Instant;

use crate::cli::{Format, SweepArgs};
use segmint::Error;
use segmint::cluster::params::parse_k_list;

use segmint::output::write_output;
use segmint::report::sweep::SweepSummary;

use super::cluster::{cluster, prepare};
use super::{Session, is_stdout};

pub fn run(args: &SweepArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let ks = parse_k_list(&args.k)?;
    let mode = args.kmeans.silhouette()?;
    if args.format == Format::Json && args.output.as_deref().is_some_and(is_stdout) {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the CSV to a file with -o"
                .into(),
        ));
    }
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
        write_output(path, |out| summary.write_csv(out))?;
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serialisable")
        ),
        Format::Table if quiet => {}
        Format::Table if args.output.as_deref().is_some_and(is_stdout) => {
            eprintln!("{}", summary.describe())
        }
        Format::Table => println!("{}", summary.describe()),
    }
    Ok(())
}
