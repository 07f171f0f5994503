//! Errors of the ingest layer. Row errors carry the file, the physical line
//! and the 1-based column (field number and header name) of the bad value.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::values::amount::AmountError;
use crate::values::time::{TimeError, TimeFormat};

/// Anything that stops reading a transaction log.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A file (or standard input) cannot be opened or read (exit code 4;
    /// every other variant is bad data, 3).
    #[error("cannot read {}: {source}", display_path(path))]
    Io {
        /// The file as the user named it (`-` for standard input).
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },
    /// The file holds no first record to take the header (or, without a
    /// header, the field count) from.
    #[error("{}: the file is empty, expected a header row", display_path(path))]
    EmptyFile {
        /// The file as the user named it (`-` for standard input).
        path: PathBuf,
    },
    /// The file does not have the shape asked for: a column missing, named
    /// twice or past the last field, a header that is not UTF-8, or CSV
    /// that the reader of feature tables and scores files refuses.
    #[error("{}: {message}", display_path(path))]
    Header {
        /// The file as the user named it (`-` for standard input).
        path: PathBuf,
        /// What is wrong, naming the columns concerned.
        message: String,
    },
    /// The bytes are not what they should be: another format than the one
    /// named (`--input-format`, the extension), a corrupt or truncated
    /// compressed stream, a Parquet or Arrow file that does not decode, or a
    /// column of a type that cannot hold its role.
    #[error("{}: {message}", display_path(path))]
    Format {
        /// The file as the user named it (`-` for standard input).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A bad row, positioned (see [`RowError`]).
    #[error(transparent)]
    Row(#[from] Box<RowError>),
    /// No row was accepted: the inputs hold only headers, or every row was
    /// skipped as bad or left out (after `--as-of`, before the period).
    #[error("the input holds no transactions{detail}")]
    NoRows {
        /// What was left out, as ` (2 bad rows skipped, ...)` with a leading
        /// space, appended to the message; empty when nothing was.
        detail: String,
    },
}

impl IngestError {
    /// The process exit code of the README's "Bad input and exit codes": 4 for I/O, 3 for bad data.
    pub fn exit_code(&self) -> i32 {
        match self {
            IngestError::Io { .. } => 4,
            _ => 3,
        }
    }
}

/// `-` is standard input.
pub fn display_path(path: &std::path::Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// What a [`RowError`]'s position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// Lines of a text file.
    #[default]
    Line,
    /// Data rows of a Parquet or Arrow file.
    Row,
}

/// One bad row, positioned.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The file as the user named it (`-` for standard input).
    pub path: PathBuf,
    /// Physical line (1-based) where the record starts; for Parquet and
    /// Arrow inputs ([`Unit::Row`]), the data row (1-based, across the
    /// whole file).
    pub line: u64,
    /// What `line` counts.
    pub unit: Unit,
    /// 1-based field number and its header name, when one field is to blame.
    pub column: Option<(usize, String)>,
    /// What was wrong.
    pub kind: RowErrorKind,
}

impl std::error::Error for RowError {}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Line => "line",
            Unit::Row => "row",
        };
        write!(f, "{}: {unit} {}", display_path(&self.path), self.line)?;
        if let Some((number, name)) = &self.column {
            if name.is_empty() {
                write!(f, ", column {number}")?;
            } else {
                write!(f, ", column {number} ({name})")?;
            }
        }
        write!(f, ": {}", self.kind)
    }
}

/// What was wrong with a row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowErrorKind {
    /// The record has another number of fields than the header (without a
    /// header, than the first record).
    FieldCount {
        /// Fields of the header (or first record).
        expected: usize,
        /// Fields of this record.
        found: usize,
    },
    /// The amount is not a decimal number, not finite, or 1e20 or more in
    /// magnitude.
    Amount {
        /// Which of these.
        error: AmountError,
        /// The field as read, shortened for the message.
        value: String,
    },
    /// The time does not parse in the file's time format, or names no real
    /// time (2025-02-30) or one outside the years 0000 to 9999.
    Time {
        /// Which of these.
        error: TimeError,
        /// The file's format: given with `--time-format`, or detected.
        format: TimeFormat,
        /// The field as read, shortened for the message.
        value: String,
    },
    /// Under `--time-format auto`, not one of the file's first rows (up to
    /// a window's worth) has a time in a format segmint knows; the error is
    /// at the first of them.
    UndetectableTime {
        /// That row's time field, shortened for the message.
        value: String,
    },
    /// The user key is empty (a feature table's: once trimmed).
    EmptyKey,
    /// A user key, channel or status (or any cell a feature table or scores
    /// file reads as text) is not UTF-8.
    InvalidUtf8,
    /// A quoted field starts on this row and its closing quote never comes.
    UnterminatedQuote,
    /// The channel column has more distinct values than a run accepts.
    TooManyChannels {
        /// The most accepted:
        /// [`MAX_CHANNELS`](crate::features::accumulator::MAX_CHANNELS).
        limit: usize,
    },
    /// A feature table cell that is not a number.
    Number {
        /// The cell as read, trimmed and shortened for the message.
        value: String,
    },
    /// A feature table key seen on an earlier line.
    DuplicateKey {
        /// The key, trimmed.
        key: String,
        /// Physical line (1-based) of the key's first row.
        first_line: u64,
    },
    /// A scores file's segment cell that is not a segment number.
    SegmentNumber {
        /// The cell as read, shortened for the message.
        value: String,
        /// Segment numbers must be below it:
        /// [`MAX_SEGMENTS`](super::scores::MAX_SEGMENTS).
        limit: usize,
    },
    /// A scores file's segment named otherwise on an earlier line.
    SegmentName {
        /// The segment number.
        segment: u32,
        /// Its name on this line, shortened for the message.
        name: String,
        /// Its name on the earlier line, shortened for the message.
        earlier: String,
        /// Physical line (1-based) where the earlier name was first seen.
        earlier_line: u64,
    },
}

impl fmt::Display for RowErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowErrorKind::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            RowErrorKind::Amount { error, value } => write!(f, "{error}, found {value:?}"),
            RowErrorKind::Time {
                error: TimeError::Malformed,
                format,
                value,
            } => {
                write!(f, "expected {}, found {value:?}", format.expected())
            }
            RowErrorKind::Time {
                error,
                format,
                value,
            } => {
                write!(
                    f,
                    "expected {}, found {value:?} ({error})",
                    format.expected()
                )
            }
            RowErrorKind::UndetectableTime { value } => write!(
                f,
                "cannot tell the time format of {value:?}: expected {}; use --time-format",
                TimeFormat::Auto.expected()
            ),
            RowErrorKind::EmptyKey => f.write_str("expected a user key, found an empty field"),
            RowErrorKind::InvalidUtf8 => f.write_str("expected UTF-8 text, found invalid bytes"),
            RowErrorKind::UnterminatedQuote => {
                f.write_str("a quoted field starts here and is never closed")
            }
            RowErrorKind::Number { value } => {
                write!(f, "expected a number, found {value:?}")
            }
            RowErrorKind::DuplicateKey { key, first_line } => write!(
                f,
                "user key {key:?} appears again (first on line {first_line}); a feature table has one row per user"
            ),
            RowErrorKind::SegmentNumber { value, limit } => write!(
                f,
                "expected a segment number from 0 to {} (as fit and score write), found {value:?}",
                limit - 1
            ),
            RowErrorKind::SegmentName {
                segment,
                name,
                earlier,
                earlier_line,
            } => write!(
                f,
                "segment {segment} is named {name:?} here but {earlier:?} on line {earlier_line}"
            ),
            RowErrorKind::TooManyChannels { limit } => write!(
                f,
                "more than {limit} distinct channel values; is --channel-col the right column?"
            ),
        }
    }
}

/// A header's names for a message, quoted and shortened: at most
/// [`LIST_MAX`] of them (a file without the expected line ends has one
/// "name" the size of the file).
pub(crate) fn excerpt_list(names: &[String]) -> String {
    let mut text: Vec<String> = names
        .iter()
        .take(LIST_MAX)
        .map(|n| format!("{:?}", excerpt(n.as_bytes())))
        .collect();
    if names.len() > LIST_MAX {
        text.push(format!("and {} more", names.len() - LIST_MAX));
    }
    text.join(", ")
}

/// Names a message lists at most.
const LIST_MAX: usize = 20;

/// Shortens a bad value for a message.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX {
        text.into_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
