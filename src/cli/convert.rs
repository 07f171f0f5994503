//! Arguments turned into the library's types, once: ingest and feature
//! options, feature specs, the method and its parameters, the choice of
//! K, churn thresholds, segment names. The library's errors name its
//! parameters (`n_init`); [`flag`] and [`describe`] give the flags
//! instead.

use segmint::Error;
use segmint::cluster::communities::{CommunityParams, DEFAULT_MIN_COMMUNITY_SIZE};
use segmint::cluster::hierarchical::HierarchicalParams;
use segmint::cluster::params::parse_k_list;
use segmint::cluster::{DecParams, GmmParams, KMeansParams, ParamsError, SilhouetteMode};
use segmint::features::FeatureOptions;
use segmint::features::matrix::FeatureSpec;
use segmint::generate::GenerateParams;
use segmint::graph::build::{DEFAULT_MAX_PEER_DEGREE, PeerOptions};
use segmint::graph::{EdgeWeight, GraphSource, LeidenParams, PeerKind};
use segmint::ingest::{ColumnNames, IngestOptions, TimeFormat};
use segmint::insights::btyd::LifetimeOptions;
use segmint::insights::churn::{ChurnError, ChurnThresholds};
use segmint::insights::naming::parse_names;
use segmint::segment::{KChoice, Method, Scaling};
use segmint::values::time::{MS_PER_DAY, day_of};

use super::{
    ChurnArgs, ClusterInputArgs, FeatureArgs, GenerateArgs, GraphArgs, InputArgs, KMeansArgs,
    MethodName, Scale,
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
            blocks: self.blocks.map(|count| segmint::generate::Blocks {
                count,
                p_in: self.p_in,
            }),
        };
        if self.blocks.is_none() && self.truth_out.is_some() {
            return Err("--truth-out writes each user's planted block: add --blocks".into());
        }
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
            n_init: self.n_init.unwrap_or(defaults.n_init),
            max_iter: self.max_iter.unwrap_or(defaults.max_iter),
            tol: self.tol.unwrap_or(defaults.tol),
            seed: self.seed,
            init: None,
            algorithm: self.algorithm.unwrap_or_default(),
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
        let leiden_only = [
            ("--objective", self.objective.is_some()),
            ("--resolution", self.resolution.is_some()),
            ("--min-community-size", self.min_community_size.is_some()),
            ("--peer-col", self.graph.peer_col.is_some()),
            ("--edges-input", self.graph.edges_input.is_some()),
            ("--knn", self.graph.knn.is_some()),
            ("--edge-weight", self.graph.edge_weight.is_some()),
            ("--peers", self.graph.peers.is_some()),
            ("--max-peer-degree", self.graph.max_peer_degree.is_some()),
        ];
        if self.method != MethodName::Leiden
            && let Some((flag, _)) = leiden_only.iter().find(|(_, given)| *given)
        {
            return Err(Error::Usage(format!(
                "{flag} applies to graph communities: add --method leiden"
            )));
        }
        let dec_only = [
            ("--hidden", self.hidden.is_some()),
            ("--latent", self.latent.is_some()),
            ("--pretrain-epochs", self.pretrain_epochs.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--learning-rate", self.learning_rate.is_some()),
            ("--update-interval", self.update_interval.is_some()),
            ("--gamma", self.gamma.is_some()),
        ];
        if self.method != MethodName::Dec
            && let Some((flag, _)) = dec_only.iter().find(|(_, given)| *given)
        {
            return Err(Error::Usage(format!(
                "{flag} applies to deep embedding clustering: add --method dec"
            )));
        }
        if self.method != MethodName::Kmeans && self.algorithm.is_some() {
            return Err(Error::Usage(
                "--algorithm applies to K-Means: add --method kmeans".to_string(),
            ));
        }
        let method = match self.method {
            MethodName::Leiden => {
                only("Gaussian mixtures", &gmm_only)?;
                only("hierarchical clustering", &tree_only)?;
                let iterative = [
                    ("--n-init", self.n_init.is_some_and(|n| n != 1)),
                    ("--tol", self.tol.is_some()),
                ];
                if let Some((flag, _)) = iterative.iter().find(|(_, given)| *given) {
                    return Err(Error::Usage(format!(
                        "{flag} does not apply to --method leiden: it iterates until the quality stops rising (--max-iter caps it)"
                    )));
                }
                let defaults = LeidenParams::default();
                Method::Leiden(CommunityParams {
                    leiden: LeidenParams {
                        objective: parse("--objective", &self.objective)?
                            .unwrap_or(defaults.objective),
                        resolution: self.resolution.unwrap_or(defaults.resolution),
                        seed: self.seed,
                        max_iterations: self.max_iter.unwrap_or(defaults.max_iterations),
                        randomness: defaults.randomness,
                    },
                    min_size: parse("--min-community-size", &self.min_community_size)?
                        .unwrap_or(DEFAULT_MIN_COMMUNITY_SIZE),
                    source: self.graph.source()?,
                })
            }
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
                    n_init: self.n_init.unwrap_or(defaults.n_init),
                    max_iter: self.max_iter.unwrap_or(defaults.max_iter),
                    tol: self.tol.unwrap_or(defaults.tol),
                    reg_covar: self.reg_covar.unwrap_or(defaults.reg_covar),
                    init: parse("--gmm-init", &self.gmm_init)?.unwrap_or(defaults.init),
                    seed: self.seed,
                })
            }
            MethodName::Dec => {
                only("Gaussian mixtures", &gmm_only)?;
                only("hierarchical clustering", &tree_only)?;
                let defaults = DecParams::default();
                let hidden = match &self.hidden {
                    None => defaults.hidden,
                    Some(text) => text
                        .split(',')
                        .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "--hidden {text:?}: expected layer widths of at least 1, separated by commas (64,32)"
                            ))
                        })?,
                };
                Method::Dec(DecParams {
                    hidden,
                    latent: self.latent,
                    pretrain_epochs: self.pretrain_epochs,
                    batch_size: self.batch_size.unwrap_or(defaults.batch_size),
                    learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
                    update_interval: self.update_interval.unwrap_or(defaults.update_interval),
                    tol: self.tol.unwrap_or(defaults.tol),
                    max_iter: self.max_iter.unwrap_or(defaults.max_iter),
                    gamma: self.gamma.unwrap_or(defaults.gamma),
                    n_init: self.n_init.unwrap_or(defaults.n_init),
                    seed: self.seed,
                })
            }
            MethodName::Hierarchical => {
                only("Gaussian mixtures", &gmm_only)?;
                let iterative = [
                    ("--n-init", self.n_init.is_some_and(|n| n != 1)),
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

impl GraphArgs {
    /// Where the graph comes from: exactly one of --peer-col,
    /// --edges-input and --knn, with the options of peers checked.
    pub fn source(&self) -> Result<GraphSource, Error> {
        let given = [
            self.peer_col.is_some(),
            self.edges_input.is_some(),
            self.knn.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            return Err(Error::Usage(
                "--method leiden needs one user graph: --peer-col COL (from the logs), --edges-input FILE or --knn K"
                    .into(),
            ));
        }
        if self.peer_col.is_none() {
            let peers_only = [
                ("--edge-weight", self.edge_weight.is_some()),
                ("--peers", self.peers.is_some()),
                ("--max-peer-degree", self.max_peer_degree.is_some()),
            ];
            if let Some((flag, _)) = peers_only.iter().find(|(_, given)| *given) {
                return Err(Error::Usage(format!(
                    "{flag} says how --peer-col makes edges: give --peer-col"
                )));
            }
        }
        Ok(match (&self.peer_col, &self.edges_input, self.knn) {
            (Some(column), _, _) => {
                let max_peer_degree = self.max_peer_degree.unwrap_or(DEFAULT_MAX_PEER_DEGREE);
                if max_peer_degree < 2 {
                    return Err(Error::Usage(format!(
                        "--max-peer-degree {max_peer_degree}: a peer links users only when at least 2 share it"
                    )));
                }
                GraphSource::Peers(PeerOptions {
                    column: column.clone(),
                    weight: match self.edge_weight.as_deref() {
                        None | Some("count") => EdgeWeight::Count,
                        Some("amount") => EdgeWeight::Amount,
                        Some(other) => {
                            return Err(Error::Usage(format!(
                                "--edge-weight {other:?}: expected count or amount"
                            )));
                        }
                    },
                    kind: match self.peers.as_deref() {
                        None | Some("auto") => PeerKind::Auto,
                        Some("users") => PeerKind::Users,
                        Some("items") => PeerKind::Items,
                        Some(other) => {
                            return Err(Error::Usage(format!(
                                "--peers {other:?}: expected auto, users or items"
                            )));
                        }
                    },
                    max_peer_degree,
                })
            }
            (None, Some(path), _) => GraphSource::Edges(path.clone()),
            (None, None, Some(k)) => GraphSource::Knn(k),
            (None, None, None) => unreachable!("one source was given"),
        })
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
            dormant_gaps: self.dormant_gaps,
            p_alive_risk: self.p_alive_risk,
            overdue: self.overdue,
            trend_z: self.trend_z,
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

impl ChurnArgs {
    /// The horizon and discount of the lifetime values, checked; errors
    /// name the flag.
    pub fn lifetime(&self) -> Result<LifetimeOptions, Error> {
        let options = LifetimeOptions {
            horizon_days: self.horizon,
            discount_rate: self.discount_rate,
        };
        options
            .validate()
            .map_err(|e| Error::Usage(format!("--{}", e.replace('_', "-"))))?;
        Ok(options)
    }
}

/// How to read logs and aggregate them: `--as-of` is read in the time
/// format of `input`.
pub fn log_options(
    input: &InputArgs,
    feature: &FeatureArgs,
) -> Result<(IngestOptions, FeatureOptions), Error> {
    let options = input.options(feature).map_err(Error::Usage)?;
    let features = feature
        .options(options.as_of, options.since)
        .map_err(Error::Usage)?;
    Ok((options, features))
}

impl InputArgs {
    pub fn options(&self, feature: &FeatureArgs) -> Result<IngestOptions, String> {
        let defaults = IngestOptions::default();
        let time = |flag: &str, text: &Option<String>| {
            text.as_ref()
                .map(|text| {
                    self.time_format.parse(text.as_bytes()).map_err(|e| {
                        format!(
                            "{flag} {text:?}: expected {} ({e})",
                            self.time_format.expected()
                        )
                    })
                })
                .transpose()
        };
        let as_of = time("--as-of", &feature.as_of)?;
        // The window starts at midnight UTC of the given time's date.
        let since =
            time("--window-start", &feature.window_start)?.map(|ms| day_of(ms) * MS_PER_DAY);
        if let (Some(start), Some(end)) = (since, as_of)
            && start > end
        {
            return Err(format!(
                "--window-start {:?} is after --as-of {:?}",
                feature.window_start.as_deref().unwrap_or_default(),
                feature.as_of.as_deref().unwrap_or_default()
            ));
        }
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
                peer: None,
            },
            has_header: !self.no_header,
            delimiter: self.delimiter,
            time_format: self.time_format,
            as_of,
            since,
            success_statuses,
            skip_bad_rows: self.skip_bad_rows,
            chunk_bytes: self.chunk_bytes.unwrap_or(defaults.chunk_bytes),
            use_mmap: !self.no_mmap,
            format: self.input_format,
        };
        options.validate()?;
        Ok(options)
    }
}

impl FeatureArgs {
    /// The feature options; `as_of` and `since` are [`IngestOptions`]'
    /// (`--as-of`, and `--window-start`'s midnight).
    pub fn options(
        &self,
        as_of: Option<i64>,
        since: Option<i64>,
    ) -> Result<FeatureOptions, String> {
        if !self.dormant_days.is_finite() || self.dormant_days < 0.0 {
            return Err(format!(
                "--dormant-days {}: expected a non-negative number",
                self.dormant_days
            ));
        }
        if self.trend_days == Some(0) {
            return Err("--trend-days 0: expected a whole number of days >= 1".into());
        }
        Ok(FeatureOptions {
            as_of,
            dormant_days: self.dormant_days,
            trend_days: self.trend_days,
            window_start: since.map(day_of),
        })
    }
}
