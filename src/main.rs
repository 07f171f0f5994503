//! The `segmint` binary: parse arguments, run one command, map errors to
//! the exit codes of SPEC section 6 (0 ok, 1 other, 2 usage, 3 bad input
//! data, 4 I/O).

mod cli;
mod commands;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use segmint::backend::DeviceChoice;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let _runtime_dir = (cli.device != DeviceChoice::Cpu && cli.command.may_use_gpu())
        .then(runtime_dir)
        .flatten();
    if let Some(threads) = cli.threads {
        if threads == 0 {
            eprintln!("segmint: error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        // Only fails if a pool already exists, which it cannot here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    match commands::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            // Messages already name their cause (file, line, column, value).
            eprintln!("segmint: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Mesa's Vulkan drivers (lavapipe among them) print "XDG_RUNTIME_DIR is
/// invalid or not set" on stderr for every Vulkan instance when that
/// variable is missing, as in cron jobs and containers. When it is, this
/// process gets a private one (mode 0700, removed at exit) before wgpu
/// looks for adapters.
fn runtime_dir() -> Option<tempfile::TempDir> {
    let valid = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir());
    if valid {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("segmint-runtime-")
        .tempdir()
        .ok()?;
    // SAFETY: this runs first in main, before any thread is started (the
    // rayon pool included), so nothing reads the environment concurrently.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    Some(dir)
}
