//! The sections about the log: key figures, channels, statuses, when
//! users transact, and how revenue is concentrated.

use std::fmt::Write as _;

use super::{Page, escape, figure, opt, table};
use crate::report::charts::{self, Bars, ChartError, Curve, PALETTE, Units};
use crate::report::summary::Summary;
use crate::report::text::{money, percent, thousands};

/// Key figures: users, transactions, revenue, success rate, activity, risk.
pub(super) fn kpis(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}

/// Channel mix: each channel's share of transactions and revenue.
pub(super) fn channels(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}

/// Status funnel: final statuses in funnel order, by channel.
pub(super) fn funnel(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
    Ok(())
}

/// When users transact: hour x weekday, for all and per segment.
pub(super) fn activity(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
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
