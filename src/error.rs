//! The library's top-level error: every module's own error, gathered for
//! the pipeline ([`crate::segment`]) and the command line, with the exit
//! codes of the README's "Bad input and exit codes". Modules below the
//! pipeline return their own error types, never this one.

use std::io;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::cluster::{ClusterError, ParamsError};
use crate::features::matrix::FeatureError;
use crate::ingest::IngestError;
use crate::insights::naming::NamingError;
use crate::output::OutputError;
use crate::segment::ModelError;

/// Anything that stops a command, with its exit code
/// ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input log cannot be read (exit 4) or holds bad data (exit 3).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// An output file or folder cannot be written: exit 4.
    #[error("cannot write {}: {source}", crate::output::describe(path))]
    Output {
        /// The output as the user named it (`-` is standard output).
        path: PathBuf,
        /// Why the write failed.
        #[source]
        source: io::Error,
    },
    /// Standard output or standard error refused a message.
    #[error("cannot write {stream}: {source}")]
    Console {
        /// `standard output` or `standard error`.
        stream: &'static str,
        /// Why the write failed.
        #[source]
        source: io::Error,
    },
    /// A clustering parameter that cannot work: a usage error.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The chosen backend (the GPU) is missing or refused work: exit 1.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A feature column the table lacks (a usage error) or a value that
    /// cannot be clustered (exit 3).
    #[error(transparent)]
    Feature(#[from] FeatureError),
    /// A model file that cannot be read, or that does not fit the
    /// features asked for: exit 3.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Segment names that cannot name the segments: a usage error.
    #[error(transparent)]
    Naming(#[from] NamingError),
    /// A user graph that cannot be built: a bad edge list (exit 3), a
    /// file that cannot be read (exit 4), a kNN graph too large (exit 2).
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Options that are individually valid but do not fit together.
    #[error("{0}")]
    Usage(String),
    /// Input data that breaks a rule no other variant covers: exit 3.
    #[error("{0}")]
    Data(String),
    /// A failure that no input explains (a bug): exit 1.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<OutputError> for Error {
    fn from(e: OutputError) -> Error {
        match e {
            OutputError::Conflict(message) => Error::Usage(message),
            OutputError::Io { path, source } => Error::Output { path, source },
            OutputError::Internal(message) => Error::Internal(message),
        }
    }
}

impl Error {
    /// 2 usage, 3 bad input data, 4 I/O (README, "Bad input and exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Ingest(e) => e.exit_code(),
            Error::Output { .. } | Error::Console { .. } => 4,
            Error::Params(_) | Error::Naming(_) => 2,
            Error::Backend(_) => 1,
            // A feature name the user typed that the table lacks is a
            // usage error; a value that cannot be clustered is bad data.
            Error::Feature(FeatureError::UnknownColumn { .. }) => 2,
            Error::Feature(_) | Error::Model(_) => 3,
            Error::Graph(e) => e.exit_code(),
            Error::Usage(_) => 2,
            Error::Data(_) => 3,
            Error::Internal(_) => 1,
        }
    }

    /// Writing to a closed pipe (`segmint ... | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output { source, .. } | Error::Console { source, .. } => {
                source.kind() == io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

impl From<ClusterError> for Error {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Params(e) => Error::Params(e),
            ClusterError::Backend(e) => Error::Backend(e),
            ClusterError::Overflow(message) | ClusterError::Degenerate(message) => {
                Error::Data(message)
            }
            ClusterError::TooLarge(message) => Error::Usage(message),
        }
    }
}
