//! Reading transaction logs (README, "Input") into per-user accumulators.
//!
//! Files are memory-mapped a window at a time and cut into chunks at record
//! starts. Reading happens in two parallel phases: the chunks of a block
//! are parsed into rows sorted by user partition, and once enough rows are
//! pending (see `PENDING_ROWS_PER_USER`) each partition of the
//! [`Aggregate`] takes its rows (see [`crate::features::accumulator`]).
//! Standard input, and files that cannot be mapped, are read in large
//! blocks that are processed the same way, so memory follows the number of
//! users, not of rows.
//!
//! This module owns parsing and positioning errors; what is computed per
//! user lives in [`crate::features`].

mod block;
pub(crate) mod columnar;
mod csv_table;
pub mod error;
mod fields;
pub mod input;
pub mod numeric;
mod records;
mod run;
pub mod scan;
pub mod schema;
pub mod scores;
mod source;

pub use self::error::{IngestError, RowError, RowErrorKind, Unit};
pub use self::input::{Input, inputs};
pub use self::schema::{ColumnNames, Delimiter, IngestOptions, ResolvedColumns, Role};
pub use crate::values::time::TimeFormat;

use self::block::FileContext;
use self::columnar::{Batches, Opened};
use self::run::Run;
use self::source::FileRead;
use crate::features::accumulator::Aggregate;

/// How many skipped rows are kept to show the user.
pub const BAD_ROW_EXAMPLES: usize = 5;

/// What reading the inputs produced.
#[derive(Debug)]
pub struct Ingested {
    /// Every user's accumulator, and the channel names.
    pub aggregate: Aggregate,
    /// Some input had a channel column.
    pub has_channel: bool,
    /// Some input had a status column.
    pub has_status: bool,
    /// Counts about the read.
    pub report: IngestReport,
}

/// Counts about the read, for summaries.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    /// The inputs in reading order, as named in messages (`<stdin>` for
    /// standard input).
    pub files: Vec<String>,
    /// Bytes of all inputs, headers included.
    pub bytes: u64,
    /// Data rows accepted.
    pub rows: u64,
    /// Rows skipped under `--skip-bad-rows`.
    pub skipped_rows: u64,
    /// The first skipped rows' errors, in input order.
    pub skipped_examples: Vec<String>,
    /// Rows after `--as-of`, left out.
    pub rows_after_as_of: u64,
    /// Rows before the period's start ([`IngestOptions::since`]), left out.
    pub rows_before_since: u64,
}

/// Reads every input (a path, `-` for standard input, or a copy of a
/// stream) as one log.
///
/// `progress` is called with the number of bytes just processed. Work runs
/// on the current rayon pool.
pub fn ingest(
    inputs: &[Input],
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Ingested, IngestError> {
    let mut run = Run::new();
    let mut report = IngestReport::default();
    let (mut has_channel, mut has_status) = (false, false);
    for input in inputs {
        let file = match columnar::open(input, options.format, options.use_mmap)? {
            Opened::Columnar(batches) => read_columnar(&mut run, *batches, options)?,
            csv => source::read_file(input.name(), csv, options, &mut |block, file| {
                run.read_block(block, file, options, progress)
            })?,
        };
        has_channel |= file.has_channel;
        has_status |= file.has_status;
        report.files.push(input.display());
        report.bytes += file.bytes;
    }
    let aggregate = run.finish(&mut report);
    if report.rows == 0 {
        let mut left_out = Vec::new();
        if report.skipped_rows > 0 {
            left_out.push(format!("{} bad rows skipped", report.skipped_rows));
        }
        if report.rows_after_as_of > 0 {
            left_out.push(format!(
                "{} rows after --as-of left out",
                report.rows_after_as_of
            ));
        }
        if report.rows_before_since > 0 {
            left_out.push(format!(
                "{} rows before the period left out",
                report.rows_before_since
            ));
        }
        let detail = if left_out.is_empty() {
            String::new()
        } else {
            format!(" ({})", left_out.join(", "))
        };
        return Err(IngestError::NoRows { detail });
    }
    Ok(Ingested {
        aggregate,
        has_channel,
        has_status,
        report,
    })
}

/// Reads a Parquet or Arrow input into `run`.
fn read_columnar(
    run: &mut Run,
    batches: Batches,
    options: &IngestOptions,
) -> Result<FileRead, IngestError> {
    let path = batches.path.clone();
    // Columns always have names: positions (`--user-col 2`) still work.
    let named = IngestOptions {
        has_header: true,
        ..options.clone()
    };
    let columns = ResolvedColumns::resolve(&path, &batches.names(), &named)?;
    let schema = batches.schema.clone();
    let bytes = batches.bytes();
    let used = columnar::role_columns(&columns);
    let mut context = FileContext {
        path: &path,
        columns,
        time_format: options.time_format,
    };
    let mut settled = options.time_format != TimeFormat::Auto;
    batches.read(&used, &mut |wave| {
        if !settled {
            let mut first = None;
            for (row, batch) in &wave {
                match columnar::settle_time_format(options.time_format, batch, &context.columns) {
                    Ok(format) => {
                        context.time_format = format;
                        settled = true;
                        break;
                    }
                    Err(value) => {
                        if first.is_none() {
                            first = value.map(|v| (*row, v));
                        }
                    }
                }
            }
            if !settled {
                // Not one value recognised in the first rows: an error at
                // the first of them (or, when every time is null, an
                // error when the first row is read).
                if let Some((row, value)) = first {
                    let error = RowError {
                        path: path.clone(),
                        line: row + 1,
                        unit: Unit::Row,
                        column: Some(context.columns.describe(context.columns.time)),
                        kind: RowErrorKind::UndetectableTime { value },
                    };
                    return Err(IngestError::Row(Box::new(error)));
                }
            }
        }
        run.read_batches(&wave, &context, &schema, options)
    })?;
    Ok(FileRead {
        has_channel: context.columns.channel.is_some(),
        has_status: context.columns.status.is_some(),
        bytes,
    })
}
