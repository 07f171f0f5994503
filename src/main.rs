//! The `segmint` binary: parse arguments, run one command, map errors to
//! the exit codes of SPEC section 6 (0 ok, 1 other, 2 usage, 3 bad input
//! data, 4 I/O).

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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
