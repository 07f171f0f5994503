//! The model file (README, "The model file"): everything `score` needs to
//! place new users in the segments of a fit without refitting: how the
//! users were read, the features and their scaler, the method and what it
//! learnt, the segments' names and the churn thresholds. Versioned; a
//! model of another version or feature set, or one damaged, is refused.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::backend::cpu::mixture::{Source, posteriors};
use crate::cluster::gmm::{CovarianceType, Covariances, GmmInit, Mixture};
use crate::cluster::hierarchical::{Linkage, Merge};
use crate::graph::{EdgeWeight, GraphSource, Objective, PeerKind};

use crate::backend::Backend;
use crate::error::Error;
use crate::features::FeatureOptions;
use crate::features::matrix::{FeatureError, FeatureMatrix, FeatureSpec, NumericTable, Scaler};
use crate::ingest::{ColumnNames, Delimiter, IngestOptions, TimeFormat};
use crate::insights::btyd::Lifetime;
use crate::insights::churn::ChurnThresholds;

/// Users placed by a model: see [`Model::place`].
#[derive(Debug, Clone)]
pub struct Placed {
    /// Each user's segment.
    pub segments: Vec<u32>,
    /// Squared distance to the segment's centre, working coordinates.
    pub squared: Vec<f32>,
    /// A mixture's membership probabilities, or deep embedding
    /// clustering's soft assignments, n x K.
    pub probabilities: Option<Vec<f32>>,
    /// Deep embedding clustering's latent codes, n x latent.
    pub latent: Option<Vec<f32>>,
}

/// Each point's squared distance to the centre (row of `centres`, working
/// coordinates) of its label.
fn squared_distances(points: &FeatureMatrix, centres: &Array2<f64>, labels: &[u32]) -> Vec<f32> {
    use rayon::prelude::*;
    let d = points.d().max(1);
    points
        .as_slice()
        .par_chunks(d)
        .zip(labels.par_iter())
        .map(|(x, &l)| {
            let c = centres.row(l as usize);
            x.iter()
                .zip(c)
                .map(|(&v, &m)| (f64::from(v) - m).powi(2))
                .sum::<f64>() as f32
        })
        .collect()
}

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "segmint-model";
/// The version this build writes. Version 2 added the segment names and
/// the churn thresholds; version 3 names the method (`method`), under
/// which the K-Means centres, parameters and inertia moved. Version 2
/// files still load, as the K-Means models they are.
pub const MODEL_VERSION: u32 = 3;

/// The trend window of a model written before windows followed the log's
/// cadence: the 7 days of `usage_trend`.
const LEGACY_TREND_DAYS: u32 = 7;

/// How the fitted users were read, so `score` reads new ones alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputSchema {
    /// Transaction logs (README, "Input"), aggregated into features.
    Transactions {
        /// `--user-col`: a header name or a 1-based position; `None`
        /// (`null`): the default, `user_id`.
        user_col: Option<String>,
        /// `--time-col`, as `user_col`; default `created_at`.
        time_col: Option<String>,
        /// `--amount-col`, as `user_col`; default `total_price`.
        amount_col: Option<String>,
        /// `--channel-col`, as `user_col`; default `channel`, used when the
        /// header has it.
        channel_col: Option<String>,
        /// `--status-col`, as `user_col`; default `status`, used when the
        /// header has it.
        status_col: Option<String>,
        /// `--peer-col`, as `user_col`: the counterparty column a Leiden
        /// model's graph was built from; `None` (absent) otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_col: Option<String>,
        /// `--no-header`: the logs have no header row, so columns are
        /// positions.
        no_header: bool,
        /// `--delimiter`, spelt as the flag takes it (`,`, `;`, `|`,
        /// `tab` or `whitespace`).
        delimiter: String,
        /// `--time-format` (`auto`, `iso`, `ymd`, `unix` or `unix-ms`);
        /// `auto` detects it again in each new file.
        time_format: String,
        /// `--success-status`: the statuses that count as successes (any
        /// case); other non-empty statuses are failures.
        success_statuses: Vec<String>,
        /// `--dormant-days`: days without a transaction beyond which a
        /// user's `is_dormant` feature is set.
        dormant_days: f64,
        /// The trend window of `cadence_trend` the fitted users had (given
        /// by `--trend-days` or chosen from their cadence), so that new
        /// users' trends are measured alike; absent in models written
        /// before it existed (the window is then chosen again).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trend_days: Option<u32>,
    },
    /// The ids of an edge list alone (`--edges-input` without logs or a
    /// table): each user's features are its degree and strength in the
    /// graph.
    Edges {},
    /// A numeric feature table (`--features-input`).
    FeatureTable {
        /// `--key-col`: the key column's name; `None` (`null`): `user_id`,
        /// else the first column.
        key_col: Option<String>,
        /// `--delimiter`, spelt as the flag takes it.
        delimiter: String,
    },
}

impl InputSchema {
    /// The schema of transaction logs read with `options`.
    pub fn transactions(options: &IngestOptions, features: &FeatureOptions) -> Self {
        let c = &options.columns;
        InputSchema::Transactions {
            user_col: c.user.clone(),
            time_col: c.time.clone(),
            amount_col: c.amount.clone(),
            channel_col: c.channel.clone(),
            status_col: c.status.clone(),
            peer_col: c.peer.clone(),
            no_header: !options.has_header,
            delimiter: options.delimiter.to_string(),
            time_format: options.time_format.to_string(),
            success_statuses: options.success_statuses.clone(),
            dormant_days: features.dormant_days,
            trend_days: features.trend_days,
        }
    }

    /// The trend window the fitted users' `cadence_trend` had (a model
    /// written before windows followed the cadence: the 7 days it knew);
    /// `None` for other inputs.
    pub fn trend_days(&self) -> Option<u32> {
        match self {
            InputSchema::Transactions { trend_days, .. } => {
                Some(trend_days.unwrap_or(LEGACY_TREND_DAYS))
            }
            InputSchema::FeatureTable { .. } | InputSchema::Edges {} => None,
        }
    }

    /// The time format of a model of transaction logs (`--as-of` of
    /// `score` is read in it).
    pub fn time_format(&self) -> Option<TimeFormat> {
        match self {
            InputSchema::Transactions { time_format, .. } => time_format.parse().ok(),
            InputSchema::FeatureTable { .. } | InputSchema::Edges {} => None,
        }
    }

    /// How to read new logs as the fitted ones were (`as_of`: the reference
    /// time of the new logs), for a model of transaction logs; `None` for
    /// one of a feature table.
    pub fn logs_options(&self, as_of: Option<i64>) -> Option<(IngestOptions, FeatureOptions)> {
        let InputSchema::Transactions {
            user_col,
            time_col,
            amount_col,
            channel_col,
            status_col,
            peer_col,
            no_header,
            delimiter,
            time_format,
            success_statuses,
            dormant_days,
            trend_days,
        } = self
        else {
            return None;
        };
        let options = IngestOptions {
            columns: ColumnNames {
                user: user_col.clone(),
                time: time_col.clone(),
                amount: amount_col.clone(),
                channel: channel_col.clone(),
                status: status_col.clone(),
                peer: peer_col.clone(),
            },
            has_header: !no_header,
            // Checked when the model was read.
            delimiter: delimiter.parse::<Delimiter>().unwrap_or_default(),
            time_format: time_format.parse::<TimeFormat>().unwrap_or_default(),
            as_of,
            success_statuses: success_statuses.clone(),
            ..IngestOptions::default()
        };
        let features = FeatureOptions {
            as_of,
            dormant_days: *dormant_days,
            trend_days: Some(trend_days.unwrap_or(LEGACY_TREND_DAYS)),
            window_start: None,
        };
        Some((options, features))
    }
}

/// How the features were scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// z-scores with the population std.
    #[default]
    Zscore,
    /// Values clustered as given.
    None,
}

/// A fitted segmentation model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Always [`MODEL_FORMAT`]: what marks the JSON as a segmint model.
    pub format: String,
    /// The file's format version; [`MODEL_VERSION`] once read (a version 2
    /// file is converted as it is read).
    pub version: u32,
    /// The program that wrote it.
    pub created_by: String,
    /// How the fitted users were read (`kind`: `transactions` or
    /// `feature_table`), so that `score` reads new users alike.
    pub input: InputSchema,
    /// Feature columns and transforms, as `--features` spells them.
    pub features: Vec<String>,
    /// `zscore` or `none` (`--scale`).
    pub scaling: Scaling,
    /// Per feature, in `features` order: the mean and population std of
    /// the fitted users' transformed values (`mean` and `std`), which
    /// scale new users alike; a std of 0 marks a constant column. Means 0
    /// and stds 1 under `none`.
    pub scaler: Scaler,
    /// The method and what it learnt: what places new users.
    pub method: MethodModel,
    /// Segments.
    pub k: usize,
    /// The column whose mean (in original units) orders the segments,
    /// highest first; `size` (users) for graph communities of an edge
    /// list alone.
    pub segment_order_by: String,
    /// One name per segment, segment 0 first.
    pub segment_names: Vec<String>,
    /// The churn early-warning thresholds `score` applies.
    pub churn: ChurnThresholds,
    /// The lifetime-value models fitted on the users (BG/NBD's r, alpha,
    /// a, b; Gamma-Gamma's p, q, v), the horizon and the discount rate:
    /// `score` predicts new users' P(alive), expected transactions and
    /// CLV with them. `None` (absent) for a model of a table without the
    /// columns they need, or written before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<Lifetime>,
    /// Fit statistics, for the record: users fitted on, and the
    /// silhouette of their segments.
    pub users: usize,
    /// The mean silhouette of the fitted users' segments (exact, or on a
    /// sample); `None` (`null`) when it was not computed (`--silhouette
    /// none`) or is not defined (fewer than 2, or as many non-empty
    /// segments as users).
    pub silhouette: Option<f64>,
}

/// A method's part of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum MethodModel {
    /// K-Means: users go to the nearest centre.
    #[serde(rename = "kmeans")]
    KMeans {
        /// Segment centres in scaled space, segment 0 first.
        centres: Vec<Vec<f64>>,
        /// `--seed` of the fit; scoring reuses it for silhouette samples.
        seed: u64,
        /// `--n-init`: restarts, the one of lowest inertia kept.
        n_init: usize,
        /// `--max-iter`: Lloyd iterations per restart, at most.
        max_iter: usize,
        /// `--tol`: iterations stopped once the summed squared centre
        /// shift was at most `tol` times the mean feature variance.
        tol: f64,
        /// The fit's sum of squared distances to the centres.
        inertia: f64,
    },
    /// A Gaussian mixture: users go to the most probable component, and
    /// each has a probability of belonging to every segment.
    #[serde(rename = "gmm")]
    Gmm {
        /// `--covariance`: `full`, `tied`, `diag` or `spherical`.
        covariance_type: CovarianceType,
        /// Per segment, its weight (they sum to 1), segment 0 first.
        weights: Vec<f64>,
        /// K x d means in scaled space, segment 0 first.
        means: Vec<Vec<f64>>,
        /// The covariances in scaled space, regularisation included, in
        /// segment order: K x d x d (`full`), K x d (`diag`), K
        /// (`spherical`) or d x d (`tied`).
        covariances: CovarianceValues,
        /// `--seed` of the fit.
        seed: u64,
        /// `--n-init`: restarts, the highest lower bound kept.
        n_init: usize,
        /// `--max-iter`: EM iterations per restart, at most.
        max_iter: usize,
        /// `--tol`: EM stopped once the mean log-likelihood per user
        /// changed by less.
        tol: f64,
        /// `--reg-covar`: added to every covariance's diagonal.
        reg_covar: f64,
        /// `--gmm-init`: `kmeans` or `k-means++`.
        init: GmmInit,
        /// The regularisation each segment's covariance got (`reg_covar`,
        /// or more where it was raised to keep the covariance positive
        /// definite), segment 0 first.
        regularisation: Vec<f64>,
        /// Whether EM stopped on `tol` before `max_iter`.
        converged: bool,
        /// The mean log-likelihood per fitted user.
        log_likelihood: f64,
        /// The fit's Bayesian information criterion.
        bic: f64,
        /// The fit's Akaike information criterion.
        aic: f64,
    },
    /// Agglomerative clustering: the fit's users are in the tree's
    /// segments; new users go to the nearest segment centroid.
    #[serde(rename = "hierarchical")]
    Hierarchical {
        /// `--linkage`: `ward`, `average`, `complete` or `single`.
        linkage: Linkage,
        /// Segment centroids (the mean of each segment's users) in scaled
        /// space, segment 0 first.
        centres: Vec<Vec<f64>>,
        /// Micro-clusters the tree was built over; `None`: exact, over
        /// the users.
        micro_clusters: Option<usize>,
        /// The coarser cut of `segment_path`, and each segment's parent
        /// segment in it (segments of that cut ranked as these are).
        parent_k: usize,
        /// Per segment, its parent at `parent_k`, segment 0 first.
        parents: Vec<u32>,
        /// The last merges of the tree (at most 30), as SciPy's linkage
        /// matrix numbers them, heights in scaled units.
        top: Vec<Merge>,
        /// `--seed` of the fit.
        seed: u64,
    },
    /// Communities of the user graph (Leiden): the fit's users are in
    /// their communities' segments; `score` places others by their edges
    /// into the segments' users, else by the nearest centroid.
    #[serde(rename = "leiden")]
    Leiden {
        /// `--objective`: `modularity` or `cpm`.
        objective: Objective,
        /// `--resolution`.
        resolution: f64,
        /// `--seed` of the fit.
        seed: u64,
        /// `--max-iter`: Leiden iterations at most.
        max_iterations: usize,
        /// `--min-community-size`, as given (users, or a share with `%`).
        min_community_size: String,
        /// How the graph was built.
        graph: GraphSpec,
        /// Segment centroids (the mean of each segment's users) in scaled
        /// space, segment 0 first.
        centres: Vec<Vec<f64>>,
        /// Whether the last segment, "Other", gathers the communities
        /// smaller than `min_community_size`.
        other: bool,
        /// Communities Leiden found (before the small ones were gathered).
        communities: usize,
        /// The communities' modularity (resolution 1).
        modularity: f64,
        /// Per segment, the keys of its fitted users, segment 0 first.
        members: Vec<Vec<String>>,
    },
    /// Deep embedding clustering: users are encoded by the refined
    /// encoder and go to the nearest latent centre (the highest Student's
    /// t soft assignment).
    #[serde(rename = "dec")]
    Dec {
        /// Segment centroids (the mean of each segment's fitted users) in
        /// scaled space, segment 0 first: the profiles, and each user's
        /// `distance`.
        centres: Vec<Vec<f64>>,
        /// K x latent centres in the latent space, segment 0 first: what
        /// places users.
        latent_centres: Vec<Vec<f32>>,
        /// The refined encoder: scaled features in, latent code out.
        encoder: crate::cluster::dec::Encoder,
        /// `--hidden`: the encoder's hidden widths.
        hidden: Vec<usize>,
        /// `--latent`: the code's width.
        latent: usize,
        /// Pre-training epochs run (`--pretrain-epochs`, or as many as
        /// made 10,000 steps).
        pretrain_epochs: usize,
        /// `--batch-size`.
        batch_size: usize,
        /// `--learning-rate`: Adam's.
        learning_rate: f64,
        /// `--update-interval`: refinement steps between target updates.
        update_interval: usize,
        /// `--tol`: the share of users changing segment that stops it.
        tol: f64,
        /// `--max-iter`: refinement steps at most.
        max_iter: usize,
        /// `--gamma`: the reconstruction error's weight beside the KL
        /// divergence.
        gamma: f64,
        /// `--n-init`: K-Means restarts on the latent codes.
        n_init: usize,
        /// `--seed` of the fit.
        seed: u64,
        /// Refinement steps run.
        steps: usize,
        /// Whether the refinement stopped on `tol` before `max_iter`.
        converged: bool,
        /// The pre-trained autoencoder's mean squared reconstruction error
        /// per feature, over the fitted users (scaled units squared).
        pretrained_error: f64,
        /// The same after refinement.
        reconstruction_error: f64,
        /// KL(P ‖ Q) per user at the end of the refinement.
        kl: f64,
    },
}

/// How a Leiden model's graph was built, so `score` builds the scored
/// users' graph alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphSpec {
    /// `peers` (the logs' `input.peer_col`), `edges` (an edge list, given
    /// again to `score` with `--edges-input`) or `knn`.
    pub source: String,
    /// Peers: `users` or `items`, as the fit used them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<PeerKind>,
    /// Peers as users: `count` or `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_weight: Option<EdgeWeight>,
    /// Peers as items: the hub cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_peer_degree: Option<usize>,
    /// kNN: K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn: Option<usize>,
}

impl GraphSpec {
    /// The spec of a graph built from `source`, as `stats` says it was.
    pub fn of(source: &GraphSource, stats: &crate::graph::GraphStats) -> GraphSpec {
        let mut spec = GraphSpec {
            source: source.name().into(),
            peers: None,
            edge_weight: None,
            max_peer_degree: None,
            knn: None,
        };
        match source {
            GraphSource::Peers(p) => {
                let users = stats.peers.as_ref().is_some_and(|s| s.kind == "users");
                spec.peers = Some(if users {
                    PeerKind::Users
                } else {
                    PeerKind::Items
                });
                spec.edge_weight = Some(p.weight);
                spec.max_peer_degree = Some(p.max_peer_degree);
            }
            GraphSource::Edges(_) => {}
            GraphSource::Knn(k) => spec.knn = Some(*k),
        }
        spec
    }
}

/// How `score` placed a user with a Leiden model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacedBy {
    /// A user of the fit: its segment.
    Member,
    /// By the weight of its edges into each segment's fitted users.
    Edges,
    /// Without an edge to a fitted user: the nearest centroid.
    Features,
}

impl PlacedBy {
    /// As `scores.csv` spells it.
    pub fn name(self) -> &'static str {
        match self {
            PlacedBy::Member => "member",
            PlacedBy::Edges => "edges",
            PlacedBy::Features => "features",
        }
    }
}

/// A mixture's covariances as the model file holds them (their shape
/// follows `covariance_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CovarianceValues {
    /// K x d x d (`full`).
    Matrices(Vec<Vec<Vec<f64>>>),
    /// K x d (`diag`) or d x d (`tied`).
    Rows(Vec<Vec<f64>>),
    /// K (`spherical`).
    Values(Vec<f64>),
}

impl CovarianceValues {
    /// The covariances of a mixture, as the file holds them.
    pub fn of(covariances: &Covariances) -> Self {
        let rows = |a: &Array2<f64>| a.rows().into_iter().map(|r| r.to_vec()).collect();
        match covariances {
            Covariances::Full(c) => {
                CovarianceValues::Matrices(c.outer_iter().map(|m| rows(&m.to_owned())).collect())
            }
            Covariances::Tied(c) | Covariances::Diag(c) => CovarianceValues::Rows(rows(c)),
            Covariances::Spherical(c) => CovarianceValues::Values(c.to_vec()),
        }
    }

    /// The covariances of `kind` for `k` components of `d` features; an
    /// error when the shape is not theirs.
    fn to_covariances(
        &self,
        kind: CovarianceType,
        k: usize,
        d: usize,
    ) -> Result<Covariances, String> {
        let matrix = |rows: &[Vec<f64>], r: usize, c: usize| {
            (rows.len() == r && rows.iter().all(|row| row.len() == c))
                .then(|| Array2::from_shape_vec((r, c), rows.concat()).expect("r x c"))
        };
        let wrong = || {
            let shape = match kind {
                CovarianceType::Full => format!("{k} x {d} x {d}"),
                CovarianceType::Tied => format!("{d} x {d}"),
                CovarianceType::Diag => format!("{k} x {d}"),
                CovarianceType::Spherical => format!("{k}"),
            };
            format!(
                "the covariances of a {} mixture must be {shape} numbers",
                kind.name()
            )
        };
        match (kind, self) {
            (CovarianceType::Full, CovarianceValues::Matrices(m)) if m.len() == k => {
                let mut out = ndarray::Array3::zeros((k, d, d));
                for (c, rows) in m.iter().enumerate() {
                    out.index_axis_mut(ndarray::Axis(0), c)
                        .assign(&matrix(rows, d, d).ok_or_else(wrong)?);
                }
                Ok(Covariances::Full(out))
            }
            (CovarianceType::Tied, CovarianceValues::Rows(r)) => {
                Ok(Covariances::Tied(matrix(r, d, d).ok_or_else(wrong)?))
            }
            (CovarianceType::Diag, CovarianceValues::Rows(r)) => {
                Ok(Covariances::Diag(matrix(r, k, d).ok_or_else(wrong)?))
            }
            (CovarianceType::Spherical, CovarianceValues::Values(v)) if v.len() == k => {
                Ok(Covariances::Spherical(ndarray::Array1::from(v.clone())))
            }
            _ => Err(wrong()),
        }
    }
}

impl MethodModel {
    /// The method's name, as `--method` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            MethodModel::KMeans { .. } => "kmeans",
            MethodModel::Gmm { .. } => "gmm",
            MethodModel::Hierarchical { .. } => "hierarchical",
            MethodModel::Leiden { .. } => "leiden",
            MethodModel::Dec { .. } => "dec",
        }
    }

    /// The seed of the fit (silhouette samples of scoring reuse it).
    pub fn seed(&self) -> u64 {
        match self {
            MethodModel::KMeans { seed, .. }
            | MethodModel::Gmm { seed, .. }
            | MethodModel::Hierarchical { seed, .. }
            | MethodModel::Leiden { seed, .. }
            | MethodModel::Dec { seed, .. } => *seed,
        }
    }

    /// Each segment's centre in scaled space: K-Means' centres, a
    /// mixture's means.
    pub fn centres(&self) -> &[Vec<f64>] {
        match self {
            MethodModel::KMeans { centres, .. } => centres,
            MethodModel::Gmm { means, .. } => means,
            MethodModel::Hierarchical { centres, .. }
            | MethodModel::Leiden { centres, .. }
            | MethodModel::Dec { centres, .. } => centres,
        }
    }

    /// Per segment, its parent segment at a coarser cut (hierarchical
    /// models); `None` for other methods.
    pub fn parents(&self) -> Option<&[u32]> {
        match self {
            MethodModel::Hierarchical { parents, .. } => Some(parents),
            _ => None,
        }
    }

    /// A mixture model's mixture (in scaled space); `None` for K-Means.
    /// An error when its parameters do not make one (wrong shapes, or a
    /// covariance that is not positive definite).
    pub fn mixture(&self) -> Result<Option<Mixture>, String> {
        let MethodModel::Gmm {
            covariance_type,
            weights,
            means,
            covariances,
            ..
        } = self
        else {
            return Ok(None);
        };
        let (k, d) = (means.len(), means.first().map_or(0, Vec::len));
        if weights.len() != k {
            return Err(format!(
                "expected {k} weights (one per mean), found {}",
                weights.len()
            ));
        }
        if means.iter().any(|m| m.len() != d) {
            return Err("every mean must hold as many numbers".into());
        }
        let covariances = covariances.to_covariances(*covariance_type, k, d)?;
        let symmetric =
            |m: ndarray::ArrayView2<f64>| (0..d).all(|a| (0..a).all(|b| m[[a, b]] == m[[b, a]]));
        let asymmetric = match &covariances {
            Covariances::Full(c) => c.outer_iter().any(|m| !symmetric(m)),
            Covariances::Tied(c) => !symmetric(c.view()),
            _ => false,
        };
        if asymmetric {
            return Err("a covariance matrix is not symmetric".into());
        }
        let means = Array2::from_shape_vec((k, d), means.concat()).expect("k x d");
        let finite = |c: &Covariances| match c {
            Covariances::Full(a) => a.iter().all(|v| v.is_finite()),
            Covariances::Tied(a) | Covariances::Diag(a) => a.iter().all(|v| v.is_finite()),
            Covariances::Spherical(a) => a.iter().all(|v| v.is_finite()),
        };
        if !finite(&covariances) {
            return Err("a covariance holds a non-finite number".into());
        }
        if weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
            return Err("every weight must be a finite number above 0".into());
        }
        let total: f64 = weights.iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            return Err(format!("the weights must sum to 1, found {total}"));
        }
        Mixture::new(weights.clone(), means, covariances)
            .map(Some)
            .ok_or_else(|| "a covariance is not positive definite".into())
    }
}

/// Version 2: K-Means only, its centres and parameters at the top.
#[derive(Debug, Clone, Deserialize)]
struct ModelV2 {
    format: String,
    created_by: String,
    input: InputSchema,
    features: Vec<String>,
    scaling: Scaling,
    scaler: Scaler,
    centres: Vec<Vec<f64>>,
    segment_order_by: String,
    segment_names: Vec<String>,
    churn: ChurnThresholds,
    k: usize,
    seed: u64,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    users: usize,
    inertia: f64,
    silhouette: Option<f64>,
}

impl From<ModelV2> for Model {
    fn from(m: ModelV2) -> Model {
        Model {
            format: m.format,
            version: MODEL_VERSION,
            created_by: m.created_by,
            input: m.input,
            features: m.features,
            scaling: m.scaling,
            scaler: m.scaler,
            method: MethodModel::KMeans {
                centres: m.centres,
                seed: m.seed,
                n_init: m.n_init,
                max_iter: m.max_iter,
                tol: m.tol,
                inertia: m.inertia,
            },
            k: m.k,
            segment_order_by: m.segment_order_by,
            segment_names: m.segment_names,
            churn: m.churn,
            lifetime: None,
            users: m.users,
            silhouette: m.silhouette,
        }
    }
}

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not UTF-8, not JSON, have no `format` of
    /// [`MODEL_FORMAT`] or no `version`, or do not fit a model's fields.
    #[error("{path}: not a segmint model ({reason})")]
    Unreadable {
        /// The model file, as given.
        path: String,
        /// What could not be read (the parser's message).
        reason: String,
    },
    /// The file is a model of a version this build does not read (other
    /// than 2 and [`MODEL_VERSION`]).
    #[error(
        "{path}: model version {found}, but this segmint reads versions 2 and {MODEL_VERSION}; refit it with this version"
    )]
    Version {
        /// The model file, as given.
        path: String,
        /// The file's `version` (at most `u32::MAX`).
        found: u32,
    },
    /// The file reads, but holds what `fit` never writes (shapes that
    /// disagree, a non-finite number, a negative scale, duplicate names,
    /// a threshold out of range...): damaged or edited.
    #[error("{path}: {reason}")]
    Invalid {
        /// The model file, as given.
        path: String,
        /// The first thing found wrong, naming the field.
        reason: String,
    },
    /// `score` was asked for other features (`--features`) than the
    /// model was fitted on.
    #[error(
        "{path}: the model was fitted on features [{model}], not [{asked}]; score with the model's features or refit"
    )]
    FeatureSet {
        /// The model file, as given.
        path: String,
        /// The model's features, comma-separated, as `--features` spells
        /// them.
        model: String,
        /// The features asked for, spelt alike.
        asked: String,
    },
}

impl Model {
    /// Reads and checks a model file's bytes (UTF-8, a byte-order mark
    /// allowed).
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Model, ModelError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| ModelError::Unreadable {
            path: path.into(),
            reason: format!("not UTF-8 text (invalid bytes at byte {})", e.valid_up_to()),
        })?;
        Self::from_json(text, path)
    }

    /// Reads and checks a model file's text.
    pub fn from_json(text: &str, path: &str) -> Result<Model, ModelError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Unreadable {
                path: path.into(),
                reason: e.to_string(),
            })?;
        if value.get("format").and_then(|v| v.as_str()) != Some(MODEL_FORMAT) {
            return Err(ModelError::Unreadable {
                path: path.into(),
                reason: format!("no \"format\": \"{MODEL_FORMAT}\" field"),
            });
        }
        let unreadable = |e: serde_json::Error| ModelError::Unreadable {
            path: path.into(),
            reason: e.to_string(),
        };
        let model: Model = match value.get("version").and_then(|v| v.as_u64()) {
            Some(2) => serde_json::from_value::<ModelV2>(value)
                .map_err(unreadable)?
                .into(),
            Some(v) if v == u64::from(MODEL_VERSION) => {
                serde_json::from_value(value).map_err(unreadable)?
            }
            Some(v) => {
                return Err(ModelError::Version {
                    path: path.into(),
                    found: v.min(u64::from(u32::MAX)) as u32,
                });
            }
            None => {
                return Err(ModelError::Unreadable {
                    path: path.into(),
                    reason: "no \"version\" field".into(),
                });
            }
        };
        model.check().map_err(|reason| ModelError::Invalid {
            path: path.into(),
            reason,
        })?;
        Ok(model)
    }

    /// The model file's text: the model as pretty-printed JSON, which
    /// [`Model::from_json`] reads back.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a model serialises")
    }

    /// Everything `fit` guarantees of a model it writes, so that a damaged
    /// or edited file is refused rather than scoring users wrongly: shapes
    /// agree, numbers are finite, scales are positive (0 only for a
    /// constant column, which a fit leaves at 0 in every centre), names
    /// are distinct, thresholds are in range.
    fn check(&self) -> Result<(), String> {
        let d = self.features.len();
        FeatureSpec::parse_list(&self.features)?;
        if self.scaler.mean.len() != d || self.scaler.std.len() != d {
            return Err(format!(
                "the scaler has not {d} columns like the feature list"
            ));
        }
        if self.k == 0 {
            return Err("k must be at least 1, found 0".into());
        }
        let centres = self.method.centres();
        self.method.mixture()?;
        if centres.len() != self.k {
            return Err(format!(
                "k is {} but there are {} centres",
                self.k,
                centres.len()
            ));
        }
        if let MethodModel::Hierarchical {
            parent_k, parents, ..
        } = &self.method
        {
            if parents.len() != self.k {
                return Err(format!(
                    "expected {} parents (k), found {}",
                    self.k,
                    parents.len()
                ));
            }
            if *parent_k == 0 || *parent_k > self.k.max(1) {
                return Err(format!(
                    "parent_k must be at least 1 and at most k = {}, found {parent_k}",
                    self.k
                ));
            }
            if parents.iter().any(|&p| p as usize >= *parent_k) {
                return Err(format!(
                    "every parent must be a segment of the parent cut, below parent_k = {parent_k}"
                ));
            }
        }
        if let MethodModel::Leiden {
            members,
            resolution,
            min_community_size,
            graph,
            ..
        } = &self.method
        {
            match (graph.source.as_str(), &self.input) {
                (
                    "peers",
                    InputSchema::Transactions {
                        peer_col: Some(_), ..
                    },
                ) => {}
                ("peers", _) => {
                    return Err(
                        "graph.source is peers but input names no peer_col of transaction logs"
                            .into(),
                    );
                }
                ("edges", _) => {}
                ("knn", _) if graph.knn.is_some_and(|k| k >= 1) => {}
                ("knn", _) => return Err("graph.knn must be at least 1".into()),
                (other, _) => {
                    return Err(format!(
                        "graph.source must be peers, edges or knn, found {other:?}"
                    ));
                }
            }
            if members.len() != self.k {
                return Err(format!(
                    "expected {} member lists (k), found {}",
                    self.k,
                    members.len()
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(key) = members.iter().flatten().find(|k| !seen.insert(k.as_str())) {
                return Err(format!("user {key:?} is a member of two segments"));
            }
            if !(resolution.is_finite() && *resolution >= 0.0) {
                return Err(format!(
                    "resolution must be a finite number >= 0, found {resolution}"
                ));
            }
            min_community_size
                .parse::<crate::cluster::communities::MinCommunitySize>()
                .map_err(|e| format!("min_community_size {e}"))?;
        }
        if let MethodModel::Dec {
            latent_centres,
            encoder,
            ..
        } = &self.method
        {
            encoder.check(d)?;
            let latent = encoder.latent();
            if latent_centres.len() != self.k || latent_centres.iter().any(|c| c.len() != latent) {
                return Err(format!(
                    "expected {} latent centres (k) of {latent} numbers (the encoder's code)",
                    self.k
                ));
            }
            if latent_centres.iter().flatten().any(|v| !v.is_finite()) {
                return Err("a latent centre holds a non-finite number".into());
            }
        }
        if self.segment_names.len() != self.k {
            return Err(format!(
                "expected {} segment names (k), found {}",
                self.k,
                self.segment_names.len()
            ));
        }
        for (i, name) in self.segment_names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(format!("segment {i} has an empty name"));
            }
            if let Some(j) = self.segment_names[..i].iter().position(|n| n == name) {
                return Err(format!(
                    "segments {j} and {i} are both named {name:?}: each segment needs its own name"
                ));
            }
        }
        self.churn
            .validate()
            .map_err(|e| format!("churn.{e}").replace(", got ", ", found "))?;
        if let Some(lifetime) = &self.lifetime {
            lifetime
                .options
                .validate()
                .map_err(|e| format!("lifetime.{e}").replace(", got ", ", found "))?;
            let positive = |name: &str, v: f64| {
                if v > 0.0 && v.is_finite() {
                    Ok(())
                } else {
                    Err(format!(
                        "lifetime.{name} must be a finite number > 0, found {v}"
                    ))
                }
            };
            if let Some(bg) = &lifetime.bgnbd {
                for (name, v) in [
                    ("bgnbd.r", bg.r),
                    ("bgnbd.alpha", bg.alpha),
                    ("bgnbd.a", bg.a),
                    ("bgnbd.b", bg.b),
                ] {
                    positive(name, v)?;
                }
            }
            if let Some(gg) = &lifetime.gamma_gamma {
                for (name, v) in [
                    ("gamma_gamma.p", gg.p),
                    ("gamma_gamma.q", gg.q - 1.0),
                    ("gamma_gamma.v", gg.v),
                ] {
                    positive(name, v).map_err(|e| {
                        e.replace(
                            "q must be a finite number > 0",
                            "q must be a finite number > 1",
                        )
                    })?;
                }
            }
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if centres.iter().any(|c| c.len() != d || !finite(c)) {
            return Err(format!("every centre must hold {d} finite numbers"));
        }
        if !finite(&self.scaler.mean) || !finite(&self.scaler.std) {
            return Err("the scaler holds a non-finite number".into());
        }
        for (j, &std) in self.scaler.std.iter().enumerate() {
            let feature = &self.features[j];
            if std < 0.0 {
                return Err(format!(
                    "the scale (std) of feature {feature} is {std}: a scale must be positive"
                ));
            }
            if std == 0.0 && centres.iter().any(|c| c[j] != 0.0) {
                return Err(format!(
                    "the scale (std) of feature {feature} is 0 (a constant column) but a centre is not 0 there"
                ));
            }
        }
        if self.scaling == Scaling::None
            && (self.scaler.mean.iter().any(|&m| m != 0.0)
                || self.scaler.std.iter().any(|&s| s != 1.0))
        {
            return Err(
                "scaling is none but the scaler is not the identity (means 0, stds 1)".into(),
            );
        }
        match &self.input {
            InputSchema::Transactions {
                delimiter,
                time_format,
                dormant_days,
                ..
            } => {
                delimiter
                    .parse::<crate::ingest::Delimiter>()
                    .map_err(|e| format!("input.delimiter: {e}"))?;
                time_format
                    .parse::<crate::ingest::TimeFormat>()
                    .map_err(|e| format!("input.time_format: {e}"))?;
                if !(dormant_days.is_finite() && *dormant_days >= 0.0) {
                    return Err(format!(
                        "input.dormant_days must be a finite number of days >= 0, found {dormant_days}"
                    ));
                }
            }
            InputSchema::FeatureTable { delimiter, .. } => {
                delimiter
                    .parse::<crate::ingest::Delimiter>()
                    .map_err(|e| format!("input.delimiter: {e}"))?;
            }
            InputSchema::Edges {} => {}
        }
        Ok(())
    }

    /// The points of `table`'s users as the model sees them: its features,
    /// scaled with its scaler, in a frame that holds its centres too (new
    /// users may all sit far from them).
    ///
    /// Z-scores are centred on the origin, where the fitted users' mean
    /// is: a user's working coordinates, and so its segment and distance,
    /// do not depend on the users scored with it (scoring in pieces gives
    /// the bits of one run).
    pub fn points(&self, table: &NumericTable) -> Result<FeatureMatrix, FeatureError> {
        Ok(self.points_of(&table.select(&self.feature_specs())?))
    }

    /// The points of the users' transformed features (`raw`) in a frame
    /// that depends on the model alone: z-scores around the origin, values
    /// as given (`--scale none`) around the mean of the centres. A user's
    /// working coordinates are then the same in every piece of a run
    /// (`lloyd-step`).
    pub fn points_in_model_frame(&self, raw: &ndarray::Array2<f64>) -> FeatureMatrix {
        let centres = self.method.centres();
        let offset = match self.scaling {
            Scaling::Zscore => vec![0.0; raw.ncols()],
            Scaling::None => (0..raw.ncols())
                .map(|j| centres.iter().map(|c| c[j]).sum::<f64>() / centres.len().max(1) as f64)
                .collect(),
        };
        self.scaler.transform_around(raw, centres, offset)
    }

    /// [`Model::points`] of the users' transformed features (`raw`, from
    /// [`NumericTable::select`] with the model's features).
    pub fn points_of(&self, raw: &ndarray::Array2<f64>) -> FeatureMatrix {
        match self.scaling {
            Scaling::Zscore => self.scaler.transform_centred(raw, self.method.centres()),
            Scaling::None => self.scaler.transform_with(raw, self.method.centres()),
        }
    }

    /// Each user's segment under the model (K-Means: the nearest centre,
    /// an exact tie to the lower segment; a mixture: the most probable
    /// component, the lower on a tie), its squared distance to the
    /// segment's centre, in the points' working coordinates, and for a
    /// mixture its membership probabilities (n x K).
    pub fn place(&self, backend: &Backend, points: &FeatureMatrix) -> Result<Placed, Error> {
        if let MethodModel::Dec {
            latent_centres,
            encoder,
            ..
        } = &self.method
        {
            let frame = &points.frame;
            let codes = encoder.encode(&points.scaled_f32());
            let (segments, soft) = crate::cluster::dec::soft_assign(
                &codes,
                &latent_centres.concat(),
                encoder.latent(),
            );
            let working = Array2::from_shape_vec(
                (self.k, points.d()),
                frame
                    .to_working(&self.method.centres().concat())
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            )
            .expect("checked on load: k x d");
            let squared = squared_distances(points, &working, &segments);
            return Ok(Placed {
                segments,
                squared,
                probabilities: Some(soft),
                latent: Some(codes),
            });
        }
        match self.method.mixture().expect("checked on load") {
            None => {
                let centres = self.method.centres().concat();
                let (segments, squared) =
                    backend.assign(points, &points.frame.to_working(&centres))?;
                Ok(Placed {
                    segments,
                    squared,
                    probabilities: None,
                    latent: None,
                })
            }
            Some(mixture) => {
                let working = mixture.in_frame(&points.frame).ok_or_else(|| {
                    Error::Data(
                        "the model's mixture cannot place these users: their values are so far from its means that its covariances leave the range of a double".into(),
                    )
                })?;
                let n = points.n();
                let mut segments = vec![0u32; n];
                let mut lls = vec![0.0; n];
                let mut probabilities = vec![0.0f32; n * self.k];
                posteriors(
                    Source::Rows(points),
                    &working.components(),
                    &mut segments,
                    &mut lls,
                    Some(&mut probabilities),
                );
                let squared = squared_distances(points, &working.means, &segments);
                Ok(Placed {
                    segments,
                    squared,
                    probabilities: Some(probabilities),
                    latent: None,
                })
            }
        }
    }

    /// [`Model::place`] for users known by their keys, with their graph
    /// (node `i` the user `keys[i]`) when one was built: a Leiden model
    /// keeps its fitted users in their segments, places others by the
    /// weight of their edges into each segment's fitted users (ties to
    /// the lower segment), and the rest by the nearest centroid, saying
    /// which for each user. Other models place by `place` alone.
    pub fn place_users(
        &self,
        backend: &Backend,
        points: &FeatureMatrix,
        keys: &crate::features::matrix::Keys,
        graph: Option<&crate::graph::Graph>,
    ) -> Result<(Placed, Option<Vec<PlacedBy>>), Error> {
        let mut placed = self.place(backend, points)?;
        let MethodModel::Leiden {
            members, centres, ..
        } = &self.method
        else {
            return Ok((placed, None));
        };
        let mut segment_of: std::collections::HashMap<&str, u32> =
            std::collections::HashMap::with_capacity(members.iter().map(Vec::len).sum());
        for (s, keys) in members.iter().enumerate() {
            for k in keys {
                segment_of.insert(k.as_str(), s as u32);
            }
        }
        let known: Vec<Option<u32>> = keys.iter().map(|k| segment_of.get(k).copied()).collect();
        let by_edges = match graph {
            Some(g) => crate::graph::build::place_by_edges(g, &known, self.k),
            None => known.clone(),
        };
        let mut how = Vec::with_capacity(keys.len());
        for (i, (&member, &edges)) in known.iter().zip(&by_edges).enumerate() {
            how.push(match (member, edges) {
                (Some(s), _) | (None, Some(s)) => {
                    placed.segments[i] = s;
                    if member.is_some() {
                        PlacedBy::Member
                    } else {
                        PlacedBy::Edges
                    }
                }
                (None, None) => PlacedBy::Features,
            });
        }
        let d = points.d();
        let working = points.frame.to_working(&centres.concat());
        let working =
            Array2::from_shape_vec((self.k, d), working.iter().map(|&v| f64::from(v)).collect())
                .expect("k x d centres");
        placed.squared = squared_distances(points, &working, &placed.segments);
        Ok((placed, Some(how)))
    }

    /// The model's features parsed (they were checked when the model was
    /// read), to pick them from a table.
    pub fn feature_specs(&self) -> Vec<FeatureSpec> {
        FeatureSpec::parse_list(&self.features).expect("checked on load")
    }

    /// Refuses a feature list other than the model's.
    pub fn check_features(&self, asked: &[FeatureSpec], path: &str) -> Result<(), ModelError> {
        let asked: Vec<String> = asked.iter().map(ToString::to_string).collect();
        if asked != self.features {
            return Err(ModelError::FeatureSet {
                path: path.into(),
                model: self.features.join(", "),
                asked: asked.join(", "),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            created_by: "test".into(),
            input: InputSchema::FeatureTable {
                key_col: None,
                delimiter: ",".into(),
            },
            features: vec!["log1p:x".into(), "y".into()],
            scaling: Scaling::Zscore,
            scaler: Scaler {
                mean: vec![1.0, 2.0],
                std: vec![0.5, 2.0],
            },
            method: MethodModel::KMeans {
                centres: vec![vec![0.0, 1.0], vec![1.0, 0.0]],
                seed: 7,
                n_init: 1,
                max_iter: 300,
                tol: 1e-4,
                inertia: 3.5,
            },
            k: 2,
            segment_order_by: "x".into(),
            segment_names: vec!["High".into(), "Low".into()],
            churn: ChurnThresholds::default(),
            lifetime: None,
            users: 10,
            silhouette: Some(0.5),
        }
    }

    /// The model's centres, to edit.
    fn centres(m: &mut Model) -> &mut Vec<Vec<f64>> {
        let MethodModel::KMeans { centres, .. } = &mut m.method else {
            panic!("a K-Means model")
        };
        centres
    }

    #[test]
    fn round_trips_and_refuses_other_versions() {
        let m = model();
        let text = m.to_json();
        assert_eq!(Model::from_json(&text, "m.json").unwrap(), m);
        let older = text.replace("\"version\": 3", "\"version\": 1");
        let err = Model::from_json(&older, "m.json").unwrap_err();
        assert!(matches!(err, ModelError::Version { found: 1, .. }), "{err}");
        let mut unnamed = m.clone();
        unnamed.segment_names.pop();
        assert!(matches!(
            Model::from_json(&unnamed.to_json(), "m.json"),
            Err(ModelError::Invalid { .. })
        ));
        assert!(Model::from_json("{}", "m.json").is_err());
        let broken = text.replace("\"k\": 2", "\"k\": 3");
        assert!(matches!(
            Model::from_json(&broken, "m.json"),
            Err(ModelError::Invalid { .. })
        ));
        let asked = FeatureSpec::parse_list(&["x", "y"]).unwrap();
        assert!(m.check_features(&asked, "m.json").is_err());
        assert!(m.check_features(&m.feature_specs(), "m.json").is_ok());
    }

    #[test]
    fn refuses_what_fit_never_writes() {
        let refused = |edit: fn(&mut Model)| {
            let mut m = model();
            edit(&mut m);
            match Model::from_json(&m.to_json(), "m.json") {
                Err(ModelError::Invalid { reason, .. }) => reason,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(|m| m.scaler.std[0] = -1.0).contains("must be positive"));
        assert!(refused(|m| m.scaler.std[1] = 0.0).contains("constant column"));
        assert!(refused(|m| m.segment_names[1] = "High".into()).contains("both named"));
        assert!(refused(|m| m.segment_names[1] = " ".into()).contains("empty name"));
        assert_eq!(
            refused(|m| {
                m.k = 0;
                centres(m).clear();
                m.segment_names.clear();
            }),
            "k must be at least 1, found 0"
        );
        assert!(refused(|m| m.churn.dormant_days = -5.0).starts_with("churn.dormant_days"));
        assert!(
            refused(|m| {
                m.input = InputSchema::Transactions {
                    user_col: None,
                    time_col: None,
                    amount_col: None,
                    channel_col: None,
                    status_col: None,
                    peer_col: None,
                    no_header: false,
                    delimiter: ",".into(),
                    time_format: "auto".into(),
                    success_statuses: vec![],
                    dormant_days: -5.0,
                    trend_days: None,
                }
            })
            .starts_with("input.dormant_days")
        );
        assert!(refused(|m| m.scaling = Scaling::None).contains("identity"));
        // A constant column is 0 in every centre: a fit writes that.
        let mut constant = model();
        constant.scaler.std[1] = 0.0;
        *centres(&mut constant) = vec![vec![0.0, 0.0], vec![1.0, 0.0]];
        assert!(Model::from_json(&constant.to_json(), "m.json").is_ok());
    }

    #[test]
    fn reads_a_byte_order_mark_and_refuses_other_bytes() {
        let text = model().to_json();
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(Model::from_bytes(&with_bom, "m.json").unwrap(), model());
        let mut broken = text.into_bytes();
        broken[5] = 0xFF;
        let err = Model::from_bytes(&broken, "m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn version_2_files_load_as_the_k_means_models_they_are() {
        let v2 = r#"{
          "format": "segmint-model", "version": 2, "created_by": "segmint 0.1.0",
          "input": {"kind": "feature_table", "key_col": null, "delimiter": ","},
          "features": ["log1p:x", "y"], "scaling": "zscore",
          "scaler": {"mean": [1.0, 2.0], "std": [0.5, 2.0]},
          "centres": [[0.0, 1.0], [1.0, 0.0]], "segment_order_by": "x",
          "segment_names": ["High", "Low"],
          "churn": {"dormant_days": 30.0, "decline": -0.3, "quality_failure_rate": 0.5,
                    "critical_decline": -0.2, "moderate_decline": -0.15},
          "k": 2, "seed": 7, "n_init": 1, "max_iter": 300, "tol": 0.0001,
          "users": 10, "inertia": 3.5, "silhouette": 0.5
        }"#;
        let mut expected = model();
        expected.created_by = "segmint 0.1.0".into();
        assert_eq!(Model::from_json(v2, "m.json").unwrap(), expected);
        // Damaged the same way as a version 3 file, refused the same way.
        let broken = v2.replace(r#""k": 2"#, r#""k": 3"#);
        assert!(matches!(
            Model::from_json(&broken, "m.json"),
            Err(ModelError::Invalid { .. })
        ));
    }
}
