//! The sections about the log over time: revenue, transactions and
//! active users per week or month, and monthly acquisition cohorts'
//! retention.

use std::fmt::Write as _;

use super::{Page, absent, escape, figure, table};
use crate::features::calendar::{Cohort, PeriodKind};
use crate::report::charts::{self, ChartError, PALETTE, Panel, PeriodTick};
use crate::report::summary::{Summary, TrendPeriod};
use crate::report::text::{MONTHS, date_words, money, percent, thousands};
use crate::values::time::days_from_civil;

/// The chart of revenue, transactions and active users per period.
pub const TRENDS_CHART: &str = "chart-trends";

/// `YYYY-MM` or `YYYY-MM-DD` as (year, month, day); day 1 when absent.
fn ymd(date: &str) -> Option<(i64, i64, i64)> {
    let mut parts = date.get(..10.min(date.len()))?.split('-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    Some((year, month, day))
}

/// Days in the month of `year`-`month`.
fn month_days(year: i64, month: i64) -> Option<i64> {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Some(days_from_civil(next_year, next_month, 1)? - days_from_civil(year, month, 1)?)
}

/// The days a period has in full: 7 for a week, its month's length.
fn period_days(kind: PeriodKind, start: &str) -> Option<i64> {
    match kind {
        PeriodKind::Week => Some(7),
        PeriodKind::Month => {
            let (year, month, _) = ymd(start)?;
            month_days(year, month)
        }
    }
}

fn unit(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Week => "week",
        PeriodKind::Month => "month",
    }
}

/// A period in words: `week of 31 Mar 2025`, `Mar 1997`.
fn period_name(kind: PeriodKind, start: &str) -> String {
    match kind {
        PeriodKind::Week => format!("week of {}", date_words(start)),
        PeriodKind::Month => date_words(&start[..7.min(start.len())]),
    }
}

/// `6 of 7 days` for a partial period.
fn coverage(kind: PeriodKind, p: &TrendPeriod) -> String {
    match period_days(kind, &p.start) {
        Some(days) => format!("{} of {days} days", p.days_observed),
        None => format!("{} days", p.days_observed),
    }
}

fn tick(kind: PeriodKind, p: &TrendPeriod) -> PeriodTick {
    let (year, month, day) = ymd(&p.start).unwrap_or((0, 1, 1));
    let month_name = MONTHS[(month.clamp(1, 12) - 1) as usize];
    PeriodTick {
        label: match kind {
            PeriodKind::Week => format!("{day} {month_name}"),
            PeriodKind::Month => month_name.to_string(),
        },
        year: year.to_string(),
        name: period_name(kind, &p.start),
        partial: p.partial.then(|| coverage(kind, p)),
    }
}

/// A number cell with the summary's value in `data-value`.
fn cell(key: &str, value: f64, text: String) -> String {
    format!("<span data-key=\"{key}\" data-value=\"{value}\">{text}</span>")
}

/// Activity over time: revenue, transactions and active users per week
/// or month, partial periods marked; one sentence for a log of one
/// period or none.
pub(super) fn trends(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let t = &s.trends;
    let kind = t.period;
    let unit = unit(kind);
    if t.periods.len() < 2 {
        page.section("trends", |out| match t.periods.first() {
            None => absent(
                out,
                "periods",
                "The log has no transactions, so there is nothing to follow over time.",
            ),
            Some(p) => absent(
                out,
                "periods",
                &format!(
                    "The log spans a single {unit} ({}), so there is no trend to draw: \
                     revenue {}, {} transactions, {} active users.",
                    escape(&period_name(kind, &p.start)),
                    cell("revenue", p.revenue, money(p.revenue)),
                    cell(
                        "transactions",
                        p.transactions as f64,
                        thousands(p.transactions)
                    ),
                    cell(
                        "active_users",
                        p.active_users as f64,
                        thousands(p.active_users)
                    ),
                ),
            ),
        });
        return Ok(());
    }
    let revenue: Vec<f64> = t.periods.iter().map(|p| p.revenue).collect();
    let transactions: Vec<f64> = t.periods.iter().map(|p| p.transactions as f64).collect();
    let users: Vec<f64> = t.periods.iter().map(|p| p.active_users as f64).collect();
    let ticks: Vec<PeriodTick> = t.periods.iter().map(|p| tick(kind, p)).collect();
    let count: fn(f64) -> String = |v| thousands(v as u64);
    let svg = charts::periods(
        &[
            Panel {
                name: "Revenue",
                values: &revenue,
                color: PALETTE[0],
                full: money,
            },
            Panel {
                name: "Transactions",
                values: &transactions,
                color: PALETTE[1],
                full: count,
            },
            Panel {
                name: "Active users",
                values: &users,
                color: PALETTE[2],
                full: count,
            },
        ],
        &ticks,
        1100,
    );
    let partial: Vec<String> = t
        .periods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.partial)
        .map(|(i, p)| {
            let which = if i == 0 {
                format!("the first {unit}")
            } else if i + 1 == t.periods.len() {
                format!("the last {unit}")
            } else {
                period_name(kind, &p.start)
            };
            format!("{which} ({})", coverage(kind, p))
        })
        .collect();
    let first = &t.periods[0].start;
    let last = &t.periods[t.periods.len() - 1].start;
    page.section("trends", |out| {
        let latest = t.periods.iter().rev().find(|p| !p.partial);
        if let Some(p) = latest {
            let _ = writeln!(
                out,
                "<p class=\"note\">The latest complete {unit} ({}): revenue <strong>{}</strong>, \
                 <strong>{}</strong> transactions, <strong>{}</strong> active users.</p>",
                escape(&match kind {
                    PeriodKind::Week => format!("from {}", date_words(&p.start)),
                    PeriodKind::Month => period_name(kind, &p.start),
                }),
                cell("revenue", p.revenue, money(p.revenue)),
                cell("transactions", p.transactions as f64, thousands(p.transactions)),
                cell("active_users", p.active_users as f64, thousands(p.active_users)),
            );
        }
        let mut caption = format!(
            "Revenue (net of refunds), transactions and active users per {unit} (UTC), {} to {}; \
             each panel on its own scale, hover a column for its figures.",
            period_name(kind, first),
            period_name(kind, last),
        );
        if !partial.is_empty() {
            let _ = write!(
                caption,
                " Lighter, dashed columns are partial {unit}s, which the window covers only in part \
                 and which do not compare with the others: {}.",
                partial.join(", ")
            );
        }
        figure(out, TRENDS_CHART, &svg, &caption);
        let _ = writeln!(
            out,
            "<details class=\"figures\"><summary>The figures per {unit} ({})</summary>",
            t.periods.len()
        );
        let head = [unit, "days observed", "revenue", "transactions", "active users"];
        out.push_str("<div id=\"trend-table\">\n");
        table(
            out,
            &head,
            t.periods.iter().map(|p| {
                let mut name = escape(&period_name(kind, &p.start));
                if p.partial {
                    name.push_str(" <small>(partial)</small>");
                }
                vec![
                    format!("<span data-start=\"{}\">{name}</span>", escape(&p.start)),
                    if p.partial {
                        coverage(kind, p)
                    } else {
                        p.days_observed.to_string()
                    },
                    cell("revenue", p.revenue, money(p.revenue)),
                    cell("transactions", p.transactions as f64, thousands(p.transactions)),
                    cell("active_users", p.active_users as f64, thousands(p.active_users)),
                ]
            }),
        );
        out.push_str("</div>\n</details>\n");
    });
    Ok(())
}

/// Whether the month of `as_of` (ISO 8601) ends after it: its cohort
/// cells are still counting.
fn month_in_progress(as_of: &str) -> bool {
    ymd(as_of)
        .and_then(|(y, m, d)| Some(d < month_days(y, m)?))
        .unwrap_or(false)
}

/// Months (`YYYY-MM`) in words: `Apr 1997 to Jun 1998` for a run of
/// consecutive months, else each of them.
fn months_in_words(months: &[&str]) -> String {
    let index = |m: &str| ymd(m).map(|(y, m, _)| y * 12 + m);
    let consecutive = months
        .windows(2)
        .all(|w| matches!((index(w[0]), index(w[1])), (Some(a), Some(b)) if b == a + 1));
    match months {
        [] => String::new(),
        [one] => date_words(one),
        [first, .., last] if consecutive => {
            format!("{} to {}", date_words(first), date_words(last))
        }
        _ => months
            .iter()
            .map(|m| date_words(m))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Cohort retention: per monthly acquisition cohort, the share of its
/// users active in each month after the first, shaded; one sentence for
/// a log of one month.
pub(super) fn cohorts(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let shown: Vec<&Cohort> = s.cohorts.iter().filter(|c| c.users > 0).collect();
    let empty: Vec<&str> = s
        .cohorts
        .iter()
        .filter(|c| c.users == 0)
        .map(|c| c.month.as_str())
        .collect();
    // Months after the first that any cohort has.
    let months = shown
        .iter()
        .map(|c| c.active.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    if months == 0 {
        page.section("cohorts", |out| {
            let sentence = match shown.first() {
                Some(c) => format!(
                    "The log covers a single month ({}), so there is no retention to follow yet: \
                     its {} users were all acquired that month.",
                    escape(&date_words(&c.month)),
                    cell("users", c.users as f64, thousands(c.users))
                ),
                None => "The log has no users, so there are no cohorts.".to_string(),
            };
            absent(out, "cohorts", &sentence);
        });
        return Ok(());
    }
    // Shades against the best retention after the first month, so that
    // the usual 5-30% are told apart.
    let best = shown
        .iter()
        .flat_map(|c| {
            c.active
                .iter()
                .skip(1)
                .map(move |&n| n as f64 / c.users as f64)
        })
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let counting = month_in_progress(&s.as_of);
    page.section("cohorts", |out| {
        let _ = writeln!(
            out,
            "<p class=\"note\">Each row is a monthly acquisition cohort: the users whose first \
             transaction in the log was that month. Each cell is the share of them active in a later \
             month (hover for the count); darker is higher, shaded against the best cell ({}).</p>",
            percent(best)
        );
        out.push_str("<div class=\"scroll\"><table class=\"cohorts\" id=\"cohort-table\">\n<thead><tr>");
        let _ = write!(
            out,
            "<th rowspan=\"2\">cohort</th><th rowspan=\"2\">new users</th>\
             <th colspan=\"{months}\" class=\"span\">months after the first</th></tr>\n<tr>"
        );
        for m in 1..=months {
            let _ = write!(out, "<th>{m}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for c in &shown {
            let _ = write!(
                out,
                "<tr data-month=\"{}\"><td>{}</td><td data-value=\"{}\">{}</td>",
                escape(&c.month),
                escape(&date_words(&c.month)),
                c.users,
                thousands(c.users)
            );
            for (m, &n) in c.active.iter().enumerate().skip(1) {
                let share = n as f64 / c.users as f64;
                let alpha = 0.05 + 0.75 * (share / best).clamp(0.0, 1.0);
                let last = m + 1 == c.active.len() && counting;
                let _ = write!(
                    out,
                    "<td class=\"cell{}\" style=\"background:rgba(0,114,178,{alpha:.2});color:{}\" \
                     data-value=\"{share}\" data-users=\"{n}\" title=\"{} cohort, month {m}: {} of {} users{}\">{}</td>",
                    if last { " counting" } else { "" },
                    if alpha > 0.5 { "#fff" } else { "inherit" },
                    escape(&date_words(&c.month)),
                    thousands(n),
                    thousands(c.users),
                    if last { ", month in progress" } else { "" },
                    percent(share)
                );
            }
            for _ in c.active.len()..=months {
                out.push_str("<td class=\"none\"></td>");
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        let mut notes = vec![
            "The first cohort is everyone seen in the log's first month, which may include \
             customers acquired before the log begins."
                .to_string(),
        ];
        if counting {
            notes.push(format!(
                "The latest month is counted to {} (dashed cells): its shares may still rise.",
                escape(&s.as_of[..10.min(s.as_of.len())])
            ));
        }
        if !empty.is_empty() {
            notes.push(format!(
                "{} without new users {} left out ({}).",
                if empty.len() == 1 {
                    "One month".to_string()
                } else {
                    format!("{} months", empty.len())
                },
                if empty.len() == 1 { "is" } else { "are" },
                escape(&months_in_words(&empty))
            ));
        }
        let _ = writeln!(out, "<p class=\"note\">{}</p>", notes.join(" "));
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(start: &str, days_observed: u32, partial: bool) -> TrendPeriod {
        TrendPeriod {
            start: start.into(),
            days_observed,
            partial,
            revenue: 1.0,
            transactions: 1,
            active_users: 1,
        }
    }

    #[test]
    fn periods_in_words() {
        assert_eq!(month_days(2024, 2), Some(29));
        assert_eq!(month_days(2025, 2), Some(28));
        assert_eq!(month_days(1997, 12), Some(31));
        let week = period("2025-03-31", 6, true);
        assert_eq!(coverage(PeriodKind::Week, &week), "6 of 7 days");
        assert_eq!(
            period_name(PeriodKind::Week, &week.start),
            "week of 31 Mar 2025"
        );
        let t = tick(PeriodKind::Week, &week);
        assert_eq!((t.label.as_str(), t.year.as_str()), ("31 Mar", "2025"));
        assert_eq!(t.partial.as_deref(), Some("6 of 7 days"));
        let june = period("2025-06-01", 27, true);
        assert_eq!(coverage(PeriodKind::Month, &june), "27 of 30 days");
        assert_eq!(period_name(PeriodKind::Month, &june.start), "Jun 2025");
        let t = tick(PeriodKind::Month, &period("1998-01-01", 31, false));
        assert_eq!((t.label.as_str(), t.year.as_str()), ("Jan", "1998"));
        assert_eq!(t.partial, None);
    }

    #[test]
    fn months_without_new_users_in_words() {
        assert_eq!(months_in_words(&["1997-04"]), "Apr 1997");
        assert_eq!(
            months_in_words(&["1997-11", "1997-12", "1998-01"]),
            "Nov 1997 to Jan 1998"
        );
        assert_eq!(
            months_in_words(&["1997-04", "1997-06"]),
            "Apr 1997, Jun 1997"
        );
    }

    #[test]
    fn the_month_of_as_of_is_in_progress_until_its_last_day() {
        assert!(month_in_progress("2025-06-27T00:00:00Z"));
        assert!(!month_in_progress("2025-06-30T23:54:02Z"));
        assert!(!month_in_progress("1998-06-30T00:00:00Z"));
        assert!(month_in_progress("2024-02-28T12:00:00Z"));
        assert!(!month_in_progress("garbage"));
    }
}
