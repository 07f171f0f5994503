//! The library's top-level error, with the exit codes of SPEC section 6.

use std::io;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::cluster::{ClusterError, ParamsError};
use crate::features::matrix::FeatureError;
use crate::ingest::IngestError;
use crate::insights::naming::NamingError;
use crate::segment::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("cannot write {}: {source}", crate::output::describe(path))]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Standard output or standard error refused a message.
    #[error("cannot write {stream}: {source}")]
    Console {
        stream: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Feature(#[from] FeatureError),
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Segment names that cannot name the segments: a usage error.
    #[error(transparent)]
    Naming(#[from] NamingError),
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

impl Error {
    /// 2 usage, 3 bad input data, 4 I/O (SPEC section 6).
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
            ClusterError::Overflow(message) => Error::Data(message),
        }
    }
}
