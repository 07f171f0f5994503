//! report.html: one self-contained page (inline CSS and SVG, no script, no
//! font or anything else from the network) drawn from a [`Summary`], so
//! that every number on it is one of the JSON summary's.
//!
//! Each section has an `id`, each chart a `figure` with an `id`, and each
//! headline number a `data-value` attribute holding the summary's value,
//! so that tests (and scrapers) can read the page back.

use std::fmt::Write as _;

use super::charts::{self, Bars, Curve, PALETTE, Units};
use super::summary::{LeftOut, Summary};
use super::text::{money, percent, thousands};

/// Sections in page order: (id, heading).
pub const SECTIONS: [(&str, &str); 9] = [
    ("kpis", "Key figures"),
    ("channels", "Channel mix"),
    ("funnel", "Status funnel"),
    ("activity", "When users transact"),
    ("concentration", "Revenue concentration"),
    ("choosing-k", "Choosing the number of segments"),
    ("segments", "Segments"),
    ("rfm", "RFM segments"),
    ("churn", "Churn early warning"),
];

/// Chart ids, for tests: every one is on every page (per-segment
/// heatmaps come in addition).
pub const CHARTS: [&str; 8] = [
    "chart-channels",
    "chart-funnel",
    "chart-heatmap",
    "chart-pareto",
    "chart-elbow",
    "chart-silhouette",
    "chart-segments",
    "chart-churn",
];

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
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.kpi .label { display: block; color: var(--muted); font-size: 13px; }
.kpi .value { display: block; font-size: 24px; font-weight: 600; }
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

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_string(), f)
}

fn signed_percent(v: f64) -> String {
    format!("{:+.0}%", 100.0 * v)
}

/// A number for people, a few significant digits.
fn plain(v: f64) -> String {
    if v.abs() >= 1000.0 {
        money(v).trim_end_matches(".00").to_string()
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn segment_color(s: usize) -> String {
    let c = PALETTE[s % PALETTE.len()];
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

struct Page {
    html: String,
}

impl Page {
    fn section(&mut self, id: &str, body: impl FnOnce(&mut String)) {
        let heading = SECTIONS
            .iter()
            .find(|(s, _)| *s == id)
            .map_or(id, |(_, h)| h);
        let _ = write!(self.html, "<section id=\"{id}\">\n<h2>{heading}</h2>\n");
        body(&mut self.html);
        self.html.push_str("</section>\n");
    }
}

fn figure(out: &mut String, id: &str, svg: &str, caption: &str) {
    let _ = writeln!(
        out,
        "<figure id=\"{id}\">{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
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

/// Renders the page. Fails only if the chart library does.
pub fn render(s: &Summary) -> Result<String, charts::ChartError> {
    let mut page = Page {
        html: String::with_capacity(1 << 20),
    };
    let names = &s.segmentation.names;
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

    // Key figures.
    let k = &s.kpis;
    page.section("kpis", |out| {
        out.push_str("<div class=\"kpis\">\n");
        let mut kpi = |key: &str, label: &str, value: Option<f64>, text: String| {
            let data = value.map_or_else(String::new, |v| format!(" data-value=\"{v}\""));
            let _ = writeln!(
                out,
                "<div class=\"kpi\" data-key=\"{key}\"{data}><span class=\"label\">{label}</span>\
                 <span class=\"value\">{text}</span></div>"
            );
        };
        kpi("users", "Users", Some(k.users as f64), thousands(k.users));
        kpi(
            "transactions",
            "Transactions",
            Some(k.transactions as f64),
            thousands(k.transactions),
        );
        kpi("revenue", "Revenue", Some(k.revenue), money(k.revenue));
        kpi(
            "success_rate",
            "Success rate",
            k.success_rate,
            opt(k.success_rate, percent),
        );
        kpi("arpu", "Revenue per user", Some(k.arpu), money(k.arpu));
        kpi(
            "active_last_7d",
            "Active in the last 7 days",
            Some(k.active_last_7d as f64),
            thousands(k.active_last_7d),
        );
        kpi(
            "dormant_users",
            &format!(
                "Dormant (inactive over {} days)",
                s.churn.thresholds.dormant_days
            ),
            Some(k.dormant_users as f64),
            thousands(k.dormant_users),
        );
        kpi(
            "at_risk_users",
            "Users at risk of churn",
            Some(k.at_risk_users as f64),
            thousands(k.at_risk_users),
        );
        kpi(
            "revenue_at_risk",
            "Revenue of users at risk",
            Some(k.revenue_at_risk),
            money(k.revenue_at_risk),
        );
        out.push_str("</div>\n");
    });

    // Channel mix.
    let channel_names: Vec<String> = s.channels.iter().map(|c| c.channel.clone()).collect();
    let tx_share: Vec<f64> = s.channels.iter().map(|c| c.transaction_share).collect();
    let rev_share: Vec<f64> = s.channels.iter().map(|c| c.revenue_share).collect();
    let channels_svg = charts::horizontal_bars(
        &channel_names,
        &[
            Bars {
                name: "share of transactions",
                values: &tx_share,
                color: PALETTE[0],
            },
            Bars {
                name: "share of revenue",
                values: &rev_share,
                color: PALETTE[1],
            },
        ],
        Units::Percent,
        560,
    )?;
    page.section("channels", |out| {
        out.push_str("<div class=\"row\">\n");
        figure(
            out,
            "chart-channels",
            &channels_svg,
            "Share of transactions and of revenue per channel.",
        );
        table(
            out,
            &[
                "channel",
                "transactions",
                "share",
                "revenue",
                "share",
                "users",
                "success rate",
            ],
            s.channels.iter().map(|c| {
                vec![
                    escape(&c.channel),
                    thousands(c.transactions),
                    percent(c.transaction_share),
                    money(c.revenue),
                    percent(c.revenue_share),
                    thousands(c.users),
                    opt(c.success_rate, percent),
                ]
            }),
        );
        out.push_str("</div>\n");
        if s.channels.is_empty() {
            out.push_str("<p class=\"note\">The input has no channel column.</p>\n");
        }
    });

    // Status funnel.
    let status_names: Vec<String> = s.funnel.iter().map(|f| f.status.clone()).collect();
    let status_share: Vec<f64> = s.funnel.iter().map(|f| f.share).collect();
    let funnel_svg = charts::horizontal_bars(
        &status_names,
        &[Bars {
            name: "share of transactions",
            values: &status_share,
            color: PALETTE[2],
        }],
        Units::Percent,
        560,
    )?;
    page.section("funnel", |out| {
        out.push_str("<div class=\"row\">\n");
        figure(
            out,
            "chart-funnel",
            &funnel_svg,
            "Final status of each transaction, in funnel order.",
        );
        let mut head = vec!["status", "transactions", "share", "success"];
        head.extend(s.channels.iter().map(|c| c.channel.as_str()));
        table(
            out,
            &head,
            s.funnel.iter().map(|f| {
                let mut row = vec![
                    escape(&f.status),
                    thousands(f.transactions),
                    percent(f.share),
                    if f.success { "yes" } else { "no" }.to_string(),
                ];
                row.extend(f.by_channel.iter().map(|&n| thousands(n)));
                row
            }),
        );
        out.push_str("</div>\n");
        if s.funnel.is_empty() {
            out.push_str("<p class=\"note\">The input has no status column.</p>\n");
        }
    });

    // Hour x weekday.
    let heat_svg = charts::heatmap(&s.heatmap, 1100, 250)?;
    let segment_heat: Vec<String> = s
        .segmentation
        .heatmaps
        .iter()
        .map(|m| charts::heatmap(m, 540, 200))
        .collect::<Result<_, _>>()?;
    page.section("activity", |out| {
        figure(
            out,
            "chart-heatmap",
            &heat_svg,
            "Transactions by weekday and hour (UTC), all users; darker is busier.",
        );
        out.push_str("<h3>By segment</h3>\n<div class=\"small-multiples\">\n");
        for (i, svg) in segment_heat.iter().enumerate() {
            figure(
                out,
                &format!("chart-heatmap-segment-{i}"),
                svg,
                &format!("{} (shaded against its own busiest hour)", names[i]),
            );
        }
        out.push_str("</div>\n");
    });

    // Concentration.
    let c = &s.concentration;
    let pareto: Vec<(f64, f64)> = c
        .pareto
        .iter()
        .map(|p| (p.user_share, p.revenue_share))
        .collect();
    let pareto_svg = charts::curve(
        &Curve {
            x_label: "share of users, biggest first",
            y_label: "share of revenue",
            points: &pareto,
            highlight: None,
            color: PALETTE[0],
            x_units: Units::Percent,
            y_units: Units::Percent,
            diagonal: true,
            markers: false,
        },
        560,
        340,
    )?;
    page.section("concentration", |out| {
        out.push_str("<div class=\"row\">\n");
        figure(
            out,
            "chart-pareto",
            &pareto_svg,
            "Cumulative revenue share against users, biggest spenders first; the grey line is an even spread.",
        );
        out.push_str("<div>\n");
        table(
            out,
            &["users", "count", "share of revenue"],
            c.top.iter().map(|t| {
                vec![
                    escape(&t.label),
                    thousands(t.users as u64),
                    format!("<span data-value=\"{}\">{}</span>", t.share, percent(t.share)),
                ]
            }),
        );
        let _ = writeln!(
            out,
            "<p>Gini coefficient of revenue: <strong data-key=\"gini\"{}>{}</strong>. {}</p>",
            c.gini.map_or_else(String::new, |g| format!(" data-value=\"{g}\"")),
            opt(c.gini, |g| format!("{g:.3}")),
            c.users_for_80_percent.map_or_else(String::new, |n| format!(
                "{} of {} users ({}) bring 80% of the revenue.",
                thousands(n as u64),
                thousands(c.users as u64),
                percent(n as f64 / c.users.max(1) as f64)
            )),
        );
        out.push_str("</div>\n</div>\n");
    });

    // Choosing K.
    let sw = &s.sweep;
    let ks: Vec<f64> = sw.ks.iter().map(|&k| k as f64).collect();
    let elbow: Vec<(f64, f64)> = ks.iter().copied().zip(sw.inertia.iter().copied()).collect();
    let silhouette: Vec<(f64, f64)> = ks
        .iter()
        .zip(&sw.silhouette)
        .filter_map(|(&k, s)| Some((k, (*s)?)))
        .collect();
    let elbow_svg = charts::curve(
        &Curve {
            x_label: "K (segments)",
            y_label: "inertia",
            points: &elbow,
            highlight: sw.knee.map(|k| k as f64),
            color: PALETTE[0],
            x_units: Units::Count,
            y_units: Units::Plain,
            diagonal: false,
            markers: true,
        },
        560,
        320,
    )?;
    let silhouette_svg = charts::curve(
        &Curve {
            x_label: "K (segments)",
            y_label: "silhouette",
            points: &silhouette,
            highlight: sw.best_silhouette.map(|k| k as f64),
            color: PALETTE[2],
            x_units: Units::Count,
            y_units: Units::Plain,
            diagonal: false,
            markers: true,
        },
        560,
        320,
    )?;
    let chosen = s.segmentation.k;
    page.section("choosing-k", |out| {
        out.push_str("<div class=\"row\">\n");
        figure(
            out,
            "chart-elbow",
            &elbow_svg,
            &format!(
                "Inertia (within-segment sum of squares) per K; ringed: the knee{}.",
                sw.knee.map_or_else(|| " (none found)".into(), |k| format!(", K = {k}"))
            ),
        );
        figure(
            out,
            "chart-silhouette",
            &silhouette_svg,
            &match sw.best_silhouette {
                Some(k) => format!(
                    "Euclidean silhouette per K (higher separates better); ringed: the best, K = {k}."
                ),
                None => "Euclidean silhouette per K: not computed (--silhouette none).".into(),
            },
        );
        out.push_str("</div>\n");
        let sample = match sw.silhouette_on.iter().flatten().next() {
            None => ": not computed".to_string(),
            Some(&on) if (on as u64) < s.kpis.users => {
                format!(" on a sample of {} users", thousands(on as u64))
            }
            Some(_) => " exact, over all users".to_string(),
        };
        let _ = writeln!(
            out,
            "<p class=\"note\">The report uses K = <strong data-key=\"k\" data-value=\"{chosen}\">{chosen}</strong>. \
             Silhouettes{sample}.</p>"
        );
        table(
            out,
            &[
                "K",
                "inertia",
                "silhouette",
                "Calinski-Harabasz",
                "Davies-Bouldin",
            ],
            (0..sw.ks.len()).map(|i| {
                vec![
                    sw.ks[i].to_string(),
                    plain(sw.inertia[i]),
                    opt(sw.silhouette[i], |v| format!("{v:.3}")),
                    opt(sw.calinski_harabasz[i], plain),
                    opt(sw.davies_bouldin[i], |v| format!("{v:.3}")),
                ]
            }),
        );
    });

    // Segments.
    let seg = &s.segmentation;
    let user_share: Vec<f64> = seg.profiles.iter().map(|p| p.user_share).collect();
    let revenue_share: Vec<f64> = seg.profiles.iter().map(|p| p.revenue_share).collect();
    let segments_svg = charts::horizontal_bars(
        names,
        &[
            Bars {
                name: "share of users",
                values: &user_share,
                color: PALETTE[4],
            },
            Bars {
                name: "share of revenue",
                values: &revenue_share,
                color: PALETTE[1],
            },
        ],
        Units::Percent,
        560,
    )?;
    page.section("segments", |out| {
        let _ = writeln!(
            out,
            "<p class=\"note\">K-Means on {} (z-scored), K = {}{}; segments ranked by mean revenue, highest first.</p>",
            escape(&seg.features.join(", ")),
            seg.k,
            opt(seg.silhouette, |v| format!(", silhouette {v:.3}")),
        );
        figure(
            out,
            "chart-segments",
            &segments_svg,
            "Each segment's share of users and of revenue.",
        );
        // One column per segment, one row per measure: reads down a
        // segment, and stays narrow for any number of features.
        out.push_str("<div class=\"scroll\"><table class=\"profiles\">\n<thead><tr><th>measure</th>");
        for p in &seg.profiles {
            let _ = write!(
                out,
                "<th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>",
                segment_color(p.segment as usize),
                escape(&p.name)
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        let mut measure = |key: &str, label: &str, cells: Vec<String>| {
            let _ = write!(out, "<tr data-key=\"{key}\"><td>{}</td>", escape(label));
            for cell in cells {
                let _ = write!(out, "<td>{cell}</td>");
            }
            out.push_str("</tr>\n");
        };
        let with_value = |v: f64, text: String| format!("<span data-value=\"{v}\">{text}</span>");
        measure(
            "users",
            "users",
            seg.profiles
                .iter()
                .map(|p| with_value(p.users as f64, thousands(p.users)))
                .collect(),
        );
        measure(
            "user_share",
            "share of users",
            seg.profiles.iter().map(|p| percent(p.user_share)).collect(),
        );
        measure(
            "revenue",
            "revenue",
            seg.profiles.iter().map(|p| money(p.revenue)).collect(),
        );
        measure(
            "revenue_share",
            "share of revenue",
            seg.profiles
                .iter()
                .map(|p| with_value(p.revenue_share, percent(p.revenue_share)))
                .collect(),
        );
        let columns: Vec<&str> = seg
            .profiles
            .first()
            .map(|p| p.means.iter().map(|(c, _)| c.as_str()).collect())
            .unwrap_or_default();
        for (j, column) in columns.iter().enumerate() {
            let cells = seg
                .profiles
                .iter()
                .map(|p| {
                    let v = p.means[j].1;
                    match *column {
                        "success_rate" => opt(v, percent),
                        "usage_trend" => opt(v, signed_percent),
                        _ => opt(v, plain),
                    }
                })
                .collect();
            measure(column, &format!("mean {}", column.replace('_', " ")), cells);
        }
        out.push_str("</tbody></table></div>\n");
        out.push_str("<p class=\"note\">Means are per user, in original units.</p>\n");
        out.push_str("<h3>Churn risk by segment</h3>\n");
        let mut head = vec!["segment"];
        let risks: Vec<&str> = seg
            .profiles
            .first()
            .map(|p| p.churn_mix.iter().map(|(r, _)| r.as_str()).collect())
            .unwrap_or_default();
        head.extend(risks.iter().copied());
        table(
            out,
            &head,
            seg.profiles.iter().map(|p| {
                let mut row = vec![escape(&p.name)];
                row.extend(p.churn_mix.iter().map(|(_, n)| thousands(*n)));
                row
            }),
        );
    });

    // RFM.
    page.section("rfm", |out| {
        out.push_str("<div class=\"row\">\n<div class=\"fit\">\n<h3>Users per R x F cell</h3>\n");
        out.push_str("<div class=\"scroll\"><table class=\"grid\">\n<thead><tr><th>R \\ F</th>");
        for f in 1..=5 {
            let _ = write!(out, "<th>F {f}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        let max = s.rfm.grid.iter().flatten().copied().max().unwrap_or(0).max(1);
        for r in (1..=5).rev() {
            let _ = write!(out, "<tr><th>R {r}</th>");
            for f in 1..=5 {
                let n = s.rfm.grid[r - 1][f - 1];
                let alpha = 0.08 + 0.6 * n as f64 / max as f64;
                let _ = write!(
                    out,
                    "<td style=\"background:rgba(0,114,178,{alpha:.2})\" data-value=\"{n}\">{}<br><small>{}</small></td>",
                    thousands(n),
                    escape(crate::insights::rfm::rfm_segment(r as u8, f as u8).name())
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        out.push_str("<p class=\"note\">R 5 = most recent, F 5 = most frequent (quintiles of users).</p>\n</div>\n<div>\n<h3>Named RFM segments</h3>\n");
        table(
            out,
            &["RFM segment", "users", "revenue"],
            s.rfm.segments.iter().map(|r| {
                vec![
                    escape(&r.segment),
                    format!("<span data-value=\"{}\">{}</span>", r.users, thousands(r.users)),
                    money(r.revenue),
                ]
            }),
        );
        out.push_str("</div>\n</div>\n");
    });

    // Churn.
    let ch = &s.churn;
    let risk_names: Vec<String> = ch.risks.iter().map(|r| r.risk.clone()).collect();
    let risk_users: Vec<f64> = ch.risks.iter().map(|r| r.users as f64).collect();
    let churn_svg = charts::horizontal_bars(
        &risk_names,
        &[Bars {
            name: "users",
            values: &risk_users,
            color: PALETTE[5],
        }],
        Units::Count,
        560,
    )?;
    page.section("churn", |out| {
        let t = &ch.thresholds;
        let _ = writeln!(
            out,
            "<p class=\"note\">Rules, first match wins: Critical (top segment, usage trend ≤ {}); \
             Dormant (no transaction for more than {} days); High Risk (Quality Issue) (trend ≤ {} and failure rate ≥ {}); \
             High Risk (Declining) (trend ≤ {}); Moderate Risk (trend ≤ {}); otherwise Safe. \
             The trend compares the last 7 days' daily volume with the days before.</p>",
            signed_percent(t.critical_decline),
            t.dormant_days,
            signed_percent(t.decline),
            percent(t.quality_failure_rate),
            signed_percent(t.decline),
            signed_percent(t.moderate_decline),
        );
        out.push_str("<div class=\"row\">\n");
        figure(out, "chart-churn", &churn_svg, "Users per churn risk.");
        table(
            out,
            &["risk", "users", "revenue"],
            ch.risks.iter().map(|r| {
                vec![
                    escape(&r.risk),
                    format!("<span data-value=\"{}\">{}</span>", r.users, thousands(r.users)),
                    money(r.revenue),
                ]
            }),
        );
        out.push_str("</div>\n");
        let _ = writeln!(
            out,
            "<h3>Users to contact first ({} of {})</h3>",
            ch.at_risk.len(),
            thousands(s.kpis.at_risk_users)
        );
        out.push_str("<div id=\"at-risk\">\n");
        table(
            out,
            &[
                "user",
                "segment",
                "risk",
                "revenue",
                "transactions",
                "days since last",
                "trend",
                "failure rate",
                "why",
            ],
            ch.at_risk.iter().map(|u| {
                vec![
                    escape(&u.user_id),
                    escape(&u.segment),
                    escape(&u.risk),
                    money(u.revenue),
                    thousands(u.transactions),
                    format!("{:.1}", u.recency_days),
                    opt(u.usage_trend, signed_percent),
                    opt(u.failure_rate, percent),
                    format!("<span class=\"text\">{}</span>", escape(&u.reason)),
                ]
            }),
        );
        out.push_str("</div>\n");
    });

    let _ = write!(
        page.html,
        "<footer>{} · {} · as of {}</footer>\n</main>\n</body>\n</html>\n",
        escape(&s.generated_by),
        escape(&s.inputs.join(", ")),
        escape(&s.as_of)
    );
    Ok(page.html)
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
