//! The sections about the segmentation: choosing K, the segments, RFM and
//! the churn early warning.

use std::fmt::Write as _;

use super::{
    Page, escape, figure, opt, percent_whole, plain, segment_color, signed_percent, table,
};
use crate::report::charts::{self, Bars, ChartError, Curve, PALETTE, Units};
use crate::report::summary::Summary;
use crate::report::text::{days, money, percent, thousands};

/// Choosing K: the elbow and silhouette curves and every metric per K.
pub(super) fn choosing_k(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}

/// Segments: shares, per-segment means and churn mix.
pub(super) fn segments(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let names = &s.segmentation.names;
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
        let method = match (&seg.mixture, &seg.tree) {
            (Some(m), _) => format!("A Gaussian mixture ({} covariances)", m.covariance_type),
            (None, Some(t)) => format!("Agglomerative clustering ({} linkage)", t.linkage),
            (None, None) => "K-Means".to_string(),
        };
        let _ = writeln!(
            out,
            "<p class=\"note\">{method} on {} (z-scored), K = {}{}; segments ranked by mean revenue, highest first.</p>",
            escape(&seg.features.join(", ")),
            seg.k,
            opt(seg.silhouette, |v| format!(", silhouette {v:.3}")),
        );
        segment_cards(out, s);
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
        // A measure no segment has a value of (success rates without a
        // status column) is named under the table, not shown as dashes.
        let mut missing = Vec::new();
        for (j, column) in columns.iter().enumerate() {
            if seg.profiles.iter().all(|p| p.means[j].1.is_none()) {
                missing.push(*column);
                continue;
            }
            let cells = seg
                .profiles
                .iter()
                .map(|p| {
                    let v = p.means[j].1;
                    match *column {
                        "success_rate" => opt(v, percent),
                        "usage_trend" | "cadence_trend" => opt(v, signed_percent),
                        _ => opt(v, plain),
                    }
                })
                .collect();
            measure(column, &format!("mean {}", column.replace('_', " ")), cells);
        }
        out.push_str("</tbody></table></div>\n");
        out.push_str("<p class=\"note\">Means are per user, in original units.");
        if !missing.is_empty() {
            let why: Vec<String> = missing
                .iter()
                .map(|c| {
                    let reason = match *c {
                        "channel_diversity" => "the log has no channel column",
                        "success_rate" => "the log has no status",
                        "usage_trend" | "cadence_trend" => {
                            "no user has earlier days to compare with"
                        }
                        _ => "no user has a value",
                    };
                    format!("{} ({reason})", c.replace('_', " "))
                })
                .collect();
            let _ = write!(
                out,
                " <span data-absent=\"{}\">Not shown: {}.</span>",
                missing.join(" "),
                escape(&why.join("; "))
            );
        }
        out.push_str("</p>\n");
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
    Ok(())
}

/// One card per segment: its name, size and share of revenue, and the
/// two or three traits that set it apart, in words.
fn segment_cards(out: &mut String, s: &Summary) {
    let seg = &s.segmentation;
    out.push_str("<div class=\"segment-cards\">\n");
    for (i, p) in seg.profiles.iter().enumerate() {
        let _ = write!(
            out,
            "<div class=\"segment-card\" data-segment=\"{i}\" style=\"border-left-color:{}\">\
             <h3>{}</h3><p class=\"note\">{} users ({}), {} of revenue</p>",
            segment_color(i),
            escape(&p.name),
            thousands(p.users),
            percent(p.user_share),
            percent(p.revenue_share),
        );
        if p.traits.is_empty() {
            out.push_str(
                "<p class=\"traits-none\">Close to the average of all users on every measure.</p>",
            );
        } else {
            out.push_str("<ul class=\"traits\">");
            for t in &p.traits {
                let _ = write!(
                    out,
                    "<li data-feature=\"{}\" title=\"{}: {} in the segment, {} over all users\">{}</li>",
                    escape(&t.feature),
                    escape(&t.feature.replace('_', " ")),
                    escape(&plain(t.segment_mean)),
                    escape(&plain(t.overall_mean)),
                    escape(&t.text)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
}

/// RFM: the R x F grid and the named RFM segments.
pub(super) fn rfm(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}

/// The churn rules in order, with their thresholds.
fn rules(out: &mut String, s: &Summary) {
    let t = &s.churn.thresholds;
    let p_alive = percent_whole(t.p_alive_risk);
    let rules = [
        (
            "Critical (Top Segment)",
            format!(
                "in the top segment, and a usage trend ≤ {} or P(alive) below {p_alive}",
                signed_percent(t.critical_decline)
            ),
        ),
        (
            "Dormant",
            format!(
                "no transaction for more than {} days and for more than {} of the user's usual {} \
                 between active days (days alone for a user who has not come back yet)",
                days(t.dormant_days),
                days(t.dormant_gaps),
                if t.dormant_gaps == 1.0 { "gap" } else { "gaps" }
            ),
        ),
        (
            "High Risk (Lapsing)",
            format!(
                "P(alive) below {p_alive}, and at least {} usual {} since the last transaction",
                days(t.overdue),
                if t.overdue == 1.0 { "gap" } else { "gaps" }
            ),
        ),
        (
            "High Risk (Quality Issue)",
            format!(
                "usage trend ≤ {} and failure rate ≥ {}",
                signed_percent(t.decline),
                percent_whole(t.quality_failure_rate)
            ),
        ),
        (
            "High Risk (Declining)",
            format!("usage trend ≤ {}", signed_percent(t.decline)),
        ),
        (
            "Moderate Risk",
            format!("usage trend ≤ {}", signed_percent(t.moderate_decline)),
        ),
        ("Safe", "none of the above".to_string()),
    ];
    out.push_str(
        "<p class=\"note\">Each user gets the first rule that matches, in this order:</p>\n<ol class=\"rules\">\n",
    );
    for (risk, rule) in rules {
        let _ = writeln!(out, "<li><strong>{risk}</strong>: {}.</li>", escape(&rule));
    }
    out.push_str("</ol>\n");
    let c = &s.cadence;
    let mut sentence = c.explanation.clone();
    if let Some(first) = sentence.get(..1) {
        sentence.replace_range(..1, &first.to_uppercase());
    }
    let rhythm = match &c.cadence.gaps {
        Some(g) => {
            let gap = |key: &str, v: f64| {
                format!(
                    "<span data-key=\"{key}\" data-value=\"{v}\">{}</span> {}",
                    days(v),
                    if v == 1.0 { "day" } else { "days" }
                )
            };
            let spread = if g.p10 == g.p90 {
                "for at least 80% of them".to_string()
            } else {
                format!(
                    "at the median ({} to {} from the 10th to the 90th percentile)",
                    gap("gap_p10", g.p10),
                    gap("gap_p90", g.p90)
                )
            };
            format!(
                " {} users came back at least once; their usual gap between active days is {} {spread}.",
                thousands(c.cadence.users_with_gap),
                gap("gap_p50", g.p50),
            )
        }
        None => {
            " No user has come back after a first active day, so there is no rhythm to measure."
                .to_string()
        }
    };
    let _ = writeln!(
        out,
        "<p class=\"note\">The usage trend compares a user's activity over the last \
         <span data-key=\"trend_days\" data-value=\"{}\">{}</span> days with their earlier rate, \
         against the whole log's trend over the same days, and counts only when the drop is more \
         than {} standard deviations of noise (of a Poisson count at the user's earlier rate). \
         <span data-key=\"cadence\">{}.</span>{rhythm}</p>",
        c.cadence.trend_days,
        c.cadence.trend_days,
        days(s.churn.thresholds.trend_z),
        escape(sentence.trim_end_matches('.')),
    );
}

/// Churn early warning: the rules, users per risk, users to contact first.
pub(super) fn churn(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    // Without statuses there are no failure rates: no column of dashes.
    let statuses =
        s.kpis.success_rate.is_some() || ch.at_risk.iter().any(|u| u.failure_rate.is_some());
    let p_alive = ch.at_risk.iter().any(|u| u.p_alive.is_some());
    let clv = ch.at_risk.iter().any(|u| u.clv.is_some());
    let overdue = ch.at_risk.iter().any(|u| u.overdue.is_some());
    let fitted = s
        .lifetime
        .as_ref()
        .is_some_and(|l| l.bgnbd.params.is_some());
    page.section("churn", |out| {
        rules(out, s);
        if !fitted {
            out.push_str(
                "<p class=\"note\" data-absent=\"p_alive\">No user has a P(alive), as the lifetime \
                 models were not fitted (see Customer lifetime value): High Risk (Lapsing) cannot fire, \
                 and Critical fires on the usage trend alone.</p>\n",
            );
        }
        if !statuses {
            out.push_str(
                "<p class=\"note\" data-absent=\"status\">The log has no status, so no user has a failure rate and the quality rule cannot fire.</p>\n",
            );
        }
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
        let order = if ch.ranked_by == "clv" {
            "by customer lifetime value: the most value at risk first"
        } else {
            "most urgent risk first, then highest revenue"
        };
        let _ = writeln!(
            out,
            "<h3>Users to contact first ({} of {}), {order}</h3>",
            ch.at_risk.len(),
            thousands(s.kpis.at_risk_users)
        );
        let _ = writeln!(
            out,
            "<div id=\"at-risk\" data-ranked-by=\"{}\">",
            escape(ch.ranked_by)
        );
        let horizon = s.lifetime.as_ref().map_or(0, |l| l.horizon_days);
        let clv_head = format!("CLV ({horizon} days)");
        let mut head = vec!["user", "segment", "risk"];
        if clv {
            head.push(&clv_head);
        }
        if p_alive {
            head.push("P(alive)");
        }
        head.extend(["revenue", "transactions", "days since last"]);
        if overdue {
            head.push("gaps late");
        }
        head.push("trend");
        if statuses {
            head.push("failure rate");
        }
        head.push("why");
        let valued = |key: &str, v: Option<f64>, text: fn(f64) -> String| {
            v.map_or_else(
                || "–".to_string(),
                |x| format!("<span data-key=\"{key}\" data-value=\"{x}\">{}</span>", text(x)),
            )
        };
        table(
            out,
            &head,
            ch.at_risk.iter().map(|u| {
                let mut row = vec![escape(&u.user_id), escape(&u.segment), escape(&u.risk)];
                if clv {
                    row.push(valued("clv", u.clv, money));
                }
                if p_alive {
                    row.push(valued("p_alive", u.p_alive, percent));
                }
                row.extend([
                    money(u.revenue),
                    thousands(u.transactions),
                    format!("{:.1}", u.recency_days),
                ]);
                if overdue {
                    row.push(valued("overdue", u.overdue, |o| format!("{o:.1}")));
                }
                row.push(opt(u.trend, signed_percent));
                if statuses {
                    row.push(opt(u.failure_rate, percent));
                }
                row.push(format!("<span class=\"text\">{}</span>", escape(&u.reason)));
                row
            }),
        );
        out.push_str("</div>\n");
        if overdue {
            out.push_str(
                "<p class=\"note\">Gaps late: days since the last transaction over the user's usual gap \
                 between active days. Trend: the usage trend over the trend window.</p>\n",
            );
        }
    });
    Ok(())
}

/// For a Gaussian mixture: how certain memberships are (the distribution
/// of each user's probability of their own segment, the users below the
/// threshold per segment, and the pairs of segments they sit between).
pub(super) fn certainty(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let seg = &s.segmentation;
    let Some(mixture) = &seg.mixture else {
        return Ok(());
    };
    let c = &mixture.certainty;
    let users: u64 = c.histogram.iter().sum();
    let bins: Vec<String> = (0..c.histogram.len())
        .map(|b| format!("{:.1}-{:.1}", b as f64 / 10.0, (b + 1) as f64 / 10.0))
        .collect();
    let shares: Vec<f64> = c
        .histogram
        .iter()
        .map(|&n| n as f64 / users.max(1) as f64)
        .collect();
    let svg = charts::horizontal_bars(
        &bins,
        &[Bars {
            name: "share of users",
            values: &shares,
            color: PALETTE[0],
        }],
        Units::Percent,
        560,
    )?;
    page.section("certainty", |out| {
        let _ = writeln!(
            out,
            "<p class=\"note\">Each user belongs to every segment with some probability; \
             the segment shown is the most probable one. <strong>{}</strong> users ({}) \
             are below {:.0}% for their own segment: they behave partly like another. \
             Mean probability {:.3}; log-likelihood {:.3} per user, BIC {}, AIC {}.</p>",
            thousands(c.uncertain),
            percent(c.uncertain as f64 / users.max(1) as f64),
            100.0 * c.threshold,
            c.mean_probability,
            mixture.log_likelihood,
            plain(mixture.bic),
            plain(mixture.aic),
        );
        figure(
            out,
            "chart-certainty",
            &svg,
            "Users by the probability of their own segment.",
        );
        table(
            out,
            &["segment", "users below the threshold", "share of the segment"],
            seg.profiles.iter().enumerate().map(|(i, p)| {
                let below = c.uncertain_by_segment.get(i).copied().unwrap_or(0);
                vec![
                    escape(&seg.names[i]),
                    thousands(below),
                    percent(below as f64 / p.users.max(1) as f64),
                ]
            }),
        );
        if !c.pairs.is_empty() {
            out.push_str("<p>Where the uncertain users sit: their segment and the next most probable one.</p>\n");
            table(
                out,
                &["segment", "next most probable", "users"],
                c.pairs.iter().take(10).map(|p| {
                    vec![
                        escape(&seg.names[p.segment]),
                        escape(&seg.names[p.runner_up]),
                        thousands(p.users),
                    ]
                }),
            );
        }
        for r in &mixture.regularisation_raised {
            let _ = writeln!(
                out,
                "<p class=\"note\">{}: its covariance was singular (users with identical features); its regularisation was raised to {:e}.</p>",
                escape(&r.name),
                r.reg_covar
            );
        }
    });
    Ok(())
}

/// For deep embedding clustering: the users in the latent space (a
/// sample, on the two principal axes of the codes, coloured by segment)
/// and how the network's training went.
pub(super) fn latent(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let seg = &s.segmentation;
    let Some(l) = &seg.latent else {
        return Ok(());
    };
    let points: Vec<(f64, f64, usize)> = l
        .points
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y), p.segment as usize))
        .collect();
    let svg = charts::scatter(
        &points,
        &seg.names,
        ("first principal axis", "second principal axis"),
        720,
        460,
    )?;
    page.section("latent", |out| {
        let hidden: Vec<String> = l.hidden.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "<p class=\"note\">Deep embedding clustering: an autoencoder ({} features → {} → {} latent) \
             learnt to reconstruct the users' scaled features over {} epochs (error {} per feature), \
             then K-Means on the latent codes and {} refinement steps{} moved the codes and centres \
             toward confident segments (KL {}; reconstruction weight {}, error {}). \
             Each user is in the segment of the nearest latent centre.</p>",
            seg.features.len(),
            escape(&hidden.join(" → ")),
            l.latent,
            thousands(l.pretrain_epochs as u64),
            super::lifetime::sig(l.pretrained_error),
            thousands(l.steps as u64),
            if l.converged {
                ", until segments stopped changing,"
            } else {
                " (the most allowed)"
            },
            super::lifetime::sig(l.kl),
            plain(l.gamma),
            super::lifetime::sig(l.reconstruction_error),
        );
        figure(
            out,
            "chart-latent",
            &svg,
            &format!(
                "{} users in the latent space, on its two principal axes ({} and {} of the codes' variance), coloured by segment.",
                thousands(l.points.len() as u64),
                percent_whole(l.explained[0]),
                percent_whole(l.explained[1]),
            ),
        );
    });
    Ok(())
}

/// For hierarchical clustering: the top of the tree (a dendrogram of its
/// last merges, each leaf's users, coloured by segment) and, per K of the
/// sweep, the height of its cut beside its silhouette.
pub(super) fn tree(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let seg = &s.segmentation;
    let Some(tree) = &seg.tree else {
        return Ok(());
    };
    let svg = dendrogram_svg(tree, &seg.names);
    page.section("tree", |out| {
        let basis = match tree.micro_clusters {
            Some(m) => format!(
                "built over {} micro-clusters (K-Means), each user in its micro-cluster's branch",
                thousands(m as u64)
            ),
            None => "exact, over every user".into(),
        };
        let _ = writeln!(
            out,
            "<p class=\"note\">Agglomerative clustering, {} linkage, {basis}. \
             Segments split into finer ones further down the tree: each K is a cut of this one tree.</p>",
            escape(tree.linkage)
        );
        figure(
            out,
            "chart-tree",
            &svg,
            &format!(
                "The last {} merges: each leaf a group of users (its size below), coloured by its segment at K = {}; a merge's height is how far apart its two groups were.",
                tree.merges.len(),
                seg.k
            ),
        );
        out.push_str("<p class=\"legend\">");
        for (i, name) in seg.names.iter().enumerate() {
            let _ = write!(
                out,
                "<span style=\"color:{}\">&#9679;</span> {} &nbsp; ",
                segment_color(i),
                escape(name)
            );
        }
        out.push_str("</p>\n");
        let silhouette = |k: usize| {
            s.sweep
                .ks
                .iter()
                .position(|&x| x == k)
                .and_then(|i| s.sweep.silhouette[i])
        };
        table(
            out,
            &[
                "K",
                "merge height ending it",
                "gap below",
                "silhouette",
            ],
            tree.heights.iter().map(|h| {
                vec![
                    if h.k == seg.k {
                        format!("<strong>{}</strong>", h.k)
                    } else {
                        h.k.to_string()
                    },
                    format!("{:.4}", h.height),
                    format!("{:.4}", h.gap),
                    silhouette(h.k).map_or("-".into(), |v| format!("{v:.3}")),
                ]
            }),
        );
    });
    Ok(())
}

/// The dendrogram of a tree's top merges as inline SVG.
fn dendrogram_svg(tree: &crate::insights::tree::TreeSummary, names: &[String]) -> String {
    let (width, height) = (900.0f64, 380.0f64);
    let (left, right, top, bottom) = (64.0, 16.0, 16.0, 78.0);
    let leaves = tree.leaves.len().max(1);
    let step = (width - left - right) / leaves as f64;
    let highest = tree
        .merges
        .iter()
        .map(|m| m.height)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let base = height - bottom;
    let y = |h: f64| base - (h / highest) * (base - top);
    // Each node's x and y: leaves first, then merges.
    let mut x_of: Vec<f64> = (0..tree.leaves.len())
        .map(|j| left + (j as f64 + 0.5) * step)
        .collect();
    let mut y_of: Vec<f64> = vec![base; tree.leaves.len()];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"segment tree\">\n"
    );
    // Height axis: four ticks.
    for t in 0..=4 {
        let h = highest * t as f64 / 4.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#666\">{}</text>",
            width - right,
            left - 6.0,
            y(h) + 4.0,
            plain(h),
            y = y(h),
        );
    }
    for m in &tree.merges {
        let (xl, xr) = (x_of[m.left], x_of[m.right]);
        let (yl, yr, ym) = (y_of[m.left], y_of[m.right], y(m.height));
        let _ = writeln!(
            svg,
            "<path d=\"M{xl:.1},{yl:.1} V{ym:.1} H{xr:.1} V{yr:.1}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.3\"><title>{} users, height {}</title></path>",
            thousands(m.users),
            plain(m.height)
        );
        x_of.push((xl + xr) / 2.0);
        y_of.push(ym);
    }
    for (j, leaf) in tree.leaves.iter().enumerate() {
        let x = x_of[j];
        let name = names.get(leaf.segment as usize).map_or("", String::as_str);
        let _ = writeln!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{base:.1}\" r=\"5\" fill=\"{}\"><title>{}: {} users</title></circle>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-60 {x:.1} {:.1})\" fill=\"#333\">{}</text>",
            segment_color(leaf.segment as usize),
            escape(name),
            thousands(leaf.users),
            base + 14.0,
            base + 14.0,
            thousands(leaf.users),
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"14\" y=\"{:.1}\" font-size=\"11\" fill=\"#666\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">merge height</text>\n</svg>",
        (top + base) / 2.0,
        (top + base) / 2.0
    );
    svg
}

/// A Leiden fit's section: the graph, the modularity, where each
/// segment's edges go (a heatmap table) and the users who bridge segments.
pub(super) fn communities(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let seg = &s.segmentation;
    let Some(c) = &seg.communities else {
        return Ok(());
    };
    let g = &c.graph;
    let source = match g.source {
        "peers" => match &g.peers {
            Some(p) if p.kind == "users" => format!(
                "the transactions between them (column {}, weighted by {})",
                escape(&p.column),
                p.edge_weight
            ),
            Some(p) => format!(
                "the peers they share (column {}; {} peers shared by more than {} users left out)",
                escape(&p.column),
                thousands(p.capped_peers),
                p.max_peer_degree
            ),
            None => "their counterparties".into(),
        },
        "edges" => "the edge list given".into(),
        _ => format!(
            "their {} nearest neighbours in feature space",
            g.knn.unwrap_or(0)
        ),
    };
    page.section("communities", |out| {
        let _ = writeln!(
            out,
            "<p class=\"note\">Users are linked by {source}: {} users, {} edges, {} users without an edge. \
             Leiden ({}, resolution {}) found <strong>{}</strong> communities, modularity <strong>{:.3}</strong>; \
             {} of the edge weight is inside them.{}</p>",
            thousands(g.nodes as u64),
            thousands(g.edges as u64),
            thousands(g.isolated as u64),
            c.objective,
            plain(c.resolution),
            thousands(c.communities as u64),
            c.modularity,
            percent(c.inside_weight_share),
            if c.other_users > 0 {
                format!(
                    " {} users of communities under {} users are gathered in one segment, Other.",
                    thousands(c.other_users as u64),
                    thousands(c.min_community_size as u64)
                )
            } else {
                String::new()
            },
        );
        out.push_str("<h3>Where each segment's edges go</h3>\n");
        out.push_str(
            "<p class=\"note\">Each row: the share of a segment's edge weight that goes to each segment (the diagonal stays inside).</p>\n",
        );
        let names: Vec<String> = seg
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                    segment_color(i),
                    escape(n)
                )
            })
            .collect();
        out.push_str("<div class=\"scroll\"><table id=\"community-matrix\">\n<thead><tr><th>from \\ to</th>");
        for n in &seg.names {
            let _ = write!(out, "<th>{}</th>", escape(n));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (a, row) in c.weights.iter().enumerate() {
            // An edge inside a segment counts at both its ends.
            let total: f64 = row
                .iter()
                .enumerate()
                .map(|(b, &w)| if a == b { 2.0 * w } else { w })
                .sum();
            let _ = write!(out, "<tr><td>{}</td>", names[a]);
            for (b, &w) in row.iter().enumerate() {
                let share = if total > 0.0 {
                    (if a == b { 2.0 * w } else { w }) / total
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "<td style=\"background:rgba(0,114,178,{:.3});color:{}\">{}</td>",
                    share.clamp(0.0, 1.0),
                    if share > 0.5 { "#fff" } else { "inherit" },
                    percent(share)
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        if !c.bridges.is_empty() {
            out.push_str("<h3>Users who bridge segments</h3>\n");
            table(
                out,
                &[
                    "user",
                    "segment",
                    "edge weight to other segments",
                    "share of its edges",
                    "other segments reached",
                ],
                c.bridges.iter().map(|b| {
                    vec![
                        escape(&b.user),
                        names[b.segment as usize].clone(),
                        plain(b.outside_weight),
                        percent(b.outside_share),
                        b.segments_reached.to_string(),
                    ]
                }),
            );
        }
    });
    Ok(())
}
