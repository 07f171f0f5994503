//! One module per subcommand, each an adapter: it takes the arguments
//! `cli` checked, calls the library's pipeline ([`segmint::segment`]) and
//! emits what it returns ([`emit`]); no command imports another. Shared
//! here: the session (where clustering runs), progress displays, reading
//! what to segment, and the warnings every command gives alike.

mod bench;
mod demo;
mod devices;
mod distributed;
mod emit;
mod features;
mod fit;
mod generate;
mod report;
mod score;
mod sweep;
mod transitions;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::emit::note;
use crate::cli::{Cli, ClusterInputArgs, Command, log_options};
use segmint::Error;
use segmint::backend::{Backend, DeviceChoice, GpuBackend, GpuOptions, Workload};
use segmint::cluster::SilhouetteMode;
use segmint::cluster::sweep::EmptyClusters;
use segmint::features::matrix::{FeatureSpec, NumericTable};
use segmint::features::{FeatureOptions, FeatureRows, FeatureTable};
use segmint::graph::GraphSource;
use segmint::ingest::{IngestOptions, IngestReport, Input, ingest, inputs};
use segmint::segment::analysis::Analysis;
use segmint::segment::{
    self, Fitted, InputSchema, KChoice, Method, Prepared, Scaling, SegmentOptions,
};

pub fn run(cli: &Cli) -> Result<(), Error> {
    let started = Instant::now();
    let done = run_command(cli);
    if cli.timings && done.is_ok() {
        print_timings(started.elapsed())?;
    }
    done
}

fn run_command(cli: &Cli) -> Result<(), Error> {
    let session = Session {
        quiet: cli.quiet,
        device: cli.device,
    };
    match &cli.command {
        Command::Demo(args) => demo::run(args, &session),
        Command::Generate(args) => generate::run(args, cli.quiet),
        Command::Features(args) => features::run(args, cli.quiet),
        Command::Sweep(args) => sweep::run(args, &session),
        Command::Fit(args) => fit::run(args, &session),
        Command::Score(args) => score::run(args, &session),
        Command::Report(args) => report::run(args, &session),
        Command::Transitions(args) => transitions::run(args, &session),
        Command::Population(args) => distributed::population(args, cli.quiet),
        Command::LloydStep(args) => distributed::lloyd_step(args, cli.quiet),
        Command::LloydMerge(args) => distributed::lloyd_merge(args, cli.quiet),
        Command::Bench(args) => bench::run(args, &session),
        Command::Devices(args) => devices::run(args, &session),
    }
}

/// The refusal of `--k` with Leiden.
const LEIDEN_K: &str = "--method leiden finds its own number of communities: leave out --k (--resolution gives more or fewer, --min-community-size gathers the small ones)";

/// What every command that clusters needs from the global flags.
pub struct Session {
    pub quiet: bool,
    pub device: DeviceChoice,
}

impl Session {
    /// The backend `--device` asks for, for `work`. `auto` takes the CPU,
    /// with one line on stderr saying why, when there is no usable GPU or
    /// the GPU cannot take the work (too many clusters or features for
    /// its kernels); `gpu` is then an error (exit 1).
    pub fn backend(&self, work: &Workload<'_>) -> Result<Backend, Error> {
        let options = gpu_options()?;
        match self.device {
            DeviceChoice::Cpu => Ok(Backend::Cpu),
            DeviceChoice::Gpu => {
                let gpu = GpuBackend::open(DeviceChoice::Gpu, &options)?;
                gpu.check(work)?;
                Ok(Backend::Gpu(gpu))
            }
            DeviceChoice::Auto => {
                let opened = GpuBackend::open(DeviceChoice::Auto, &options)
                    .and_then(|gpu| gpu.check(work).map(|()| gpu));
                match opened {
                    Ok(gpu) => Ok(Backend::Gpu(gpu)),
                    Err(e) => {
                        if !self.quiet {
                            note(format_args!("segmint: clustering on the CPU: {e}"))?;
                        }
                        Ok(Backend::Cpu)
                    }
                }
            }
        }
    }
}

/// GPU options from the environment: `SEGMINT_ADAPTER` picks the adapter;
/// `SEGMINT_GPU_MAX_BINDING`, `SEGMINT_GPU_MAX_BUFFER` (bytes),
/// `SEGMINT_GPU_MAX_WORKGROUPS` (per dispatch dimension) and
/// `SEGMINT_GPU_MAX_LOOP` (loop iterations per invocation) lower the
/// device's limits: testing aids that make small data take the paths of
/// large data (chunks, run groups, 2D grids, split dispatches).
pub fn gpu_options() -> Result<GpuOptions, Error> {
    fn limit(name: &str) -> Result<Option<u64>, Error> {
        match std::env::var(name) {
            Err(_) => Ok(None),
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&v| v > 0)
                .map(Some)
                .ok_or_else(|| {
                    Error::Usage(format!("{name}={text:?}: expected a positive integer"))
                }),
        }
    }
    Ok(GpuOptions {
        adapter: std::env::var("SEGMINT_ADAPTER")
            .ok()
            .filter(|s| !s.trim().is_empty()),
        max_binding: limit("SEGMINT_GPU_MAX_BINDING")?,
        max_buffer: limit("SEGMINT_GPU_MAX_BUFFER")?,
        max_workgroups: limit("SEGMINT_GPU_MAX_WORKGROUPS")?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
        max_pairs_per_dispatch: None,
        max_loop: limit("SEGMINT_GPU_MAX_LOOP")?,
    })
}

/// A progress bar on stderr; hidden with `--quiet` or when stderr is not a
/// terminal (indicatif checks).
fn progress_bar(total: Option<u64>, quiet: bool, message: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg:>10} {spinner} {bytes} {binary_bytes_per_sec}")
                .expect("valid template"),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.with_message(message)
}

/// A spinner on stderr for a stage without a known length.
fn spinner(quiet: bool, message: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
        ProgressStyle::with_template("{msg:>10} {spinner} {elapsed}").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.with_message(message)
}

/// Runs `f` behind a spinner.
fn behind_spinner<T>(quiet: bool, message: &'static str, f: impl FnOnce() -> T) -> T {
    let bar = spinner(quiet, message);
    let out = timed(message, f);
    bar.finish_and_clear();
    out
}

/// The wall time of each stage of the run so far, in order (`--timings`).
static STAGES: Mutex<Vec<(&'static str, Duration)>> = Mutex::new(Vec::new());

/// Runs `f` as (part of) stage `stage`, timing it for `--timings`.
fn timed<T>(stage: &'static str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    let mut stages = STAGES.lock().unwrap_or_else(|e| e.into_inner());
    match stages.iter_mut().find(|(name, _)| *name == stage) {
        Some((_, total)) => *total += took,
        None => stages.push((stage, took)),
    }
    out
}

/// The `--timings` table on stderr: each stage's wall time and share of
/// the whole run; what no stage covers (starting, model files, summaries)
/// is the last line.
fn print_timings(total: Duration) -> Result<(), Error> {
    let stages = STAGES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let seconds = total.as_secs_f64();
    let mut text = String::from("stage          seconds   share\n");
    let mut covered = 0.0;
    let mut line = |name: &str, s: f64| {
        let share = if seconds > 0.0 {
            100.0 * s / seconds
        } else {
            0.0
        };
        text.push_str(&format!("{name:<12} {s:>9.3} {share:>6.1}%\n"));
    };
    for (name, took) in &stages {
        let s = took.as_secs_f64();
        covered += s;
        line(name, s);
    }
    line("other", (seconds - covered).max(0.0));
    line("total", seconds);
    let mut err = std::io::stderr().lock();
    err.write_all(text.as_bytes())
        .map_err(|source| Error::Console {
            stream: "standard error",
            source,
        })
}

/// Reads logs into finished per-user rows behind a progress bar, then
/// says what was skipped (rows after `--as-of` only when `as_of_asked`:
/// a period's bounds are not the user's).
fn load_feature_rows(
    logs: &[Input],
    options: &IngestOptions,
    features: &FeatureOptions,
    as_of_asked: bool,
    quiet: bool,
) -> Result<(FeatureRows, IngestReport), Error> {
    let total = logs
        .iter()
        .map(|input| {
            if input.is_stdin() {
                None
            } else {
                std::fs::metadata(input.name()).ok().map(|m| m.len())
            }
        })
        .sum::<Option<u64>>();
    let bar = progress_bar(total, quiet, "reading");
    let ingested = timed("reading", || ingest(logs, options, &|n| bar.inc(n)));
    bar.finish_and_clear();
    let ingested = ingested?;
    if !quiet {
        warn_skipped(&ingested.report, as_of_asked)?;
    }
    timed("features", || segment::feature_rows(ingested, features))
}

/// [`load_feature_rows`] into the feature table.
fn load_logs(
    logs: &[Input],
    options: &IngestOptions,
    features: &FeatureOptions,
    as_of_asked: bool,
    quiet: bool,
) -> Result<(FeatureTable, IngestReport), Error> {
    let (rows, report) = load_feature_rows(logs, options, features, as_of_asked, quiet)?;
    Ok((timed("features", || rows.into_table()), report))
}

/// Says how many bad rows were skipped, and rows after `--as-of` when
/// the user set it.
fn warn_skipped(report: &IngestReport, as_of_asked: bool) -> Result<(), Error> {
    if report.skipped_rows > 0 {
        note(format_args!(
            "segmint: skipped {} bad rows; the first ones:",
            report.skipped_rows
        ))?;
        for example in &report.skipped_examples {
            note(format_args!("  {example}"))?;
        }
    }
    if report.rows_after_as_of > 0 && as_of_asked {
        note(format_args!(
            "segmint: left out {} rows after --as-of",
            report.rows_after_as_of
        ))?;
    }
    Ok(())
}

/// Says which features are the same for every user.
fn warn_constant(prepared: &Prepared, quiet: bool) -> Result<(), Error> {
    if quiet {
        return Ok(());
    }
    for spec in prepared.constant_features() {
        note(format_args!(
            "segmint: warning: feature {spec} is the same for every user; it is left at 0"
        ))?;
    }
    Ok(())
}

/// Says which K left segments empty (scikit-learn warns too).
fn warn_empty(empty: &[EmptyClusters], quiet: bool) -> Result<(), Error> {
    if quiet {
        return Ok(());
    }
    for e in empty {
        let why = if e.distinct < e.k {
            format!(
                "the users have only {} distinct feature values (duplicates), fewer than K",
                e.distinct
            )
        } else {
            "no user is nearest to their centres".to_string()
        };
        note(format_args!(
            "segmint: warning: K = {}: {} of the {} segments are empty: {why}",
            e.k, e.empty, e.k
        ))?;
    }
    Ok(())
}

/// The paths of a command's inputs, to check its outputs against.
fn input_paths<'a>(
    inputs: &'a [PathBuf],
    more: impl IntoIterator<Item = &'a Path>,
) -> Vec<&'a Path> {
    inputs.iter().map(PathBuf::as_path).chain(more).collect()
}

/// Logs a command reads twice: standard input and named pipes are copied
/// once into unnamed temporary files.
fn rereadable(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".into(),
        ));
    }
    inputs(paths)
        .into_iter()
        .map(|input| {
            let name = input.display();
            input.rereadable().map_err(|source| Error::Output {
                path: PathBuf::from(format!("a temporary copy of {name}")),
                source,
            })
        })
        .collect()
}

/// What `sweep`, `fit` and `bench` cluster: transaction logs or a feature
/// table, its features picked and scaled; for `method` Leiden, the user
/// graph built and attached (an edge list alone is its own users).
fn prepare(data: &ClusterInputArgs, method: &Method, quiet: bool) -> Result<Prepared, Error> {
    let asked = data.feature_specs()?;
    let source = match method {
        Method::Leiden(params) => Some(&params.source),
        _ => None,
    };
    if let Some(GraphSource::Edges(path)) = source
        && data.inputs.is_empty()
        && data.features_input.is_none()
    {
        if data.key_col.is_some() {
            return Err(Error::Usage(
                "--key-col names the key of a --features-input table; an edge list's ids are its first two columns"
                    .into(),
            ));
        }
        let prepared = behind_spinner(quiet, "graph", || {
            segment::prepare_edges(path, asked, data.scale.into())
        })?;
        warn_constant(&prepared, quiet)?;
        return Ok(prepared);
    }
    // The logs are read again for their counterparties.
    let peers = matches!(source, Some(GraphSource::Peers(_)));
    let logs = if peers {
        rereadable(&data.inputs)?
    } else {
        inputs(&data.inputs)
    };
    let (table, schema, report, options) = match &data.features_input {
        Some(path) => {
            let table = timed("reading", || {
                segment::read_feature_table(
                    path,
                    data.key_col.clone(),
                    data.input.delimiter,
                    data.input.input_format,
                    asked.as_deref(),
                )
            })?;
            let schema = InputSchema::FeatureTable {
                key_col: data.key_col.clone(),
                delimiter: data.input.delimiter.to_string(),
            };
            (table, schema, None, None)
        }
        None => {
            if data.key_col.is_some() {
                return Err(Error::Usage(
                    "--key-col names the key of a --features-input table; for logs use --user-col"
                        .into(),
                ));
            }
            let (options, features) = log_options(&data.input, &data.feature)?;
            let (table, report) =
                load_logs(&logs, &options, &features, options.as_of.is_some(), quiet)?;
            // New users' trends are measured over the fitted users' window.
            let fitted = FeatureOptions {
                trend_days: Some(table.cadence.trend_days),
                ..features
            };
            (
                NumericTable::from_features(&table),
                InputSchema::transactions(&options, &fitted),
                Some(report),
                Some(options),
            )
        }
    };
    let mut prepared = timed("points", || {
        segment::prepare(
            table,
            asked,
            data.scale.into(),
            schema,
            data.features_input.is_some(),
        )
    })?;
    prepared.ingest = report;
    if let Some(source) = source {
        let logs = options.as_ref().map(|o| (logs.as_slice(), o));
        behind_spinner(quiet, "graph", || {
            segment::attach_graph(&mut prepared, source, logs)
        })?;
    }
    warn_constant(&prepared, quiet)?;
    Ok(prepared)
}

/// The backend `--device` gives for fitting `method` over `ks`.
fn backend_for(
    session: &Session,
    prepared: &Prepared,
    method: &Method,
    ks: &[usize],
    silhouette: SilhouetteMode,
) -> Result<Backend, Error> {
    // The graph's work runs on the CPU: no GPU to look for.
    if matches!(method, Method::Leiden(_)) {
        return Ok(Backend::Cpu);
    }
    let points = &prepared.points;
    let work = method.workload(points.n(), points.d(), ks, silhouette);
    session.backend(&work.as_workload())
}

/// Fits `method` over `ks` (see [`segment::fit`]) on the backend
/// `--device` gives, behind a spinner; warns of empty segments.
#[allow(clippy::too_many_arguments)]
fn fit(
    session: &Session,
    prepared: &Prepared,
    method: &Method,
    ks: &[usize],
    k: KChoice,
    options: &SegmentOptions,
    silhouette: SilhouetteMode,
) -> Result<(Backend, Fitted), Error> {
    let backend = backend_for(session, prepared, method, ks, silhouette)?;
    let fitted = behind_spinner(session.quiet, "clustering", || {
        segment::fit(&backend, prepared, method, ks, k, options, silhouette)
    })?;
    warn_empty(&fitted.empty, session.quiet)?;
    Ok((backend, fitted))
}

/// Reads logs, fits `method` on their users and makes the fit a model:
/// the analysis `report` and `demo` write.
fn analyse(
    session: &Session,
    logs: &[Input],
    options: &IngestOptions,
    features: &FeatureOptions,
    asked: Option<Vec<FeatureSpec>>,
    segmenting: &Segmenting,
) -> Result<(Backend, Analysis), Error> {
    let quiet = session.quiet;
    let (table, ingest) = load_logs(logs, options, features, options.as_of.is_some(), quiet)?;
    let fitted = FeatureOptions {
        trend_days: Some(table.cadence.trend_days),
        ..*features
    };
    let mut prepared = timed("points", || {
        segment::prepare(
            NumericTable::from_features(&table),
            asked,
            Scaling::Zscore,
            InputSchema::transactions(options, &fitted),
            false,
        )
    })?;
    if let Method::Leiden(params) = &segmenting.method {
        behind_spinner(quiet, "graph", || {
            segment::attach_graph(&mut prepared, &params.source, Some((logs, options)))
        })?;
    }
    warn_constant(&prepared, quiet)?;
    let ks = match segmenting.method {
        // Leiden finds its own number of communities.
        Method::Leiden(_) => Vec::new(),
        _ => segment::ks_to_sweep(segmenting.k, &segmenting.range, prepared.points.n())?,
    };
    let (backend, fitted) = fit(
        session,
        &prepared,
        &segmenting.method,
        &ks,
        segmenting.k,
        &segmenting.options,
        segmenting.silhouette,
    )?;
    Ok((
        backend,
        Analysis {
            table,
            ingest,
            options: options.clone(),
            prepared,
            fitted,
        },
    ))
}

/// How `report` and `demo` segment: the method, the K (and the range
/// swept beside it), names, churn thresholds and the silhouette.
struct Segmenting {
    method: Method,
    k: KChoice,
    range: Vec<usize>,
    options: SegmentOptions,
    silhouette: SilhouetteMode,
}

/// A headed CSV of numbers, `width` per row, flattened.
pub(super) fn read_rows(path: &Path, width: usize) -> Result<Vec<f64>, Error> {
    let bad = |message: String| {
        Error::Ingest(segmint::ingest::IngestError::Header {
            path: path.to_path_buf(),
            message,
        })
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Ingest(segmint::ingest::IngestError::Io {
            path: path.to_path_buf(),
            source,
        }),
        other => bad(format!("{other:?}")),
    })?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        if record.len() != width {
            return Err(bad(format!(
                "line {}: expected {width} values, found {}",
                i + 2,
                record.len()
            )));
        }
        for field in record.iter() {
            out.push(field.trim().parse::<f64>().map_err(|_| {
                bad(format!(
                    "line {}: expected a number, found {field:?}",
                    i + 2
                ))
            })?);
        }
    }
    if out.is_empty() {
        return Err(bad("expected at least one row".into()));
    }
    Ok(out)
}
