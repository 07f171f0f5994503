//! Clustering (README, "Clustering"): K-Means parameters and their validation,
//! k-means++ and Lloyd, Gaussian mixtures ([`gmm`]), hierarchical trees
//! ([`hierarchical`]), communities of the user graph ([`communities`]),
//! quality metrics, multi-K sweeps and the model file.
//! The data-parallel kernels run in [`crate::backend`]; this module holds
//! the algorithms that drive them.

pub mod communities;
pub mod dec;
pub mod gmm;
pub mod hierarchical;
pub mod kmeans;
pub mod metrics;
pub mod params;
pub mod sweep;

pub use self::dec::DecParams;
pub use self::gmm::{CovarianceType, GaussianMixture, GmmInit, GmmParams, Mixture};
pub use self::kmeans::{KMeans, fit, fit_each_k, kmeans_plus_plus, lloyd};
pub use self::metrics::Metrics;
pub use self::params::{KMeansParams, ParamsError, SilhouetteMode};
pub use self::sweep::{Sweep, sweep};

/// Why a clustering could not run: a parameter that cannot work, or a
/// backend that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A parameter that cannot work, found before any work starts.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The backend failed (only the GPU backend does).
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// A result that does not fit in a double: the data are the cause.
    #[error("{0}")]
    Overflow(String),
    /// Data a method cannot fit however it is regularised (a mixture
    /// whose covariance stays singular): the data are the cause.
    #[error("{0}")]
    Degenerate(String),
    /// Work past what a method takes (a distance matrix of too many
    /// users), refused before it starts, with what to do instead.
    #[error("{0}")]
    TooLarge(String),
}
