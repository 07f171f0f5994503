//! The lifetime value section: the BG/NBD and Gamma-Gamma fits in plain
//! words, P(alive), expected transactions and CLV over the horizon, the
//! value at risk, and the same per segment; one sentence when the models
//! could not be fitted.

use std::fmt::Write as _;

use super::sections::{Figure, kpi};
use super::{Page, absent, escape, figure, opt, percent_whole, segment_color, table};
use crate::insights::btyd::{BgNbd, GammaGamma};
use crate::report::charts::{self, Bars, ChartError, PALETTE, Units};
use crate::report::summary::{LifetimeSummary, ModelFit, SegmentValue, Summary};
use crate::report::text::{money, percent, thousands, whole};

/// The chart of CLV per segment.
pub const LIFETIME_CHART: &str = "chart-lifetime";

/// Three significant digits: `0.267`, `41.9`, `2.11`.
pub(super) fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return super::plain(v);
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

/// Why a model has no fit, without the `BG/NBD: ` the error starts with
/// and the `no fit (...)` around it: `the likelihood has no finite maximum
/// on this data: ...`; an error that says more about the model than its
/// name (`Gamma-Gamma (repeat customers with a positive spend): 1
/// customers with data, 2 needed`) is kept whole.
pub(super) fn why_no_fit<P>(fit: &ModelFit<P>) -> String {
    let error = fit.error.as_deref().unwrap_or("it was not fitted");
    let error = ["BG/NBD: ", "Gamma-Gamma: "]
        .iter()
        .find_map(|name| error.strip_prefix(name))
        .unwrap_or(error);
    let error = error
        .strip_prefix("no fit (")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or(error);
    error.trim().to_string()
}

/// The horizon and discount in words: `over the next 90 days,
/// undiscounted`.
fn horizon(l: &LifetimeSummary) -> String {
    let discount = if l.discount_rate > 0.0 {
        format!(
            "discounted at {} per 30 days",
            super::plain(100.0 * l.discount_rate) + "%"
        )
    } else {
        "undiscounted".into()
    };
    format!("over the next {} days, {discount}", l.horizon_days)
}

/// A parameter with its exact value in `data-value`.
fn param(name: &str, key: &str, v: f64) -> String {
    format!(
        "{name} <span data-param=\"{key}\" data-value=\"{v}\">{}</span>",
        sig(v)
    )
}

/// What BG/NBD's parameters say, in words: the mean rate of repeat days,
/// how much it varies, and the chance of dropping out after each.
fn bgnbd_words(p: &BgNbd) -> String {
    let spread = if p.r < 1.0 {
        "vary widely between customers (r below 1: most come back rarely, a few often)"
    } else if p.r < 4.0 {
        "vary moderately between customers"
    } else {
        "are much alike across customers"
    };
    format!(
        "While active, customers come back at an average rate of one active day every \
         <span title=\"alpha / r\">{}</span> days, and these rates {spread}; after each active day a \
         customer drops out for good with probability <span title=\"a / (a + b)\">{}</span> on average.",
        escape(&sig(p.alpha / p.r)),
        percent(p.a / (p.a + p.b)),
    )
}

/// What Gamma-Gamma's parameters say, in words.
fn gamma_gamma_words(p: &GammaGamma) -> String {
    format!(
        "A repeat active day brings <span title=\"p v / (q - 1)\">{}</span> on average across \
         customers; a customer's expected spend moves from that towards their own average the more \
         often they have bought.",
        escape(&money(p.v * p.p / (p.q - 1.0)))
    )
}

/// The table of the two models: parameters, what they were fitted on,
/// and what they say (or why there is no fit).
fn models(out: &mut String, l: &LifetimeSummary) {
    let fitted_on = |customers: Option<u64>, what: &str| {
        customers.map_or_else(|| "–".into(), |n| format!("{} {what}", thousands(n)))
    };
    let likelihood = |ll: Option<f64>, iterations: Option<u32>| match (ll, iterations) {
        (Some(ll), Some(i)) => format!(
            "<span title=\"mean log-likelihood per customer, after {i} Newton iterations\">{ll:.3}</span>"
        ),
        (Some(ll), None) => format!("{ll:.3}"),
        _ => "–".into(),
    };
    let bg = &l.bgnbd;
    let gg = &l.gamma_gamma;
    out.push_str("<div id=\"lifetime-models\">\n");
    table(
        out,
        &[
            "model",
            "parameters",
            "fitted on",
            "log-likelihood",
            "what it says",
        ],
        [
            vec![
                "BG/NBD <small>(repeat days, drop-out)</small>".into(),
                bg.params.map_or_else(
                    || "no fit".into(),
                    |p| {
                        [
                            param("r", "r", p.r),
                            param("α", "alpha", p.alpha),
                            param("a", "a", p.a),
                            param("b", "b", p.b),
                        ]
                        .join(", ")
                    },
                ),
                fitted_on(bg.customers, "customers"),
                likelihood(bg.log_likelihood, bg.iterations),
                format!(
                    "<span class=\"text\">{}</span>",
                    bg.params.as_ref().map_or_else(
                        || format!("No fit: {}.", escape(&why_no_fit(bg))),
                        bgnbd_words
                    )
                ),
            ],
            vec![
                "Gamma-Gamma <small>(spend)</small>".into(),
                gg.params.map_or_else(
                    || "no fit".into(),
                    |p| {
                        [
                            param("p", "p", p.p),
                            param("q", "q", p.q),
                            param("v", "v", p.v),
                        ]
                        .join(", ")
                    },
                ),
                fitted_on(gg.customers, "repeat customers"),
                likelihood(gg.log_likelihood, gg.iterations),
                format!(
                    "<span class=\"text\">{}</span>",
                    gg.params.as_ref().map_or_else(
                        || format!("No fit: {}.", escape(&why_no_fit(gg))),
                        gamma_gamma_words
                    )
                ),
            ],
        ],
    );
    out.push_str("</div>\n");
}

/// A per-segment measure: its key, its heading, its value and how it
/// reads.
type Measure = (
    &'static str,
    &'static str,
    fn(&SegmentValue) -> Option<f64>,
    fn(f64) -> String,
);

/// Lifetime value: the models, the totals over the horizon, per segment;
/// one sentence when neither model could be fitted (or the table lacks
/// what they read).
pub(super) fn lifetime(page: &mut Page, s: &Summary) -> Result<(), ChartError> {
    let Some(l) = &s.lifetime else {
        page.section("lifetime", |out| {
            absent(
                out,
                "lifetime",
                "There is no customer lifetime value: the lifetime models read each user's active \
                 days, their span and age, which this report's table does not have.",
            );
        });
        return Ok(());
    };
    let (bg, gg) = (&l.bgnbd, &l.gamma_gamma);
    // Every prediction needs BG/NBD: without it, one sentence.
    if bg.params.is_none() {
        let (a, b) = (why_no_fit(bg), why_no_fit(gg));
        let sentence = match &gg.params {
            None if a == b => format!(
                "No customer lifetime value for this log: neither BG/NBD (how often customers \
                 come back, and when they stop) nor Gamma-Gamma (what they spend) could be \
                 fitted — {}.",
                escape(a.trim_end_matches('.'))
            ),
            None => {
                // "BG/NBD: why", unless the reason names its model.
                let named = |name: &str, why: &str| {
                    let why = why.trim_end_matches('.');
                    if why.starts_with(name) {
                        why.to_string()
                    } else {
                        format!("{name}: {why}")
                    }
                };
                format!(
                    "No customer lifetime value for this log: neither BG/NBD (how often \
                     customers come back, and when they stop) nor Gamma-Gamma (what they spend) \
                     could be fitted — {}; {}.",
                    escape(&named("BG/NBD", &a)),
                    escape(&named("Gamma-Gamma", &b))
                )
            }
            Some(_) => format!(
                "No customer lifetime value for this log: BG/NBD (how often customers come back, \
                 and when they stop), which every prediction needs, could not be fitted — {}.",
                escape(a.trim_end_matches('.'))
            ),
        };
        page.section("lifetime", |out| absent(out, "lifetime", &sentence));
        return Ok(());
    }
    let names = &s.segmentation.names;
    let clv: Vec<f64> = l
        .segments
        .iter()
        .map(|v| v.clv.unwrap_or(f64::NAN))
        .collect();
    let chart = if clv.iter().any(|v| v.is_finite()) {
        Some(charts::horizontal_bars(
            names,
            &[Bars {
                name: "CLV",
                values: &clv,
                color: PALETTE[2],
            }],
            Units::Count,
            560,
        )?)
    } else {
        None
    };
    let risk = s.churn.thresholds.p_alive_risk;
    page.section("lifetime", |out| {
        let _ = writeln!(
            out,
            "<p class=\"note\">What the users are expected to bring {}, from two buy-till-you-die \
             models fitted on the log: BG/NBD for how often each customer comes back and whether \
             they still will (P(alive)), Gamma-Gamma for what they spend. A transaction here is an \
             active day: several on one day count once.</p>",
            horizon(l)
        );
        if gg.params.is_none() {
            out.push_str(
                "<p class=\"note\" data-absent=\"gamma_gamma\">Gamma-Gamma could not be fitted (see \
                 the models below), so there is no CLV or value at risk: only P(alive) and expected \
                 transactions.</p>\n",
            );
        }
        out.push_str("<div class=\"kpis lifetime-figures\">\n");
        let days = l.horizon_days;
        if let Some(v) = l.expected_transactions {
            kpi(
                out,
                "expected_transactions",
                &format!("Expected transactions, next {days} days"),
                Figure::Amount(v),
            );
        }
        if let Some(v) = l.clv {
            kpi(
                out,
                "clv",
                &format!("Customer lifetime value, next {days} days"),
                Figure::Money(v),
            );
        }
        if let Some(v) = l.value_at_risk {
            kpi(
                out,
                "value_at_risk",
                "Value at risk (CLV of users at risk)",
                Figure::Money(v),
            );
        }
        if let Some(v) = l.mean_p_alive {
            kpi(
                out,
                "mean_p_alive",
                "Mean P(alive)",
                Figure::Rate(Some(v), ""),
            );
        }
        if let Some(n) = l.likely_gone {
            kpi(
                out,
                "likely_gone",
                &format!("Likely gone (P(alive) below {})", percent_whole(risk)),
                Figure::Count(n),
            );
        }
        out.push_str("</div>\n");
        if l.mean_p_alive.is_some() {
            out.push_str(
                "<p class=\"note\">P(alive) is 1 for a customer who has not come back yet: BG/NBD \
                 only sees a customer drop out after a repeat active day, so one-time buyers count \
                 as alive (the dormancy rules judge them instead).",
            );
            if l.value_at_risk.is_some() {
                out.push_str(
                    " The value at risk is the CLV of the users the churn rules flag, every risk \
                     but Safe.",
                );
            }
            out.push_str("</p>\n");
        }
        models(out, l);
        out.push_str("<h3>By segment</h3>\n<div class=\"row\">\n");
        if let Some(svg) = &chart {
            figure(
                out,
                LIFETIME_CHART,
                svg,
                &format!(
                    "Customer lifetime value per segment; CLV and expected transactions over the next \
                     {days} days."
                ),
            );
        }
        let users = |i: usize| s.segmentation.profiles.get(i).map(|p| p.users);
        let measures: [Measure; 3] = [
            ("mean_p_alive", "mean P(alive)", |v| v.mean_p_alive, percent),
            (
                "expected_transactions",
                "expected transactions",
                |v| v.expected_transactions,
                whole,
            ),
            ("clv", "CLV", |v| v.clv, money),
        ];
        // A measure no segment has (CLV without Gamma-Gamma) is left out.
        let measures: Vec<_> = measures
            .into_iter()
            .filter(|(_, _, pick, _)| l.segments.iter().any(|v| pick(v).is_some()))
            .collect();
        let mut head = vec!["segment", "users"];
        head.extend(measures.iter().map(|m| m.1));
        out.push_str("<div id=\"lifetime-segments\">\n");
        table(
            out,
            &head,
            l.segments.iter().enumerate().map(|(i, v)| {
                let mut row = vec![
                    format!(
                        "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                        segment_color(i),
                        escape(&v.segment)
                    ),
                    opt(users(i).map(|n| n as f64), |n| thousands(n as u64)),
                ];
                row.extend(measures.iter().map(|(key, _, pick, text)| {
                    pick(v).map_or_else(
                        || "–".into(),
                        |x| format!("<span data-key=\"{key}\" data-value=\"{x}\">{}</span>", text(x)),
                    )
                }));
                row
            }),
        );
        out.push_str("</div>\n</div>\n");
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed<P>(error: &str) -> ModelFit<P> {
        ModelFit {
            params: None,
            customers: None,
            log_likelihood: None,
            iterations: None,
            error: Some(error.into()),
        }
    }

    #[test]
    fn reasons_read_without_the_models_name() {
        let e: ModelFit<BgNbd> = failed(
            "BG/NBD: no fit (the likelihood has no finite maximum on this data: its customers \
             look alike, e.g. all buying at one rate)",
        );
        assert_eq!(
            why_no_fit(&e),
            "the likelihood has no finite maximum on this data: its customers look alike, e.g. all \
             buying at one rate"
        );
        let e: ModelFit<GammaGamma> = failed(
            "Gamma-Gamma (repeat customers with a positive spend): 1 customers with data, 2 needed",
        );
        assert_eq!(
            why_no_fit(&e),
            "Gamma-Gamma (repeat customers with a positive spend): 1 customers with data, 2 needed"
        );
        let e: ModelFit<GammaGamma> = failed("the table has no age_days column");
        assert_eq!(why_no_fit(&e), "the table has no age_days column");
    }

    #[test]
    fn three_significant_digits() {
        assert_eq!(sig(0.267_127), "0.267");
        assert_eq!(sig(41.905), "41.9");
        assert_eq!(sig(2.111_6), "2.11");
        assert_eq!(sig(249.2), "249");
        assert_eq!(sig(0.0), "0.00");
    }
}
