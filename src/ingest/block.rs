//! A block of one file being read: its bytes, first line number and
//! syntax, the file's resolved columns, and how a bad row's offset becomes
//! a file, line and column.

use std::path::Path;

use super::error::{IngestError, RowError, RowErrorKind};
use super::records::{self, Syntax};
use super::schema::{IngestOptions, ResolvedColumns};
use crate::values::time::TimeFormat;

/// A data block of one file: records starting at `bytes[0]`.
pub(super) struct Block<'a> {
    pub bytes: &'a [u8],
    /// Line number (1-based) of `bytes[0]`.
    pub line: u64,
    pub syntax: Syntax,
}

impl Block<'_> {
    pub(super) fn line_at(&self, at: usize) -> u64 {
        self.line + memchr::memchr_iter(b'\n', &self.bytes[..at]).count() as u64
    }
}

/// What reading a block came to.
pub(super) enum BlockRead {
    /// Read, with this many `\n` bytes (for the next block's line numbers).
    Done { newlines: u64 },
    /// The block holds a quote its syntax does not handle: nothing was
    /// taken from it, and it must be cut and read again as quoted.
    HasQuotes,
}

/// Per-file reading context.
pub(super) struct FileContext<'a> {
    pub path: &'a Path,
    pub columns: ResolvedColumns,
    pub time_format: TimeFormat,
}

/// A bad row of the block being read, not yet positioned.
pub(super) struct Bad {
    /// Offset in the block.
    pub(super) at: usize,
    pub(super) field: Option<usize>,
    pub(super) kind: RowErrorKind,
}

impl Bad {
    pub(super) fn position(self, block: &Block<'_>, file: &FileContext<'_>) -> RowError {
        RowError {
            unit: super::error::Unit::Line,
            path: file.path.to_path_buf(),
            line: block.line_at(self.at),
            column: self.field.map(|i| file.columns.describe(i)),
            kind: self.kind,
        }
    }
}

/// The block's syntax and its chunks of about `options.chunk_bytes`, cut
/// at record starts; a quote left open is an error at its row.
pub(super) fn split_block(
    block: &Block<'_>,
    file: &FileContext<'_>,
    options: &IngestOptions,
) -> Result<(Syntax, Vec<std::ops::Range<usize>>), IngestError> {
    let syntax = block.syntax;
    let pieces = records::split(block.bytes, syntax, options.chunk_bytes).map_err(|open| {
        let bad = Bad {
            at: open.0,
            field: None,
            kind: RowErrorKind::UnterminatedQuote,
        };
        IngestError::Row(Box::new(bad.position(block, file)))
    })?;
    Ok((syntax, pieces))
}
