//! report.html: one self-contained page (inline CSS and SVG, no script, no
//! font or anything else from the network) drawn from a [`Summary`], so
//! that every number on it is one of the JSON summary's.
//!
//! Each section has an `id`, each chart a `figure` with an `id`, and each
//! headline number a `data-value` attribute holding the summary's value,
//! so that tests (and scrapers) can read the page back. Key figures fit
//! their cards at any magnitude (`2.5M`, the full figure as the card's
//! tooltip). A section whose data the log lacks (no channel or status
//! column, no time of day) says so in one sentence, `p.absent` with a
//! `data-absent` naming what is missing, instead of drawing an empty
//! chart.

use std::fmt::Write as _;

mod lifetime;
mod sections;
mod segments;
mod time;

pub use lifetime::LIFETIME_CHART;
pub use time::TRENDS_CHART;

use super::charts::{ChartError, PALETTE};
use super::summary::{LeftOut, Summary};
#[cfg(test)]
use super::text::percent;
use super::text::{NO_NUMBER, money, thousands};

/// Sections in page order: (id, heading).
pub const SECTIONS: [(&str, &str); 12] = [
    ("kpis", "Key figures"),
    ("trends", "Activity over time"),
    ("cohorts", "Retention by acquisition cohort"),
    ("channels", "Channel mix"),
    ("funnel", "Status funnel"),
    ("activity", "When users transact"),
    ("concentration", "Revenue concentration"),
    ("choosing-k", "Choosing the number of segments"),
    ("segments", "Segments"),
    ("rfm", "RFM segments"),
    ("lifetime", "Customer lifetime value"),
    ("churn", "Churn early warning"),
];

/// The section a Gaussian mixture's report adds, after "segments".
pub const MIXTURE_SECTION: (&str, &str) = ("certainty", "How certain memberships are");

/// The section a hierarchical fit's report adds, after "segments".
pub const TREE_SECTION: (&str, &str) = ("tree", "The segment tree");

/// The section a Leiden fit's report adds, after "segments".
pub const COMMUNITY_SECTION: (&str, &str) = ("communities", "Communities in the user graph");

/// The section a deep embedding clustering fit's report adds, after
/// "segments".
pub const LATENT_SECTION: (&str, &str) = ("latent", "The latent space");

/// Chart ids, for tests: every one is on the page of a log with channels,
/// statuses and times of day (per-segment heatmaps come in addition).
/// Without channels there is no `chart-channels`, without statuses no
/// `chart-funnel`, and a log whose transactions are all at one hour (dates
/// without times) has [`WEEKDAY_CHART`] (and `chart-weekdays-segment-N`)
/// instead of the heatmaps. A log of a single week or month has no
/// `chart-trends` (one sentence instead); the CLV per segment
/// ([`LIFETIME_CHART`]) comes in addition where the lifetime models were
/// fitted.
pub const CHARTS: [&str; 9] = [
    "chart-trends",
    "chart-channels",
    "chart-funnel",
    "chart-heatmap",
    "chart-pareto",
    "chart-elbow",
    "chart-silhouette",
    "chart-segments",
    "chart-churn",
];

/// The chart of transactions per weekday that replaces the hour x
/// weekday heatmap for a log without times of day.
pub const WEEKDAY_CHART: &str = "chart-weekdays";

const STYLE: &str = r#"
:root { --ink: #282828; --muted: #666; --line: #e1e1e1; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f6f7f9; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
.meta { color: var(--muted); margin: 0; font-size: 14px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 22px; margin-top: 20px; }
h2 { margin: 0 0 12px; font-size: 20px; }
h3 { margin: 14px 0 6px; font-size: 15px; }
.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.absent { color: var(--muted); margin: 0; }
code { font-size: 0.92em; background: #f1f2f4; padding: 0 3px; border-radius: 3px; white-space: nowrap; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(160px, 100%), 1fr)); gap: 12px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 0;
  overflow: hidden; container-type: inline-size; }
.kpi .label { display: block; color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.kpi .value { display: block; font-weight: 600; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; font-variant-numeric: tabular-nums;
  font-size: 24px; font-size: clamp(14px, 17cqi, 24px); }
.lifetime-figures { margin: 10px 0; }
.kpi .why { display: block; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.row > * { flex: 1 1 360px; min-width: 0; }
.row > figure { flex: 0 1 480px; }
.row > .fit { flex: 0 1 auto; }
figure { margin: 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; margin-top: 6px; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.text { display: inline-block; min-width: 260px; text-align: left; white-space: normal; }
thead th { background: #fafafa; font-weight: 600; }
.scroll { overflow-x: auto; }
.grid td { text-align: center; min-width: 92px; }
.small-multiples { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
#at-risk td:nth-child(-n+3), #at-risk th:nth-child(-n+3), #at-risk td:last-child, #at-risk th:last-child { text-align: left; }
#at-risk th { white-space: normal; vertical-align: bottom; }
#at-risk th, #at-risk td { padding: 4px 7px; }
#at-risk .text { min-width: 220px; }
#lifetime-models th:last-child, #lifetime-models td:last-child { text-align: left; }
#lifetime-models td { vertical-align: top; }
details.figures > summary { cursor: pointer; color: var(--accent); font-size: 13px; margin-top: 8px; }
table.cohorts th, table.cohorts td { padding: 3px 6px; min-width: 48px; text-align: center;
  font-variant-numeric: tabular-nums; }
table.cohorts td:nth-child(-n+2), table.cohorts th:nth-child(-n+2) { text-align: left; min-width: 0; }
table.cohorts td:nth-child(2) { text-align: right; }
table.cohorts td.counting { outline: 1px dashed var(--accent); outline-offset: -3px; }
.segment-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(240px, 100%), 1fr));
  gap: 12px; margin: 10px 0 14px; }
.segment-card { border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: 8px 12px; min-width: 0; }
.segment-card h3 { margin: 0 0 2px; }
.segment-card ul { margin: 6px 0 0; padding-left: 18px; }
.segment-card li { margin: 2px 0; overflow-wrap: anywhere; }
ol.rules { margin: 4px 0 8px; padding-left: 22px; font-size: 14px; }
ol.rules li { margin: 2px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; text-align: center; }
"#;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_string(), f)
}

pub(super) fn signed_percent(v: f64) -> String {
    format!("{:+.0}%", 100.0 * v)
}

/// A fraction as a percentage to at most one decimal, for thresholds:
/// 0.5 -> `50%`, 0.125 -> `12.5%`.
pub(super) fn percent_whole(v: f64) -> String {
    format!("{}%", super::text::days(100.0 * v))
}

/// A number for people, a few significant digits.
pub(super) fn plain(v: f64) -> String {
    if !v.is_finite() {
        NO_NUMBER.to_string()
    } else if v.abs() >= 1000.0 {
        money(v).trim_end_matches(".00").to_string()
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(super) fn segment_color(s: usize) -> String {
    let c = PALETTE[s % PALETTE.len()];
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

pub(super) struct Page {
    html: String,
}

impl Page {
    pub(super) fn section(&mut self, id: &str, body: impl FnOnce(&mut String)) {
        let heading = SECTIONS
            .iter()
            .chain([
                &MIXTURE_SECTION,
                &TREE_SECTION,
                &COMMUNITY_SECTION,
                &LATENT_SECTION,
            ])
            .find(|(s, _)| *s == id)
            .map_or(id, |(_, h)| h);
        let _ = write!(self.html, "<section id=\"{id}\">\n<h2>{heading}</h2>\n");
        body(&mut self.html);
        self.html.push_str("</section>\n");
    }
}

pub(super) fn figure(out: &mut String, id: &str, svg: &str, caption: &str) {
    let _ = writeln!(
        out,
        "<figure id=\"{id}\">{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

/// What a section says instead of a chart when the log lacks its data:
/// one sentence (markup allowed: the caller escapes), `what` naming what
/// is missing (`channel`, `status`, `hour`).
pub(super) fn absent(out: &mut String, what: &str, sentence: &str) {
    let _ = writeln!(
        out,
        "<p class=\"absent\" data-absent=\"{what}\">{sentence}</p>"
    );
}

pub(super) fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            // Cells are escaped by the caller (some carry markup).
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// "1 row", "2,500 rows".
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// The rows the numbers leave out, for the header: nothing when none is.
fn left_out(l: &LeftOut) -> String {
    let mut text = String::new();
    if l.skipped_rows > 0 {
        let first = l
            .skipped_examples
            .first()
            .map_or(String::new(), |e| format!(" (the first: {})", escape(e)));
        let _ = write!(
            text,
            " <span class=\"left-out\" data-key=\"skipped_rows\" data-value=\"{}\">{} skipped (--skip-bad-rows){first}.</span>",
            l.skipped_rows,
            count(l.skipped_rows, "bad row was", "bad rows were")
        );
    }
    if l.rows_after_as_of > 0 {
        let _ = write!(
            text,
            " <span class=\"left-out\" data-key=\"rows_after_as_of\" data-value=\"{}\">{} after the reference time left out.</span>",
            l.rows_after_as_of,
            count(l.rows_after_as_of, "row", "rows")
        );
    }
    text
}

/// Renders the page, one section after another. Fails only if the chart
/// library does.
pub fn render(s: &Summary) -> Result<String, ChartError> {
    let mut page = Page {
        html: String::with_capacity(1 << 20),
    };
    header(&mut page, s);
    for section in [
        sections::kpis,
        time::trends,
        time::cohorts,
        sections::channels,
        sections::funnel,
        sections::activity,
        sections::concentration,
        segments::choosing_k,
        segments::segments,
        segments::certainty,
        segments::tree,
        segments::communities,
        segments::latent,
        segments::rfm,
        lifetime::lifetime,
        segments::churn,
    ] {
        section(&mut page, s)?;
    }
    let _ = write!(
        page.html,
        "<footer>{} · {} · as of {}</footer>\n</main>\n</body>\n</html>\n",
        escape(&s.generated_by),
        escape(&s.inputs.join(", ")),
        escape(&s.as_of)
    );
    Ok(page.html)
}

/// The page's head, style and header: what the numbers cover.
fn header(page: &mut Page, s: &Summary) {
    let _ = write!(
        page.html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Customer segments — segmint report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>Customer segments</h1>\n<p class=\"meta\">{} users, {} transactions from {}; \
         observation window {} days from {} to {} (UTC).{}</p></header>\n",
        thousands(s.kpis.users),
        thousands(s.kpis.transactions),
        escape(&s.inputs.join(", ")),
        s.window_days,
        &s.window_start[..10.min(s.window_start.len())],
        escape(&s.as_of),
        left_out(&s.left_out),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_expect() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(money(1234.5), "1,234.50");
        assert_eq!(money(-0.005), "-0.01");
        assert_eq!(money(0.0), "0.00");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
