//! `segmint generate`: a synthetic log, written atomically.

use std::time::Instant;

use crate::cli::GenerateArgs;
use segmint::Error;
use segmint::generate::{generate, write_truth};
use segmint::output::Outputs;

use super::emit::say;
use segmint::report::text::thousands;

pub fn run(args: &GenerateArgs, quiet: bool) -> Result<(), Error> {
    let params = args.params().map_err(Error::Usage)?;
    let planned: Vec<&std::path::Path> = std::iter::once(args.output.as_path())
        .chain(args.truth_out.as_deref())
        .collect();
    let mut outputs = Outputs::plan(&[], &planned)?;
    let started = Instant::now();
    let mut bytes = 0u64;
    outputs.write(&args.output, |out| {
        let mut counted = Counted {
            inner: out,
            bytes: &mut bytes,
        };
        generate(&params, &mut counted)
    })?;
    if let Some(path) = &args.truth_out {
        outputs.write(path, |out| write_truth(&params, out))?;
    }
    outputs.commit()?;
    if !quiet && args.output.as_os_str() != "-" {
        let seconds = started.elapsed().as_secs_f64();
        say(format_args!(
            "wrote {} transactions of {} users over {} days to {} ({:.1} MB in {:.2} s, {:.0} MB/s)",
            thousands(params.rows),
            thousands(params.users),
            params.days,
            args.output.display(),
            bytes as f64 / 1e6,
            seconds,
            bytes as f64 / 1e6 / seconds.max(1e-9)
        ))?;
    }
    Ok(())
}

/// Counts the bytes written through it.
struct Counted<'a, W: ?Sized> {
    inner: &'a mut W,
    bytes: &'a mut u64,
}

impl<W: std::io::Write + ?Sized> std::io::Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        *self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
