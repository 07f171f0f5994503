//! Reading transaction logs (SPEC section 2) into per-user accumulators.
//!
//! Files are memory-mapped and cut into chunks at record starts; chunks are
//! parsed and aggregated in parallel with rayon (fold into per-worker
//! [`Aggregate`]s, then an associative merge). Standard input, and files
//! that cannot be mapped, are read in large blocks that are processed the
//! same way, so memory follows the number of users, not of rows.
//!
//! This module owns parsing and positioning errors; what is computed per
//! user lives in [`crate::features`].

pub mod amount;
pub mod error;
mod records;
pub mod schema;
mod source;
pub mod time;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

pub use self::error::{IngestError, RowError, RowErrorKind};
pub use self::schema::{ColumnNames, Delimiter, IngestOptions, ResolvedColumns, Role};
pub use self::time::TimeFormat;

use self::amount::Money;
use self::error::excerpt;
use self::records::{Record, Syntax};
use crate::features::accumulator::{Aggregate, MAX_CHANNELS, Transaction};

/// How many skipped rows are kept to show the user.
pub const BAD_ROW_EXAMPLES: usize = 5;

/// What reading the inputs produced.
#[derive(Debug)]
pub struct Ingested {
    pub aggregate: Aggregate,
    /// Some input had a channel / status column.
    pub has_channel: bool,
    pub has_status: bool,
    pub report: IngestReport,
}

/// Counts about the read, for summaries.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    pub files: Vec<String>,
    pub bytes: u64,
    /// Data rows accepted.
    pub rows: u64,
    /// Rows skipped under `--skip-bad-rows`.
    pub skipped_rows: u64,
    /// The first skipped rows' errors, in input order.
    pub skipped_examples: Vec<String>,
    /// Rows after `--as-of`, left out.
    pub rows_after_as_of: u64,
}

/// Reads every input (a path, or `-` for standard input) as one log.
///
/// `progress` is called with the number of bytes just processed.
pub fn ingest(
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Ingested, IngestError> {
    let mut total = Ingested {
        aggregate: Aggregate::new(),
        has_channel: false,
        has_status: false,
        report: IngestReport::default(),
    };
    let mut examples: Vec<((usize, u64), RowError)> = Vec::new();
    for (index, path) in inputs.iter().enumerate() {
        let file = source::read_file(path, options, &mut |block, file| {
            aggregate_block(block, file, options, progress)
        })?;
        total.has_channel |= file.has_channel;
        total.has_status |= file.has_status;
        total.report.files.push(error::display_path(path));
        total.report.bytes += file.bytes;
        total.report.rows += file.outcome.aggregate.rows;
        total.report.skipped_rows += file.outcome.skipped;
        total.report.rows_after_as_of += file.outcome.after_as_of;
        examples.extend(
            file.outcome
                .examples
                .into_iter()
                .map(|(at, e)| ((index, at), e)),
        );
        examples.sort_by_key(|(at, _)| *at);
        examples.truncate(BAD_ROW_EXAMPLES);
        total.aggregate = std::mem::take(&mut total.aggregate).merge(file.outcome.aggregate);
    }
    total.report.skipped_examples = examples.into_iter().map(|(_, e)| e.to_string()).collect();
    if total.aggregate.channel_names().len() > MAX_CHANNELS {
        return Err(IngestError::TooManyChannels {
            path: inputs.last().cloned().unwrap_or_default(),
            limit: MAX_CHANNELS,
        });
    }
    if total.report.rows == 0 {
        let detail = match (total.report.skipped_rows, total.report.rows_after_as_of) {
            (0, 0) => String::new(),
            (s, 0) => format!(" ({s} bad rows skipped)"),
            (0, a) => format!(" ({a} rows after --as-of left out)"),
            (s, a) => format!(" ({s} bad rows skipped, {a} rows after --as-of left out)"),
        };
        return Err(IngestError::NoRows { detail });
    }
    Ok(total)
}

/// What one file (or one block of a stream) gave.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub aggregate: Aggregate,
    pub skipped: u64,
    pub after_as_of: u64,
    /// (byte offset in the file, error) of the first skipped rows.
    pub examples: Vec<(u64, RowError)>,
}

impl Outcome {
    pub fn merge(mut self, other: Outcome) -> Outcome {
        self.aggregate = self.aggregate.merge(other.aggregate);
        self.skipped += other.skipped;
        self.after_as_of += other.after_as_of;
        self.examples.extend(other.examples);
        self.examples.sort_by_key(|(at, _)| *at);
        self.examples.truncate(BAD_ROW_EXAMPLES);
        self
    }
}

/// A data block of one file: records starting at `bytes[0]`.
pub(crate) struct Block<'a> {
    pub bytes: &'a [u8],
    /// Offset of `bytes[0]` in the file.
    pub offset: u64,
    /// Line number (1-based) of `bytes[0]`.
    pub line: u64,
}

impl Block<'_> {
    fn line_at(&self, at: usize) -> u64 {
        self.line + memchr::memchr_iter(b'\n', &self.bytes[..at]).count() as u64
    }
}

/// Per-file reading context: columns, time format, success statuses.
pub(crate) struct FileContext<'a> {
    pub path: &'a Path,
    pub columns: ResolvedColumns,
    pub time_format: TimeFormat,
}

/// A row problem before it is positioned.
struct Bad {
    at: usize,
    field: Option<usize>,
    kind: RowErrorKind,
}

impl Bad {
    fn position(self, block: &Block<'_>, file: &FileContext<'_>) -> (u64, RowError) {
        let error = RowError {
            path: file.path.to_path_buf(),
            line: block.line_at(self.at),
            column: self.field.map(|i| file.columns.describe(i)),
            kind: self.kind,
        };
        (block.offset + self.at as u64, error)
    }
}

/// Partial result of some chunks of a block.
#[derive(Default)]
struct Partial {
    outcome: Outcome,
    /// Without `--skip-bad-rows`: the earliest bad row seen.
    error: Option<Bad>,
    /// With it: the earliest bad rows, unpositioned.
    bad: Vec<Bad>,
}

impl Partial {
    fn merge(mut self, other: Partial) -> Partial {
        self.outcome = self.outcome.merge(other.outcome);
        self.error = match (self.error, other.error) {
            (Some(a), Some(b)) => Some(if a.at <= b.at { a } else { b }),
            (a, b) => a.or(b),
        };
        self.bad.extend(other.bad);
        self.bad.sort_by_key(|b| b.at);
        self.bad.truncate(BAD_ROW_EXAMPLES);
        self
    }
}

/// Aggregates one block in parallel.
pub(crate) fn aggregate_block(
    block: &Block<'_>,
    file: &FileContext<'_>,
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Outcome, IngestError> {
    let syntax = Syntax::for_block(options.delimiter, block.bytes);
    let pieces = records::split(block.bytes, syntax, options.chunk_bytes).map_err(|open| {
        let bad = Bad {
            at: open.0,
            field: None,
            kind: RowErrorKind::UnterminatedQuote,
        };
        IngestError::Row(Box::new(bad.position(block, file).1))
    })?;
    // Without --skip-bad-rows the first bad row ends the run: chunks past
    // the earliest one found so far are not worth reading.
    let first_bad = AtomicUsize::new(usize::MAX);
    let partial = pieces
        .par_iter()
        .fold(Partial::default, |mut partial, piece| {
            if piece.start < first_bad.load(Ordering::Relaxed) {
                aggregate_piece(
                    block.bytes,
                    piece.clone(),
                    syntax,
                    file,
                    options,
                    &mut partial,
                );
                if let Some(bad) = &partial.error {
                    first_bad.fetch_min(bad.at, Ordering::Relaxed);
                }
            }
            progress(piece.len() as u64);
            partial
        })
        .reduce(Partial::default, Partial::merge);
    if let Some(bad) = partial.error {
        return Err(IngestError::Row(Box::new(bad.position(block, file).1)));
    }
    let mut outcome = partial.outcome;
    outcome.examples = partial
        .bad
        .into_iter()
        .map(|b| b.position(block, file))
        .collect();
    Ok(outcome)
}

fn aggregate_piece(
    bytes: &[u8],
    piece: std::ops::Range<usize>,
    syntax: Syntax,
    file: &FileContext<'_>,
    options: &IngestOptions,
    partial: &mut Partial,
) {
    let base = piece.start;
    let success = SuccessStatuses::new(&options.success_statuses);
    records::for_each_record(&bytes[piece], syntax, |at, record| {
        match parse_row(record, file, &success) {
            Ok((key, tx)) => {
                if options.as_of.is_some_and(|as_of| tx.time_ms > as_of) {
                    partial.outcome.after_as_of += 1;
                } else if partial.outcome.aggregate.add(key, &tx).is_err() {
                    let field = file.columns.channel;
                    let kind = RowErrorKind::TooManyChannels {
                        limit: MAX_CHANNELS,
                    };
                    return reject(
                        partial,
                        options,
                        Bad {
                            at: base + at,
                            field,
                            kind,
                        },
                    );
                }
                ControlFlow::Continue(())
            }
            Err((field, kind)) => reject(
                partial,
                options,
                Bad {
                    at: base + at,
                    field,
                    kind,
                },
            ),
        }
    });
}

fn reject(partial: &mut Partial, options: &IngestOptions, bad: Bad) -> ControlFlow<()> {
    if options.skip_bad_rows {
        partial.outcome.skipped += 1;
        if partial.bad.len() < BAD_ROW_EXAMPLES {
            partial.bad.push(bad);
        }
        ControlFlow::Continue(())
    } else {
        partial.error = Some(bad);
        ControlFlow::Break(())
    }
}

/// Success statuses, matched ASCII case-insensitively.
struct SuccessStatuses<'a>(&'a [String]);

impl<'a> SuccessStatuses<'a> {
    fn new(statuses: &'a [String]) -> Self {
        SuccessStatuses(statuses)
    }

    fn contains(&self, status: &[u8]) -> bool {
        self.0
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(status))
    }
}

type FieldError = (Option<usize>, RowErrorKind);

fn parse_row<'r>(
    record: &Record<'r>,
    file: &FileContext<'_>,
    success: &SuccessStatuses<'_>,
) -> Result<(&'r [u8], Transaction<'r>), FieldError> {
    let columns = &file.columns;
    if record.len() != columns.field_count {
        let kind = RowErrorKind::FieldCount {
            expected: columns.field_count,
            found: record.len(),
        };
        return Err((None, kind));
    }
    let key = record.field(columns.user);
    if key.is_empty() {
        return Err((Some(columns.user), RowErrorKind::EmptyKey));
    }
    if std::str::from_utf8(key).is_err() {
        return Err((Some(columns.user), RowErrorKind::InvalidUtf8));
    }
    let time_text = record.field(columns.time);
    let time_ms = file.time_format.parse(time_text).map_err(|error| {
        let value = excerpt(time_text);
        (
            Some(columns.time),
            RowErrorKind::Time {
                error,
                format: file.time_format,
                value,
            },
        )
    })?;
    let amount_text = record.field(columns.amount);
    let amount = Money::parse(amount_text).map_err(|error| {
        (
            Some(columns.amount),
            RowErrorKind::Amount {
                error,
                value: excerpt(amount_text),
            },
        )
    })?;
    let channel = columns
        .channel
        .map(|i| record.field(i))
        .filter(|c| !c.is_empty());
    if let Some(c) = channel
        && std::str::from_utf8(c).is_err()
    {
        return Err((columns.channel, RowErrorKind::InvalidUtf8));
    }
    let success = columns
        .status
        .map(|i| record.field(i).trim_ascii())
        .filter(|s| !s.is_empty())
        .map(|s| success.contains(s));
    Ok((
        key,
        Transaction {
            time_ms,
            amount,
            channel,
            success,
        },
    ))
}

/// Picks the time format of a file from its first data row whose time
/// value can be recognised; the row where detection fails otherwise.
pub(crate) fn detect_time_format(
    data: &[u8],
    syntax: Syntax,
    columns: &ResolvedColumns,
) -> Result<TimeFormat, Option<(usize, String)>> {
    let mut found = Err(None);
    records::for_each_record(data, syntax, |at, record| {
        if record.len() != columns.field_count {
            return ControlFlow::Continue(());
        }
        let value = record.field(columns.time);
        match TimeFormat::detect(value) {
            Some(format) => {
                found = Ok(format);
                ControlFlow::Break(())
            }
            None => {
                if found.is_err() && matches!(found, Err(None)) {
                    found = Err(Some((at, excerpt(value))));
                }
                ControlFlow::Continue(())
            }
        }
    });
    found
}
