//! `segmint fit`: a segmentation of the users' features; per-user scores
//! and the model file.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::emit::summary;
use super::{LEIDEN_K, Session, fit, input_paths, prepare, timed};
use crate::cli::{FitArgs, Format, k_choice, k_list, segment_names};
use segmint::Error;
use segmint::cluster::Metrics;
use segmint::cluster::communities::CommunityFit;
use segmint::formats::TableFormat;
use segmint::graph::GraphStats;
use segmint::ingest::IngestReport;
use segmint::insights::btyd::{BgNbd, GammaGamma};
use segmint::insights::certainty::MixtureSummary;
use segmint::output::{Outputs, is_stdout, summary_name};
use segmint::report::summary::ModelFit;
use segmint::report::text::{sizes_by_name, thousands};
use segmint::segment::{self, KChoice, Method, SegmentOptions};

/// The JSON summary of a fit.
#[derive(Serialize)]
struct FitSummary {
    output: String,
    model: Option<String>,
    users: usize,
    features: Vec<String>,
    backend: &'static str,
    device: String,
    n_iter: usize,
    converged: bool,
    segment_order_by: String,
    segment_names: Vec<String>,
    /// Users per segment, segment 0 first.
    segment_sizes: Vec<u64>,
    #[serde(flatten)]
    metrics: Metrics,
    /// A Gaussian mixture's record; absent for K-Means.
    #[serde(skip_serializing_if = "Option::is_none")]
    mixture: Option<MixtureSummary>,
    /// A hierarchical fit's tree: how it was built and where its time
    /// went; absent for other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<TreeRecord>,
    /// A Leiden fit's communities; absent for other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    communities: Option<CommunityRecord>,
    /// How a Leiden fit's user graph was built; absent for other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    graph: Option<GraphStats>,
    /// The lifetime models fitted on the users; absent for a table
    /// without the features they read.
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime: Option<LifetimeRecord>,
    /// How the transaction logs were read (rows, skipped bad rows); none
    /// for a feature table.
    #[serde(flatten)]
    input: Option<IngestReport>,
    seconds: f64,
}

/// The lifetime models' fits, for the summary.
#[derive(Serialize)]
struct LifetimeRecord {
    horizon_days: u32,
    discount_rate: f64,
    /// The trend window of the churn rules' usage trend, in days.
    trend_days: Option<u32>,
    bgnbd: ModelFit<BgNbd>,
    gamma_gamma: ModelFit<GammaGamma>,
}

/// A Leiden fit's communities, for the summary.
#[derive(Serialize)]
struct CommunityRecord {
    objective: &'static str,
    resolution: f64,
    /// Communities Leiden found.
    count: usize,
    /// Segments made of them (the kept ones, and Other).
    segments: usize,
    /// The smallest community kept, in users.
    min_community_size: usize,
    /// Users gathered in the Other segment.
    other_users: usize,
    modularity: f64,
    /// The objective's value at its resolution.
    quality: f64,
    /// The share of the edge weight inside communities.
    inside_weight_share: f64,
    iterations: usize,
    /// Communities split into their connected pieces at the end.
    split: usize,
    seconds_graph: f64,
    seconds_leiden: f64,
}

impl CommunityRecord {
    fn of(fit: &CommunityFit, objective: &'static str, resolution: f64) -> Self {
        let c = &fit.communities;
        CommunityRecord {
            objective,
            resolution,
            count: c.count,
            segments: fit.kept + usize::from(fit.other),
            min_community_size: fit.min_users,
            other_users: fit.other_users(),
            modularity: c.modularity,
            quality: c.quality,
            inside_weight_share: c.inside_share,
            iterations: c.iterations,
            split: c.split,
            seconds_graph: fit.graph.seconds,
            seconds_leiden: fit.seconds_leiden,
        }
    }
}

/// How a hierarchical fit's tree was built.
#[derive(Serialize)]
struct TreeRecord {
    /// Micro-clusters the tree was built over; none: exact.
    micro_clusters: Option<usize>,
    /// Merges of the tree (its starting clusters less one).
    merges: usize,
    /// Seconds on the micro-clusters' K-Means (0 when exact).
    seconds_micro_clusters: f64,
    /// Seconds building the tree.
    seconds_tree: f64,
    /// Seconds placing the users in each K's cut.
    seconds_cuts: f64,
}

pub fn run(args: &FitArgs, session: &Session) -> Result<(), Error> {
    let (mut method, silhouette) = args.kmeans.method()?;
    let leiden = matches!(method, Method::Leiden(_));
    if leiden && args.k.is_some() {
        return Err(Error::Usage(LEIDEN_K.into()));
    }
    // --height cuts the tree where it says: its K is the one chosen; Leiden
    // finds its own.
    let k = match args.height {
        Some(_) => KChoice::Auto,
        None if leiden => KChoice::Auto,
        None => k_choice(args.k.as_deref().unwrap_or("3"))?,
    };
    // The range matters only to `auto`: checked now, clamped to the
    // users once they are known.
    let range = match k {
        KChoice::Auto if !leiden => k_list(&args.k_range, "--k-range")?,
        _ => Vec::new(),
    };
    // A parent cut not coarser than a fixed K fails now, not after the fit.
    if let (Method::Hierarchical(params), KChoice::Fixed(k)) = (&method, k) {
        params.parent_k_for(k)?;
    }
    if let Some(h) = args.height {
        match &mut method {
            Method::Hierarchical(params) => {
                params.cut_height = Some(h);
                method.validate()?;
            }
            _ => {
                return Err(Error::Usage(
                    "--height cuts a hierarchical tree: add --method hierarchical".into(),
                ));
            }
        }
    }
    let options = SegmentOptions {
        names: segment_names(args.segment_names.as_deref(), k)?,
        churn: args.churn.thresholds(&args.data.feature)?,
        lifetime: args.churn.lifetime()?,
    };
    let scores_on_stdout = is_stdout(&args.output);
    if args.format == Format::Json && scores_on_stdout {
        return Err(Error::Usage(
            "--format json prints the summary on standard output; write the scores to a file with -o"
                .into(),
        ));
    }
    if args.linkage_out.is_some() && !matches!(method, Method::Hierarchical(_)) {
        return Err(Error::Usage(
            "--linkage-out writes a hierarchical tree: add --method hierarchical".into(),
        ));
    }
    let outputs: Vec<&Path> = std::iter::once(args.output.as_path())
        .chain(args.model.as_deref())
        .chain(args.linkage_out.as_deref())
        .collect();
    let mut outputs = Outputs::plan(
        &input_paths(
            &args.data.inputs,
            args.data
                .features_input
                .as_deref()
                .into_iter()
                .chain(args.kmeans.graph.edges_input.as_deref())
                .chain(args.init.as_deref()),
        ),
        &outputs,
    )?;
    if args.init.is_some()
        && (!matches!(method, Method::KMeans(_)) || !matches!(k, KChoice::Fixed(_)))
    {
        return Err(Error::Usage(
            "--init starts a K-Means fit from given centres: add --k K (and --method kmeans)"
                .into(),
        ));
    }
    let started = Instant::now();
    let mut prepared = prepare(&args.data, &method, session.quiet)?;
    if let (Some(path), Method::KMeans(params), KChoice::Fixed(k)) = (&args.init, &mut method, k) {
        let rows = initial_centres(path, k, &mut prepared)?;
        let frame = &prepared.points.frame;
        let d = frame.offset.len();
        params.init = Some(
            ndarray::Array2::from_shape_vec((k, d), frame.to_working_f64(&rows))
                .map_err(|e| Error::Internal(format!("--init: {e}")))?,
        );
    }
    let ks = if leiden {
        Vec::new()
    } else {
        segment::ks_to_sweep(k, &range, prepared.points.n())?
    };
    let (backend, fitted) = fit(session, &prepared, &method, &ks, k, &options, silhouette)?;
    let segmentation = &fitted.segmentation;
    let model = &segmentation.model;
    if let Some(path) = &args.model {
        outputs.write(path, |out| out.write_all(model.to_json().as_bytes()))?;
    }
    if let (Some(path), Some(tree)) = (&args.linkage_out, &fitted.sweep.tree) {
        outputs.write(path, |out| tree.dendrogram.write_csv(out))?;
    }
    let scores = segmentation
        .placement
        .scores(&prepared.table, &model.segment_names);
    let format = TableFormat::of_output(&args.output, args.output_format);
    timed("writing", || {
        outputs.write(&args.output, |out| match format {
            TableFormat::Csv => scores.write_csv(out),
            columnar => scores.write_table(out, columnar),
        })?;
        outputs.commit()
    })?;
    let fit = &fitted.sweep.fits[fitted.chosen];
    let result = FitSummary {
        output: summary_name(&args.output),
        model: args.model.as_deref().map(summary_name),
        users: prepared.points.n(),
        features: model.features.clone(),
        backend: backend.name(),
        device: backend.describe(),
        n_iter: fit.n_iter,
        converged: fit.converged,
        segment_order_by: model.segment_order_by.clone(),
        segment_names: model.segment_names.clone(),
        segment_sizes: segmentation.placement.sizes(model.k),
        metrics: segmentation.metrics.clone(),
        mixture: segmentation.mixture_summary(),
        tree: fitted.sweep.tree.as_ref().map(|t| TreeRecord {
            micro_clusters: t.micro.as_ref().map(|_| t.dendrogram.n),
            merges: t.dendrogram.merges.len(),
            seconds_micro_clusters: t.seconds.0,
            seconds_tree: t.seconds.1,
            seconds_cuts: t.seconds.2,
        }),
        communities: match (&fitted.sweep.communities, &method) {
            (Some(c), Method::Leiden(p)) => Some(CommunityRecord::of(
                c,
                p.leiden.objective.name(),
                p.leiden.resolution,
            )),
            _ => None,
        },
        graph: fitted.sweep.communities.as_ref().map(|c| c.graph.clone()),
        lifetime: segmentation.lifetime.as_ref().map(|l| LifetimeRecord {
            horizon_days: l.model.options.horizon_days,
            discount_rate: l.model.options.discount_rate,
            trend_days: model.input.trend_days(),
            bgnbd: ModelFit::new(&l.bgnbd),
            gamma_gamma: ModelFit::new(&l.gamma_gamma),
        }),
        input: prepared.ingest.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    summary(
        args.format,
        session.quiet,
        scores_on_stdout,
        &result,
        || describe(&result),
    )
}

fn describe(s: &FitSummary) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut text = format!(
        "{} users in {} segments ({}{:.2} s) -> {}{}\n\
         segments ({}, highest first): {}\n\
         inertia {:.4}, silhouette {}{}, calinski-harabasz {}, davies-bouldin {}",
        s.users,
        s.metrics.k,
        match (&s.tree, s.converged) {
            // A cut of a tree or graph communities: no Lloyd iterations.
            (Some(_), _) => String::new(),
            (None, _) if s.communities.is_some() => String::new(),
            (None, true) => format!("{} iterations, ", s.n_iter),
            (None, false) => format!("{} iterations, not converged, ", s.n_iter),
        },
        s.seconds,
        s.output,
        s.model
            .as_ref()
            .map_or(String::new(), |m| format!(", model {m}")),
        if s.segment_order_by == "size" {
            "by size".to_string()
        } else {
            format!("by mean {}", s.segment_order_by)
        },
        sizes_by_name(&s.segment_names, &s.segment_sizes),
        s.metrics.inertia,
        opt(s.metrics.silhouette),
        match s.metrics.silhouette_on {
            Some(on) if on < s.users => format!(" (sample of {on})"),
            _ => String::new(),
        },
        s.metrics
            .calinski_harabasz
            .map_or("-".into(), |v| format!("{v:.1}")),
        opt(s.metrics.davies_bouldin),
    );
    if let Some(m) = &s.mixture {
        text.push_str(&mixture_lines(m, s.users));
    }
    if let (Some(c), Some(g)) = (&s.communities, &s.graph) {
        text.push_str(&community_lines(c, g));
    }
    if let Some(l) = &s.lifetime {
        text.push_str(&format!(
            "\nlifetime over {} days: {}; {}",
            l.horizon_days,
            l.bgnbd.describe(),
            l.gamma_gamma.describe()
        ));
        if let Some(days) = l.trend_days {
            text.push_str(&format!("\nchurn trend window: {days} days"));
        }
    }
    if let Some(t) = &s.tree {
        text.push_str(&match t.micro_clusters {
            Some(m) => format!(
                "\ntree over {m} micro-clusters: K-Means {:.2} s, tree {:.2} s, cuts {:.2} s",
                t.seconds_micro_clusters, t.seconds_tree, t.seconds_cuts
            ),
            None => format!(
                "\nexact tree of {} merges: {:.2} s, cuts {:.2} s",
                t.merges, t.seconds_tree, t.seconds_cuts
            ),
        });
    }
    text
}

/// The lines a Leiden fit adds to the summary.
fn community_lines(c: &CommunityRecord, g: &GraphStats) -> String {
    let mut text = format!(
        "\ngraph ({}): {} users, {} edges, {} without an edge ({:.2} s)",
        g.source,
        thousands(g.nodes as u64),
        thousands(g.edges as u64),
        thousands(g.isolated as u64),
        g.seconds
    );
    if let Some(p) = &g.peers {
        text.push_str(&format!(
            "\n  peers as {} from column {}: {} rows with a peer",
            p.kind,
            p.column,
            thousands(p.rows - p.rows_without_peer)
        ));
        if p.kind == "users" {
            text.push_str(&format!(
                ", {} to non-users and {} to oneself left out",
                thousands(p.rows_to_outsiders),
                thousands(p.rows_to_self)
            ));
        } else {
            text.push_str(&format!(
                ", {} distinct peers, {} shared by more than {} users left out (--max-peer-degree)",
                thousands(p.distinct_peers),
                thousands(p.capped_peers),
                p.max_peer_degree
            ));
        }
    }
    text.push_str(&format!(
        "\nleiden ({} at resolution {}): {} communities in {} iterations ({:.2} s), modularity {:.4}, {:.1}% of the edge weight inside them",
        c.objective,
        c.resolution,
        thousands(c.count as u64),
        c.iterations,
        c.seconds_leiden,
        c.modularity,
        100.0 * c.inside_weight_share
    ));
    if c.other_users > 0 {
        text.push_str(&format!(
            "\n{} users of communities under {} users gathered in Other (--min-community-size)",
            thousands(c.other_users as u64),
            c.min_community_size
        ));
    }
    text
}

/// The lines a Gaussian mixture adds to the summary.
fn mixture_lines(m: &MixtureSummary, users: usize) -> String {
    let c = &m.certainty;
    let mut text = format!(
        "\nmixture ({} covariances): log-likelihood {:.4} per user, BIC {:.1}, AIC {:.1}\n\
         {} users ({:.1}%) below {} membership probability; mean probability {:.3}",
        m.covariance_type,
        m.log_likelihood,
        m.bic,
        m.aic,
        c.uncertain,
        100.0 * c.uncertain as f64 / users.max(1) as f64,
        c.threshold,
        c.mean_probability,
    );
    for r in &m.regularisation_raised {
        text.push_str(&format!(
            "\nnote: segment {} ({}) had a singular covariance: its regularisation was raised to {:e} (--reg-covar)",
            r.segment, r.name, r.reg_covar
        ));
    }
    text
}

/// `--init`: the initial centres (k rows of the features, flattened, in
/// scaled space), from a CSV of centres, or from a K-Means model (its
/// centres, and its scaler, which then scales the points).
fn initial_centres(
    path: &Path,
    k: usize,
    prepared: &mut segment::Prepared,
) -> Result<Vec<f64>, Error> {
    let d = prepared.specs.len();
    let bytes = std::fs::read(path).map_err(|source| segmint::ingest::IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let rows = if bytes.trim_ascii_start().starts_with(b"{") {
        let name = path.display().to_string();
        let model = segmint::segment::Model::from_bytes(&bytes, &name)?;
        let segmint::segment::MethodModel::KMeans { centres, .. } = &model.method else {
            return Err(Error::Usage(format!(
                "--init {name}: a {} model; K-Means starts from a K-Means model",
                model.method.name()
            )));
        };
        let specs: Vec<String> = prepared.specs.iter().map(ToString::to_string).collect();
        if model.features != specs || model.scaling != prepared.scaling {
            return Err(Error::Usage(format!(
                "--init {name}: its features ({}, {:?}) are not the fit's ({}, {:?})",
                model.features.join(","),
                model.scaling,
                specs.join(","),
                prepared.scaling
            )));
        }
        let raw = prepared.table.select(&prepared.specs)?;
        prepared.points = model.scaler.transform(&raw);
        prepared.scaler = model.scaler.clone();
        centres.concat()
    } else {
        super::read_rows(path, d)?
    };
    if rows.len() != k * d {
        return Err(Error::Usage(format!(
            "{}: {} centres for --k {k}",
            path.display(),
            rows.len() / d.max(1)
        )));
    }
    Ok(rows)
}
