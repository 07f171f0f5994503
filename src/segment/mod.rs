//! The pipeline from users to segments, the same for every segmentation
//! method (README, "Clustering" and "Fit and score"):
//!
//! 1. [`load_logs`] aggregates transaction logs into one row of features
//!    per user, or [`prepare::read_feature_table`] reads a numeric table;
//! 2. [`prepare::prepare`] picks, transforms and scales the features into
//!    the points a method works on;
//! 3. [`fit`](fn@fit) runs a [`Method`] over a choice of K ([`sweep`] only the
//!    fits and their metrics) on a backend chosen for what
//!    [`Method::workload`] says the work is;
//! 4. [`fit::Segmentation`] makes the chosen fit a [`Model`]: clusters
//!    numbered by value and named, each user's segment, distance,
//!    silhouette, RFM and churn risk;
//! 5. [`score`] places new users with a model.
//!
//! [`analysis`] is the whole report of transaction logs; [`periods`] the
//! transitions between two periods of one log. Commands parse arguments,
//! call these and write what they return; they hold no pipeline of their
//! own.
//!
//! # Methods
//!
//! A method plugs in as a [`Method`] variant: its parameters, what its
//! fits ask of a backend ([`Method::workload`]), its sweep over K, and a
//! [`MethodModel`] variant holding what places new users. Loading,
//! scaling, ranking and naming segments, RFM, churn, the scores file and
//! the report are written once, for every method.
//!
//! # The whole pipeline
//!
//! ```
//! use segmint::backend::Backend;
//! use segmint::cluster::{KMeansParams, SilhouetteMode};
//! use segmint::features::FeatureOptions;
//! use segmint::features::matrix::NumericTable;
//! use segmint::ingest::{IngestOptions, Input};
//! use segmint::insights::btyd::LifetimeOptions;
//! use segmint::insights::churn::ChurnThresholds;
//! use segmint::segment::{self, InputSchema, KChoice, Method, Scaling, SegmentOptions};
//!
//! let log = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/messaging_sample.csv");
//! let (options, features) = (IngestOptions::default(), FeatureOptions::default());
//! let (table, _read) = segment::load_logs(&[Input::new(log)], &options, &features, &|_bytes| {})?;
//! let prepared = segment::prepare(
//!     NumericTable::from_features(&table),
//!     None, // the default features
//!     Scaling::Zscore,
//!     InputSchema::transactions(&options, &features),
//!     false,
//! )?;
//! let method = Method::KMeans(KMeansParams::default());
//! let k = KChoice::Fixed(3);
//! let ks = segment::ks_to_sweep(k, &[], prepared.points.n())?;
//! let segments = SegmentOptions {
//!     names: None,
//!     churn: ChurnThresholds::default(),
//!     lifetime: LifetimeOptions::default(),
//! };
//! let backend = Backend::Cpu;
//! let fitted = segment::fit(&backend, &prepared, &method, &ks, k, &segments, SilhouetteMode::Auto)?;
//! let model = &fitted.segmentation.model;
//! assert_eq!(model.segment_names, ["Power User", "Loyal User", "Casual User"]);
//!
//! // The model places users as the fit did.
//! let points = model.points(&prepared.table)?;
//! let scored = segment::score(&backend, model, &prepared.table, &points, None, SilhouetteMode::None, None)?;
//! assert_eq!(scored.segments, fitted.segmentation.placement.segments);
//! # Ok::<(), segmint::Error>(())
//! ```

pub mod analysis;
pub mod fit;
pub mod model;
pub mod periods;
pub mod prepare;

pub use self::fit::{KChoice, Method, Placement, SegmentOptions, Segmentation, Work, ks_to_sweep};
pub use self::model::{InputSchema, MethodModel, Model, ModelError, PlacedBy, Scaling};
pub use self::prepare::{Prepared, attach_graph, prepare, prepare_edges, read_feature_table};

use crate::backend::{Backend, Labeling};
use crate::cluster::metrics::silhouettes;
use crate::cluster::sweep::EmptyClusters;
use crate::cluster::{ParamsError, SilhouetteMode, Sweep};
use crate::error::Error;
use crate::features::matrix::{FeatureMatrix, NumericTable};
use crate::features::{FeatureOptions, FeatureRows, FeatureTable};
use crate::ingest::{IngestError, IngestOptions, IngestReport, Ingested, Input, ingest};
use crate::insights::naming::NamingError;
use crate::insights::segments::{InsightContext, Population, user_insights};

/// Reads transaction logs into finished per-user rows (what `features`
/// writes without building a table); `progress` hears of the bytes read.
pub fn load_feature_rows(
    inputs: &[Input],
    options: &IngestOptions,
    features: &FeatureOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(FeatureRows, IngestReport), Error> {
    feature_rows(ingest(inputs, options, progress)?, features)
}

/// Logs read (see [`ingest`]) made into finished per-user rows: an error
/// when no row was left.
pub fn feature_rows(
    ingested: Ingested,
    features: &FeatureOptions,
) -> Result<(FeatureRows, IngestReport), Error> {
    let rows = FeatureRows::from_aggregate(
        ingested.aggregate,
        ingested.has_channel,
        ingested.has_status,
        features,
    )
    .ok_or(IngestError::NoRows {
        detail: String::new(),
    })?;
    Ok((rows, ingested.report))
}

/// Reads transaction logs into their per-user feature table.
pub fn load_logs(
    inputs: &[Input],
    options: &IngestOptions,
    features: &FeatureOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(FeatureTable, IngestReport), Error> {
    let (rows, report) = load_feature_rows(inputs, options, features, progress)?;
    Ok((rows.into_table(), report))
}

/// A fitted method: every K it fitted and the chosen one made a model.
#[derive(Debug)]
pub struct Fitted {
    /// Every K fitted, with its metrics (the chosen K's row as the fit
    /// found it; [`Fitted::reported_sweep`] shows the segments written).
    pub sweep: Sweep,
    /// Index in the sweep of the fit made the model.
    pub chosen: usize,
    /// The chosen fit made a model, with each user's segment, distance,
    /// silhouette, RFM and churn risk, and the metrics of those segments.
    pub segmentation: Segmentation,
    /// The K whose fits left segments empty.
    pub empty: Vec<EmptyClusters>,
}

impl Fitted {
    /// A hierarchical fit's tree as the report draws it; `None` for other
    /// methods.
    pub fn tree_summary(&self) -> Option<crate::insights::tree::TreeSummary> {
        let tree = self.sweep.tree.as_ref()?;
        let model::MethodModel::Hierarchical { linkage, .. } = &self.segmentation.model.method
        else {
            return None;
        };
        let ks: Vec<usize> = self.sweep.metrics.iter().map(|m| m.k).collect();
        Some(crate::insights::tree::TreeSummary::new(
            *linkage,
            tree,
            &self.segmentation.placement.segments,
            &ks,
        ))
    }

    /// A Leiden fit's communities as the report shows them, over the
    /// graph of `prepared`; `None` for other methods.
    pub fn community_summary(
        &self,
        prepared: &Prepared,
    ) -> Option<crate::insights::communities::CommunitySummary> {
        let fit = self.sweep.communities.as_ref()?;
        let model::MethodModel::Leiden {
            objective,
            resolution,
            ..
        } = &self.segmentation.model.method
        else {
            return None;
        };
        let built;
        let graph = match &prepared.graph {
            Some(g) => &g.graph,
            None => {
                let k = fit.graph.knn?;
                built = crate::graph::build::knn_graph(&prepared.points, k).ok()?;
                &built.graph
            }
        };
        Some(crate::insights::communities::CommunitySummary::new(
            fit,
            objective.name(),
            *resolution,
            graph,
            &prepared.table.keys,
            &self.segmentation.placement.segments,
            self.segmentation.model.k,
        ))
    }

    /// The sweep with the chosen K's row computed on the segments written
    /// (they differ from the fit's labels only for users at a tie).
    pub fn reported_sweep(&self) -> Sweep {
        let mut sweep = self.sweep.clone();
        sweep.metrics[self.chosen] = self.segmentation.metrics.clone();
        sweep.silhouette_values[self.chosen] = self.segmentation.placement.silhouettes.clone();
        sweep
    }
}

/// Fits `method` on `prepared` for every K of `ks` (see [`ks_to_sweep`])
/// on `backend`, and makes a model of the fit `k` asks for: that K, or
/// the highest silhouette. Choose the backend for
/// [`Method::workload`] of the same K.
pub fn fit(
    backend: &Backend,
    prepared: &Prepared,
    method: &Method,
    ks: &[usize],
    k: KChoice,
    options: &SegmentOptions,
    silhouette: SilhouetteMode,
) -> Result<Fitted, Error> {
    let sweep = self::sweep(backend, prepared, method, ks, silhouette)?;
    let chosen = match k {
        KChoice::Fixed(k) => sweep
            .metrics
            .iter()
            .position(|m| m.k == k)
            .ok_or(ParamsError::NotSwept(k))?,
        KChoice::Auto => sweep.chosen_index(),
    };
    let chosen_k = sweep.fits[chosen].k();
    if let Some(names) = &options.names
        && names.len() != chosen_k
    {
        return Err(NamingError::WrongCount {
            given: names.len(),
            k: chosen_k,
        }
        .into());
    }
    let segmentation = Segmentation::new(
        backend, prepared, method, &sweep, chosen, options, silhouette,
    )?;
    let empty = sweep.empty_clusters(&prepared.points);
    Ok(Fitted {
        sweep,
        chosen,
        segmentation,
        empty,
    })
}

/// Fits `method` for every K of `ks` on `prepared`, with every metric.
pub fn sweep(
    backend: &Backend,
    prepared: &Prepared,
    method: &Method,
    ks: &[usize],
    silhouette: SilhouetteMode,
) -> Result<Sweep, Error> {
    method.validate()?;
    Ok(method.sweep(backend, prepared, ks, silhouette)?)
}

/// What scoring `n` users with `model` asks of a backend.
pub fn score_work(model: &Model, points: &FeatureMatrix, silhouette: SilhouetteMode) -> Work {
    let silhouettes = if silhouette.resolve(points.n()) == SilhouetteMode::None {
        Vec::new()
    } else {
        vec![model.k]
    };
    Work {
        n: points.n(),
        d: points.d(),
        silhouettes,
        ..Work::default()
    }
}

/// Places the users of `table` (their `points`, from [`Model::points`])
/// in the segments of `model`, with their distances, silhouette (as
/// `silhouette` asks), RFM and churn risk (RFM quintiles rank the users
/// scored against each other). A Leiden model also takes the scored
/// users' `graph` (see [`Model::place_users`]).
pub fn score(
    backend: &Backend,
    model: &Model,
    table: &NumericTable,
    points: &FeatureMatrix,
    graph: Option<&crate::graph::Graph>,
    silhouette: SilhouetteMode,
    population: Option<&Population>,
) -> Result<Placement, Error> {
    let (placed, placed_by) = model.place_users(backend, points, &table.keys, graph)?;
    let (segments, squared) = (placed.segments, placed.squared);
    let sil = silhouettes(
        backend,
        points,
        &[Labeling {
            labels: &segments,
            k: model.k,
        }],
        silhouette,
        model.method.seed(),
    )?
    .pop()
    .flatten();
    let context = InsightContext {
        lifetime: model.lifetime.as_ref(),
        trend_days: model.input.trend_days(),
        population,
    };
    let insights = user_insights(table, &segments, &model.churn, context);
    Ok(Placement {
        distances: fit::roots(&squared, points),
        probabilities: placed.probabilities,
        latent: placed.latent,
        parents: model.method.parents().map(<[u32]>::to_vec),
        communities: None,
        placed_by,
        silhouettes: sil
            .as_ref()
            .filter(|(s, _)| !s.values.is_empty())
            .map(|(s, _)| s.values.clone()),
        silhouette: sil.map(|(s, on)| (s.mean, on)),
        segments,
        insights,
    })
}
