//! The sections about the log: key figures, channels, statuses, when
//! users transact, and how revenue is concentrated.

use std::fmt::Write as _;

use super::{Page, absent, escape, figure, opt, table};
use crate::insights::activity::{HourWeekday, WEEKDAYS};
use crate::report::charts::{self, Bars, ChartError, Curve, PALETTE, Units};
use crate::report::summary::Summary;
use crate::report::text::{
    NO_NUMBER, compact_count, compact_money, compact_whole, money, percent, thousands,
};

/// How a key figure reads on its card.
pub(super) enum Figure {
    /// A count: in full below 10,000, abbreviated from it.
    Count(u64),
    /// Money: in full with cents below 10,000, abbreviated from it.
    Money(f64),
    /// A quantity a model estimates (expected transactions): in whole
    /// units below 10,000, abbreviated from it.
    Amount(f64),
    /// A fraction, as a percentage; none, and why, when the log has no
    /// data for it.
    Rate(Option<f64>, &'static str),
}

/// One key figure's card: the label, the value as it fits the card, and
/// the exact value in `data-value` with the full figure as its tooltip.
pub(super) fn kpi(out: &mut String, key: &str, label: &str, figure: Figure) {
    let (value, text, full, why) = match figure {
        Figure::Count(n) => (Some(n as f64), compact_count(n), thousands(n), None),
        Figure::Money(v) => (Some(v), compact_money(v), money(v), None),
        Figure::Amount(v) => (Some(v), compact_whole(v), money(v), None),
        Figure::Rate(Some(r), _) => (Some(r), percent(r), format!("{:.2}%", 100.0 * r), None),
        Figure::Rate(None, why) => (None, NO_NUMBER.to_string(), String::new(), Some(why)),
    };
    let mut attributes = String::new();
    if let Some(v) = value.filter(|v| v.is_finite()) {
        let _ = write!(
            attributes,
            " data-value=\"{v}\" title=\"{}\"",
            escape(&full)
        );
    }
    let why = why.map_or_else(String::new, |w| {
        format!("<span class=\"why\">{}</span>", escape(w))
    });
    let _ = writeln!(
        out,
        "<div class=\"kpi\" data-key=\"{key}\"{attributes}><span class=\"label\">{}</span>\
         <span class=\"value\">{}</span>{why}</div>",
        escape(label),
        escape(&text)
    );
}

/// Key figures: users, transactions, revenue, success rate, activity, risk.
pub(super) fn kpis(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let k = &s.kpis;
    page.section("kpis", |out| {
        out.push_str("<div class=\"kpis\">\n");
        kpi(out, "users", "Users", Figure::Count(k.users));
        kpi(
            out,
            "transactions",
            "Transactions",
            Figure::Count(k.transactions),
        );
        kpi(out, "revenue", "Revenue", Figure::Money(k.revenue));
        kpi(
            out,
            "success_rate",
            "Success rate",
            Figure::Rate(k.success_rate, "no status in the log"),
        );
        kpi(out, "arpu", "Revenue per user", Figure::Money(k.arpu));
        kpi(
            out,
            "active_last_7d",
            "Active in the last 7 days",
            Figure::Count(k.active_last_7d),
        );
        if k.recent_days != 7 {
            kpi(
                out,
                "active_recent",
                &format!(
                    "Active in the last {} days (the trend window)",
                    k.recent_days
                ),
                Figure::Count(k.active_recent),
            );
        }
        kpi(
            out,
            "dormant_users",
            &format!(
                "Dormant (inactive over {} days)",
                s.churn.thresholds.dormant_days
            ),
            Figure::Count(k.dormant_users),
        );
        kpi(
            out,
            "at_risk_users",
            "Users at risk of churn",
            Figure::Count(k.at_risk_users),
        );
        kpi(
            out,
            "revenue_at_risk",
            "Revenue of users at risk",
            Figure::Money(k.revenue_at_risk),
        );
        if let Some(l) = &s.lifetime {
            if let Some(clv) = l.clv {
                kpi(
                    out,
                    "clv",
                    &format!("Lifetime value, next {} days", l.horizon_days),
                    Figure::Money(clv),
                );
            }
            if let Some(v) = l.value_at_risk {
                kpi(
                    out,
                    "value_at_risk",
                    &format!(
                        "Value at risk (CLV of users at risk, {} days)",
                        l.horizon_days
                    ),
                    Figure::Money(v),
                );
            }
        }
        out.push_str("</div>\n");
    });
    Ok(())
}

/// Whether the log had a channel column: its users then have a channel
/// diversity (0 when every row's channel is empty).
fn has_channel_column(s: &Summary) -> bool {
    s.segmentation.profiles.iter().any(|p| {
        p.means
            .iter()
            .any(|(c, v)| c == "channel_diversity" && v.is_some())
    })
}

/// Channel mix: each channel's share of transactions and revenue; one
/// sentence when the log has no channels.
pub(super) fn channels(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    if s.channels.is_empty() {
        let sentence = if has_channel_column(s) {
            "The log's channel column is empty on every row, so there is no channel mix."
        } else {
            "The log has no channel column, so there is no channel mix: name one with \
             <code>--channel-col</code> to see each channel's transactions, revenue and users."
        };
        page.section("channels", |out| absent(out, "channel", sentence));
        return Ok(());
    }
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
    // Without statuses no channel has a success rate: no column of dashes.
    let rates = s.channels.iter().any(|c| c.success_rate.is_some());
    page.section("channels", |out| {
        out.push_str("<div class=\"row\">\n");
        figure(
            out,
            "chart-channels",
            &channels_svg,
            "Share of transactions and of revenue per channel.",
        );
        let mut head = vec![
            "channel",
            "transactions",
            "share",
            "revenue",
            "share",
            "users",
        ];
        if rates {
            head.push("success rate");
        }
        table(
            out,
            &head,
            s.channels.iter().map(|c| {
                let mut row = vec![
                    escape(&c.channel),
                    thousands(c.transactions),
                    percent(c.transaction_share),
                    money(c.revenue),
                    percent(c.revenue_share),
                    thousands(c.users),
                ];
                if rates {
                    row.push(opt(c.success_rate, percent));
                }
                row
            }),
        );
        out.push_str("</div>\n");
    });
    Ok(())
}

/// Status funnel: final statuses in funnel order, by channel; one
/// sentence when the log has no statuses.
pub(super) fn funnel(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    if s.funnel.is_empty() {
        page.section("funnel", |out| {
            absent(
                out,
                "status",
                "The log has no status column (or no status in it), so there is no status funnel: \
                 name one with <code>--status-col</code> (and its successes with \
                 <code>--success-status</code>) to see where transactions end and how many succeed.",
            );
        });
        return Ok(());
    }
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
    });
    Ok(())
}

/// The one UTC hour that every transaction falls in, when there is one
/// (and a transaction at all): a log of dates without times of day, read
/// as midnights, has every transaction at 0h, and an hour axis would say
/// nothing.
pub fn single_hour(map: &HourWeekday) -> Option<usize> {
    let busy: Vec<usize> = (0..24)
        .filter(|&h| map.iter().any(|day| day[h] > 0))
        .collect();
    match busy[..] {
        [hour] => Some(hour),
        _ => None,
    }
}

/// Transactions per weekday, Monday first.
fn per_weekday(map: &HourWeekday) -> Vec<f64> {
    map.iter()
        .map(|day| day.iter().sum::<u64>() as f64)
        .collect()
}

/// When users transact: hour x weekday, for all and per segment; per
/// weekday alone when every transaction is at the same hour (a log of
/// dates without times).
pub(super) fn activity(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    if let Some(hour) = single_hour(&s.heatmap) {
        return weekdays(page, s, hour);
    }
    let names = &s.segmentation.names;
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
    Ok(())
}

/// When users transact, for a log whose transactions are all at one hour
/// (`hour`): transactions per weekday, for all and per segment.
fn weekdays(page: &mut Page, s: &Summary, hour: usize) -> Result<(), ChartError> {
    let names = &s.segmentation.names;
    let all = charts::columns(
        &WEEKDAYS,
        &per_weekday(&s.heatmap),
        PALETTE[0],
        Units::Count,
        1100,
        260,
    )?;
    let by_segment: Vec<String> = s
        .segmentation
        .heatmaps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            charts::columns(
                &WEEKDAYS,
                &per_weekday(m),
                PALETTE[i % PALETTE.len()],
                Units::Count,
                540,
                220,
            )
        })
        .collect::<Result<_, _>>()?;
    let why = if hour == 0 {
        "The log gives dates without times of day (every transaction is at 00:00 UTC)".to_string()
    } else {
        format!("Every transaction of the log is in the same hour, {hour}h UTC")
    };
    page.section("activity", |out| {
        absent(
            out,
            "hour",
            &format!("{why}, so transactions are shown per weekday, without an hour of the day."),
        );
        figure(
            out,
            "chart-weekdays",
            &all,
            "Transactions per weekday (UTC), all users.",
        );
        out.push_str("<h3>By segment</h3>\n<div class=\"small-multiples\">\n");
        for (i, svg) in by_segment.iter().enumerate() {
            figure(
                out,
                &format!("chart-weekdays-segment-{i}"),
                svg,
                &format!("{}: transactions per weekday (its own scale)", names[i]),
            );
        }
        out.push_str("</div>\n");
    });
    Ok(())
}

/// Revenue concentration: the Pareto curve, top users, Gini.
pub(super) fn concentration(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}
