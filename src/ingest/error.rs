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
    #[error("cannot read {}: {source}", display_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: the file is empty, expected a header row", display_path(path))]
    EmptyFile { path: PathBuf },
    #[error("{}: {message}", display_path(path))]
    Header { path: PathBuf, message: String },
    #[error(transparent)]
    Row(#[from] Box<RowError>),
    #[error("the input holds no transactions{detail}")]
    NoRows { detail: String },
}

impl IngestError {
    /// The process exit code of SPEC section 6: 4 for I/O, 3 for bad data.
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

/// One bad row, positioned.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub path: PathBuf,
    /// Physical line (1-based) where the record starts.
    pub line: u64,
    /// 1-based field number and its header name, when one field is to blame.
    pub column: Option<(usize, String)>,
    pub kind: RowErrorKind,
}

impl std::error::Error for RowError {}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: line {}", display_path(&self.path), self.line)?;
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
    FieldCount {
        expected: usize,
        found: usize,
    },
    Amount {
        error: AmountError,
        value: String,
    },
    Time {
        error: TimeError,
        format: TimeFormat,
        value: String,
    },
    UndetectableTime {
        value: String,
    },
    EmptyKey,
    InvalidUtf8,
    UnterminatedQuote,
    TooManyChannels {
        limit: usize,
    },
    /// A feature table cell that is not a number.
    Number {
        value: String,
    },
    /// A feature table key seen on an earlier line.
    DuplicateKey {
        key: String,
        first_line: u64,
    },
    /// A scores file's segment cell that is not a segment number.
    SegmentNumber {
        value: String,
        limit: usize,
    },
    /// A scores file's segment named otherwise on an earlier line.
    SegmentName {
        segment: u32,
        name: String,
        earlier: String,
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
