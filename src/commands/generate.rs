//! `segmint generate`: a synthetic log, written atomically.

use std::time::Instant;

use crate::cli::GenerateArgs;
use segmint::Error;
use segmint::generate::generate;
use segmint::output::write_output;

use super::{is_stdout, thousands};

pub fn run(args: &GenerateArgs, quiet: bool) -> Result<(), Error> {
    let params = args.params().map_err(Error::Usage)?;
    let started = Instant::now();
    write_output(&args.output, |out| generate(&params, out))?;
    if !quiet && !is_stdout(&args.output) {
        let bytes = std::fs::metadata(&args.output)
            .map(|m| m.len())
            .unwrap_or(0);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "wrote {} transactions of {} users over {} days to {} ({:.1} MB in {:.2} s, {:.0} MB/s)",
            thousands(params.rows),
            thousands(params.users),
            params.days,
            args.output.display(),
            bytes as f64 / 1e6,
            seconds,
            bytes as f64 / 1e6 / seconds.max(1e-9)
        );
    }
    Ok(())
}
