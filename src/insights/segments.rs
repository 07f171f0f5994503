//! Insights per user (RFM scores, churn risk and its reason) and per
//! segment (profiles in original units), computed from the feature table
//! and the users' segments. Needs the columns of a transactions feature
//! table (README, "Features"); a numeric table without them gets none.

use serde::Serialize;

use rayon::prelude::*;

use super::btyd::{Lifetime, LifetimeScores};
use super::churn::{ChurnInput, ChurnRisk, ChurnThresholds, classify, reason};
use super::describe::{Trait, describe};
use super::rfm::{RfmScores, rfm_scores};
use crate::features::matrix::NumericTable;

/// Columns RFM scores and churn rules need.
pub const REQUIRED_COLUMNS: [&str; 3] = ["recency_days", "frequency", "monetary"];

/// Columns whose segment means a profile shows, when the table has them.
pub const PROFILE_COLUMNS: [&str; 10] = [
    "frequency",
    "monetary",
    "active_days",
    "gap_days",
    "recency_days",
    "tenure_days",
    "channel_diversity",
    "success_rate",
    "avg_daily_volume",
    "cadence_trend",
];

/// Per-user insights, in table row order.
#[derive(Clone, Debug)]
pub struct UserInsights {
    /// Each user's R, F and M quintile scores, ranked among the table's
    /// users, and RFM segment.
    pub rfm: RfmScores,
    /// Each user's churn risk (see [`classify`]).
    pub churn: Vec<ChurnRisk>,
    /// Why each user got its churn risk (empty for `Safe`).
    pub reasons: Vec<String>,
    /// Days since each user's last transaction over the user's expected
    /// gap (`gap_days`, else the log's typical gap); NaN when unknown.
    pub overdue: Vec<f64>,
    /// P(alive), expected transactions and CLV; `None` without a fitted
    /// BG/NBD model.
    pub lifetime: Option<LifetimeScores>,
}

/// What the churn rules read beside the feature table.
#[derive(Clone, Copy, Debug, Default)]
pub struct InsightContext<'a> {
    /// The fitted lifetime models (P(alive)).
    pub lifetime: Option<&'a Lifetime>,
    /// Days of the trend window of `cadence_trend` (for the evidence a
    /// trend needs); `None` when unknown.
    pub trend_days: Option<u32>,
}

fn column(table: &NumericTable, name: &str) -> Option<Vec<f64>> {
    let j = table.column_index(name)?;
    Some((0..table.rows()).map(|i| table.row(i)[j]).collect())
}

/// RFM, lifetime value and churn for every user; `None` when the table
/// lacks one of [`REQUIRED_COLUMNS`]. Segment 0 is the top-value segment.
///
/// The churn rules read the cadence-scaled trend (`cadence_trend`, else
/// `usage_trend`) against the log's own trend (when the whole base buys
/// less in the window, a season or an ageing cohort, only those who fall
/// further are declining), and only when the drop is beyond the noise of
/// the user's earlier rate (see [`ChurnThresholds::trend_z`]); the overdue
/// ratio (`recency_days` over `gap_days`, or over the log's typical gap
/// for a user with one active day); and P(alive) from `context`.
pub fn user_insights(
    table: &NumericTable,
    segments: &[u32],
    thresholds: &ChurnThresholds,
    context: InsightContext<'_>,
) -> Option<UserInsights> {
    let recency = column(table, "recency_days")?;
    let frequency = column(table, "frequency")?;
    let monetary = column(table, "monetary")?;
    let (trend, window) = match column(table, "cadence_trend") {
        Some(trend) => (Some(trend), context.trend_days),
        None => (column(table, "usage_trend"), Some(7)),
    };
    let volume = column(table, "avg_daily_volume");
    let failure = column(table, "failure_rate");
    let gaps = column(table, "gap_days");
    let typical_gap = gaps.as_ref().and_then(|g| median(g));
    let lifetime = context.lifetime.and_then(|l| l.score(table));
    let present =
        |c: &Option<Vec<f64>>, i: usize| c.as_ref().map(|values| values[i]).filter(|v| !v.is_nan());
    let rfm = rfm_scores(&recency, &frequency, &monetary);
    let overdue: Vec<f64> = (0..table.rows())
        .map(|i| {
            let gap = present(&gaps, i).or(typical_gap);
            gap.map_or(f64::NAN, |g| recency[i] / g)
        })
        .collect();
    // Each user's expected and actual transactions in the trend window
    // (at the earlier rate), where the numbers make one.
    let counts: Vec<Option<(f64, f64)>> = (0..table.rows())
        .map(|i| {
            let (Some(volume), Some(days), Some(t)) = (&volume, window, present(&trend, i)) else {
                return None;
            };
            let expected = window_expectation(frequency[i], volume[i], f64::from(days), t)?;
            Some((expected, (1.0 + t) * expected))
        })
        .collect();
    let base_trend = base_trend(&counts);
    let (churn, reasons) = (0..table.rows())
        .into_par_iter()
        .map(|i| {
            // Against the log's own trend, and beyond the noise of the
            // user's own rate.
            let judged = match (present(&trend, i), counts[i]) {
                (Some(_), Some((expected, actual))) => {
                    let expected = expected * (1.0 + base_trend.unwrap_or(0.0));
                    let drop = expected - actual;
                    (expected > 0.0 && drop >= thresholds.trend_z * expected.sqrt())
                        .then(|| actual / expected - 1.0)
                }
                (Some(t), None) => Some(t),
                (None, _) => None,
            };
            let input = ChurnInput {
                recency_days: recency[i],
                usage_trend: judged,
                own_trend: present(&trend, i),
                base_trend,
                failure_rate: present(&failure, i),
                top_segment: segments[i] == 0,
                p_alive: lifetime
                    .as_ref()
                    .map(|l| l.p_alive[i])
                    .filter(|p| !p.is_nan()),
                overdue: Some(overdue[i]).filter(|o| !o.is_nan()),
            };
            let risk = classify(&input, thresholds);
            (risk, reason(&input, thresholds, risk))
        })
        .unzip();
    Some(UserInsights {
        rfm,
        churn,
        reasons,
        overdue,
        lifetime,
    })
}

/// The transactions a user's earlier rate expects in a trend window of
/// `days` days: `frequency` transactions over the log's window
/// (`frequency / volume` days, `volume` being `avg_daily_volume`), of which
/// the last `days` hold `(1 + trend)` times the earlier rate. `None` when
/// the numbers do not make a window.
fn window_expectation(frequency: f64, volume: f64, days: f64, trend: f64) -> Option<f64> {
    let window = frequency / volume;
    // frequency = rate * (window - days) + (1 + trend) * rate * days.
    let rate = frequency / (window + trend * days);
    let expected = rate * days;
    (expected.is_finite() && expected > 0.0).then_some(expected)
}

/// The whole log's trend over the trend window: the users' transactions in
/// it over what their earlier rates expect, less 1; `None` without a user
/// to tell.
fn base_trend(counts: &[Option<(f64, f64)>]) -> Option<f64> {
    let (expected, actual) = counts
        .iter()
        .flatten()
        .fold((0.0, 0.0), |(e, a), &(x, y)| (e + x, a + y));
    (expected > 0.0).then(|| actual / expected - 1.0)
}

/// The median of the non-NaN `values` (the mean of the middle two for an
/// even count); `None` when there are none.
fn median(values: &[f64]) -> Option<f64> {
    let mut known: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if known.is_empty() {
        return None;
    }
    known.par_sort_unstable_by(f64::total_cmp);
    Some(crate::features::cadence::median_of_sorted(&known))
}

/// One segment, in original units.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentProfile {
    /// The segment's number (0 = the highest-value segment).
    pub segment: u32,
    /// The segment's name.
    pub name: String,
    /// Users in the segment.
    pub users: u64,
    /// The segment's part of all users, in [0, 1]; 0 when there are none.
    pub user_share: f64,
    /// Sum of `monetary` (0 without the column), net of refunds.
    pub revenue: f64,
    /// The segment's part of the revenue, each user's net revenue clipped
    /// at 0 (as the concentration curve counts it): in [0, 1], the
    /// segments' shares add up to 1 even when refunds outweigh purchases.
    pub revenue_share: f64,
    /// (column, mean over the segment's users with a value).
    pub means: Vec<(String, Option<f64>)>,
    /// (churn risk, users), in [`ChurnRisk::ALL`] order; empty without
    /// churn risks.
    pub churn_mix: Vec<(String, u64)>,
    /// The two or three features that set the segment apart, in business
    /// terms (see [`super::describe`]).
    pub traits: Vec<Trait>,
}

/// Profiles of segments `0..names.len()`.
pub fn profiles(
    table: &NumericTable,
    segments: &[u32],
    names: &[String],
    churn: Option<&[ChurnRisk]>,
) -> Vec<SegmentProfile> {
    let k = names.len();
    let n = table.rows();
    let monetary = column(table, "monetary");
    let columns: Vec<(&str, usize)> = PROFILE_COLUMNS
        .iter()
        .filter_map(|&c| Some((c, table.column_index(c)?)))
        .collect();
    let mut users = vec![0u64; k];
    let mut revenue = vec![0.0f64; k];
    let mut positive = vec![0.0f64; k];
    let mut sums = vec![vec![(0.0f64, 0u64); columns.len()]; k];
    let mut mix = vec![vec![0u64; ChurnRisk::ALL.len()]; k];
    for i in 0..n {
        let s = segments[i] as usize;
        users[s] += 1;
        if let Some(m) = &monetary {
            revenue[s] += m[i];
            positive[s] += m[i].max(0.0);
        }
        let row = table.row(i);
        for (sum, &(_, j)) in sums[s].iter_mut().zip(&columns) {
            if !row[j].is_nan() {
                sum.0 += row[j];
                sum.1 += 1;
            }
        }
        if let Some(churn) = churn {
            let r = ChurnRisk::ALL
                .iter()
                .position(|&c| c == churn[i])
                .expect("every risk is in ALL");
            mix[s][r] += 1;
        }
    }
    let total_positive: f64 = positive.iter().sum();
    let mut traits = describe(table, segments, k).into_iter();
    (0..k)
        .map(|s| SegmentProfile {
            traits: traits.next().unwrap_or_default(),
            segment: s as u32,
            name: names[s].clone(),
            users: users[s],
            user_share: if n == 0 {
                0.0
            } else {
                users[s] as f64 / n as f64
            },
            revenue: revenue[s],
            revenue_share: if total_positive == 0.0 {
                0.0
            } else {
                positive[s] / total_positive
            },
            means: columns
                .iter()
                .zip(&sums[s])
                .map(|(&(c, _), &(sum, count))| {
                    (c.to_string(), (count > 0).then(|| sum / count as f64))
                })
                .collect(),
            churn_mix: match churn {
                Some(_) => ChurnRisk::ALL
                    .iter()
                    .zip(&mix[s])
                    .map(|(r, &count)| (r.name().to_string(), count))
                    .collect(),
                None => Vec::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: &[&[f64]]) -> NumericTable {
        NumericTable {
            keys: (0..rows.len()).map(|i| format!("u{i}")).collect(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            values: rows.iter().flat_map(|r| r.iter().copied()).collect(),
            source: "test".into(),
        }
    }

    #[test]
    fn profiles_add_up_in_original_units() {
        let t = table(
            &["frequency", "monetary", "success_rate"],
            &[
                &[10.0, 100.0, 0.5],
                &[20.0, 300.0, f64::NAN],
                &[1.0, 0.0, 1.0],
                &[3.0, 100.0, 0.0],
            ],
        );
        let names = vec!["Top".to_string(), "Rest".to_string()];
        let p = profiles(&t, &[0, 0, 1, 1], &names, None);
        assert_eq!((p[0].users, p[1].users), (2, 2));
        // Revenue 400 of 500, 100 of 500.
        assert!((p[0].revenue_share - 0.8).abs() < 1e-12);
        assert!((p[1].revenue - 100.0).abs() < 1e-12);
        assert_eq!(p[0].means[0], ("frequency".to_string(), Some(15.0)));
        // The missing success rate is left out of the mean, not taken as 0.
        assert_eq!(p[0].means[2], ("success_rate".to_string(), Some(0.5)));
        assert_eq!(p[1].means[2], ("success_rate".to_string(), Some(0.5)));
        assert!(p[0].churn_mix.is_empty());
    }

    #[test]
    fn revenue_shares_stay_in_range_with_refunds() {
        // Net: Top 10 + (-8) = 2, Rest 0.5 + (-8) = -7.5: a net share would
        // be -36% and 136%. Clipped per user: Top 10 of 10.5, Rest 0.5.
        let t = table(
            &["frequency", "monetary"],
            &[&[1.0, 10.0], &[1.0, -8.0], &[1.0, 0.5], &[1.0, -8.0]],
        );
        let names = vec!["Top".to_string(), "Rest".to_string()];
        let p = profiles(&t, &[0, 0, 1, 1], &names, None);
        assert!((p[0].revenue - 2.0).abs() < 1e-12);
        assert!((p[1].revenue + 7.5).abs() < 1e-12);
        assert!((p[0].revenue_share - 10.0 / 10.5).abs() < 1e-12);
        assert!((p[1].revenue_share - 0.5 / 10.5).abs() < 1e-12);
        // Nothing positive: no shares.
        let t = table(&["frequency", "monetary"], &[&[1.0, -1.0], &[1.0, -2.0]]);
        let p = profiles(&t, &[0, 1], &names, None);
        assert_eq!((p[0].revenue_share, p[1].revenue_share), (0.0, 0.0));
    }

    #[test]
    fn user_insights_need_the_rfm_columns() {
        let t = table(&["frequency", "monetary"], &[&[1.0, 2.0]]);
        assert!(
            user_insights(
                &t,
                &[0],
                &ChurnThresholds::default(),
                InsightContext::default()
            )
            .is_none()
        );
    }

    #[test]
    fn user_insights_read_trend_and_failures() {
        // u0: top segment, trend -25%: Critical. u1: dormant (40 days).
        // u2: trend -40% and 60% failures: quality. u3: no trend: Safe.
        let t = table(
            &[
                "recency_days",
                "frequency",
                "monetary",
                "usage_trend",
                "failure_rate",
            ],
            &[
                &[1.0, 50.0, 500.0, -0.25, 0.1],
                &[40.0, 5.0, 20.0, -0.5, 0.9],
                &[2.0, 10.0, 30.0, -0.4, 0.6],
                &[3.0, 2.0, 1.0, f64::NAN, f64::NAN],
            ],
        );
        let insights = user_insights(
            &t,
            &[0, 1, 1, 1],
            &ChurnThresholds::default(),
            InsightContext::default(),
        )
        .unwrap();
        assert_eq!(
            insights.churn,
            [
                ChurnRisk::Critical,
                ChurnRisk::Dormant,
                ChurnRisk::HighRiskQuality,
                ChurnRisk::Safe
            ]
        );
        assert!(insights.reasons[3].is_empty());
        assert!(!insights.reasons[0].is_empty());
        // Recency 1 is the most recent of four users: R = 1 + 5*3/4 = 4.
        assert_eq!(insights.rfm.r, [4, 1, 3, 2]);
        assert_eq!(insights.rfm.f, [4, 2, 3, 1]);
    }
}
