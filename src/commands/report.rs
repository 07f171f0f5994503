//! `segmint report`: transaction logs to one self-contained HTML report
//! and, optionally, its numbers as JSON.

use std::path::Path;

use super::emit::say;
use super::{LEIDEN_K, Segmenting, Session, analyse, behind_spinner, input_paths, rereadable};
use crate::cli::{ReportArgs, feature_specs, k_choice, k_list, log_options, segment_names};
use segmint::Error;
use segmint::output::{Outputs, describe, is_stdout};
use segmint::report::text::report_lines;
use segmint::report::write_report;
use segmint::segment::{KChoice, Method, SegmentOptions};

pub fn run(args: &ReportArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let html_on_stdout = is_stdout(&args.output);
    let json_on_stdout = args.json.as_deref().is_some_and(is_stdout);
    if html_on_stdout && json_on_stdout {
        return Err(Error::Usage(
            "the report and --json cannot both go to standard output".into(),
        ));
    }
    let outputs: Vec<&Path> = std::iter::once(args.output.as_path())
        .chain(args.json.as_deref())
        .collect();
    let mut outputs = Outputs::plan(
        &input_paths(&args.inputs, args.kmeans.graph.edges_input.as_deref()),
        &outputs,
    )?;
    let logs = rereadable(&args.inputs)?;
    let (options, features) = log_options(&args.input, &args.feature)?;
    let churn = args.churn.thresholds(&args.feature)?;
    let (method, silhouette) = args.kmeans.method()?;
    if args.kmeans.parent_k.is_some() {
        return Err(Error::Usage(
            "--parent-k sets the segment_path column of fit's scores.csv: give it to fit".into(),
        ));
    }
    let asked = feature_specs(args.features.as_deref())?;
    let leiden = matches!(method, Method::Leiden(_));
    if leiden && args.k.is_some() {
        return Err(Error::Usage(LEIDEN_K.into()));
    }
    let k = if leiden {
        KChoice::Auto
    } else {
        k_choice(args.k.as_deref().unwrap_or("3"))?
    };
    let segmenting = Segmenting {
        method,
        k,
        range: k_list(&args.k_range, "--k-range")?,
        options: SegmentOptions {
            names: segment_names(args.segment_names.as_deref(), k)?,
            churn,
            lifetime: args.churn.lifetime()?,
        },
        silhouette,
    };
    let (_, analysis) = analyse(session, &logs, &options, &features, asked, &segmenting)?;
    let summary = behind_spinner(quiet, "analysing", || analysis.summary(&logs))?;
    write_report(&mut outputs, &summary, &args.output, args.json.as_deref())?;
    outputs.commit()?;
    if !quiet && !html_on_stdout && !json_on_stdout {
        say(report_lines(&summary))?;
        say(format_args!(
            "report: {}{}",
            describe(&args.output),
            args.json
                .as_deref()
                .map_or(String::new(), |j| format!(", summary: {}", describe(j)))
        ))?;
    }
    Ok(())
}
