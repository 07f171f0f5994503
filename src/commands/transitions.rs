//! `segmint transitions`: how users moved between segments, from two
//! scores files or from two periods of one log (`--split-at`).

use std::io::Write;
use std::path::Path;

use crate::cli::{FeatureArgs, Format, Scale, TransitionsArgs};
use segmint::Error;
use segmint::cluster::SilhouetteMode;
use segmint::cluster::model::segment_ranks;
use segmint::features::matrix::{FeatureMatrix, NumericTable};
use segmint::ingest::error::display_path;
use segmint::ingest::time::{MS_PER_DAY, day_of, format_iso};
use segmint::ingest::{IngestError, RowError, RowErrorKind};
use segmint::insights::naming::default_names;
use segmint::insights::transitions::{Assignment, Transitions, matrix_table, transitions};
use segmint::output::write_output;

use super::cluster::{
    centres_by_segment, cluster, column_values, prepare_table, transactions_schema,
};
use super::{Session, is_stdout, thousands};

/// Segments a scores file may number (a K x K matrix is built of them).
const MAX_SEGMENTS: usize = 1000;

/// One side of a comparison: users, their segments and the names.
struct Side {
    users: Vec<String>,
    segments: Vec<u32>,
    names: Vec<String>,
}

fn bad_data(path: &Path, line: u64, column: Option<(usize, String)>, kind: RowErrorKind) -> Error {
    Error::Ingest(IngestError::Row(Box::new(RowError {
        path: path.to_path_buf(),
        line,
        column,
        kind,
    })))
}

/// Reads user_id, segment and (when present) segment_name from a scores
/// file written by `fit` or `score`.
fn read_scores(path: &Path) -> Result<Side, Error> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new().from_reader(std::io::BufReader::new(file));
    let header_error = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        message,
    };
    let headers = reader
        .headers()
        .map_err(|e| header_error(format!("cannot read the header: {e}")))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let (Some(user_col), Some(segment_col)) = (find("user_id"), find("segment")) else {
        return Err(header_error(
            "expected a scores file with user_id and segment columns (as fit and score write)"
                .into(),
        )
        .into());
    };
    let name_col = find("segment_name");
    let mut side = Side {
        users: Vec::new(),
        segments: Vec::new(),
        names: Vec::new(),
    };
    let mut named: Vec<Option<String>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            header_error(format!("line {line}: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let segment_text = record.get(segment_col).unwrap_or("");
        let segment: u32 = segment_text.trim().parse().map_err(|_| {
            bad_data(
                path,
                line,
                Some((segment_col + 1, "segment".into())),
                RowErrorKind::Number {
                    value: segment_text.to_string(),
                },
            )
        })?;
        let user = record.get(user_col).unwrap_or("");
        if user.is_empty() {
            return Err(bad_data(
                path,
                line,
                Some((user_col + 1, "user_id".into())),
                RowErrorKind::EmptyKey,
            ));
        }
        // Segments are numbered 0 to K - 1 by fit and score; a number past
        // any sensible K is a damaged file, not a reason to allocate.
        if segment as usize >= MAX_SEGMENTS {
            return Err(Error::Data(format!(
                "{} line {line}: segment {segment}: expected a segment number below {MAX_SEGMENTS} (0 to K - 1, as fit and score write)",
                display_path(path)
            )));
        }
        if segment as usize >= named.len() {
            named.resize(segment as usize + 1, None);
        }
        if let Some(c) = name_col {
            let name = record.get(c).unwrap_or("").to_string();
            match &named[segment as usize] {
                Some(known) if *known != name => {
                    return Err(Error::Data(format!(
                        "{} line {line}: segment {segment} is named {name:?} here but {known:?} earlier",
                        display_path(path)
                    )));
                }
                _ => named[segment as usize] = Some(name),
            }
        }
        side.users.push(user.to_string());
        side.segments.push(segment);
    }
    let defaults = default_names(named.len());
    side.names = named
        .into_iter()
        .enumerate()
        .map(|(i, n)| n.unwrap_or_else(|| defaults[i].clone()))
        .collect();
    Ok(side)
}

/// Cuts the logs at `split_at`, fits K-Means on the earlier period and
/// places both periods' users with that one model.
fn split_periods(
    args: &TransitionsArgs,
    split_at: &str,
    session: &Session,
) -> Result<(Side, Side), Error> {
    let quiet = session.quiet;
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
    let (new_table, new_report) = super::load_features_with(
        &args.inputs,
        &args.input,
        &args.feature,
        |o| o.since = Some(at),
        quiet,
    )
    .map_err(empty("new", format!("from {}", format_iso(at))))?;
    let days = day_of(new_table.as_of_ms) - day_of(at) + 1;
    let from = at - days * MS_PER_DAY;
    let (old_table, old_report) = super::load_features_with(
        &args.inputs,
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
        eprintln!(
            "segmint: warning: the log starts after {}: the old period is shorter than the new one",
            format_iso(from)
        );
    }
    if !quiet {
        eprintln!(
            "segmint: old period {} to {}, new period {} to {} ({} and {} rows)",
            format_iso(from),
            format_iso(at - 1),
            format_iso(at),
            format_iso(new_table.as_of_ms),
            thousands(old_report.rows),
            thousands(new_report.rows),
        );
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
    );
    let centres: Vec<f32> = centres_by_segment(&fit.centres, &rank)
        .into_iter()
        .flatten()
        .map(|v| v as f32)
        .collect();
    // Both periods placed by the same nearest-centre rule, as `score` does,
    // so that a user whose features did not change cannot seem to move.
    let place = |points: &FeatureMatrix| -> Result<Vec<u32>, Error> {
        let mut segments = vec![0u32; points.n()];
        let mut squared = vec![0.0f32; points.n()];
        backend.assign(
            &backend.upload(points)?,
            &centres,
            &mut segments,
            &mut squared,
        )?;
        Ok(segments)
    };
    let old_segments = place(&prepared.points)?;
    let new = NumericTable::from_features(&new_table);
    let new_segments = place(&prepared.scaler.transform(&new.select(&prepared.specs)?))?;
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
    text.push_str(&format!(
        "\nstayed {}, moved up {}, moved down {}; appeared {}, disappeared {}",
        thousands(t.stayed),
        thousands(t.moved_up),
        thousands(t.moved_down),
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
            (read_scores(old)?, read_scores(new)?)
        }
    };
    let t = transitions(
        &assignments(&old),
        &assignments(&new),
        &old.names,
        &new.names,
    )
    .map_err(|e| Error::Data(e.to_string()))?;
    if let Some(path) = &args.output {
        write_output(path, |out| match args.format {
            Format::Json => out.write_all(
                (serde_json::to_string_pretty(&t).expect("serialisable") + "\n").as_bytes(),
            ),
            Format::Table => write_matrix_csv(&t, out),
        })?;
    }
    let to_stdout = args.output.as_deref().is_some_and(is_stdout);
    match args.format {
        Format::Json if args.output.is_none() => {
            println!(
                "{}",
                serde_json::to_string_pretty(&t).expect("serialisable")
            );
        }
        _ if quiet || to_stdout => {}
        _ => println!("{}", describe(&t, args.show)),
    }
    Ok(())
}
