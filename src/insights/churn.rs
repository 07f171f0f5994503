//! Churn early warning (README, "Segments and insights"): the thresholds, the ordered rules
//! that put one user in one risk class, and the one-line reason that
//! names the numbers behind it. The per-user inputs (recency, usage trend,
//! failure rate, top segment) are computed elsewhere; this module only
//! judges them.

use serde::{Deserialize, Serialize};

/// The thresholds of the churn rules; each is a command-line flag.
/// Trends and rates are fractions (-0.30 is -30%).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChurnThresholds {
    /// Days without a transaction beyond which a user is Dormant.
    pub dormant_days: f64,
    /// Usage trend at or below which a user is declining (High Risk).
    pub decline: f64,
    /// Failure rate at or above which a declining user is a quality issue.
    pub quality_failure_rate: f64,
    /// Usage trend at or below which a top-segment user is Critical.
    pub critical_decline: f64,
    /// Usage trend at or below which a user is a Moderate Risk.
    pub moderate_decline: f64,
}

impl Default for ChurnThresholds {
    fn default() -> Self {
        ChurnThresholds {
            dormant_days: 30.0,
            decline: -0.30,
            quality_failure_rate: 0.50,
            critical_decline: -0.20,
            moderate_decline: -0.15,
        }
    }
}

/// A churn threshold that cannot work, with the rule it breaks; the
/// message names the field (`dormant_days`), the command line its flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChurnError {
    /// A threshold is not finite, or outside its range (see
    /// [`ChurnThresholds::validate`]).
    #[error("{parameter} must be {rule}, got {value}")]
    BadThreshold {
        /// The field, as the model file names it (`dormant_days`).
        parameter: &'static str,
        /// What the field must be, such as `a fraction in [-1, 0]`.
        rule: &'static str,
        /// The value given.
        value: f64,
    },
}

impl ChurnThresholds {
    /// Checks every threshold: all finite, `dormant_days >= 0`, the three
    /// declines in [-1, 0], the failure rate in [0, 1]. Errors name the
    /// field.
    pub fn validate(&self) -> Result<(), ChurnError> {
        const DECLINE: &str = "a fraction in [-1, 0] (-0.30 is -30%)";
        let checks: [(&'static str, f64, &'static str, bool); 5] = [
            (
                "dormant_days",
                self.dormant_days,
                "a finite number of days >= 0",
                self.dormant_days >= 0.0,
            ),
            (
                "decline",
                self.decline,
                DECLINE,
                in_range(self.decline, -1.0, 0.0),
            ),
            (
                "quality_failure_rate",
                self.quality_failure_rate,
                "a fraction in [0, 1] (0.50 is 50%)",
                in_range(self.quality_failure_rate, 0.0, 1.0),
            ),
            (
                "critical_decline",
                self.critical_decline,
                DECLINE,
                in_range(self.critical_decline, -1.0, 0.0),
            ),
            (
                "moderate_decline",
                self.moderate_decline,
                DECLINE,
                in_range(self.moderate_decline, -1.0, 0.0),
            ),
        ];
        for (parameter, value, rule, ok) in checks {
            if !(ok && value.is_finite()) {
                return Err(ChurnError::BadThreshold {
                    parameter,
                    rule,
                    value,
                });
            }
        }
        Ok(())
    }
}

fn in_range(value: f64, low: f64, high: f64) -> bool {
    (low..=high).contains(&value)
}

/// One user's churn risk; the first matching rule wins, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ChurnRisk {
    /// Critical (Top Segment): in the top segment, with a usage trend at
    /// or below `critical_decline`.
    Critical,
    /// Dormant: no transaction for more than `dormant_days`.
    Dormant,
    /// High Risk (Quality Issue): a usage trend at or below `decline` and
    /// a failure rate at or above `quality_failure_rate`.
    HighRiskQuality,
    /// High Risk (Declining): a usage trend at or below `decline`.
    HighRiskDeclining,
    /// Moderate Risk: a usage trend at or below `moderate_decline`.
    Moderate,
    /// Safe: no rule fired.
    Safe,
}

impl ChurnRisk {
    /// Every risk, in rule order (most urgent first).
    pub const ALL: [ChurnRisk; 6] = [
        ChurnRisk::Critical,
        ChurnRisk::Dormant,
        ChurnRisk::HighRiskQuality,
        ChurnRisk::HighRiskDeclining,
        ChurnRisk::Moderate,
        ChurnRisk::Safe,
    ];

    /// The name people read.
    pub fn name(self) -> &'static str {
        match self {
            ChurnRisk::Critical => "Critical (Top Segment)",
            ChurnRisk::Dormant => "Dormant",
            ChurnRisk::HighRiskQuality => "High Risk (Quality Issue)",
            ChurnRisk::HighRiskDeclining => "High Risk (Declining)",
            ChurnRisk::Moderate => "Moderate Risk",
            ChurnRisk::Safe => "Safe",
        }
    }
}

/// What the rules look at for one user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChurnInput {
    /// Days from the user's last transaction to the reference time
    /// (`recency_days`, fractional).
    pub recency_days: f64,
    /// Change in usage, as a fraction (-0.30 is -30%); `None` when the
    /// user's history is too short to tell.
    pub usage_trend: Option<f64>,
    /// Share of failed transactions; `None` when the log has no status.
    pub failure_rate: Option<f64>,
    /// Whether the user is in the top-value segment (segment 0).
    pub top_segment: bool,
}

/// Classifies one user by the rules of the README's "Segments and insights", first match wins:
///
/// 1. Critical (Top Segment): `top_segment` and trend <= `critical_decline`;
/// 2. Dormant: `recency_days` > `dormant_days`;
/// 3. High Risk (Quality Issue): trend <= `decline` and failure rate >=
///    `quality_failure_rate`;
/// 4. High Risk (Declining): trend <= `decline`;
/// 5. Moderate Risk: trend <= `moderate_decline`;
/// 6. otherwise Safe.
///
/// A missing (or NaN) trend fires no trend rule; a missing (or NaN)
/// failure rate never fires the quality rule; a NaN recency is not
/// dormant.
pub fn classify(input: &ChurnInput, t: &ChurnThresholds) -> ChurnRisk {
    let trend_at_most = |limit: f64| input.usage_trend.is_some_and(|u| u <= limit);
    let failing = input
        .failure_rate
        .is_some_and(|rate| rate >= t.quality_failure_rate);
    if input.top_segment && trend_at_most(t.critical_decline) {
        ChurnRisk::Critical
    } else if input.recency_days > t.dormant_days {
        ChurnRisk::Dormant
    } else if trend_at_most(t.decline) && failing {
        ChurnRisk::HighRiskQuality
    } else if trend_at_most(t.decline) {
        ChurnRisk::HighRiskDeclining
    } else if trend_at_most(t.moderate_decline) {
        ChurnRisk::Moderate
    } else {
        ChurnRisk::Safe
    }
}

/// A short reason for `risk` naming the numbers that fired its rule, such
/// as `usage -45% (<= -30%) and 62% failures (>= 50%)`; empty for Safe.
/// Trends and rates are shown in whole percent, recency to 0.1 day.
pub fn reason(input: &ChurnInput, t: &ChurnThresholds, risk: ChurnRisk) -> String {
    let usage = |limit: f64| {
        let trend = input.usage_trend.map_or_else(|| "unknown".into(), percent);
        format!("usage {trend} (<= {})", percent(limit))
    };
    match risk {
        ChurnRisk::Critical => format!("top segment, {}", usage(t.critical_decline)),
        ChurnRisk::Dormant => format!(
            "no transaction for {:.1} days (> {})",
            input.recency_days, t.dormant_days
        ),
        ChurnRisk::HighRiskQuality => {
            let failures = input.failure_rate.map_or_else(|| "unknown".into(), percent);
            format!(
                "{} and {failures} failures (>= {})",
                usage(t.decline),
                percent(t.quality_failure_rate)
            )
        }
        ChurnRisk::HighRiskDeclining => usage(t.decline),
        ChurnRisk::Moderate => usage(t.moderate_decline),
        ChurnRisk::Safe => String::new(),
    }
}

/// A fraction as whole percent, half away from zero, never `-0%`.
fn percent(fraction: f64) -> String {
    let whole = (fraction * 100.0).round();
    // Adding 0.0 turns -0.0 (from, say, -0.004) into 0.0.
    format!("{:.0}%", whole + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(recency_days: f64, trend: Option<f64>, failures: Option<f64>, top: bool) -> ChurnInput {
        ChurnInput {
            recency_days,
            usage_trend: trend,
            failure_rate: failures,
            top_segment: top,
        }
    }

    fn risk(input: ChurnInput) -> ChurnRisk {
        classify(&input, &ChurnThresholds::default())
    }

    #[test]
    fn defaults_are_the_spec_values_and_valid() {
        let t = ChurnThresholds::default();
        assert_eq!(
            (
                t.dormant_days,
                t.decline,
                t.quality_failure_rate,
                t.critical_decline,
                t.moderate_decline
            ),
            (30.0, -0.30, 0.50, -0.20, -0.15)
        );
        assert_eq!(t.validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_field_and_the_value() {
        let bad = |f: fn(&mut ChurnThresholds)| {
            let mut t = ChurnThresholds::default();
            f(&mut t);
            t.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|t| t.dormant_days = -1.0),
            "dormant_days must be a finite number of days >= 0, got -1"
        );
        assert_eq!(
            bad(|t| t.dormant_days = f64::INFINITY),
            "dormant_days must be a finite number of days >= 0, got inf"
        );
        assert_eq!(
            bad(|t| t.decline = 0.3),
            "decline must be a fraction in [-1, 0] (-0.30 is -30%), got 0.3"
        );
        assert_eq!(
            bad(|t| t.critical_decline = -1.5),
            "critical_decline must be a fraction in [-1, 0] (-0.30 is -30%), got -1.5"
        );
        assert_eq!(
            bad(|t| t.moderate_decline = f64::NAN),
            "moderate_decline must be a fraction in [-1, 0] (-0.30 is -30%), got NaN"
        );
        assert_eq!(
            bad(|t| t.quality_failure_rate = 50.0),
            "quality_failure_rate must be a fraction in [0, 1] (0.50 is 50%), got 50"
        );
        // The ends of every range are allowed.
        let edges = ChurnThresholds {
            dormant_days: 0.0,
            decline: -1.0,
            quality_failure_rate: 1.0,
            critical_decline: 0.0,
            moderate_decline: -1.0,
        };
        assert_eq!(edges.validate(), Ok(()));
        let edges = ChurnThresholds {
            quality_failure_rate: 0.0,
            ..edges
        };
        assert_eq!(edges.validate(), Ok(()));
    }

    #[test]
    fn each_rule_on_its_own() {
        use ChurnRisk::*;
        assert_eq!(risk(user(1.0, Some(-0.25), None, true)), Critical);
        assert_eq!(risk(user(41.2, None, None, false)), Dormant);
        assert_eq!(
            risk(user(1.0, Some(-0.45), Some(0.62), false)),
            HighRiskQuality
        );
        assert_eq!(
            risk(user(1.0, Some(-0.35), Some(0.10), false)),
            HighRiskDeclining
        );
        assert_eq!(risk(user(1.0, Some(-0.18), None, false)), Moderate);
        assert_eq!(risk(user(1.0, Some(0.40), Some(0.9), true)), Safe);
        assert_eq!(risk(user(1.0, None, None, true)), Safe);
    }

    #[test]
    fn precedence_first_match_wins() {
        use ChurnRisk::*;
        // Critical beats everything: top segment, dormant, declining, failing.
        assert_eq!(risk(user(90.0, Some(-0.5), Some(0.9), true)), Critical);
        // Dormant beats quality, declining and moderate.
        assert_eq!(risk(user(90.0, Some(-0.5), Some(0.9), false)), Dormant);
        assert_eq!(risk(user(90.0, Some(-0.5), None, false)), Dormant);
        assert_eq!(risk(user(90.0, Some(-0.16), None, false)), Dormant);
        // A top-segment user declining too little for Critical falls through
        // to the other rules: dormant, then moderate.
        assert_eq!(risk(user(90.0, Some(-0.16), None, true)), Dormant);
        assert_eq!(risk(user(1.0, Some(-0.16), None, true)), Moderate);
        // Quality beats declining; declining beats moderate.
        assert_eq!(
            risk(user(1.0, Some(-0.5), Some(0.5), false)),
            HighRiskQuality
        );
        assert_eq!(
            risk(user(1.0, Some(-0.5), Some(0.49), false)),
            HighRiskDeclining
        );
    }

    #[test]
    fn boundaries_are_inclusive_except_dormant() {
        use ChurnRisk::*;
        let t = ChurnThresholds::default();
        // Exactly at each threshold (the same f64 literals as the defaults).
        assert_eq!(
            risk(user(1.0, Some(t.critical_decline), None, true)),
            Critical
        );
        assert_eq!(risk(user(t.dormant_days, None, None, false)), Safe);
        assert_eq!(risk(user(30.000_001, None, None, false)), Dormant);
        assert_eq!(
            risk(user(
                1.0,
                Some(t.decline),
                Some(t.quality_failure_rate),
                false
            )),
            HighRiskQuality
        );
        assert_eq!(
            risk(user(1.0, Some(t.decline), None, false)),
            HighRiskDeclining
        );
        assert_eq!(
            risk(user(1.0, Some(t.moderate_decline), None, false)),
            Moderate
        );
        // Just above each trend threshold.
        assert_eq!(risk(user(1.0, Some(-0.199), None, true)), Moderate);
        assert_eq!(risk(user(1.0, Some(-0.299), Some(0.9), false)), Moderate);
        assert_eq!(risk(user(1.0, Some(-0.149), None, false)), Safe);
    }

    #[test]
    fn missing_or_nan_inputs_fire_nothing() {
        use ChurnRisk::*;
        // No trend: no trend rule, even for a failing top-segment user.
        assert_eq!(risk(user(1.0, None, Some(1.0), true)), Safe);
        assert_eq!(risk(user(1.0, Some(f64::NAN), Some(1.0), true)), Safe);
        // No failure rate: declining, never quality.
        assert_eq!(risk(user(1.0, Some(-0.9), None, false)), HighRiskDeclining);
        assert_eq!(
            risk(user(1.0, Some(-0.9), Some(f64::NAN), false)),
            HighRiskDeclining
        );
        // NaN recency is not dormant.
        assert_eq!(risk(user(f64::NAN, None, None, false)), Safe);
    }

    #[test]
    fn thresholds_are_honoured() {
        let t = ChurnThresholds {
            dormant_days: 7.0,
            decline: -0.5,
            quality_failure_rate: 0.2,
            critical_decline: -0.1,
            moderate_decline: -0.05,
        };
        let c = |input| classify(&input, &t);
        assert_eq!(c(user(8.0, None, None, false)), ChurnRisk::Dormant);
        assert_eq!(c(user(1.0, Some(-0.1), None, true)), ChurnRisk::Critical);
        assert_eq!(
            c(user(1.0, Some(-0.4), Some(0.9), false)),
            ChurnRisk::Moderate
        );
        assert_eq!(
            c(user(1.0, Some(-0.5), Some(0.2), false)),
            ChurnRisk::HighRiskQuality
        );
    }

    #[test]
    fn reasons_name_the_numbers() {
        let t = ChurnThresholds::default();
        let why = |input: ChurnInput| reason(&input, &t, classify(&input, &t));
        assert_eq!(
            why(user(1.0, Some(-0.25), None, true)),
            "top segment, usage -25% (<= -20%)"
        );
        assert_eq!(
            why(user(41.23, None, None, false)),
            "no transaction for 41.2 days (> 30)"
        );
        assert_eq!(
            why(user(1.0, Some(-0.45), Some(0.62), false)),
            "usage -45% (<= -30%) and 62% failures (>= 50%)"
        );
        assert_eq!(
            why(user(1.0, Some(-0.35), None, false)),
            "usage -35% (<= -30%)"
        );
        assert_eq!(
            why(user(1.0, Some(-0.18), None, false)),
            "usage -18% (<= -15%)"
        );
        assert_eq!(why(user(1.0, Some(0.2), None, false)), "");
        // Whole percent, half away from zero: -0.305 * 100 is exactly -30.5
        // in f64, which rounds to -31 (ties-to-even would give -30).
        assert_eq!(
            why(user(1.0, Some(-0.305), None, false)),
            "usage -31% (<= -30%)"
        );
        // A fractional threshold keeps its digits.
        let t = ChurnThresholds {
            dormant_days: 7.5,
            ..t
        };
        assert_eq!(
            reason(&user(8.0, None, None, false), &t, ChurnRisk::Dormant),
            "no transaction for 8.0 days (> 7.5)"
        );
    }

    #[test]
    fn percent_rounds_to_whole_and_never_shows_minus_zero() {
        assert_eq!(percent(-0.004), "0%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(-1.0), "-100%");
        assert_eq!(percent(0.625), "63%"); // 62.5 rounds away from zero
        assert_eq!(percent(-0.996), "-100%");
    }

    #[test]
    fn names_in_rule_order() {
        let names: Vec<&str> = ChurnRisk::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "Critical (Top Segment)",
                "Dormant",
                "High Risk (Quality Issue)",
                "High Risk (Declining)",
                "Moderate Risk",
                "Safe"
            ]
        );
        assert!(ChurnRisk::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
