//! A second kind of pass over transaction logs: every accepted row handed
//! to a caller's fold, for analytics that are not per-user features (channel
//! mix, status funnel, hour x weekday activity per segment).
//!
//! Rows are read exactly as [`super::ingest`] reads them (same parsing, same
//! `--as-of` cut, same success statuses); a row that ingest would reject is
//! skipped here under `--skip-bad-rows` and is an error otherwise. Chunks
//! are folded in parallel, each into its own state, and the states are
//! merged in input order, so an exact merge (counts, fixed-point sums)
//! gives the same result for any thread count.

use std::ops::ControlFlow;

use rayon::prelude::*;

use super::block::{Bad, Block, BlockRead, FileContext, split_block};
use super::columnar::{self, Batches, LogColumns, Opened};
use super::error::IngestError;
use super::error::RowErrorKind;
use super::fields::{FieldError, RowFields, parse_row};
use super::input::Input;
use super::records::{self, Scanned, Syntax};
use super::schema::IngestOptions;
use super::source;
use crate::values::amount::Money;
use crate::values::time::TimeParser;

/// One accepted transaction.
#[derive(Clone, Copy, Debug)]
pub struct Transaction<'a> {
    /// The user key, as in the file (never empty).
    pub user: &'a str,
    /// When it happened, in UTC milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The amount, exact, in nano-units.
    pub amount: Money,
    /// `None` when the column is absent or the cell empty.
    pub channel: Option<&'a str>,
    /// The status as written (not yet judged a success or a failure);
    /// `None` when the column is absent or the cell empty.
    pub status: Option<&'a str>,
    /// The counterparty as written; `None` when the column is absent or
    /// the cell empty.
    pub peer: Option<&'a str>,
}

/// Folds every accepted row of `inputs` into a state: `init` makes one per
/// chunk, `visit` adds a row, `merge` adds a later chunk's state into an
/// earlier one. Standard input can be read only once: callers that have
/// already read it must pass a copy instead.
pub fn scan<S, I, V, M>(
    inputs: &[Input],
    options: &IngestOptions,
    init: I,
    visit: V,
    merge: M,
) -> Result<S, IngestError>
where
    S: Send,
    I: Fn() -> S + Sync,
    V: Fn(&mut S, &Transaction<'_>) + Sync,
    M: Fn(&mut S, S),
{
    let mut total = init();
    for input in inputs {
        let opened = match columnar::open(input, options.format, options.use_mmap)? {
            Opened::Columnar(batches) => {
                let state = scan_columnar(*batches, options, &init, &visit, &merge)?;
                merge(&mut total, state);
                continue;
            }
            csv => csv,
        };
        source::read_file(input.name(), opened, options, &mut |block, file| {
            let Some((state, newlines)) = scan_block(block, file, options, &init, &visit, &merge)?
            else {
                return Ok(BlockRead::HasQuotes);
            };
            merge(&mut total, state);
            Ok(BlockRead::Done { newlines })
        })?;
    }
    Ok(total)
}

/// The block's state and `\n` count; `None` when the block holds a quote
/// its syntax does not handle (see [`BlockRead::HasQuotes`]).
fn scan_block<S, I, V, M>(
    block: &Block<'_>,
    file: &FileContext<'_>,
    options: &IngestOptions,
    init: &I,
    visit: &V,
    merge: &M,
) -> Result<Option<(S, u64)>, IngestError>
where
    S: Send,
    I: Fn() -> S + Sync,
    V: Fn(&mut S, &Transaction<'_>) + Sync,
    M: Fn(&mut S, S),
{
    let (syntax, pieces) = split_block(block, file, options)?;
    let folded: Option<Vec<(S, Option<Bad>, u64)>> = pieces
        .par_iter()
        .map(|piece| {
            let chunk = &block.bytes[piece.clone()];
            let mut state = init();
            let (bad, scanned) =
                scan_chunk(chunk, piece.start, syntax, file, options, &mut state, visit);
            // With a stray quote, what was folded is void.
            (!scanned.stray_quote).then_some((state, bad, scanned.newlines))
        })
        .collect();
    let Some(folded) = folded else {
        return Ok(None);
    };
    let mut total = init();
    let mut newlines = 0;
    for (state, bad, chunk_newlines) in folded {
        if let Some(bad) = bad {
            return Err(IngestError::Row(Box::new(bad.position(block, file))));
        }
        merge(&mut total, state);
        newlines += chunk_newlines;
    }
    Ok(Some((total, newlines)))
}

/// The transaction of a row's fields; `None` when the period leaves it out.
/// As ingest: the period cut comes before the text checks, so a row ingest
/// leaves out is never an error here.
fn transaction<'r>(
    row: RowFields<'r>,
    columns: &super::ResolvedColumns,
    options: &IngestOptions,
) -> Result<Option<Transaction<'r>>, FieldError> {
    let RowFields {
        key,
        time_ms,
        amount,
        channel,
        status,
        peer,
        ..
    } = row;
    let inside = options.as_of.is_none_or(|as_of| time_ms <= as_of)
        && options.since.is_none_or(|since| time_ms >= since);
    if !inside {
        return Ok(None);
    }
    let text =
        |bytes, column| std::str::from_utf8(bytes).map_err(|_| (column, RowErrorKind::InvalidUtf8));
    let user = text(key, Some(columns.user))?;
    let channel = channel
        .map(|c| text(c.bytes, columns.channel))
        .transpose()?;
    let status = status.map(|s| text(s.bytes, columns.status)).transpose()?;
    let peer = peer.map(|p| text(p, columns.peer)).transpose()?;
    Ok(Some(Transaction {
        user,
        time_ms,
        amount: amount.money(),
        channel,
        status,
        peer,
    }))
}

/// Folds one chunk; returns the bad row that stops it, if any, and what
/// reading it found (see [`records::Scanned`]).
fn scan_chunk<S>(
    chunk: &[u8],
    base: usize,
    syntax: Syntax,
    file: &FileContext<'_>,
    options: &IngestOptions,
    state: &mut S,
    visit: &(impl Fn(&mut S, &Transaction<'_>) + Sync),
) -> (Option<Bad>, Scanned) {
    let mut times = TimeParser::new(file.time_format);
    let mut stop = None;
    let scanned = records::for_each_record(chunk, syntax, |at, record| {
        // As ingest: the period cut comes before the text checks, so a row
        // ingest leaves out is never an error here.
        let fields = parse_row(record, file, &mut times)
            .and_then(|row| transaction(row, &file.columns, options));
        match fields {
            Ok(row) => {
                if let Some(row) = row {
                    visit(state, &row);
                }
                ControlFlow::Continue(())
            }
            Err(_) if options.skip_bad_rows => ControlFlow::Continue(()),
            Err((field, kind)) => {
                stop = Some(Bad {
                    at: base + at,
                    field,
                    kind,
                });
                ControlFlow::Break(())
            }
        }
    });
    (stop, scanned)
}

/// [`scan`] of a Parquet or Arrow input: its batches folded in parallel,
/// merged in file order.
fn scan_columnar<S, I, V, M>(
    batches: Batches,
    options: &IngestOptions,
    init: &I,
    visit: &V,
    merge: &M,
) -> Result<S, IngestError>
where
    S: Send,
    I: Fn() -> S + Sync,
    V: Fn(&mut S, &Transaction<'_>) + Sync,
    M: Fn(&mut S, S),
{
    let path = batches.path.clone();
    let named = IngestOptions {
        has_header: true,
        ..options.clone()
    };
    let columns = super::ResolvedColumns::resolve(&path, &batches.names(), &named)?;
    let schema = batches.schema.clone();
    let used = columnar::role_columns(&columns);
    let mut format = None;
    let mut total = init();
    batches.read(&used, &mut |wave| {
        let time_format = *format.get_or_insert_with(|| {
            wave.iter()
                .find_map(|(_, b)| {
                    columnar::settle_time_format(options.time_format, b, &columns).ok()
                })
                .unwrap_or(options.time_format)
        });
        let folded: Vec<Result<S, IngestError>> = wave
            .par_iter()
            .with_max_len(1)
            .map(|(first_row, batch)| {
                let mut state = init();
                let mut rows = LogColumns::new(batch, &columns, &schema).map_err(|message| {
                    IngestError::Format {
                        path: path.clone(),
                        message,
                    }
                })?;
                let mut times = TimeParser::new(time_format);
                for i in 0..rows.rows() {
                    let fields = rows
                        .fields(i, &mut times)
                        .and_then(|row| transaction(row, &columns, options));
                    match fields {
                        Ok(Some(t)) => visit(&mut state, &t),
                        Ok(None) => {}
                        Err(_) if options.skip_bad_rows => {}
                        Err((field, kind)) => {
                            let error = super::RowError {
                                path: path.clone(),
                                line: first_row + i as u64 + 1,
                                unit: super::Unit::Row,
                                column: field.map(|f| columns.describe(f)),
                                kind,
                            };
                            return Err(IngestError::Row(Box::new(error)));
                        }
                    }
                }
                Ok(state)
            })
            .collect();
        for state in folded {
            merge(&mut total, state?);
        }
        Ok(())
    })?;
    Ok(total)
}
