//! Churn early warning (README, "Churn early warning"): the thresholds,
//! the ordered rules that put one user in one risk class, and the one-line
//! reason that names the numbers behind it. The per-user inputs (recency,
//! the overdue ratio, the cadence-scaled usage trend, the failure rate,
//! P(alive), the top segment) are computed elsewhere; this module only
//! judges them.

use serde::{Deserialize, Serialize};

/// The thresholds of the churn rules; each is a command-line flag.
/// Trends and rates are fractions (-0.30 is -30%).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChurnThresholds {
    /// Days without a transaction beyond which a user is Dormant...
    pub dormant_days: f64,
    /// ... when also more than this many of the user's expected gaps
    /// late (a customer who buys every two months is not dormant after
    /// 31 days).
    #[serde(default = "defaults::dormant_gaps")]
    pub dormant_gaps: f64,
    /// P(alive) below which a user has probably left (High Risk
    /// (Lapsing), and Critical in the top segment).
    #[serde(default = "defaults::p_alive_risk")]
    pub p_alive_risk: f64,
    /// Expected gaps late at or beyond which a user with a low P(alive)
    /// is Lapsing.
    #[serde(default = "defaults::overdue")]
    pub overdue: f64,
    /// Standard deviations a drop in usage must reach to count: a trend
    /// fires its rule only when the transactions of the trend window are
    /// at least this many standard deviations (of a Poisson count at the
    /// user's earlier rate) below what that rate expects. A -30% month of
    /// a customer who buys three times a month is noise; of one who buys
    /// three hundred times, it is not.
    #[serde(default = "defaults::trend_z")]
    pub trend_z: f64,
    /// Usage trend at or below which a user is declining (High Risk).
    pub decline: f64,
    /// Failure rate at or above which a declining user is a quality issue.
    pub quality_failure_rate: f64,
    /// Usage trend at or below which a top-segment user is Critical.
    pub critical_decline: f64,
    /// Usage trend at or below which a user is a Moderate Risk.
    pub moderate_decline: f64,
}

/// Defaults of the thresholds added after the first model format: a model
/// written without them reads with these.
mod defaults {
    pub fn dormant_gaps() -> f64 {
        3.0
    }
    pub fn p_alive_risk() -> f64 {
        0.5
    }
    pub fn overdue() -> f64 {
        2.0
    }
    pub fn trend_z() -> f64 {
        2.0
    }
}

impl Default for ChurnThresholds {
    fn default() -> Self {
        ChurnThresholds {
            dormant_days: 30.0,
            dormant_gaps: defaults::dormant_gaps(),
            p_alive_risk: defaults::p_alive_risk(),
            overdue: defaults::overdue(),
            trend_z: defaults::trend_z(),
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
        const GAPS: &str = "a finite number of gaps >= 0";
        let checks: [(&'static str, f64, &'static str, bool); 9] = [
            (
                "dormant_days",
                self.dormant_days,
                "a finite number of days >= 0",
                self.dormant_days >= 0.0,
            ),
            (
                "dormant_gaps",
                self.dormant_gaps,
                GAPS,
                self.dormant_gaps >= 0.0,
            ),
            (
                "p_alive_risk",
                self.p_alive_risk,
                "a probability in [0, 1]",
                in_range(self.p_alive_risk, 0.0, 1.0),
            ),
            ("overdue", self.overdue, GAPS, self.overdue >= 0.0),
            (
                "trend_z",
                self.trend_z,
                "a finite number of standard deviations >= 0",
                self.trend_z >= 0.0,
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
    /// or below `critical_decline` or a P(alive) below `p_alive_risk`.
    Critical,
    /// Dormant: no transaction for more than `dormant_days`, and more
    /// than `dormant_gaps` expected gaps.
    Dormant,
    /// High Risk (Lapsing): P(alive) below `p_alive_risk`, and at least
    /// `overdue` expected gaps since the last transaction.
    Lapsing,
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
    pub const ALL: [ChurnRisk; 7] = [
        ChurnRisk::Critical,
        ChurnRisk::Dormant,
        ChurnRisk::Lapsing,
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
            ChurnRisk::Lapsing => "High Risk (Lapsing)",
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
    /// Change in usage over the trend window against the log's (the
    /// user's trend over the whole log's, as a fraction: -0.30 is 30%
    /// below), which the rules judge; `None` when the user's history is
    /// too short, or the drop within noise, to tell.
    pub usage_trend: Option<f64>,
    /// The user's own trend over the window (for the reason); `None`
    /// when unknown.
    pub own_trend: Option<f64>,
    /// The whole log's trend over the window (for the reason); `None`
    /// when unknown.
    pub base_trend: Option<f64>,
    /// Share of failed transactions; `None` when the log has no status.
    pub failure_rate: Option<f64>,
    /// Whether the user is in the top-value segment (segment 0).
    pub top_segment: bool,
    /// The probability that the user is still active (BG/NBD); `None`
    /// without a fitted model.
    pub p_alive: Option<f64>,
    /// Days since the last transaction over the user's expected gap
    /// between active days; `None` when no gap is known.
    pub overdue: Option<f64>,
}

/// Classifies one user by the rules of the README's "Churn early
/// warning", first match wins:
///
/// 1. Critical (Top Segment): `top_segment`, and trend <=
///    `critical_decline` or P(alive) < `p_alive_risk`;
/// 2. Dormant: `recency_days` > `dormant_days` and overdue >
///    `dormant_gaps`;
/// 3. High Risk (Lapsing): P(alive) < `p_alive_risk` and overdue >=
///    `overdue`;
/// 4. High Risk (Quality Issue): trend <= `decline` and failure rate >=
///    `quality_failure_rate`;
/// 5. High Risk (Declining): trend <= `decline`;
/// 6. Moderate Risk: trend <= `moderate_decline`;
/// 7. otherwise Safe.
///
/// A missing (or NaN) trend fires no trend rule, a missing P(alive) no
/// P(alive) rule; a missing failure rate never fires the quality rule; a
/// missing overdue ratio leaves the rules that need it to their other
/// condition; a NaN recency is not dormant.
pub fn classify(input: &ChurnInput, t: &ChurnThresholds) -> ChurnRisk {
    let trend_at_most = |limit: f64| input.usage_trend.is_some_and(|u| u <= limit);
    let failing = input
        .failure_rate
        .is_some_and(|rate| rate >= t.quality_failure_rate);
    let leaving = input.p_alive.is_some_and(|p| p < t.p_alive_risk);
    let late = |gaps: f64, strictly: bool| {
        input
            .overdue
            .filter(|o| !o.is_nan())
            .is_none_or(|o| if strictly { o > gaps } else { o >= gaps })
    };
    if input.top_segment && (trend_at_most(t.critical_decline) || leaving) {
        ChurnRisk::Critical
    } else if input.recency_days > t.dormant_days && late(t.dormant_gaps, true) {
        ChurnRisk::Dormant
    } else if leaving && late(t.overdue, false) {
        ChurnRisk::Lapsing
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
/// Trends, rates and probabilities are shown in whole percent, recency to
/// 0.1 day, overdue ratios to 0.1 gap.
pub fn reason(input: &ChurnInput, t: &ChurnThresholds, risk: ChurnRisk) -> String {
    let usage = |limit: f64| {
        let trend = input.usage_trend.map_or_else(|| "unknown".into(), percent);
        match (input.own_trend, input.base_trend) {
            // The log's trend moves the judgement: say so.
            (Some(own), Some(base)) if base.abs() >= BASE_WORTH_SAYING => format!(
                "usage {trend} against the log's trend (<= {}; own {}, log {})",
                percent(limit),
                percent(own),
                percent(base)
            ),
            _ => format!("usage {trend} (<= {})", percent(limit)),
        }
    };
    let alive = || {
        let p = input.p_alive.map_or_else(|| "unknown".into(), percent);
        format!("P(alive) {p} (< {})", percent(t.p_alive_risk))
    };
    let late = || {
        input
            .overdue
            .filter(|o| !o.is_nan())
            .map(|o| format!(", {o:.1} gaps late"))
            .unwrap_or_default()
    };
    match risk {
        ChurnRisk::Critical => {
            if input.usage_trend.is_some_and(|u| u <= t.critical_decline) {
                format!("top segment, {}", usage(t.critical_decline))
            } else {
                format!("top segment, {}", alive())
            }
        }
        ChurnRisk::Dormant => format!(
            "no transaction for {:.1} days (> {}){}",
            input.recency_days,
            t.dormant_days,
            late()
        ),
        ChurnRisk::Lapsing => format!("{}{}", alive(), late()),
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

/// The log's trend a reason names (5%): below it, the user's trend against
/// the log's is, to a point or two, the user's own.
const BASE_WORTH_SAYING: f64 = 0.05;

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
            p_alive: None,
            overdue: None,
            own_trend: trend,
            base_trend: None,
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
            dormant_gaps: 0.0,
            p_alive_risk: 1.0,
            overdue: 0.0,
            trend_z: 0.0,
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
            ..ChurnThresholds::default()
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

    fn btyd(
        recency_days: f64,
        trend: Option<f64>,
        p_alive: Option<f64>,
        overdue: Option<f64>,
        top: bool,
    ) -> ChurnInput {
        ChurnInput {
            p_alive,
            overdue,
            ..user(recency_days, trend, None, top)
        }
    }

    #[test]
    fn cadence_and_p_alive_rules() {
        use ChurnRisk::*;
        // A customer who buys every 60 days, 45 days after the last
        // purchase: not dormant (0.75 gaps), alive.
        assert_eq!(risk(btyd(45.0, None, Some(0.8), Some(0.75), false)), Safe);
        // 200 days: more than 3 gaps late, dormant.
        assert_eq!(
            risk(btyd(200.0, None, Some(0.1), Some(3.3), false)),
            Dormant
        );
        // Exactly 3 gaps is not more than 3: Lapsing instead.
        assert_eq!(
            risk(btyd(180.0, None, Some(0.1), Some(3.0), false)),
            Lapsing
        );
        // A low P(alive) but on time is not Lapsing; late enough, it is.
        assert_eq!(risk(btyd(20.0, None, Some(0.3), Some(1.9), false)), Safe);
        assert_eq!(risk(btyd(20.0, None, Some(0.3), Some(2.0), false)), Lapsing);
        // P(alive) at the threshold is not below it.
        assert_eq!(risk(btyd(20.0, None, Some(0.5), Some(5.0), false)), Safe);
        // Top segment: a low P(alive) is Critical, whatever the trend.
        assert_eq!(
            risk(btyd(20.0, Some(0.1), Some(0.2), Some(1.0), true)),
            Critical
        );
        // No overdue ratio: the rules keep their other condition.
        assert_eq!(risk(btyd(31.0, None, None, None, false)), Dormant);
        assert_eq!(risk(btyd(3.0, None, Some(0.2), None, false)), Lapsing);
        // Dormant beats Lapsing; Lapsing beats the trend rules.
        assert_eq!(
            risk(btyd(90.0, Some(-0.5), Some(0.1), Some(9.0), false)),
            Dormant
        );
        assert_eq!(
            risk(btyd(9.0, Some(-0.5), Some(0.1), Some(9.0), false)),
            Lapsing
        );
    }

    #[test]
    fn reasons_name_the_logs_trend_when_it_matters() {
        let t = ChurnThresholds::default();
        let input = ChurnInput {
            usage_trend: Some(-0.40),
            own_trend: Some(-0.70),
            base_trend: Some(-0.50),
            ..user(1.0, Some(-0.40), None, false)
        };
        assert_eq!(
            reason(&input, &t, classify(&input, &t)),
            "usage -40% against the log's trend (<= -30%; own -70%, log -50%)"
        );
        let calm = ChurnInput {
            base_trend: Some(0.02),
            ..input
        };
        assert_eq!(
            reason(&calm, &t, classify(&calm, &t)),
            "usage -40% (<= -30%)"
        );
    }

    #[test]
    fn cadence_reasons() {
        let t = ChurnThresholds::default();
        let why = |input: ChurnInput| reason(&input, &t, classify(&input, &t));
        assert_eq!(
            why(btyd(200.0, None, Some(0.1), Some(3.33), false)),
            "no transaction for 200.0 days (> 30), 3.3 gaps late"
        );
        assert_eq!(
            why(btyd(20.0, None, Some(0.304), Some(2.5), false)),
            "P(alive) 30% (< 50%), 2.5 gaps late"
        );
        assert_eq!(
            why(btyd(20.0, Some(0.1), Some(0.2), None, true)),
            "top segment, P(alive) 20% (< 50%)"
        );
    }

    #[test]
    fn names_in_rule_order() {
        let names: Vec<&str> = ChurnRisk::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "Critical (Top Segment)",
                "Dormant",
                "High Risk (Lapsing)",
                "High Risk (Quality Issue)",
                "High Risk (Declining)",
                "Moderate Risk",
                "Safe"
            ]
        );
        assert!(ChurnRisk::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
