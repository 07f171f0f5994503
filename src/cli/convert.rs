//! Arguments turned into the library's types, once: ingest and feature
//! options, feature specs, the method and its parameters, the choice of
//! K, churn thresholds, segment names. The library's errors name its
//! parameters (`n_init`); [`flag`] and [`describe`] give the flags
//! instead.

use segmint::Error;
use segmint::cluster::hierarchical::HierarchicalParams;
use segmint::cluster::params::parse_k_list;
use segmint::cluster::{GmmParams, KMeansParams, ParamsError, SilhouetteMode};
use segmint::features::FeatureOptions;
use segmint::features::matrix::FeatureSpec;
use segmint::generate::GenerateParams;
use segmint::ingest::{ColumnNames, IngestOptions, TimeFormat};
use segmint::insights::churn::{ChurnError, ChurnThresholds};
use segmint::insights::naming::parse_names;
use segmint::segment::{KChoice, Method, Scaling};
use segmint::values::time::{MS_PER_DAY, day_of};

use super::{
    ChurnArgs, ClusterInputArgs, FeatureArgs, GenerateArgs, InputArgs, KMeansArgs, MethodName,
    Scale,
};

/// The flag of a library parameter: `n_init` is `--n-init`.
pub fn flag(parameter: &str) -> String {
    format!("--{}", parameter.replace('_', "-"))
}

/// An error as the command line says it: parameters named by their
/// flags.
pub fn describe(error: &Error) -> String {
    match error {
        Error::Params(e) => e.describe(&flag(e.parameter())),
        Error::Naming(e) => e.describe("--segment-names"),
        other => other.to_string(),
    }
}

impl GenerateArgs {
    pub fn params(&self) -> Result<GenerateParams, String> {
        let start_ms = TimeFormat::Iso
            .parse(self.start.as_bytes())
            .ok()
            .filter(|ms| ms % MS_PER_DAY == 0)
            .ok_or_else(|| format!("--start {:?}: expected a date as YYYY-MM-DD", self.start))?;
        let params = GenerateParams {
            users: self.users,
            rows: self.rows,
            days: self.days,
            seed: self.seed,
            start_day: day_of(start_ms),
        };
        params.validate()?;
        Ok(params)
    }
}

impl ClusterInputArgs {
    /// The features asked for with `--features`.
    pub fn feature_specs(&self) -> Result<Option<Vec<FeatureSpec>>, Error> {
        feature_specs(self.features.as_deref())
    }
}

/// A `--features` list as feature specs.
pub fn feature_specs(list: Option<&[String]>) -> Result<Option<Vec<FeatureSpec>>, Error> {
    list.map(|list| FeatureSpec::parse_list(list).map_err(Error::Usage))
        .transpose()
}

impl From<Scale> for Scaling {
    fn from(scale: Scale) -> Scaling {
        match scale {
            Scale::Zscore => Scaling::Zscore,
            Scale::None => Scaling::None,
        }
    }
}

impl KMeansArgs {
    /// The K-Means parameters (`k` is 1: a sweep sets each K), the
    /// K-Means defaults where a flag is not given.
    pub fn params(&self) -> KMeansParams {
        let defaults = KMeansParams::default();
        KMeansParams {
            k: 1,
            n_init: self.n_init,
            max_iter: self.max_iter.unwrap_or(defaults.max_iter),
            tol: self.tol.unwrap_or(defaults.tol),
            seed: self.seed,
        }
    }

    /// The method, its parameters checked (restarts, iterations,
    /// tolerance, regularisation) before any data is read, and the
    /// silhouette mode.
    pub fn method(&self) -> Result<(Method, SilhouetteMode), Error> {
        let only = |method: &str, flags: &[(&str, bool)]| -> Result<(), Error> {
            match flags.iter().find(|(_, given)| *given) {
                Some((flag, _)) => Err(Error::Usage(format!(
                    "{flag} applies to {method}: add --method {}",
                    if method == "Gaussian mixtures" {
                        "gmm"
                    } else {
                        "hierarchical"
                    }
                ))),
                None => Ok(()),
            }
        };
        let gmm_only = [
            ("--covariance", self.covariance.is_some()),
            ("--reg-covar", self.reg_covar.is_some()),
            ("--gmm-init", self.gmm_init.is_some()),
        ];
        let tree_only = [
            ("--linkage", self.linkage.is_some()),
            ("--micro-clusters", self.micro_clusters.is_some()),
            ("--parent-k", self.parent_k.is_some()),
        ];
        let method = match self.method {
            MethodName::Kmeans => {
                only("Gaussian mixtures", &gmm_only)?;
                only("hierarchical clustering", &tree_only)?;
                Method::KMeans(self.params())
            }
            MethodName::Gmm => {
                only("hierarchical clustering", &tree_only)?;
                let defaults = GmmParams::default();
                Method::Gmm(GmmParams {
                    k: 1,
                    covariance: parse("--covariance", &self.covariance)?
                        .unwrap_or(defaults.covariance),
                    n_init: self.n_init,
                    max_iter: self.max_iter.unwrap_or(defaults.max_iter),
                    tol: self.tol.unwrap_or(defaults.tol),
                    reg_covar: self.reg_covar.unwrap_or(defaults.reg_covar),
                    init: parse("--gmm-init", &self.gmm_init)?.unwrap_or(defaults.init),
                    seed: self.seed,
                })
            }
            MethodName::Hierarchical => {
                only("Gaussian mixtures", &gmm_only)?;
                let iterative = [
                    ("--n-init", self.n_init != 1),
                    ("--max-iter", self.max_iter.is_some()),
                    ("--tol", self.tol.is_some()),
                ];
                if let Some((flag, _)) = iterative.iter().find(|(_, given)| *given) {
                    return Err(Error::Usage(format!(
                        "{flag} does not apply to --method hierarchical: its tree is exact, and its micro-clusters' K-Means runs a fixed 10 iterations"
                    )));
                }
                Method::Hierarchical(HierarchicalParams {
                    linkage: parse("--linkage", &self.linkage)?.unwrap_or_default(),
                    micro_clusters: self.micro_clusters,
                    seed: self.seed,
                    parent_k: self.parent_k,
                    cut_height: None,
                })
            }
        };
        method.validate()?;
        Ok((method, SilhouetteMode::parse(&self.silhouette)?))
    }
}

/// An optional flag's value parsed, the error naming the flag.
fn parse<T: std::str::FromStr<Err = String>>(
    flag: &str,
    text: &Option<String>,
) -> Result<Option<T>, Error> {
    text.as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("{flag}: {e}")))
}

/// A list of K (`3`, `2..10`, `2,4,8`) given with `flag`.
pub fn k_list(text: &str, flag: &str) -> Result<Vec<usize>, Error> {
    let ks = parse_k_list(text).map_err(|e| Error::Usage(e.describe(flag)))?;
    if ks.is_empty() {
        return Err(Error::Usage(
            ParamsError::EmptyRange(text.into()).describe(flag),
        ));
    }
    Ok(ks)
}

/// `--k`: a number, or `auto` (the highest silhouette of `--k-range`).
pub fn k_choice(k: &str) -> Result<KChoice, Error> {
    Ok(match k.trim() {
        "auto" => KChoice::Auto,
        text => KChoice::Fixed(
            text.parse::<usize>()
                .map_err(|_| ParamsError::BadRange(k.to_string()))?,
        ),
    })
}

/// `--segment-names`: checked for a fixed K now, for `auto` once K is
/// chosen (here only each name is checked).
pub fn segment_names(list: Option<&str>, k: KChoice) -> Result<Option<Vec<String>>, Error> {
    let Some(list) = list else {
        return Ok(None);
    };
    let count = match k {
        KChoice::Fixed(k) => k,
        KChoice::Auto => list.split(',').count(),
    };
    Ok(Some(parse_names(list, count)?))
}

impl ChurnArgs {
    /// The thresholds, checked; errors name the flag.
    pub fn thresholds(&self, feature: &FeatureArgs) -> Result<ChurnThresholds, Error> {
        let thresholds = ChurnThresholds {
            dormant_days: feature.dormant_days,
            decline: self.decline,
            quality_failure_rate: self.quality_failure_rate,
            critical_decline: self.critical_decline,
            moderate_decline: self.moderate_decline,
        };
        thresholds.validate().map_err(|e| {
            let ChurnError::BadThreshold {
                parameter,
                rule,
                value,
            } = e;
            Error::Usage(format!("{} must be {rule}, got {value}", flag(parameter)))
        })?;
        Ok(thresholds)
    }
}

/// How to read logs and aggregate them: `--as-of` is read in the time
/// format of `input`.
pub fn log_options(
    input: &InputArgs,
    feature: &FeatureArgs,
) -> Result<(IngestOptions, FeatureOptions), Error> {
    let options = input.options(feature).map_err(Error::Usage)?;
    let features = feature.options(options.as_of).map_err(Error::Usage)?;
    Ok((options, features))
}

impl InputArgs {
    pub fn options(&self, feature: &FeatureArgs) -> Result<IngestOptions, String> {
        let defaults = IngestOptions::default();
        let as_of = match &feature.as_of {
            None => None,
            Some(text) => Some(self.time_format.parse(text.as_bytes()).map_err(|e| {
                format!(
                    "--as-of {text:?}: expected {} ({e})",
                    self.time_format.expected()
                )
            })?),
        };
        let success_statuses: Vec<String> = self
            .success_status
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let options = IngestOptions {
            columns: ColumnNames {
                user: self.user_col.clone(),
                time: self.time_col.clone(),
                amount: self.amount_col.clone(),
                channel: self.channel_col.clone(),
                status: self.status_col.clone(),
                peer: self.peer_col.clone(),
            },
            has_header: !self.no_header,
            delimiter: self.delimiter,
            time_format: self.time_format,
            as_of,
            since: None,
            success_statuses,
            skip_bad_rows: self.skip_bad_rows,
            chunk_bytes: self.chunk_bytes.unwrap_or(defaults.chunk_bytes),
            use_mmap: !self.no_mmap,
        };
        options.validate()?;
        Ok(options)
    }
}

impl FeatureArgs {
    pub fn options(&self, as_of: Option<i64>) -> Result<FeatureOptions, String> {
        if !self.dormant_days.is_finite() || self.dormant_days < 0.0 {
            return Err(format!(
                "--dormant-days {}: expected a non-negative number",
                self.dormant_days
            ));
        }
        Ok(FeatureOptions {
            as_of,
            dormant_days: self.dormant_days,
        })
    }
}
