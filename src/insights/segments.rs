//! Insights per user (RFM scores, churn risk and its reason) and per
//! segment (profiles in original units), computed from the feature table
//! and the users' segments. Needs the columns of a transactions feature
//! table (README, "Features"); a numeric table without them gets none.

use serde::Serialize;

use super::churn::{ChurnInput, ChurnRisk, ChurnThresholds, classify, reason};
use super::rfm::{RfmScores, rfm_scores};
use crate::features::matrix::NumericTable;

/// Columns RFM scores and churn rules need.
pub const REQUIRED_COLUMNS: [&str; 3] = ["recency_days", "frequency", "monetary"];

/// Columns whose segment means a profile shows, when the table has them.
pub const PROFILE_COLUMNS: [&str; 9] = [
    "frequency",
    "monetary",
    "active_days",
    "recency_days",
    "tenure_days",
    "channel_diversity",
    "success_rate",
    "avg_daily_volume",
    "usage_trend",
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
}

fn column(table: &NumericTable, name: &str) -> Option<Vec<f64>> {
    let j = table.column_index(name)?;
    Some((0..table.rows()).map(|i| table.row(i)[j]).collect())
}

/// RFM and churn for every user; `None` when the table lacks one of
/// [`REQUIRED_COLUMNS`]. Segment 0 is the top-value segment.
pub fn user_insights(
    table: &NumericTable,
    segments: &[u32],
    thresholds: &ChurnThresholds,
) -> Option<UserInsights> {
    let recency = column(table, "recency_days")?;
    let frequency = column(table, "frequency")?;
    let monetary = column(table, "monetary")?;
    let trend = column(table, "usage_trend");
    let failure = column(table, "failure_rate");
    let present =
        |c: &Option<Vec<f64>>, i: usize| c.as_ref().map(|values| values[i]).filter(|v| !v.is_nan());
    let rfm = rfm_scores(&recency, &frequency, &monetary);
    let (churn, reasons) = (0..table.rows())
        .map(|i| {
            let input = ChurnInput {
                recency_days: recency[i],
                usage_trend: present(&trend, i),
                failure_rate: present(&failure, i),
                top_segment: segments[i] == 0,
            };
            let risk = classify(&input, thresholds);
            (risk, reason(&input, thresholds, risk))
        })
        .unzip();
    Some(UserInsights {
        rfm,
        churn,
        reasons,
    })
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
    (0..k)
        .map(|s| SegmentProfile {
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
        assert!(user_insights(&t, &[0], &ChurnThresholds::default()).is_none());
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
        let insights = user_insights(&t, &[0, 1, 1, 1], &ChurnThresholds::default()).unwrap();
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
