//! A segmentation method fitted over a choice of K, and the chosen fit
//! made into a model and per-user results: each user's segment (numbered
//! by value and named), a per-user score (the distance to the segment's
//! centre), the silhouette, RFM and churn risk. Everything after the
//! method's own fit is the same for every method.

use crate::backend::{Backend, Labeling, Products, Workload};
use crate::cluster::communities::CommunityParams;
use crate::cluster::dec::{DecParams, DecSweep};
use crate::cluster::gmm::{GaussianMixture, GmmInit, GmmParams};
use crate::cluster::hierarchical::{Dendrogram, HierarchicalParams, Merge, Tree};
use crate::cluster::metrics::{cheap_metrics, silhouettes};
use crate::cluster::{ClusterError, KMeansParams, Metrics, ParamsError, SilhouetteMode, Sweep};
use crate::error::Error;
use crate::insights::btyd::{LifetimeFit, LifetimeOptions, fit_lifetime};
use crate::insights::certainty::{MixtureSummary, RaisedSegment, certainty};
use crate::insights::churn::ChurnThresholds;
use crate::insights::naming::{default_names, segment_ranks};
use crate::insights::segments::{InsightContext, UserInsights, user_insights};
use crate::report::scores::Scores;

use super::model::{
    CovarianceValues, GraphSpec, InputSchema, MODEL_FORMAT, MODEL_VERSION, MethodModel, Model,
    PlacedBy,
};
use super::prepare::Prepared;
use crate::cluster::communities::CommunityFit;

/// A segmentation method and its parameters (`--method`).
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// K-Means: k-means++ and Lloyd, as scikit-learn's `KMeans`.
    KMeans(KMeansParams),
    /// A Gaussian mixture fitted by EM, as scikit-learn's
    /// `GaussianMixture`.
    Gmm(GmmParams),
    /// Agglomerative clustering, one tree cut at each K, as SciPy's
    /// `linkage` (exact) or over micro-clusters.
    Hierarchical(HierarchicalParams),
    /// Communities of the user graph found by Leiden; their number is
    /// Leiden's, not a K.
    Leiden(CommunityParams),
    /// Deep embedding clustering: an autoencoder's latent space, K-Means
    /// in it, refined by DEC / IDEC.
    Dec(DecParams),
}

impl Method {
    /// The name `--method` and the model file give it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::KMeans(_) => "kmeans",
            Method::Gmm(_) => "gmm",
            Method::Hierarchical(_) => "hierarchical",
            Method::Leiden(_) => "leiden",
            Method::Dec(_) => "dec",
        }
    }

    /// Checks every parameter that does not depend on the data.
    pub fn validate(&self) -> Result<(), ParamsError> {
        match self {
            Method::KMeans(params) => params.validate(usize::MAX),
            Method::Gmm(params) => params.validate(usize::MAX),
            Method::Hierarchical(params) => params.validate(),
            Method::Leiden(params) => {
                let r = params.leiden.resolution;
                if !(r.is_finite() && r >= 0.0) {
                    return Err(ParamsError::BadResolution(r));
                }
                if params.leiden.max_iterations == 0 {
                    return Err(ParamsError::NoIterations(0));
                }
                Ok(())
            }
            Method::Dec(params) => params.validate(),
        }
    }

    /// The seed that fixes the fit (and silhouette samples).
    pub fn seed(&self) -> u64 {
        match self {
            Method::KMeans(params) => params.seed,
            Method::Gmm(params) => params.seed,
            Method::Hierarchical(params) => params.seed,
            Method::Leiden(params) => params.leiden.seed,
            Method::Dec(params) => params.seed,
        }
    }

    /// What fitting `ks` (and the silhouettes `silhouette` asks for) on
    /// `points` asks of a backend, to check before choosing one.
    pub fn workload(&self, n: usize, d: usize, ks: &[usize], silhouette: SilhouetteMode) -> Work {
        // A mixture's backend work is the K-Means fit of each start
        // (k-means++ starts run no Lloyd), then its EM runs.
        let runs = match self {
            Method::KMeans(KMeansParams { n_init, .. })
            | Method::Gmm(GmmParams {
                n_init,
                init: GmmInit::KMeans,
                ..
            }) => ks
                .iter()
                .flat_map(|&k| std::iter::repeat_n(k, *n_init))
                .collect(),
            Method::Gmm(_) => Vec::new(),
            // The micro-clusters' Lloyd run, if any.
            Method::Hierarchical(params) => params.micro_clusters_for(n).into_iter().collect(),
            // The graph's work runs on the CPU, its silhouette too.
            Method::Leiden(_) => Vec::new(),
            // The network and the K-Means of its codes run on the CPU.
            Method::Dec(_) => Vec::new(),
        };
        let silhouettes =
            if silhouette.resolve(n) == SilhouetteMode::None || matches!(self, Method::Leiden(_)) {
                Vec::new()
            } else {
                ks.to_vec()
            };
        let (mixtures, products) = match self {
            Method::KMeans(_) | Method::Hierarchical(_) | Method::Leiden(_) | Method::Dec(_) => {
                (Vec::new(), Products::None)
            }
            Method::Gmm(params) => (
                ks.iter()
                    .flat_map(|&k| std::iter::repeat_n(k, params.n_init))
                    .collect(),
                params.covariance.products(),
            ),
        };
        Work {
            n,
            d,
            runs,
            silhouettes,
            mixtures,
            products,
        }
    }

    /// Fits every K of `ks` on the prepared points, with every metric.
    pub fn sweep(
        &self,
        backend: &Backend,
        prepared: &Prepared,
        ks: &[usize],
        silhouette: SilhouetteMode,
    ) -> Result<Sweep, ClusterError> {
        match self {
            Method::KMeans(params) => {
                crate::cluster::sweep(backend, &prepared.points, ks, params, silhouette)
            }
            Method::Gmm(params) => {
                crate::cluster::gmm::sweep(backend, &prepared.points, ks, params, silhouette)
            }
            Method::Hierarchical(params) => crate::cluster::hierarchical::sweep(
                backend,
                &prepared.points,
                ks,
                params,
                silhouette,
            ),
            Method::Leiden(params) => crate::cluster::communities::sweep(
                &prepared.points,
                prepared.graph.as_ref(),
                params,
                silhouette,
            ),
            Method::Dec(params) => {
                crate::cluster::dec::sweep(backend, &prepared.points, ks, params, silhouette)
            }
        }
    }
}

/// An owned [`Workload`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// Users (points) to cluster or place.
    pub n: usize,
    /// Features per point.
    pub d: usize,
    /// The K of every fitting run, once per restart (`--n-init`); empty
    /// when nothing is fitted (`score`).
    pub runs: Vec<usize>,
    /// The K of every labelling whose silhouette is computed; empty when
    /// none is.
    pub silhouettes: Vec<usize>,
    /// The K of every Gaussian mixture run, once per restart; empty for
    /// other methods.
    pub mixtures: Vec<usize>,
    /// The products of coordinates the mixtures' M-steps need.
    pub products: Products,
}

impl Work {
    /// The same work, borrowed, as a backend checks it before it starts.
    pub fn as_workload(&self) -> Workload<'_> {
        Workload {
            n: self.n,
            d: self.d,
            runs: &self.runs,
            silhouettes: &self.silhouettes,
            mixtures: &self.mixtures,
            products: self.products,
        }
    }
}

/// Which K to fit: a number, or the highest silhouette of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KChoice {
    /// This K (`--k N`); it is fitted even when the range leaves it out.
    Fixed(usize),
    /// The K of the sweep with the highest silhouette (`--k auto`; the
    /// knee of the inertia curve when no silhouette is computed).
    Auto,
}

/// The K a fit sweeps: those of `range` that `users` allow (2 to users -
/// 1, where a silhouette is defined), plus the one asked for.
pub fn ks_to_sweep(k: KChoice, range: &[usize], users: usize) -> Result<Vec<usize>, ParamsError> {
    if let KChoice::Fixed(k) = k {
        if k < 1 {
            return Err(ParamsError::KTooSmall(k));
        }
        if k > users {
            return Err(ParamsError::KTooLarge { k, users });
        }
    }
    let mut ks: Vec<usize> = range
        .iter()
        .copied()
        .filter(|&k| k >= 2 && k < users)
        .collect();
    if let KChoice::Fixed(k) = k
        && !ks.contains(&k)
    {
        ks.push(k);
        ks.sort_unstable();
    }
    if ks.is_empty() {
        return Err(ParamsError::NoKForUsers {
            users,
            range: range.to_vec(),
        });
    }
    Ok(ks)
}

/// How the chosen fit's segments are named and judged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentOptions {
    /// One name per segment, highest value first; `None`: the default
    /// names for K.
    pub names: Option<Vec<String>>,
    /// The thresholds each user's churn risk is judged by; the model
    /// keeps them for `score`.
    pub churn: ChurnThresholds,
    /// The horizon and discount of each user's expected transactions and
    /// CLV; the model keeps them for `score`.
    pub lifetime: LifetimeOptions,
}

/// Users placed in segments: by a fit, or by a model (`score`).
#[derive(Debug, Clone)]
pub struct Placement {
    /// Segment of each user (0 = the highest-value segment).
    pub segments: Vec<u32>,
    /// Distance to the segment's centre, in scaled space.
    pub distances: Vec<f64>,
    /// A mixture's membership probabilities, or deep embedding
    /// clustering's soft assignments (n x K, segment 0 first); `None` for
    /// other methods.
    pub probabilities: Option<Vec<f32>>,
    /// Deep embedding clustering's latent code of each user (n x latent);
    /// `None` for other methods.
    pub latent: Option<Vec<f32>>,
    /// A tree's parent of each segment at a coarser cut; `None` for
    /// other methods.
    pub parents: Option<Vec<u32>>,
    /// Leiden's community of each fitted user (0 the largest; those of
    /// the "Other" segment too); `None` for other methods and for `score`.
    pub communities: Option<Vec<u32>>,
    /// How `score` placed each user with a Leiden model; `None` otherwise.
    pub placed_by: Option<Vec<PlacedBy>>,
    /// Each user's silhouette, when computed exactly.
    pub silhouettes: Option<Vec<f32>>,
    /// The mean silhouette and the users it was computed on.
    pub silhouette: Option<(f64, usize)>,
    /// RFM and churn; `None` for a table without the columns they need.
    pub insights: Option<UserInsights>,
}

impl Placement {
    /// Users per segment, segment 0 first.
    pub fn sizes(&self, k: usize) -> Vec<u64> {
        let mut sizes = vec![0u64; k];
        for &s in &self.segments {
            sizes[s as usize] += 1;
        }
        sizes
    }

    /// The per-user results as scores.csv writes them.
    pub fn scores<'a>(
        &'a self,
        prepared_table: &'a crate::features::matrix::NumericTable,
        names: &'a [String],
    ) -> Scores<'a> {
        Scores {
            table: prepared_table,
            segments: &self.segments,
            names,
            parents: self.parents.as_deref(),
            communities: self.communities.as_deref(),
            placed_by: self.placed_by.as_deref(),
            distances: &self.distances,
            probabilities: self.probabilities.as_deref(),
            latent: self.latent.as_deref(),
            silhouettes: self.silhouettes.as_deref(),
            insights: self.insights.as_ref(),
        }
    }
}

/// The chosen fit of a sweep made into a model, and what it says of each
/// user.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// What `score` needs to place new users as this fit placed its own.
    pub model: Model,
    /// The fitted users' segments, distances, silhouettes, RFM and churn
    /// risk, in table row order.
    pub placement: Placement,
    /// The metrics of the segments written.
    pub metrics: Metrics,
    /// The lifetime-value models' fits (or why there are none); `None`
    /// for a table without the columns they read.
    pub lifetime: Option<LifetimeFit>,
}

impl Segmentation {
    /// The fit `chosen` of `sweep` as a model: clusters numbered by value,
    /// named; each user in its nearest centre's segment (an exact tie to
    /// the lower segment, as `score` places users), with the metrics of
    /// those segments (computed again where a tie moved a user).
    pub fn new(
        backend: &Backend,
        prepared: &Prepared,
        method: &Method,
        sweep: &Sweep,
        chosen: usize,
        options: &SegmentOptions,
        silhouette: SilhouetteMode,
    ) -> Result<Segmentation, Error> {
        let fit = &sweep.fits[chosen];
        let k = fit.k();
        let points = &prepared.points;
        let order_by = prepared.order_column();
        let rank = match &sweep.communities {
            Some(communities) => community_ranks(communities, &fit.labels, k, prepared, &order_by),
            None => segment_ranks(
                &fit.labels,
                k,
                &prepared.column_values(&order_by),
                &fit.centres,
            ),
        };
        let mut centres = vec![Vec::new(); k];
        for (c, row) in fit.centres.rows().into_iter().enumerate() {
            centres[rank[c] as usize] = row.to_vec();
        }
        // order[segment] = the fit's cluster that became it.
        let mut order = vec![0; k];
        for (c, &r) in rank.iter().enumerate() {
            order[r as usize] = c;
        }
        let method_model = match method {
            Method::KMeans(params) => MethodModel::KMeans {
                centres,
                seed: params.seed,
                n_init: params.n_init,
                max_iter: params.max_iter,
                tol: params.tol,
                inertia: 0.0,
            },
            Method::Gmm(params) => gmm_model(params, &sweep.mixtures[chosen], &order, points.n()),
            Method::Hierarchical(params) => {
                let tree = sweep.tree.as_ref().expect("a hierarchical sweep's tree");
                let parent_k = params.parent_k_for(k)?;
                MethodModel::Hierarchical {
                    linkage: params.linkage,
                    centres,
                    micro_clusters: tree.micro.as_ref().map(|_| tree.dendrogram.n),
                    parent_k,
                    parents: parents_of(tree, parent_k, &fit.labels, &rank, prepared, &order_by),
                    top: top_of(&tree.dendrogram),
                    seed: params.seed,
                }
            }
            Method::Leiden(params) => {
                let fit_c = sweep
                    .communities
                    .as_ref()
                    .expect("a Leiden sweep's communities");
                let mut members = vec![Vec::new(); k];
                for (i, &l) in fit.labels.iter().enumerate() {
                    members[rank[l as usize] as usize].push(prepared.table.keys[i].to_string());
                }
                MethodModel::Leiden {
                    objective: params.leiden.objective,
                    resolution: params.leiden.resolution,
                    seed: params.leiden.seed,
                    max_iterations: params.leiden.max_iterations,
                    min_community_size: params.min_size.to_string(),
                    graph: GraphSpec::of(&params.source, &fit_c.graph),
                    centres,
                    other: fit_c.other,
                    communities: fit_c.communities.count,
                    modularity: fit_c.communities.modularity,
                    members,
                }
            }
            Method::Dec(params) => {
                let dec = sweep.dec.as_ref().expect("a DEC sweep's networks");
                dec_model(params, dec, chosen, &order, centres)
            }
        };
        let mut model = Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            created_by: format!("segmint {}", env!("CARGO_PKG_VERSION")),
            input: prepared.schema.clone(),
            features: prepared.feature_names(),
            scaling: prepared.scaling,
            scaler: prepared.scaler.clone(),
            method: method_model,
            k,
            // Users known only by their edges are ranked by size.
            segment_order_by: match (&sweep.communities, &prepared.schema) {
                (Some(_), InputSchema::Edges {}) => "size".into(),
                _ => order_by,
            },
            segment_names: match &options.names {
                Some(names) => names.clone(),
                None => match &sweep.communities {
                    Some(c) if c.other => {
                        let mut names = default_names(k - 1);
                        names.push(OTHER.into());
                        names
                    }
                    _ => default_names(k),
                },
            },
            churn: options.churn,
            lifetime: None,
            users: points.n(),
            silhouette: None,
        };
        let placed = match method {
            // The tree's or the graph's segments: not the nearest
            // centroid's (only `score` places new users so).
            Method::Hierarchical(_) | Method::Leiden(_) => {
                let segments: Vec<u32> = fit.labels.iter().map(|&l| rank[l as usize]).collect();
                let centres = model.method.centres().concat();
                let working = points.frame.to_working(&centres);
                let d = points.d();
                let squared = segments
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let c = &working[s as usize * d..(s as usize + 1) * d];
                        points
                            .row(i)
                            .iter()
                            .zip(c)
                            .map(|(&x, &m)| (x - m) * (x - m))
                            .sum::<f32>()
                    })
                    .collect();
                super::model::Placed {
                    segments,
                    squared,
                    probabilities: None,
                    latent: None,
                }
            }
            _ => model.place(backend, points)?,
        };
        let (segments, squared) = (placed.segments, placed.squared);
        // A user tied between two centres (exactly, or within rounding)
        // may sit in another segment than the fit's label said: then the
        // metrics are computed again, on the labels written.
        let relabelled = fit
            .labels
            .iter()
            .zip(&segments)
            .any(|(&label, &segment)| rank[label as usize] != segment);
        let (metrics, values) = if relabelled {
            let inertia = points
                .frame
                .squared(squared.iter().map(|&v| f64::from(v)).sum());
            let mut metrics = cheap_metrics(points, &segments, k, inertia);
            // A mixture's criteria are of its parameters, not its labels.
            metrics.bic = sweep.metrics[chosen].bic;
            metrics.aic = sweep.metrics[chosen].aic;
            let labelling = [Labeling {
                labels: &segments,
                k,
            }];
            let sil = silhouettes(backend, points, &labelling, silhouette, method.seed())?
                .pop()
                .flatten();
            let values = sil
                .as_ref()
                .and_then(|(s, _)| (!s.values.is_empty()).then(|| s.values.clone()));
            if let Some((s, on)) = sil {
                metrics.silhouette = Some(s.mean);
                metrics.silhouette_on = Some(on);
            }
            (metrics, values)
        } else {
            // Values follow users, not clusters: no reordering by segment.
            (
                sweep.metrics[chosen].clone(),
                sweep.silhouette_values[chosen].clone(),
            )
        };
        if let MethodModel::KMeans { inertia, .. } = &mut model.method {
            *inertia = metrics.inertia;
        }
        model.silhouette = metrics.silhouette;
        // Fitted on the users, whatever their segments: both models
        // describe the whole customer base.
        let lifetime = crate::insights::btyd::customers(&prepared.table)
            .is_ok()
            .then(|| fit_lifetime(&prepared.table, options.lifetime));
        model.lifetime = lifetime.as_ref().map(|l| l.model);
        let context = InsightContext {
            lifetime: model.lifetime.as_ref(),
            trend_days: model.input.trend_days(),
            population: None,
        };
        let insights = user_insights(&prepared.table, &segments, &model.churn, context);
        let placement = Placement {
            distances: roots(&squared, points),
            probabilities: placed.probabilities,
            latent: placed.latent,
            parents: model.method.parents().map(<[u32]>::to_vec),
            communities: sweep
                .communities
                .as_ref()
                .map(|c| c.communities.membership.clone()),
            placed_by: None,
            segments,
            silhouettes: values,
            silhouette: metrics.silhouette.zip(metrics.silhouette_on),
            insights,
        };
        Ok(Segmentation {
            model,
            placement,
            metrics,
            lifetime,
        })
    }
}

impl Segmentation {
    /// A deep embedding clustering fit's latent space as the report
    /// shows it; `None` for other methods.
    pub fn latent_summary(&self) -> Option<crate::insights::latent::LatentSummary> {
        let MethodModel::Dec {
            hidden,
            pretrain_epochs,
            steps,
            converged,
            gamma,
            pretrained_error,
            reconstruction_error,
            kl,
            ..
        } = &self.model.method
        else {
            return None;
        };
        Some(crate::insights::latent::LatentSummary::new(
            hidden.clone(),
            *pretrain_epochs,
            *steps,
            *converged,
            *gamma,
            (*pretrained_error, *reconstruction_error),
            *kl,
            self.placement.latent.as_deref()?,
            &self.placement.segments,
        ))
    }

    /// A mixture's record (likelihood, criteria, regularisation raised,
    /// certainty of memberships); `None` for other methods.
    pub fn mixture_summary(&self) -> Option<MixtureSummary> {
        let model = &self.model;
        let MethodModel::Gmm {
            covariance_type,
            reg_covar,
            regularisation,
            log_likelihood,
            bic,
            aic,
            ..
        } = &model.method
        else {
            return None;
        };
        let probabilities = self.placement.probabilities.as_ref()?;
        Some(MixtureSummary {
            covariance_type: covariance_type.name(),
            log_likelihood: *log_likelihood,
            bic: *bic,
            aic: *aic,
            regularisation_raised: regularisation
                .iter()
                .enumerate()
                .filter(|&(_, r)| r > reg_covar)
                .map(|(segment, &r)| RaisedSegment {
                    segment,
                    name: model.segment_names[segment].clone(),
                    reg_covar: r,
                })
                .collect(),
            certainty: certainty(probabilities, &self.placement.segments, model.k),
        })
    }
}

/// Each segment's parent in the tree's cut of `parent_k` (numbered by
/// value as segments are): the cuts nest, so all of a segment's users
/// share one. `labels` are the fit's clusters, `rank` their segments.
fn parents_of(
    tree: &Tree,
    parent_k: usize,
    labels: &[u32],
    rank: &[u32],
    prepared: &Prepared,
    order_by: &str,
) -> Vec<u32> {
    let coarse = tree.labels(parent_k);
    let k_parent = parent_k.min(tree.dendrogram.n);
    let points = &prepared.points;
    let d = points.d();
    let mut centres = ndarray::Array2::<f64>::zeros((k_parent, d));
    let mut counts = vec![0.0f64; k_parent];
    for (i, &c) in coarse.iter().enumerate() {
        counts[c as usize] += 1.0;
        for (s, &v) in centres.row_mut(c as usize).iter_mut().zip(points.row(i)) {
            *s += f64::from(v);
        }
    }
    for (mut row, &n) in centres.rows_mut().into_iter().zip(&counts) {
        row /= n.max(1.0);
    }
    let parent_rank = segment_ranks(
        &coarse,
        k_parent,
        &prepared.column_values(order_by),
        &centres,
    );
    let mut parents = vec![0u32; rank.len()];
    for (&label, &c) in labels.iter().zip(&coarse) {
        parents[rank[label as usize] as usize] = parent_rank[c as usize];
    }
    parents
}

/// The name of the segment that gathers the small communities.
pub const OTHER: &str = "Other";

/// Segment ranks of a Leiden fit's labels: by value (the mean of
/// `order_by`) when the users have features, by size for users known only
/// by an edge list; the "Other" segment last.
fn community_ranks(
    fit: &CommunityFit,
    labels: &[u32],
    k: usize,
    prepared: &Prepared,
    order_by: &str,
) -> Vec<u32> {
    let values: Vec<f64> = match prepared.schema {
        InputSchema::Edges { .. } => {
            let mut sizes = vec![0.0f64; k];
            for &l in labels {
                sizes[l as usize] += 1.0;
            }
            labels.iter().map(|&l| sizes[l as usize]).collect()
        }
        _ => prepared.column_values(order_by),
    };
    let kept = k - usize::from(fit.other);
    // Ranks among the kept communities, then Other.
    let centres = ndarray::Array2::<f64>::zeros((kept, 0));
    let mut kept_labels = Vec::with_capacity(labels.len());
    let mut kept_values = Vec::with_capacity(labels.len());
    for (&l, &v) in labels.iter().zip(&values) {
        if (l as usize) < kept {
            kept_labels.push(l);
            kept_values.push(v);
        }
    }
    let mut rank = segment_ranks(&kept_labels, kept, &kept_values, &centres);
    if fit.other {
        rank.push(kept as u32);
    }
    rank
}

/// Merges at the top of a tree that a model keeps (the report draws them).
pub const TOP_MERGES: usize = 30;

/// The last [`TOP_MERGES`] merges of a tree, numbered as in the whole
/// tree.
fn top_of(tree: &Dendrogram) -> Vec<Merge> {
    let from = tree.merges.len().saturating_sub(TOP_MERGES);
    tree.merges[from..].to_vec()
}

/// A mixture fit's part of the model, its components in segment order
/// (`order[segment]` is the fit's component).
fn gmm_model(params: &GmmParams, fit: &GaussianMixture, order: &[usize], n: usize) -> MethodModel {
    let mixture = fit.mixture.reordered(order);
    let mut regularisation = vec![params.reg_covar; order.len()];
    let tied = fit.mixture.covariance_type() == crate::cluster::CovarianceType::Tied;
    for raised in &fit.raised {
        for (segment, &c) in order.iter().enumerate() {
            if tied || c == raised.component {
                regularisation[segment] = raised.reg_covar;
            }
        }
    }
    MethodModel::Gmm {
        covariance_type: mixture.covariance_type(),
        weights: mixture.weights.clone(),
        means: mixture
            .means
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect(),
        covariances: CovarianceValues::of(&mixture.covariances),
        seed: params.seed,
        n_init: params.n_init,
        max_iter: params.max_iter,
        tol: params.tol,
        reg_covar: params.reg_covar,
        init: params.init,
        regularisation,
        converged: fit.converged,
        log_likelihood: fit.log_likelihood,
        bic: fit.bic(n),
        aic: fit.aic(n),
    }
}

/// A deep embedding clustering fit's part of the model, its latent
/// centres in segment order (`order[segment]` is the fit's cluster).
fn dec_model(
    params: &DecParams,
    dec: &DecSweep,
    chosen: usize,
    order: &[usize],
    centres: Vec<Vec<f64>>,
) -> MethodModel {
    let fit = &dec.fits[chosen];
    let latent = dec.latent;
    MethodModel::Dec {
        centres,
        latent_centres: order
            .iter()
            .map(|&c| fit.centres[c * latent..(c + 1) * latent].to_vec())
            .collect(),
        encoder: fit.encoder.clone(),
        hidden: params.hidden.clone(),
        latent,
        pretrain_epochs: dec.epochs,
        batch_size: params.batch_size,
        learning_rate: params.learning_rate,
        update_interval: params.update_interval,
        tol: params.tol,
        max_iter: params.max_iter,
        gamma: params.gamma,
        n_init: params.n_init,
        seed: params.seed,
        steps: fit.steps,
        converged: fit.converged,
        pretrained_error: dec.pretrained_error,
        reconstruction_error: fit.reconstruction_error,
        kl: fit.intervals.last().map_or(0.0, |i| i.kl_end),
    }
}

/// Euclidean distances in scaled space from squared working ones.
pub(super) fn roots(squared: &[f32], points: &crate::features::matrix::FeatureMatrix) -> Vec<f64> {
    squared
        .iter()
        .map(|&v| points.frame.distance(f64::from(v).sqrt()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_the_range_the_users_allow_and_the_k_asked_for() {
        let range: Vec<usize> = (2..=10).collect();
        assert_eq!(ks_to_sweep(KChoice::Fixed(3), &range, 100).unwrap(), range);
        assert_eq!(
            ks_to_sweep(KChoice::Fixed(12), &[2, 3, 4], 100).unwrap(),
            vec![2, 3, 4, 12]
        );
        assert_eq!(
            ks_to_sweep(KChoice::Auto, &range, 5).unwrap(),
            vec![2, 3, 4]
        );
        assert!(ks_to_sweep(KChoice::Fixed(3), &range, 2).is_err());
        assert!(ks_to_sweep(KChoice::Fixed(0), &range, 20).is_err());
        assert!(ks_to_sweep(KChoice::Auto, &[2, 3], 2).is_err());
    }
}
