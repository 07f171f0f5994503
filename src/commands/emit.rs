//! Everything a command prints: summaries for people or as JSON, notes
//! and warnings. Every write is checked (`println!` panics when it
//! fails): a closed pipe ends the run quietly (exit 0), any other failure
//! is an I/O error (exit 4) naming the stream.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

use crate::cli::Format;
use segmint::Error;

/// A line on standard output.
pub fn say(text: impl Display) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| Error::Console {
            stream: "standard output",
            source,
        })
}

/// A line on standard error.
pub fn note(text: impl Display) -> Result<(), Error> {
    let mut out = std::io::stderr().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| Error::Console {
            stream: "standard error",
            source,
        })
}

/// A value as pretty JSON on standard output.
pub fn say_json(value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("a summary does not serialise: {e}")))?;
    say(text)
}

/// A command's summary: `value` as JSON with `--format json`; else `text`
/// for people, on standard output, or on standard error when standard
/// output carries the data (`-o -`), or nowhere with `--quiet`.
pub fn summary(
    format: Format,
    quiet: bool,
    data_on_stdout: bool,
    value: &impl Serialize,
    text: impl FnOnce() -> String,
) -> Result<(), Error> {
    match (format, quiet, data_on_stdout) {
        (Format::Json, ..) => say_json(value),
        (Format::Table, true, _) => Ok(()),
        (Format::Table, false, true) => note(text()),
        (Format::Table, false, false) => say(text()),
    }
}
