//! Pieces of one run, one partition of the users each (a Spark stage, say):
//! `population` (what ranks users against each other in the whole run),
//! and the two halves of an exact distributed K-Means: `lloyd-step` (one
//! piece's per-segment sums, counts and inertia for a model's centres)
//! and `lloyd-merge` (their totals: the next centres, and whether the fit
//! has converged). The README's "Past one machine" tells the whole loop.

use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::emit::summary;
use super::score::{Users, read_users};
use super::{input_paths, inputs, read_rows};
use crate::cli::{LloydMergeArgs, LloydStepArgs, ModelUsersArgs, PopulationArgs};
use segmint::Error;
use segmint::backend::{CpuBackend, Kernels, LloydAlgorithm};
use segmint::features::matrix::{NumericTable, Scaler};
use segmint::ingest::IngestError;
use segmint::insights::naming::ranks_of_sums;
use segmint::insights::segments::{InsightContext, POPULATION_FORMAT, Population};
use segmint::output::Outputs;
use segmint::segment::{MethodModel, Model, Scaling};

/// The `format` field of a `lloyd-step` result.
const STEP_FORMAT: &str = "segmint-lloyd-step";

/// `segmint population`.
pub fn population(args: &PopulationArgs, quiet: bool) -> Result<(), Error> {
    let outputs = Outputs::plan(&model_inputs(&args.users), &[&args.output])?;
    let (model, model_path) = read_model(&args.users.model)?;
    let table = read_model_users(&args.users, &model, &model_path, true, quiet)?;
    let context = InsightContext {
        lifetime: None,
        trend_days: model.input.trend_days(),
        population: None,
    };
    let population = Population::of(&table, context).ok_or_else(|| {
        Error::Data(format!(
            "the users lack one of {}: no RFM or churn to rank them by",
            segmint::insights::segments::REQUIRED_COLUMNS.join(", ")
        ))
    })?;
    write_json(outputs, &args.output, &population)
}

/// Reads a population file written by `segmint population`.
pub fn read_population(path: &Path) -> Result<Population, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let population: Population = serde_json::from_str(&text).map_err(|e| {
        Error::Data(format!(
            "{}: not a population file of `segmint population` ({e})",
            path.display()
        ))
    })?;
    if population.format != POPULATION_FORMAT || population.version != 1 {
        return Err(Error::Data(format!(
            "{}: expected a {POPULATION_FORMAT} file of version 1, found {:?} version {}",
            path.display(),
            population.format,
            population.version
        )));
    }
    Ok(population)
}

/// Column statistics of some users, merged across pieces with Chan et
/// al.'s pairwise update: count, means and sums of squared deviations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Moments {
    n: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Moments {
    /// Two passes over each block of rows of an n x d table (row `i` read
    /// by `row`), blocks on every core, merged in order: the same numbers
    /// whatever the thread count.
    fn of(n: usize, d: usize, row: impl Fn(usize, &mut [f64]) + Sync) -> Moments {
        const BLOCK: usize = 1 << 16;
        let blocks: Vec<Moments> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let rows = b * BLOCK..((b + 1) * BLOCK).min(n);
                let mut x = vec![0.0; d];
                let mut mean = vec![0.0; d];
                for i in rows.clone() {
                    row(i, &mut x);
                    for (m, v) in mean.iter_mut().zip(&x) {
                        *m += v;
                    }
                }
                let count = rows.len() as f64;
                mean.iter_mut().for_each(|m| *m /= count);
                let mut m2 = vec![0.0; d];
                for i in rows.clone() {
                    row(i, &mut x);
                    for ((s, v), m) in m2.iter_mut().zip(&x).zip(&mean) {
                        *s += (v - m) * (v - m);
                    }
                }
                Moments {
                    n: rows.len() as u64,
                    mean,
                    m2,
                }
            })
            .collect();
        blocks.iter().fold(
            Moments {
                n: 0,
                mean: vec![0.0; d],
                m2: vec![0.0; d],
            },
            |all, block| all.merge(block),
        )
    }

    fn merge(&self, other: &Moments) -> Moments {
        if other.n == 0 {
            return self.clone();
        }
        if self.n == 0 {
            return other.clone();
        }
        let (a, b) = (self.n as f64, other.n as f64);
        let n = a + b;
        let (mut mean, mut m2) = (self.mean.clone(), self.m2.clone());
        for j in 0..mean.len() {
            let delta = other.mean[j] - self.mean[j];
            mean[j] = self.mean[j] + delta * b / n;
            m2[j] = self.m2[j] + other.m2[j] + delta * delta * a * b / n;
        }
        Moments {
            n: self.n + other.n,
            mean,
            m2,
        }
    }

    /// The population variance of each column.
    fn variances(&self) -> impl Iterator<Item = f64> + '_ {
        let n = self.n.max(1) as f64;
        self.m2.iter().map(move |&m2| m2 / n)
    }
}

/// One piece's part of a Lloyd step (`lloyd-step`'s output).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Step {
    format: String,
    version: u32,
    /// The centres the users were assigned to (scaled space), to check
    /// that every piece ran with the same model.
    centres: Vec<Vec<f64>>,
    /// The scaler the points were scaled with, for the same check.
    scaler: Scaler,
    /// Users per segment.
    counts: Vec<u64>,
    /// Per segment, the sum of its users' points (scaled space).
    sums: Vec<Vec<f64>>,
    /// Sum of squared distances to the nearest centre (scaled space).
    inertia: f64,
    /// Per segment, the sum of the column that orders the segments
    /// (original units).
    order_sums: Vec<f64>,
    /// The points (scaled space): the mean variance the tolerance is
    /// relative to.
    points: Moments,
    /// The features before scaling: a whole data's scaler (`--rescale`).
    features: Moments,
}

/// `segmint lloyd-step`.
pub fn lloyd_step(args: &LloydStepArgs, quiet: bool) -> Result<(), Error> {
    let outputs = Outputs::plan(&model_inputs(&args.users), &[&args.output])?;
    let (model, model_path) = read_model(&args.users.model)?;
    let MethodModel::KMeans { centres, .. } = &model.method else {
        return Err(Error::Usage(format!(
            "lloyd-step runs K-Means models; {model_path} is a {} model",
            model.method.name()
        )));
    };
    let (raw, order_values) = match &args.cache {
        Some(path) if path.exists() => read_cache(path, &model)?,
        cache => {
            let table = read_model_users(&args.users, &model, &model_path, false, quiet)?;
            let raw = table.select(&model.feature_specs())?;
            let order_values: Vec<f64> = match table.column_index(&model.segment_order_by) {
                Some(j) => (0..table.rows()).map(|i| table.row(i)[j]).collect(),
                None => vec![0.0; table.rows()],
            };
            if let Some(path) = cache {
                write_cache(path, &model, &raw, &order_values)?;
            }
            (raw, order_values)
        }
    };
    let points = model.points_in_model_frame(&raw);
    let (n, d, k) = (points.n(), points.d(), model.k);
    let frame = &points.frame;
    // The kernels of a single-machine fit, so that every user gets the
    // label a single-machine Lloyd step gives it.
    let backend = CpuBackend;
    let device = backend.upload(&points)?;
    let init = Array2::from_shape_vec((k, d), frame.to_working(&centres.concat()))
        .map_err(|e| Error::Internal(format!("centres: {e}")))?
        .mapv(f64::from);
    let mut runs = backend.lloyd_start(&device, &[init], LloydAlgorithm::Lloyd)?;
    let stats = backend.lloyd_step(&device, &mut runs, &[0], false)?;
    let (kernel, labels, _) = backend.lloyd_sums(&runs, 0)?;
    // The step's own f64 sums, in user order, beside the order columns'
    // sums: a piece's sums hold nothing but its users (to about 1e-16),
    // whatever the kernel keeps between passes.
    let mut counts = vec![0u64; k];
    let mut working = vec![0.0f64; k * d];
    let mut order_sums = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        let c = l as usize;
        counts[c] += 1;
        for (sum, &v) in working[c * d..(c + 1) * d].iter_mut().zip(points.row(i)) {
            *sum += f64::from(v);
        }
        order_sums[c] += order_values[i];
    }
    debug_assert_eq!(counts, kernel.counts);
    let step = Step {
        format: STEP_FORMAT.to_string(),
        version: 1,
        centres: centres.clone(),
        scaler: model.scaler.clone(),
        sums: (0..k)
            .map(|c| {
                (0..d)
                    .map(|j| frame.offset[j] * counts[c] as f64 + frame.unit * working[c * d + j])
                    .collect()
            })
            .collect(),
        counts,
        inertia: frame.squared(stats[0].inertia),
        order_sums,
        points: Moments::of(n, d, |i, out| {
            for ((o, &v), &offset) in out.iter_mut().zip(points.row(i)).zip(&frame.offset) {
                *o = offset + frame.unit * f64::from(v);
            }
        }),
        features: Moments::of(n, d, |i, out| {
            for (o, &v) in out.iter_mut().zip(raw.row(i)) {
                *o = v;
            }
        }),
    };
    write_json(outputs, &args.output, &step)
}

/// The first line of a `lloyd-step --cache` file.
const CACHE_MAGIC: &[u8] = b"segmint-lloyd-points 1\n";

/// What a cache file was written for: the model's features and ordering
/// column, one line.
fn cache_label(model: &Model) -> String {
    format!(
        "{} by {}\n",
        model.features.join(","),
        model.segment_order_by
    )
}

/// Keeps a piece's transformed features and ordering column in `path`
/// (native-endian f64, read back by the same machine), written whole
/// under another name first, so a failed run leaves no cache.
fn write_cache(path: &Path, model: &Model, raw: &Array2<f64>, order: &[f64]) -> Result<(), Error> {
    let (n, d) = raw.dim();
    let mut bytes = Vec::with_capacity(64 + 8 * n * (d + 1));
    bytes.extend_from_slice(CACHE_MAGIC);
    bytes.extend_from_slice(cache_label(model).as_bytes());
    bytes.extend_from_slice(&(n as u64).to_ne_bytes());
    bytes.extend_from_slice(&(d as u64).to_ne_bytes());
    let values = raw.as_standard_layout();
    bytes.extend_from_slice(bytemuck::cast_slice(
        values.as_slice().expect("standard layout"),
    ));
    bytes.extend_from_slice(bytemuck::cast_slice(order));
    let partial = path.with_extension("partial");
    let io = |source| {
        Error::Ingest(IngestError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    std::fs::write(&partial, &bytes).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// A piece's cached features and ordering column (see [`write_cache`]).
fn read_cache(path: &Path, model: &Model) -> Result<(Array2<f64>, Vec<f64>), Error> {
    let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |what: &str| {
        Error::Data(format!(
            "{}: not a lloyd-step cache of {} ({what})",
            path.display(),
            cache_label(model).trim_end()
        ))
    };
    let rest = bytes
        .strip_prefix(CACHE_MAGIC)
        .and_then(|rest| rest.strip_prefix(cache_label(model).as_bytes()))
        .ok_or_else(|| bad("another file, model or feature list"))?;
    let word = |at: usize| -> Option<usize> {
        let raw: [u8; 8] = rest.get(at..at + 8)?.try_into().ok()?;
        usize::try_from(u64::from_ne_bytes(raw)).ok()
    };
    let (n, d) = word(0).zip(word(8)).ok_or_else(|| bad("truncated"))?;
    let floats = n.checked_mul(d + 1).ok_or_else(|| bad("too large"))?;
    if d != model.features.len() || rest.len() != 16 + 8 * floats {
        return Err(bad("truncated or of another shape"));
    }
    let values: Vec<f64> = rest[16..]
        .chunks_exact(8)
        .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let mut values = values;
    let order = values.split_off(n * d);
    let raw = Array2::from_shape_vec((n, d), values)
        .map_err(|e| Error::Internal(format!("cache: {e}")))?;
    Ok((raw, order))
}

/// What `lloyd-merge` says.
#[derive(Serialize)]
struct MergeSummary {
    output: String,
    users: u64,
    /// The sum of squared distances of the users to the centres the steps
    /// started from (scaled space).
    inertia: f64,
    /// The summed squared shift of the centres (0 with --rescale).
    shift: f64,
    /// The shift at or under which the fit has converged: `tol` times the
    /// mean variance of the features (scaled space).
    tolerance: f64,
    converged: bool,
}

/// `segmint lloyd-merge`.
pub fn lloyd_merge(args: &LloydMergeArgs, quiet: bool) -> Result<(), Error> {
    let mut read: Vec<&Path> = args.steps.iter().map(|p| p.as_path()).collect();
    read.push(&args.model);
    read.extend(args.init.as_deref());
    let mut outputs = Outputs::plan(&read, &[&args.output])?;
    let (mut model, model_path) = read_model(&args.model)?;
    let MethodModel::KMeans {
        centres,
        tol,
        inertia: model_inertia,
        ..
    } = &mut model.method
    else {
        return Err(Error::Usage(format!(
            "lloyd-merge merges K-Means steps; {model_path} is a {} model",
            model.method.name()
        )));
    };
    let (k, d) = (model.k, model.scaler.mean.len());
    let mut counts = vec![0u64; k];
    let mut sums = vec![vec![0.0f64; d]; k];
    let mut order_sums = vec![0.0f64; k];
    let mut inertia = 0.0;
    let mut points: Option<Moments> = None;
    let mut features: Option<Moments> = None;
    for path in &args.steps {
        let step = read_step(path)?;
        if step.centres != *centres || step.scaler != model.scaler {
            return Err(Error::Data(format!(
                "{}: a step of another model than {model_path} (its centres or scaler differ)",
                path.display()
            )));
        }
        let shaped = step.counts.len() == k
            && step.order_sums.len() == k
            && step.sums.len() == k
            && step.sums.iter().all(|s| s.len() == d)
            && [&step.points, &step.features]
                .iter()
                .all(|m| m.mean.len() == d && m.m2.len() == d);
        if !shaped {
            return Err(Error::Data(format!(
                "{}: expected the sums of {k} segments of {d} features",
                path.display()
            )));
        }
        for c in 0..k {
            counts[c] += step.counts[c];
            order_sums[c] += step.order_sums[c];
            for (sum, v) in sums[c].iter_mut().zip(&step.sums[c]) {
                *sum += v;
            }
        }
        inertia += step.inertia;
        points = Some(points.map_or(step.points.clone(), |m| m.merge(&step.points)));
        features = Some(features.map_or(step.features.clone(), |m| m.merge(&step.features)));
    }
    let (points, features) = (
        points.expect("clap requires a step"),
        features.expect("clap requires a step"),
    );
    let users = points.n;
    let tolerance = *tol * points.variances().sum::<f64>() / d.max(1) as f64;
    let mut shift = 0.0;
    if args.rescale {
        // `--scale none` keeps its identity.
        let scaler = match model.scaling {
            Scaling::Zscore => whole_scaler(&features),
            Scaling::None => model.scaler.clone(),
        };
        let start = match &args.init {
            Some(path) => {
                let rows = read_rows(path, d)?;
                if rows.len() != k * d {
                    return Err(Error::Usage(format!(
                        "{}: {} centres for the {k} segments of {model_path}",
                        path.display(),
                        rows.len() / d
                    )));
                }
                rows.chunks(d).map(<[f64]>::to_vec).collect()
            }
            // The model's centres, carried from its scale into the new one.
            None => centres
                .iter()
                .map(|c| {
                    (0..d)
                        .map(|j| {
                            let raw = model.scaler.mean[j] + c[j] * model.scaler.std[j];
                            match scaler.std[j] {
                                0.0 => 0.0,
                                s => (raw - scaler.mean[j]) / s,
                            }
                        })
                        .collect()
                })
                .collect(),
        };
        *centres = start;
        model.scaler = scaler;
    } else if args.finish {
        // The final centres' labels: segment 0 the highest mean of the
        // ordering column, as a fit numbers them.
        let grid = Array2::from_shape_fn((k, d), |(c, j)| centres[c][j]);
        let rank = ranks_of_sums(&order_sums, &counts, &grid);
        let mut ordered = centres.clone();
        for (c, &r) in rank.iter().enumerate() {
            ordered[r as usize] = centres[c].clone();
        }
        *centres = ordered;
        *model_inertia = inertia;
    } else {
        if let Some(c) = counts.iter().position(|&c| c == 0) {
            return Err(Error::Data(format!(
                "segment {c} of {model_path} has no users: a single-machine fit re-seeds it with the user farthest from its centre, which distributed steps do not; start from other centres"
            )));
        }
        let next: Vec<Vec<f64>> = (0..k)
            .map(|c| (0..d).map(|j| sums[c][j] / counts[c] as f64).collect())
            .collect();
        for (old, new) in centres.iter().zip(&next) {
            shift += old
                .iter()
                .zip(new)
                .map(|(a, b)| (b - a) * (b - a))
                .sum::<f64>();
        }
        *centres = next;
        *model_inertia = inertia;
    }
    let converged = args.finish || (!args.rescale && shift <= tolerance);
    model.users = users as usize;
    model.silhouette = None;
    let result = MergeSummary {
        output: args.output.display().to_string(),
        users,
        inertia,
        shift,
        tolerance,
        converged,
    };
    outputs.write(&args.output, |out| {
        out.write_all(model.to_json().as_bytes())
    })?;
    outputs.commit()?;
    summary(args.format, quiet, false, &result, || {
        format!(
            "{users} users, inertia {inertia:.6e}, shift {shift:.3e} (tolerance {tolerance:.3e}): {} -> {}",
            if args.rescale {
                "rescaled"
            } else if args.finish {
                "finished"
            } else if converged {
                "converged"
            } else {
                "moved"
            },
            result.output
        )
    })
}

/// The scaler of the whole data, from its column statistics, by the
/// single-machine rule (a column whose spread is only rounding is
/// constant: std 0).
fn whole_scaler(features: &Moments) -> Scaler {
    let (mean, std) = features
        .mean
        .iter()
        .zip(features.variances())
        .map(|(&m, v)| {
            let s = v.sqrt();
            let constant = s <= 10.0 * f64::EPSILON * m.abs().max(f64::MIN_POSITIVE);
            (m, if constant { 0.0 } else { s })
        })
        .unzip();
    Scaler { mean, std }
}

fn read_step(path: &Path) -> Result<Step, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let step: Step = serde_json::from_str(&text).map_err(|e| {
        Error::Data(format!(
            "{}: not a result of `segmint lloyd-step` ({e})",
            path.display()
        ))
    })?;
    if step.format != STEP_FORMAT || step.version != 1 {
        return Err(Error::Data(format!(
            "{}: expected a {STEP_FORMAT} file of version 1",
            path.display()
        )));
    }
    Ok(step)
}

fn model_inputs(users: &ModelUsersArgs) -> Vec<&Path> {
    input_paths(
        &users.inputs,
        users
            .features_input
            .as_deref()
            .into_iter()
            .chain([users.model.as_path()]),
    )
}

fn read_model(path: &Path) -> Result<(Model, String), Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((Model::from_bytes(&bytes, &name)?, name))
}

fn read_model_users(
    args: &ModelUsersArgs,
    model: &Model,
    model_path: &str,
    insights: bool,
    quiet: bool,
) -> Result<NumericTable, Error> {
    let users = Users {
        inputs: &args.inputs,
        features_input: args.features_input.as_deref(),
        edges_input: None,
        as_of: args.as_of.as_deref(),
        window_start: args.window_start.as_deref(),
        insights,
    };
    let (table, _, _) = read_users(&users, &inputs(&args.inputs), model, model_path, quiet)?;
    Ok(table)
}

fn write_json(mut outputs: Outputs, path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Internal(format!("a result does not serialise: {e}")))?;
    outputs.write(path, |out| {
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")
    })?;
    outputs.commit()?;
    Ok(())
}
