//! K-Means parameters, checked before any work starts.

use serde::{Deserialize, Serialize};

use crate::backend::LloydAlgorithm;

/// Parameters of one K-Means fit (README, "Clustering"). Defaults follow
/// scikit-learn's `KMeans` (`n_init="auto"` is 1 restart for k-means++).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Clusters, 1 to the number of points; [`super::fit_each_k`] ignores
    /// it and takes its K from a list.
    pub k: usize,
    /// Restarts from different k-means++ seeds; the lowest inertia wins.
    pub n_init: usize,
    /// Most Lloyd iterations per run (at least 1); a run stopped by it is
    /// not converged.
    pub max_iter: usize,
    /// Relative tolerance: iterations stop when the summed squared centre
    /// shift is at most `tol` times the mean column variance.
    pub tol: f64,
    /// Seed of the k-means++ draws, from which each (K, restart) run gets
    /// its own ([`super::kmeans::run_seed`]), and of a silhouette sample.
    pub seed: u64,
    /// Initial centres (k x d, in the points' working coordinates) instead
    /// of k-means++: the run of the K they have starts from them.
    #[serde(skip)]
    pub init: Option<ndarray::Array2<f64>>,
    /// How each run finds the nearest centres on the CPU; the labels and
    /// centres are the same whichever is picked.
    #[serde(skip)]
    pub algorithm: LloydAlgorithm,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            k: 3,
            n_init: 1,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            init: None,
            algorithm: LloydAlgorithm::Auto,
        }
    }
}

/// A parameter that cannot work, with the rule it breaks. Messages name
/// the parameter (`n_init`); the command line names its flag instead
/// (see [`ParamsError::parameter`] and [`ParamsError::describe`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe(self.parameter()))]
pub enum ParamsError {
    /// A K below 1, alone or in a list of K.
    KTooSmall(usize),
    /// A K larger than the number of points to cluster.
    KTooLarge {
        /// The K asked for.
        k: usize,
        /// The points (users) to cluster.
        users: usize,
    },
    /// `n_init` is 0.
    NoRestarts(usize),
    /// `n_init` is past [`MAX_RESTARTS`].
    TooManyRestarts(usize),
    /// `max_iter` is 0.
    NoIterations(usize),
    /// `tol` is negative, NaN or infinite.
    BadTolerance(f64),
    /// `reg_covar` (Gaussian mixtures) is negative, NaN or infinite.
    BadRegularisation(f64),
    /// A list of K that does not parse (as `k` or `k_range` spell it).
    BadRange(String),
    /// A range whose start is past its end (`5..2`), or no K at all; the
    /// text as given (empty when a sweep is handed no K).
    EmptyRange(String),
    /// A silhouette mode other than `auto`, `exact`, `none` or `sample:N`
    /// with N >= 2; the text as given.
    BadSilhouette(String),
    /// No K of the range between 2 and the users less one.
    NoKForUsers {
        /// The points (users) to cluster.
        users: usize,
        /// The K of the range asked for.
        range: Vec<usize>,
    },
    /// A K to report that is not among the K fitted.
    NotSwept(usize),
    /// `micro_clusters` (hierarchical) is 1: a tree needs 2 or more (0
    /// asks for the exact tree).
    BadMicroClusters(usize),
    /// `parent_k` (hierarchical) is not below the K of the cut (or is 0).
    BadParentK(usize),
    /// `height` (hierarchical) is negative, NaN or infinite.
    BadHeight(f64),
    /// `resolution` (Leiden) is negative, NaN or infinite.
    BadResolution(f64),
    /// A value outside what a parameter takes.
    BadValue {
        /// The parameter.
        parameter: &'static str,
        /// The value, as given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
}

impl ParamsError {
    /// The parameter the error is about.
    pub fn parameter(&self) -> &'static str {
        match self {
            ParamsError::KTooSmall(_)
            | ParamsError::KTooLarge { .. }
            | ParamsError::BadRange(_)
            | ParamsError::EmptyRange(_)
            | ParamsError::NotSwept(_) => "k",
            ParamsError::NoRestarts(_) | ParamsError::TooManyRestarts(_) => "n_init",
            ParamsError::NoIterations(_) => "max_iter",
            ParamsError::BadTolerance(_) => "tol",
            ParamsError::BadRegularisation(_) => "reg_covar",
            ParamsError::BadSilhouette(_) => "silhouette",
            ParamsError::NoKForUsers { .. } => "k_range",
            ParamsError::BadMicroClusters(_) => "micro_clusters",
            ParamsError::BadParentK(_) => "parent_k",
            ParamsError::BadHeight(_) => "height",
            ParamsError::BadResolution(_) => "resolution",
            ParamsError::BadValue { parameter, .. } => parameter,
        }
    }

    /// The message, with the parameter called `name` (a flag, say).
    pub fn describe(&self, name: &str) -> String {
        match self {
            ParamsError::KTooSmall(k) => format!("{name} must be at least 1, got {k}"),
            ParamsError::KTooLarge { k, users } => {
                format!("{name} = {k} is more than the {users} users to cluster")
            }
            ParamsError::NoRestarts(n) => format!("{name} must be at least 1, got {n}"),
            ParamsError::TooManyRestarts(n) => {
                format!("{name} must be at most {MAX_RESTARTS}, got {n}")
            }
            ParamsError::NoIterations(n) => format!("{name} must be at least 1, got {n}"),
            ParamsError::BadTolerance(t)
            | ParamsError::BadRegularisation(t)
            | ParamsError::BadHeight(t)
            | ParamsError::BadResolution(t) => {
                format!("{name} must be a finite number >= 0, got {t}")
            }
            ParamsError::BadRange(text) => format!(
                "{name} {text:?}: expected a number (3), a range (2..10, inclusive) or a list (2,4,8)"
            ),
            ParamsError::EmptyRange(text) => format!("{name} {text:?}: the range is empty"),
            ParamsError::BadSilhouette(text) => {
                format!("{name} {text:?}: expected auto, exact, none or sample:N with N >= 2")
            }
            ParamsError::NoKForUsers { users, range } => format!(
                "{name} {}: no K in it between 2 and {} (the users less one)",
                spell_ks(range),
                users.saturating_sub(1)
            ),
            ParamsError::NotSwept(k) => format!("{name} = {k} is not among the K fitted"),
            ParamsError::BadMicroClusters(m) => {
                format!("{name} must be 0 (the exact tree) or at least 2, got {m}")
            }
            ParamsError::BadParentK(p) => {
                format!("{name} must be at least 1 and below the K of the segments, got {p}")
            }
            ParamsError::BadValue {
                value, expected, ..
            } => format!("{name} must be {expected}, got {value}"),
        }
    }
}

impl KMeansParams {
    /// Checks the parameters against the number of points (users; K may
    /// exceed the distinct points among them, as in scikit-learn, and
    /// leaves clusters empty then).
    pub fn validate(&self, points: usize) -> Result<(), ParamsError> {
        if self.k < 1 {
            return Err(ParamsError::KTooSmall(self.k));
        }
        if self.k > points {
            return Err(ParamsError::KTooLarge {
                k: self.k,
                users: points,
            });
        }
        if self.n_init < 1 {
            return Err(ParamsError::NoRestarts(self.n_init));
        }
        if self.n_init > MAX_RESTARTS {
            return Err(ParamsError::TooManyRestarts(self.n_init));
        }
        if self.max_iter < 1 {
            return Err(ParamsError::NoIterations(self.max_iter));
        }
        if !self.tol.is_finite() || self.tol < 0.0 {
            return Err(ParamsError::BadTolerance(self.tol));
        }
        Ok(())
    }
}

/// A list of K as `--k` takes it: `2..10` for a run of three or more,
/// else `2,4,8`.
fn spell_ks(ks: &[usize]) -> String {
    match ks {
        [first, .., last] if ks.len() >= 3 && last - first + 1 == ks.len() => {
            format!("{first}..{last}")
        }
        _ => ks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The most restarts per K: each is a whole k-means++ and Lloyd run, and
/// past a few dozen they rarely find a lower inertia.
pub const MAX_RESTARTS: usize = 1000;

/// Parses `--k`: `3`, `2..10` (inclusive, as the README writes it), `2..=10`,
/// or `2,4,8`. Values come back sorted and distinct.
pub fn parse_k_list(text: &str) -> Result<Vec<usize>, ParamsError> {
    let bad = || ParamsError::BadRange(text.to_string());
    let number = |s: &str| s.trim().parse::<usize>().map_err(|_| bad());
    let mut ks: Vec<usize> = if let Some((a, b)) = text.split_once("..") {
        let b = b.strip_prefix('=').unwrap_or(b);
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return Err(ParamsError::EmptyRange(text.to_string()));
        }
        (a..=b).collect()
    } else {
        text.split(',').map(number).collect::<Result<_, _>>()?
    };
    ks.sort_unstable();
    ks.dedup();
    if let Some(&k) = ks.first().filter(|&&k| k < 1) {
        return Err(ParamsError::KTooSmall(k));
    }
    Ok(ks)
}

/// How silhouette is computed (`--silhouette`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SilhouetteMode {
    /// Exact up to [`SilhouetteMode::AUTO_EXACT_LIMIT`] users, else sampled.
    Auto,
    /// Over all pairs of users, with every user's value.
    Exact,
    /// The mean over this many users drawn at random (from the fit's
    /// seed; at least 2), without per-user values; exact when the sample
    /// holds every user.
    Sample(usize),
    /// No Euclidean silhouette: a sweep chooses K by the knee of the
    /// inertia curve.
    None,
}

impl SilhouetteMode {
    /// Up to this many users `auto` is exact: the all-pairs pass stays
    /// within seconds on a laptop.
    pub const AUTO_EXACT_LIMIT: usize = 50_000;
    /// The sample size `auto` uses above the limit.
    pub const AUTO_SAMPLE: usize = 20_000;

    /// Parses `--silhouette`: `auto`, `exact`, `none` or `sample:N` with
    /// N >= 2.
    pub fn parse(text: &str) -> Result<Self, ParamsError> {
        match text {
            "auto" => Ok(SilhouetteMode::Auto),
            "exact" => Ok(SilhouetteMode::Exact),
            "none" => Ok(SilhouetteMode::None),
            _ => match text.strip_prefix("sample:").map(str::parse::<usize>) {
                Some(Ok(n)) if n >= 2 => Ok(SilhouetteMode::Sample(n)),
                _ => Err(ParamsError::BadSilhouette(text.to_string())),
            },
        }
    }

    /// What `auto` means for `n` users; a sample at least as large as the
    /// data is the exact silhouette.
    pub fn resolve(self, n: usize) -> Self {
        match self {
            SilhouetteMode::Auto if n <= Self::AUTO_EXACT_LIMIT => SilhouetteMode::Exact,
            SilhouetteMode::Auto => SilhouetteMode::Sample(Self::AUTO_SAMPLE),
            SilhouetteMode::Sample(s) if s >= n => SilhouetteMode::Exact,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_lists() {
        assert_eq!(parse_k_list("3").unwrap(), vec![3]);
        assert_eq!(parse_k_list("2..5").unwrap(), vec![2, 3, 4, 5]);
        assert_eq!(parse_k_list("2..=3").unwrap(), vec![2, 3]);
        assert_eq!(parse_k_list("8,2,4,2").unwrap(), vec![2, 4, 8]);
        assert!(matches!(
            parse_k_list("5..2"),
            Err(ParamsError::EmptyRange(_))
        ));
        assert!(matches!(
            parse_k_list("0..3"),
            Err(ParamsError::KTooSmall(0))
        ));
        assert!(matches!(parse_k_list("a"), Err(ParamsError::BadRange(_))));
        assert!(matches!(parse_k_list(""), Err(ParamsError::BadRange(_))));
    }

    #[test]
    fn validation() {
        let ok = KMeansParams::default();
        assert!(ok.validate(3).is_ok());
        assert!(matches!(
            ok.validate(2),
            Err(ParamsError::KTooLarge { k: 3, users: 2 })
        ));
        let bad = KMeansParams {
            tol: f64::NAN,
            ..ok.clone()
        };
        assert!(bad.validate(10).is_err());
        let bad = KMeansParams { n_init: 0, ..ok };
        assert!(bad.validate(10).is_err());
    }

    #[test]
    fn silhouette_modes() {
        assert_eq!(
            SilhouetteMode::parse("sample:100").unwrap(),
            SilhouetteMode::Sample(100)
        );
        assert!(SilhouetteMode::parse("sample:1").is_err());
        assert!(SilhouetteMode::parse("fast").is_err());
        assert_eq!(SilhouetteMode::Auto.resolve(10), SilhouetteMode::Exact);
        assert_eq!(
            SilhouetteMode::Auto.resolve(1_000_000),
            SilhouetteMode::Sample(20_000)
        );
        assert_eq!(
            SilhouetteMode::Sample(50).resolve(40),
            SilhouetteMode::Exact
        );
    }
}
