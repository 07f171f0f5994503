//! `segmint transitions`: how users moved between segments, from two
//! scores files or from two periods of one log (`--split-at`).

use std::path::Path;

use super::emit::{note, say};
use super::{
    Session, backend_for, behind_spinner, input_paths, load_logs, rereadable, warn_constant,
    warn_empty,
};
use crate::cli::{Format, TransitionsArgs, log_options};
use segmint::Error;
use segmint::cluster::SilhouetteMode;
use segmint::ingest::scores::read_scores;
use segmint::insights::naming::default_names;
use segmint::insights::transitions::{Assignment, transitions};
use segmint::output::{Outputs, is_stdout};
use segmint::report::text::thousands;
use segmint::report::transitions::{describe, write_matrix_csv};
use segmint::segment::periods;
use segmint::values::time::format_iso;

/// One side of a comparison: users, their segments and the names.
struct Side {
    users: Vec<String>,
    segments: Vec<u32>,
    names: Vec<String>,
}

/// A scores file as one side: segments without a name in the file take
/// the default names.
fn read_side(path: &Path) -> Result<Side, Error> {
    let file = read_scores(path)?;
    let defaults = default_names(file.names.len());
    let names = file
        .names
        .into_iter()
        .zip(defaults)
        .map(|(name, default)| name.unwrap_or(default))
        .collect();
    Ok(Side {
        users: file.users,
        segments: file.segments,
        names,
    })
}

/// Cuts the logs at `split_at`, fits the method on the earlier period
/// and places both periods' users with that one model.
fn split_periods(
    args: &TransitionsArgs,
    split_at: &str,
    session: &Session,
) -> Result<(Side, Side), Error> {
    let quiet = session.quiet;
    let (method, _) = args.kmeans.method()?;
    if matches!(method, segmint::segment::Method::Leiden(_)) {
        return Err(Error::Usage(
            "transitions cuts both periods with one model of --k segments; graph communities are not cut at a K: use kmeans, gmm or hierarchical".into(),
        ));
    }
    let at = args
        .input
        .time_format
        .parse(split_at.as_bytes())
        .map_err(|e| {
            Error::Usage(format!(
                "--split-at {split_at:?}: expected {} ({e})",
                args.input.time_format.expected()
            ))
        })?;
    if args.feature.as_of.is_some() {
        return Err(Error::Usage(
            "--as-of does not apply with --split-at: the old period ends at the split, the new one at the latest transaction"
                .into(),
        ));
    }
    if args.feature.window_start.is_some() {
        return Err(Error::Usage(
            "transitions: --split-at sets each period's window; --window-start does not apply"
                .into(),
        ));
    }
    let (options, features) = log_options(&args.input, &args.feature)?;
    // Read twice (one period, then the other): streams are copied once.
    let logs = rereadable(&args.inputs)?;
    let periods = periods::read(&options, &features, at, &mut |options, features| {
        load_logs(&logs, options, features, false, quiet)
    })?;
    let (old_from, old_to) = periods.old_range;
    if !quiet && periods.old_is_short {
        note(format_args!(
            "segmint: warning: the log starts after {}: the old period is shorter than the new one",
            format_iso(old_from)
        ))?;
    }
    if !quiet {
        note(format_args!(
            "segmint: old period {} to {}, new period {} to {} ({} and {} rows)",
            format_iso(old_from),
            format_iso(old_to),
            format_iso(periods.new_range.0),
            format_iso(periods.new_range.1),
            thousands(periods.old_report.rows),
            thousands(periods.new_report.rows),
        ))?;
    }
    let prepared = periods.prepare()?;
    warn_constant(&prepared, quiet)?;
    let backend = backend_for(session, &prepared, &method, &[args.k], SilhouetteMode::None)?;
    let segments = behind_spinner(quiet, "clustering", || {
        periods.segment(&backend, &prepared, &method, args.k)
    })?;
    warn_empty(&segments.empty, quiet)?;
    Ok((
        Side {
            users: segments.old_users,
            segments: segments.old_segments,
            names: segments.names.clone(),
        },
        Side {
            users: segments.new_users,
            segments: segments.new_segments,
            names: segments.names,
        },
    ))
}

/// A side's users and segments as the insight takes them.
fn assignments(side: &Side) -> Vec<Assignment<'_>> {
    side.users
        .iter()
        .zip(&side.segments)
        .map(|(user, &segment)| Assignment { user, segment })
        .collect()
}

pub fn run(args: &TransitionsArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    let mut outputs = Outputs::plan(
        &input_paths(&args.inputs, []),
        &args.output.as_deref().into_iter().collect::<Vec<_>>(),
    )?;
    let (old, new) = match &args.split_at {
        Some(at) => split_periods(args, at, session)?,
        None => {
            let [old, new] = args.inputs.as_slice() else {
                return Err(Error::Usage(format!(
                    "expected two scores files (old, new), got {}; or give logs with --split-at",
                    args.inputs.len()
                )));
            };
            if is_stdout(old) || is_stdout(new) {
                return Err(Error::Usage(
                    "scores files are read by name; - (standard input) is not supported here"
                        .into(),
                ));
            }
            (read_side(old)?, read_side(new)?)
        }
    };
    let t = transitions(
        &assignments(&old),
        &assignments(&new),
        &old.names,
        &new.names,
    )
    .map_err(|e| Error::Data(e.to_string()))?;
    if !quiet {
        if !t.ranked {
            note(format_args!(
                "segmint: the old side has {} segments and the new one {}: no user is said to move up or down between different segmentations; the matrix cross-tabulates them",
                t.old_names.len(),
                t.new_names.len()
            ))?;
        } else if t.old_names != t.new_names {
            note(format_args!(
                "segmint: warning: the segments are named differently ({} before, {} after); they are compared by value rank (segment 0 is the highest value on both sides)",
                t.old_names.join(", "),
                t.new_names.join(", ")
            ))?;
        }
    }
    let json = || {
        serde_json::to_string_pretty(&t)
            .map_err(|e| Error::Internal(format!("transitions do not serialise: {e}")))
    };
    if let Some(path) = &args.output {
        let text = match args.format {
            Format::Json => Some(json()? + "\n"),
            Format::Table => None,
        };
        outputs.write(path, |out| match &text {
            Some(text) => out.write_all(text.as_bytes()),
            None => write_matrix_csv(&t, out),
        })?;
    }
    outputs.commit()?;
    let to_stdout = args.output.as_deref().is_some_and(is_stdout);
    match args.format {
        Format::Json if args.output.is_none() => say(json()?),
        _ if quiet || to_stdout => Ok(()),
        _ => say(describe(&t, args.show)),
    }
}
