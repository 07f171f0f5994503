//! `segmint report`: transaction logs to one self-contained HTML report
//! and, optionally, its numbers as JSON.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::ReportArgs;
use segmint::Error;
use segmint::output::write_output;
use segmint::report::html;
use segmint::report::summary::Summary;

use super::analyse::{AnalysisArgs, analyse};
use super::{Session, is_stdout, thousands};

/// Standard input can be read once; the report reads its logs twice
/// (features, then activity), so a piped log is kept in a temporary file.
pub struct Spooled {
    pub inputs: Vec<PathBuf>,
    _file: Option<tempfile::TempPath>,
}

pub fn spool_stdin(inputs: &[PathBuf]) -> Result<Spooled, Error> {
    if !inputs.iter().any(|p| is_stdout(p)) {
        return Ok(Spooled {
            inputs: inputs.to_vec(),
            _file: None,
        });
    }
    if inputs.iter().filter(|p| is_stdout(p)).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".into(),
        ));
    }
    let io_error = |source| Error::Output {
        path: PathBuf::from("<temporary copy of standard input>"),
        source,
    };
    let mut file = tempfile::NamedTempFile::new().map_err(io_error)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file).map_err(io_error)?;
    file.flush().map_err(io_error)?;
    let path = file.into_temp_path();
    let inputs = inputs
        .iter()
        .map(|p| {
            if is_stdout(p) {
                path.to_path_buf()
            } else {
                p.clone()
            }
        })
        .collect();
    Ok(Spooled {
        inputs,
        _file: Some(path),
    })
}

/// Writes the report (and JSON) of a summary.
pub fn write_report(
    summary: &Summary,
    html_path: &std::path::Path,
    json: Option<&std::path::Path>,
) -> Result<(), Error> {
    let page = html::render(summary).map_err(Error::Internal)?;
    write_output(html_path, |out| out.write_all(page.as_bytes()))?;
    if let Some(path) = json
        && let Err(e) = write_output(path, |out| out.write_all(summary.to_json().as_bytes()))
    {
        // Both files or neither.
        if !is_stdout(html_path) {
            let _ = std::fs::remove_file(html_path);
        }
        return Err(e);
    }
    Ok(())
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
    let spooled = spool_stdin(&args.inputs)?;
    let analysis = analyse(
        &AnalysisArgs {
            inputs: &spooled.inputs,
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
    let mut summary = analysis.summary(&spooled.inputs, quiet)?;
    // Name inputs as the user gave them, not by the spooled copy.
    summary.inputs = args
        .inputs
        .iter()
        .map(|p| {
            if is_stdout(p) {
                "<stdin>".to_string()
            } else {
                p.display().to_string()
            }
        })
        .collect();
    write_report(&summary, &args.output, args.json.as_deref())?;
    if !quiet && !is_stdout(&args.output) && !args.json.as_deref().is_some_and(is_stdout) {
        println!("{}", describe(&summary));
        println!(
            "report: {}{}",
            args.output.display(),
            args.json
                .as_ref()
                .map_or(String::new(), |j| format!(", summary: {}", j.display()))
        );
    }
    Ok(())
}
