//! `segmint report`: transaction logs to one self-contained HTML report
//! and, optionally, its numbers as JSON.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use segmint::Error;
use segmint::ingest::{Input, inputs};
use segmint::output::{Outputs, describe as describe_output};
use segmint::report::html;
use segmint::report::summary::Summary;

use super::analyse::{AnalysisArgs, analyse};
use super::{Session, input_paths, is_stdout, say, thousands};

/// The report reads its logs twice (features, then activity): standard
/// input and named pipes are copied once into unnamed temporary files.
pub fn rereadable(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    if paths.iter().filter(|p| is_stdout(p)).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".into(),
        ));
    }
    inputs(paths)
        .into_iter()
        .map(|input| {
            let name = input.display();
            input.rereadable().map_err(|source| Error::Output {
                path: PathBuf::from(format!("a temporary copy of {name}")),
                source,
            })
        })
        .collect()
}

/// Writes the report (and JSON) of a summary into the run's outputs.
pub fn write_report(
    outputs: &mut Outputs,
    summary: &Summary,
    html_path: &Path,
    json: Option<&Path>,
) -> Result<(), Error> {
    let page = html::render(summary).map_err(Error::Internal)?;
    if let Some(path) = json {
        outputs.write(path, |out| out.write_all(summary.to_json().as_bytes()))?;
    }
    outputs.write(html_path, |out| out.write_all(page.as_bytes()))
}

/// A few lines for the terminal.
pub fn describe(summary: &Summary) -> String {
    let k = &summary.kpis;
    let mut text = format!(
        "{} users, {} transactions, revenue {:.2}, success rate {}",
        thousands(k.users),
        thousands(k.transactions),
        k.revenue,
        k.success_rate
            .map_or("-".into(), |r| format!("{:.1}%", 100.0 * r)),
    );
    let seg = &summary.segmentation;
    text.push_str(&format!("\n{} segments:", seg.k));
    for p in &seg.profiles {
        text.push_str(&format!(
            "\n  {:<16} {:>8} users ({:>5.1}%)  {:>5.1}% of revenue",
            p.name,
            thousands(p.users),
            100.0 * p.user_share,
            100.0 * p.revenue_share
        ));
    }
    text.push_str(&format!(
        "\nchurn risk: {} users flagged, {:.2} of revenue",
        thousands(k.at_risk_users),
        k.revenue_at_risk
    ));
    text
}

pub fn run(args: &ReportArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    if is_stdout(&args.output) && args.json.as_deref().is_some_and(is_stdout) {
        return Err(Error::Usage(
            "the report and --json cannot both go to standard output".into(),
        ));
    }
    let outputs: Vec<&Path> = std::iter::once(args.output.as_path())
        .chain(args.json.as_deref())
        .collect();
    let mut outputs = Outputs::plan(&input_paths(&args.inputs, []), &outputs)?;
    let logs = rereadable(&args.inputs)?;
    let analysis = analyse(
        &AnalysisArgs {
            inputs: &logs,
            input: &args.input,
            feature: &args.feature,
            features: &args.features,
            kmeans: &args.kmeans,
            k: &args.k,
            k_range: &args.k_range,
            segment_names: args.segment_names.as_deref(),
            churn: &args.churn,
        },
        session,
    )?;
    let summary = analysis.summary(&logs, quiet)?;
    write_report(&mut outputs, &summary, &args.output, args.json.as_deref())?;
    outputs.commit()?;
    if !quiet && !is_stdout(&args.output) && !args.json.as_deref().is_some_and(is_stdout) {
        say(describe(&summary))?;
        say(format_args!(
            "report: {}{}",
            describe_output(&args.output),
            args.json.as_deref().map_or(String::new(), |j| format!(
                ", summary: {}",
                describe_output(j)
            ))
        ))?;
    }
    Ok(())
}
