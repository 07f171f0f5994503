//! The rhythm of a log (README, "Features", "Cadence"): how many days its
//! users typically let pass between active days, and the trend window
//! that rhythm gives.
//!
//! A daily messaging log and a retail log where people buy every few
//! months cannot share one trend window: seven days without a purchase say
//! nothing about a customer who buys every sixty. Each user's `gap_days`
//! is the median gap between consecutive active days; the log's cadence is
//! the median of those over the users with two active days or more. The
//! trend window (`cadence_trend`) is three typical gaps, rounded up to
//! whole weeks, at least seven days (so a daily log keeps the seven-day
//! window), and at most half the observation window (so there are earlier
//! days to compare with).

use serde::Serialize;

/// Gaps a trend window spans.
pub const TREND_GAPS: f64 = 3.0;

/// The shortest trend window, and the unit it is rounded up to.
pub const WEEK: u32 = 7;

/// Why the trend window has its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendSource {
    /// `--trend-days` gave it.
    Given,
    /// Three typical gaps, rounded up to whole weeks.
    Cadence,
    /// Three typical gaps are under a week: the shortest window.
    Shortest,
    /// Three typical gaps are more than half the observation window: cut
    /// to half of it.
    HalfWindow,
    /// No user has two active days: the shortest window.
    NoRepeats,
}

/// Quantiles of the users' `gap_days`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GapQuantiles {
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// The median: the log's typical gap.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// The log's rhythm and the trend window it gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cadence {
    /// Users with two active days or more (those with a `gap_days`).
    pub users_with_gap: u64,
    /// Quantiles of their `gap_days` (the median is the mean of the
    /// middle two for an even count, the others the nearest rank); `None`
    /// when no user has two active days.
    pub gaps: Option<GapQuantiles>,
    /// Days in the trend window of `cadence_trend`.
    pub trend_days: u32,
    /// Why it has that length.
    pub trend_source: TrendSource,
}

impl Cadence {
    /// The cadence of users' `gap_days` in an observation window of
    /// `window_days` days; `given` is `--trend-days`.
    pub fn new(mut gaps: Vec<f64>, window_days: i64, given: Option<u32>) -> Self {
        let quantiles = quantiles(&mut gaps);
        let (trend_days, trend_source) = match (given, &quantiles) {
            (Some(days), _) => (days, TrendSource::Given),
            (None, None) => (WEEK, TrendSource::NoRepeats),
            (None, Some(q)) => trend_window(q.p50, window_days),
        };
        Cadence {
            users_with_gap: gaps.len() as u64,
            gaps: quantiles,
            trend_days,
            trend_source,
        }
    }

    /// The typical gap between a user's active days: the median of
    /// `gap_days`; `None` without repeat users.
    pub fn typical_gap(&self) -> Option<f64> {
        self.gaps.map(|q| q.p50)
    }

    /// One sentence saying which window was used and why.
    pub fn explain(&self) -> String {
        let typical = self.typical_gap().map(|g| {
            if g == 1.0 {
                "users typically come back every day".to_string()
            } else {
                format!("users typically come back every {} days", days(g))
            }
        });
        let days = self.trend_days;
        match (self.trend_source, typical) {
            (TrendSource::Given, _) => format!("trend over the last {days} days (--trend-days)"),
            (TrendSource::NoRepeats, _) => format!(
                "trend over the last {days} days: no user has two active days to measure a rhythm"
            ),
            (TrendSource::Shortest, Some(t)) => {
                format!("trend over the last {days} days: {t}, and a week is the shortest window")
            }
            (TrendSource::Cadence, Some(t)) => format!(
                "trend over the last {days} days: {t}, and the window spans {TREND_GAPS} such gaps in whole weeks"
            ),
            (TrendSource::HalfWindow, Some(t)) => format!(
                "trend over the last {days} days: {t}; {TREND_GAPS} gaps would be more than half the log's span"
            ),
            (_, None) => format!("trend over the last {days} days"),
        }
    }
}

/// A day count as people write it: `12`, `1.5`.
fn days(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// The trend window for a typical gap of `gap` days in an observation
/// window of `window_days` days (see the module docs).
pub fn trend_window(gap: f64, window_days: i64) -> (u32, TrendSource) {
    let weeks = (TREND_GAPS * gap / f64::from(WEEK)).ceil().max(1.0);
    let wanted = (weeks * f64::from(WEEK)).min(f64::from(u32::MAX)) as u32;
    let half = u32::try_from(window_days / 2).unwrap_or(u32::MAX);
    if wanted > half && wanted > WEEK {
        (half.max(WEEK), TrendSource::HalfWindow)
    } else if wanted == WEEK {
        (WEEK, TrendSource::Shortest)
    } else {
        (wanted, TrendSource::Cadence)
    }
}

/// The median of sorted, non-empty `values`: the mean of the middle two
/// for an even count.
pub fn median_of_sorted(values: &[f64]) -> f64 {
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Quantiles of `values` (sorted in place); `None` when empty.
fn quantiles(values: &mut [f64]) -> Option<GapQuantiles> {
    if values.is_empty() {
        return None;
    }
    use rayon::prelude::*;
    values.par_sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let rank = |q: f64| values[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(GapQuantiles {
        p10: rank(0.10),
        p25: rank(0.25),
        p50: median_of_sorted(values),
        p75: rank(0.75),
        p90: rank(0.90),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_log_keeps_a_week() {
        assert_eq!(trend_window(1.0, 30), (7, TrendSource::Shortest));
        assert_eq!(trend_window(2.0, 30), (7, TrendSource::Shortest));
        assert_eq!(trend_window(2.5, 90), (14, TrendSource::Cadence));
    }

    #[test]
    fn slow_logs_get_whole_weeks_up_to_half_the_window() {
        // 3 x 45 = 135 days, rounded up to 20 weeks.
        assert_eq!(trend_window(45.0, 540), (140, TrendSource::Cadence));
        // 3 x 60 = 180 > 150 (half of 300).
        assert_eq!(trend_window(60.0, 300), (150, TrendSource::HalfWindow));
        // A window too short for anything: still a week.
        assert_eq!(trend_window(60.0, 9), (7, TrendSource::HalfWindow));
    }

    #[test]
    fn cadence_of_users() {
        let c = Cadence::new(vec![30.0, 1.0, 60.0, 45.0], 540, None);
        let q = c.gaps.unwrap();
        assert_eq!(
            (q.p10, q.p25, q.p50, q.p75, q.p90),
            (1.0, 1.0, 37.5, 45.0, 60.0)
        );
        // 3 x 37.5 = 112.5 -> 17 weeks.
        assert_eq!((c.trend_days, c.trend_source), (119, TrendSource::Cadence));
        assert_eq!(c.users_with_gap, 4);
        let none = Cadence::new(Vec::new(), 540, None);
        assert_eq!(
            (none.trend_days, none.trend_source),
            (7, TrendSource::NoRepeats)
        );
        let given = Cadence::new(vec![30.0], 540, Some(10));
        assert_eq!(
            (given.trend_days, given.trend_source),
            (10, TrendSource::Given)
        );
        assert!(c.explain().contains("every 37.5 days"), "{}", c.explain());
    }
}
