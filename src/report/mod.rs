//! Writers of results, one per output (README, "Command reference"): the
//! scores CSV ([`scores`]), the sweep table ([`sweep`]), the report's
//! numbers ([`summary`], also its JSON), the HTML page ([`html`], drawing
//! with [`charts`]) and lines for people ([`text`]). `-` as a path is
//! standard output; files are written atomically by [`crate::output`].

pub mod charts;
pub mod html;
pub mod scores;
mod scores_columnar;
pub mod summary;
pub mod sweep;
pub mod text;
pub mod transitions;

use std::path::Path;

use crate::output::{OutputError, Outputs};

use self::summary::Summary;

/// Writes the report page of `summary` to `page` and, when asked, its
/// numbers as JSON to `json`, into the run's outputs.
pub fn write_report(
    outputs: &mut Outputs,
    summary: &Summary,
    page: &Path,
    json: Option<&Path>,
) -> Result<(), OutputError> {
    let html = html::render(summary)
        .map_err(|e| OutputError::Internal(format!("the report's charts: {e}")))?;
    if let Some(path) = json {
        outputs.write(path, |out| out.write_all(summary.to_json().as_bytes()))?;
    }
    outputs.write(page, |out| out.write_all(html.as_bytes()))
}
