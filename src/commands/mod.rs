//! One module per subcommand; each runs its stages and owns its progress
//! display. Shared here: reading inputs into a feature table.

mod analyse;
mod bench;
mod cluster;
mod demo;
mod devices;
mod features;
mod fit;
mod generate;
mod report;
mod score;
mod sweep;
mod transitions;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Cli, Command, FeatureArgs, InputArgs};
use segmint::Error;
use segmint::backend::{Backend, DeviceChoice, GpuBackend, GpuOptions, Workload};
use segmint::features::{FeatureRows, FeatureTable};
use segmint::ingest::{self, IngestError, IngestOptions, IngestReport, Input};
use segmint::report::html::thousands;

pub fn run(cli: &Cli) -> Result<(), Error> {
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
        Command::Bench(args) => bench::run(args, &session),
        Command::Devices(args) => devices::run(args, &session),
    }
}

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

/// A line on standard output. Every write is checked (`println!` panics
/// when it fails): a closed pipe ends the run quietly (exit 0), any other
/// failure is an I/O error (exit 4).
pub fn say(text: impl std::fmt::Display) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| Error::Console {
            stream: "standard output",
            source,
        })
}

/// A line on standard error, checked like [`say`].
pub fn note(text: impl std::fmt::Display) -> Result<(), Error> {
    let mut out = std::io::stderr().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| Error::Console {
            stream: "standard error",
            source,
        })
}

/// A summary for people: on standard output, or on standard error when
/// standard output carries the data (`-o -`); nothing with `--quiet`.
fn tell(text: impl std::fmt::Display, quiet: bool, data_on_stdout: bool) -> Result<(), Error> {
    match (quiet, data_on_stdout) {
        (true, _) => Ok(()),
        (false, true) => note(text),
        (false, false) => say(text),
    }
}

/// A value as pretty JSON on standard output.
fn say_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("a summary does not serialise: {e}")))?;
    say(text)
}

/// The paths of a command's inputs, to check its outputs against.
fn input_paths<'a>(
    inputs: &'a [PathBuf],
    more: impl IntoIterator<Item = &'a Path>,
) -> Vec<&'a Path> {
    inputs.iter().map(PathBuf::as_path).chain(more).collect()
}

/// Reads the inputs and builds the feature table, with a progress bar.
fn load_features(
    inputs: &[Input],
    input: &InputArgs,
    feature: &FeatureArgs,
    quiet: bool,
) -> Result<(FeatureTable, IngestReport), Error> {
    load_features_with(inputs, input, feature, |_| {}, quiet)
}

/// [`load_features`] with the ingest options adjusted (a period's bounds).
fn load_features_with(
    inputs: &[Input],
    input: &InputArgs,
    feature: &FeatureArgs,
    adjust: impl FnOnce(&mut IngestOptions),
    quiet: bool,
) -> Result<(FeatureTable, IngestReport), Error> {
    let (rows, report) = load_feature_rows(inputs, input, feature, adjust, quiet)?;
    Ok((rows.into_table(), report))
}

/// Reads the inputs into finished per-user rows, with a progress bar
/// (see [`FeatureRows`] for when to stop there).
fn load_feature_rows(
    inputs: &[Input],
    input: &InputArgs,
    feature: &FeatureArgs,
    adjust: impl FnOnce(&mut IngestOptions),
    quiet: bool,
) -> Result<(FeatureRows, IngestReport), Error> {
    let mut options = input.options(feature).map_err(Error::Usage)?;
    adjust(&mut options);
    let feature_options = feature.options(options.as_of).map_err(Error::Usage)?;
    let total = inputs
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
    let result = ingest::ingest(inputs, &options, &|n| bar.inc(n));
    bar.finish_and_clear();
    let ingested = result?;
    let report = ingested.report;
    if !quiet {
        warn_skipped(&report, feature.as_of.is_some())?;
    }
    let rows = FeatureRows::from_aggregate(
        ingested.aggregate,
        ingested.has_channel,
        ingested.has_status,
        &feature_options,
    )
    .ok_or(IngestError::NoRows {
        detail: String::new(),
    })?;
    Ok((rows, report))
}

/// `as_of_asked`: rows after the reference time are worth a word only
/// when the user set it (a period's bounds are set by the command).
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

/// `-` is standard output.
fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}
