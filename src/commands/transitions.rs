//! `segmint transitions`: how users moved between segments, from two
//! scores files or from two periods of one log (`--split-at`).

use std::io::Write;
use std::path::Path;

use crate::cli::{FeatureArgs, Format, Scale, TransitionsArgs};
use segmint::Error;
use segmint::cluster::SilhouetteMode;
use segmint::cluster::model::segment_ranks;
use segmint::features::matrix::{FeatureMatrix, NumericTable};
use segmint::ingest::IngestError;
use segmint::ingest::scores::read_scores;
use segmint::insights::naming::default_names;
use segmint::insights::transitions::{Assignment, Transitions, matrix_table, transitions};
use segmint::output::Outputs;
use segmint::values::time::{MS_PER_DAY, day_of, format_iso};

use super::cluster::{
    centres_by_segment, cluster, column_values, prepare_table, transactions_schema,
};
use super::report::rereadable;
use super::{Session, input_paths, is_stdout, note, say, thousands};

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

/// Cuts the logs at `split_at`, fits K-Means on the earlier period and
/// places both periods' users with that one model.
fn split_periods(
    args: &TransitionsArgs,
    split_at: &str,
    session: &Session,
) -> Result<(Side, Side), Error> {
    let quiet = session.quiet;
    args.kmeans.validate()?;
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
    // The new period runs from the split to the latest transaction; the
    // old one has as many calendar days and ends just before the split, so
    // that both periods' volumes (frequency, monetary, active days)
    // compare.
    let empty = |period: &'static str, range: String| {
        move |e: Error| match e {
            Error::Ingest(IngestError::NoRows { .. }) => Error::Data(format!(
                "the {period} period ({range}) holds no transactions; choose another --split-at"
            )),
            other => other,
        }
    };
    // Read twice (one period, then the other): streams are copied once.
    let logs = rereadable(&args.inputs)?;
    let (new_table, new_report) = super::load_features_with(
        &logs,
        &args.input,
        &args.feature,
        |o| o.since = Some(at),
        quiet,
    )
    .map_err(empty("new", format!("from {}", format_iso(at))))?;
    let days = day_of(new_table.as_of_ms) - day_of(at) + 1;
    let from = at - days * MS_PER_DAY;
    let (old_table, old_report) = super::load_features_with(
        &logs,
        &args.input,
        &args.feature,
        |o| {
            o.since = Some(from);
            o.as_of = Some(at - 1);
        },
        quiet,
    )
    .map_err(empty(
        "old",
        format!(
            "{} to {}, {days} days",
            format_iso(from),
            format_iso(at - 1)
        ),
    ))?;
    if !quiet && old_table.window_start_day > day_of(from) {
        note(format_args!(
            "segmint: warning: the log starts after {}: the old period is shorter than the new one",
            format_iso(from)
        ))?;
    }
    if !quiet {
        note(format_args!(
            "segmint: old period {} to {}, new period {} to {} ({} and {} rows)",
            format_iso(from),
            format_iso(at - 1),
            format_iso(at),
            format_iso(new_table.as_of_ms),
            thousands(old_report.rows),
            thousands(new_report.rows),
        ))?;
    }
    let old_feature = FeatureArgs {
        as_of: Some(split_at.to_string()),
        dormant_days: args.feature.dormant_days,
    };
    let old = NumericTable::from_features(&old_table);
    let prepared = prepare_table(
        old,
        &None,
        Scale::Zscore,
        transactions_schema(&args.input, &old_feature),
        false,
        quiet,
    )?;
    let (backend, result) = cluster(
        session,
        &prepared.points,
        &[args.k],
        &args.kmeans,
        SilhouetteMode::None,
    )?;
    let fit = &result.fits[0];
    let rank = segment_ranks(
        &fit.labels,
        args.k,
        &column_values(&prepared.table, "monetary"),
        &fit.centres,
    );
    let centres = centres_by_segment(&fit.centres, &rank).concat();
    // Both periods placed by the same nearest-centre rule, as `score` does,
    // so that a user whose features did not change cannot seem to move.
    let place = |points: &FeatureMatrix| -> Result<Vec<u32>, Error> {
        Ok(backend
            .assign(points, &points.frame.to_working(&centres))?
            .0)
    };
    let old_segments = place(&prepared.points)?;
    let new = NumericTable::from_features(&new_table);
    let centre_rows: Vec<Vec<f64>> = centres
        .chunks(prepared.specs.len())
        .map(<[f64]>::to_vec)
        .collect();
    let new_points = prepared
        .scaler
        .transform_with(&new.select(&prepared.specs)?, &centre_rows);
    let new_segments = place(&new_points)?;
    let names = default_names(args.k);
    Ok((
        Side {
            users: prepared.table.keys,
            segments: old_segments,
            names: names.clone(),
        },
        Side {
            users: new.keys,
            segments: new_segments,
            names,
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

fn describe(t: &Transitions, show: usize) -> String {
    let mut text = matrix_table(t);
    text.push('\n');
    if let (Some(stayed), Some(up), Some(down)) = (t.stayed, t.moved_up, t.moved_down) {
        text.push_str(&format!(
            "stayed {}, moved up {}, moved down {}; ",
            thousands(stayed),
            thousands(up),
            thousands(down),
        ));
    }
    text.push_str(&format!(
        "appeared {}, disappeared {}",
        thousands(t.appeared.len() as u64),
        thousands(t.disappeared.len() as u64),
    ));
    if !t.downgrades.is_empty() {
        text.push_str("\n\nmoved to a lower-value segment:");
        for m in t.downgrades.iter().take(show) {
            text.push_str(&format!(
                "\n  {:<20} {} -> {}",
                m.user, m.from_name, m.to_name
            ));
        }
        if t.downgrades.len() > show {
            text.push_str(&format!(
                "\n  ... and {} more (all of them with --format json)",
                t.downgrades.len() - show
            ));
        }
    }
    text
}

/// The movement matrix as CSV: one row per old segment.
fn write_matrix_csv(t: &Transitions, out: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["from \\ to".to_string()];
    header.extend(t.new_names.iter().cloned());
    writer.write_record(&header)?;
    for (i, row) in t.matrix.iter().enumerate() {
        let mut record = vec![t.old_names[i].clone()];
        record.extend(row.iter().map(u64::to_string));
        writer.write_record(&record)?;
    }
    writer.flush()
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
