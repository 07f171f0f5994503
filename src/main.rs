//! The `segmint` binary: parse the arguments ([`cli`]), run one command
//! ([`commands`]: each parses nothing more, calls the library's pipeline,
//! `segmint::segment`, and writes what it returns), and map errors to the
//! exit codes of the README's "Bad input and exit codes" (0 ok, 1 other,
//! 2 usage, 3 bad input data, 4 I/O), naming flags where the library
//! names parameters.

#![warn(clippy::undocumented_unsafe_blocks)]

mod cli;
mod commands;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use segmint::backend::DeviceChoice;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let _runtime_dir = (cli.device != DeviceChoice::Cpu && cli.command.may_use_gpu())
        .then(runtime_dir)
        .flatten();
    let threads = match thread_count(cli.threads, cli.quiet) {
        Ok(threads) => threads,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "segmint: error: {message}");
            return ExitCode::from(2);
        }
    };
    // candle (the autoencoder of --method dec) asks RAYON_NUM_THREADS how
    // many threads each matrix product may use, else counts the CPUs: it
    // must follow --threads too.
    // SAFETY: no other thread has started yet (the rayon pool and the
    // signal thread start below), so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    remove_temporary_files_on_signals();
    // Only fails if a pool already exists, which it cannot here.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    match commands::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            // Messages already name their cause (file, line, column, value).
            // Standard error may itself be what failed: nothing to add then.
            let _ = writeln!(std::io::stderr(), "segmint: error: {}", cli::describe(&e));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Help and version (exit 0) go to standard output, mistakes (exit 2) to
/// standard error; a help text that cannot be written is an I/O error,
/// unless the reader closed the pipe.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let code = e.exit_code();
    match e.print() {
        Ok(()) => ExitCode::from(code as u8),
        Err(_) if code != 0 => ExitCode::from(code as u8),
        Err(io) if io.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(4),
    }
}

/// The worker threads: `--threads`, else `RAYON_NUM_THREADS`, else one per
/// core. More than the cores is never faster for this work, and thousands
/// of idle workers cost seconds to start: such a count is cut to the cores,
/// saying so.
fn thread_count(asked: Option<usize>, quiet: bool) -> Result<usize, String> {
    let from_env = || {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (threads, source) = match asked {
        Some(0) => return Err("--threads must be at least 1".into()),
        Some(n) => (n, "--threads"),
        None => match from_env() {
            Some(n) => (n, "RAYON_NUM_THREADS"),
            None => return Ok(cores),
        },
    };
    let threads = if threads > cores {
        if !quiet {
            let _ = writeln!(
                std::io::stderr(),
                "segmint: {source} {threads}: this machine has {cores} cores; using {cores} threads"
            );
        }
        cores
    } else {
        threads
    };
    Ok(threads)
}

/// On SIGINT, SIGTERM or SIGHUP, removes the temporary files of the
/// outputs in progress (where they have names), then ends the process as
/// the signal would have.
#[cfg(unix)]
fn remove_temporary_files_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("segmint-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Held to the end: no temporary file is made or renamed
                // after this.
                let _held = segmint::output::remove_temporary_files();
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        });
}

#[cfg(not(unix))]
fn remove_temporary_files_on_signals() {}

/// Mesa's Vulkan drivers (lavapipe among them) print "XDG_RUNTIME_DIR is
/// invalid or not set" on stderr for every Vulkan instance when that
/// variable is missing, as in cron jobs and containers. When it is, this
/// process gets a private one (mode 0700, removed at exit, and on the
/// signals above) before wgpu looks for adapters.
fn runtime_dir() -> Option<tempfile::TempDir> {
    let valid = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir());
    if valid {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("segmint-runtime-")
        .tempdir()
        .ok()?;
    segmint::output::remove_on_interrupt(dir.path());
    // SAFETY: this runs first in main, before any other thread is started
    // (the rayon pool and the signal thread included), so nothing reads
    // the environment concurrently.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    Some(dir)
}
