//! `segmint sweep`: every K of a range, every metric, the knee and the
//! chosen K.

use std::time::Instant;

use super::emit::summary;
use super::{Session, backend_for, behind_spinner, input_paths, prepare, warn_empty};
use crate::cli::{Format, SweepArgs, k_list};
use segmint::Error;
use segmint::output::{Outputs, is_stdout};
use segmint::report::sweep::SweepSummary;
use segmint::segment;

pub fn run(args: &SweepArgs, session: &Session) -> Result<(), Error> {
    let ks = k_list(&args.k, "--k")?;
    let (method, silhouette) = args.kmeans.method()?;
    if matches!(method, segment::Method::Leiden(_)) {
        return Err(Error::Usage(
            "--method leiden finds its own number of communities, there is no K to sweep: run fit --method leiden (its --resolution gives more or fewer)".into(),
        ));
    }
    if args.kmeans.parent_k.is_some() {
        return Err(Error::Usage(
            "--parent-k sets the segment_path column of fit's scores.csv: give it to fit".into(),
        ));
    }
    let csv_on_stdout = args.output.as_deref().is_some_and(is_stdout);
    if args.format == Format::Json && csv_on_stdout {
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
    let prepared = prepare(&args.data, &method, session.quiet)?;
    let backend = backend_for(session, &prepared, &method, &ks, silhouette)?;
    let sweep = behind_spinner(session.quiet, "clustering", || {
        segment::sweep(&backend, &prepared, &method, &ks, silhouette)
    })?;
    warn_empty(&sweep.empty_clusters(&prepared.points), session.quiet)?;
    let feature_names = prepared.feature_names();
    let result = SweepSummary::new(
        &sweep,
        prepared.points.n(),
        &feature_names,
        &backend,
        started.elapsed().as_secs_f64(),
    );
    if let Some(path) = &args.output {
        outputs.write(path, |out| result.write_csv(out))?;
    }
    outputs.commit()?;
    summary(args.format, session.quiet, csv_on_stdout, &result, || {
        result.describe()
    })
}
