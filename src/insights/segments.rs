//! Insights per user (RFM scores, churn risk and its reason) and per
//! segment (profiles in original units), computed from the feature table
//! and the users' segments. Needs the columns of a transactions feature
//! table (README, "Features"); a numeric table without them gets none.

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::btyd::{Lifetime, LifetimeScores};
use super::churn::{ChurnInput, ChurnRisk, ChurnThresholds, classify, reason};
use super::describe::{Trait, describe};
use super::rfm::{RfmBoundaries, RfmScores, rfm_scores};
use crate::features::matrix::NumericTable;

/// Columns RFM scores and churn rules need.
pub const REQUIRED_COLUMNS: [&str; 3] = ["recency_days", "frequency", "monetary"];

/// Every column [`user_insights`] reads when the table has it: the
/// [`REQUIRED_COLUMNS`], the gaps, the trend and its volume, failures.
pub const INSIGHT_COLUMNS: [&str; 8] = [
    "recency_days",
    "frequency",
    "monetary",
    "gap_days",
    "avg_daily_volume",
    "failure_rate",
    "cadence_trend",
    "usage_trend",
];

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
    /// The run to rank and judge users against; `None`: the table's users.
    pub population: Option<&'a Population>,
}

fn column(table: &NumericTable, name: &str) -> Option<Vec<f64>> {
    let j = table.column_index(name)?;
    Some((0..table.rows()).map(|i| table.row(i)[j]).collect())
}

/// What the insights read of a table, one value per user in its order.
struct InsightColumns {
    recency: Vec<f64>,
    frequency: Vec<f64>,
    monetary: Vec<f64>,
    /// `cadence_trend`, else `usage_trend`.
    trend: Option<Vec<f64>>,
    /// The days `trend` measures.
    window: Option<u32>,
    volume: Option<Vec<f64>>,
    failure: Option<Vec<f64>>,
    gaps: Option<Vec<f64>>,
}

impl InsightColumns {
    /// `None` when the table lacks one of [`REQUIRED_COLUMNS`].
    fn of(table: &NumericTable, context: &InsightContext<'_>) -> Option<Self> {
        let (trend, window) = match column(table, "cadence_trend") {
            Some(trend) => (Some(trend), context.trend_days),
            None => (column(table, "usage_trend"), Some(7)),
        };
        Some(InsightColumns {
            recency: column(table, "recency_days")?,
            frequency: column(table, "frequency")?,
            monetary: column(table, "monetary")?,
            trend,
            window,
            volume: column(table, "avg_daily_volume"),
            failure: column(table, "failure_rate"),
            gaps: column(table, "gap_days"),
        })
    }

    /// Each user's expected and actual transactions in the trend window
    /// (at the earlier rate), where the numbers make one.
    fn counts(&self) -> Vec<Option<(f64, f64)>> {
        (0..self.recency.len())
            .map(|i| {
                let (Some(volume), Some(days), Some(t)) =
                    (&self.volume, self.window, present(&self.trend, i))
                else {
                    return None;
                };
                let expected =
                    window_expectation(self.frequency[i], volume[i], f64::from(days), t)?;
                Some((expected, (1.0 + t) * expected))
            })
            .collect()
    }
}

/// The value of user `i` in an optional column, unless missing.
fn present(c: &Option<Vec<f64>>, i: usize) -> Option<f64> {
    c.as_ref().map(|values| values[i]).filter(|v| !v.is_nan())
}

/// What ranks and judges users against each other in one run: the RFM
/// quintile boundaries, the typical gap (the median `gap_days`) and the
/// base trend. Users scored in pieces (a partition each) against the
/// whole run's population get the insights of one run over all of them
/// (`segmint population`, then `score --population`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// `"segmint-population"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// The users of the run.
    pub users: u64,
    /// The RFM quintile boundaries.
    pub rfm: RfmBoundaries,
    /// The median `gap_days` of the users with one; `None` when none has.
    pub typical_gap: Option<f64>,
    /// The whole run's trend (see [`user_insights`]); `None` when no user
    /// tells.
    pub base_trend: Option<f64>,
}

/// The `format` field of a population file.
pub const POPULATION_FORMAT: &str = "segmint-population";

impl Population {
    /// The population of the users of `table`, as [`user_insights`]
    /// would see it with the users in key order (ties ranked by key, the
    /// base trend summed in key order): `None` when the table lacks one of
    /// [`REQUIRED_COLUMNS`].
    pub fn of(table: &NumericTable, context: InsightContext<'_>) -> Option<Population> {
        let columns = InsightColumns::of(table, &context)?;
        let keys = &table.keys;
        let mut order: Vec<usize> = (0..table.rows()).collect();
        order.par_sort_unstable_by(|&a, &b| keys.get(a).cmp(keys.get(b)));
        let counts = columns.counts();
        let in_key_order: Vec<Option<(f64, f64)>> = order.iter().map(|&i| counts[i]).collect();
        Some(Population {
            format: POPULATION_FORMAT.to_string(),
            version: 1,
            users: table.rows() as u64,
            rfm: RfmBoundaries::of(
                &columns.recency,
                &columns.frequency,
                &columns.monetary,
                keys,
            ),
            typical_gap: columns.gaps.as_deref().and_then(median),
            base_trend: base_trend(&in_key_order),
        })
    }
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
/// for a user with one active day); and P(alive) from `context`. RFM
/// quintiles, the typical gap and the log's trend are the table's users',
/// or `context.population`'s.
pub fn user_insights(
    table: &NumericTable,
    segments: &[u32],
    thresholds: &ChurnThresholds,
    context: InsightContext<'_>,
) -> Option<UserInsights> {
    let columns = InsightColumns::of(table, &context)?;
    let InsightColumns {
        recency,
        frequency,
        monetary,
        trend,
        failure,
        gaps,
        ..
    } = &columns;
    let lifetime = context.lifetime.and_then(|l| l.score(table));
    let counts = columns.counts();
    let (rfm, typical_gap, base_trend) = match context.population {
        Some(p) => (
            p.rfm.scores(recency, frequency, monetary, &table.keys),
            p.typical_gap,
            p.base_trend,
        ),
        None => (
            rfm_scores(recency, frequency, monetary),
            gaps.as_deref().and_then(median),
            base_trend(&counts),
        ),
    };
    let overdue: Vec<f64> = (0..table.rows())
        .map(|i| {
            let gap = present(gaps, i).or(typical_gap);
            gap.map_or(f64::NAN, |g| recency[i] / g)
        })
        .collect();
    let (churn, reasons) = (0..table.rows())
        .into_par_iter()
        .map(|i| {
            // Against the log's own trend, and beyond the noise of the
            // user's own rate.
            let judged = match (present(trend, i), counts[i]) {
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
                own_trend: present(trend, i),
                base_trend,
                failure_rate: present(failure, i),
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

    /// A generated table of every insight column, users keyed in byte
    /// order, with ties, missing gaps and missing trends.
    fn insight_table(n: usize) -> NumericTable {
        let columns = &INSIGHT_COLUMNS[..7];
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let f = (1 + i * 7 % 13) as f64;
                vec![
                    (i * 5 % 17) as f64 + 0.25,
                    f,
                    (i * 11 % 23) as f64 * 0.5 - 1.0,
                    if i % 4 == 0 {
                        f64::NAN
                    } else {
                        (i % 9) as f64 + 1.0
                    },
                    f / 91.0,
                    (i % 5) as f64 / 10.0,
                    if i % 6 == 0 {
                        f64::NAN
                    } else {
                        (i % 11) as f64 / 5.0 - 1.0
                    },
                ]
            })
            .collect();
        let mut t = table(columns, &rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
        t.keys = (0..n).map(|i| format!("u{i:04}")).collect();
        t
    }

    /// The rows `rows` of `t`, in that order.
    fn rows_of(t: &NumericTable, rows: &[usize]) -> NumericTable {
        NumericTable {
            keys: rows.iter().map(|&i| t.keys.get(i)).collect(),
            columns: t.columns.clone(),
            values: rows
                .iter()
                .flat_map(|&i| t.row(i).iter().copied())
                .collect(),
            source: "test".into(),
        }
    }

    #[test]
    fn scoring_in_pieces_against_the_population_is_scoring_once() {
        let n = 257;
        let whole = insight_table(n);
        let segments: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let thresholds = ChurnThresholds::default();
        let context = InsightContext {
            lifetime: None,
            trend_days: Some(28),
            population: None,
        };
        let once = user_insights(&whole, &segments, &thresholds, context).unwrap();
        // The population of the users in another order is the same.
        let population = Population::of(&whole, context).unwrap();
        let shuffled: Vec<usize> = (0..n).map(|i| i * 101 % n).collect();
        assert_eq!(
            Population::of(&rows_of(&whole, &shuffled), context).unwrap(),
            population
        );
        assert_eq!(population.users, n as u64);
        // Pieces of every other user, then the rest, scored apart.
        let evens: Vec<usize> = (0..n).step_by(2).collect();
        let odds: Vec<usize> = (1..n).step_by(2).collect();
        let with_population = InsightContext {
            population: Some(&population),
            ..context
        };
        for piece in [evens, odds] {
            let part = rows_of(&whole, &piece);
            let labels: Vec<u32> = piece.iter().map(|&i| segments[i]).collect();
            let apart = user_insights(&part, &labels, &thresholds, with_population).unwrap();
            for (row, &i) in piece.iter().enumerate() {
                assert_eq!(apart.rfm.r[row], once.rfm.r[i], "user {i}");
                assert_eq!(apart.rfm.f[row], once.rfm.f[i], "user {i}");
                assert_eq!(apart.rfm.m[row], once.rfm.m[i], "user {i}");
                assert_eq!(apart.churn[row], once.churn[i], "user {i}");
                assert_eq!(apart.reasons[row], once.reasons[i], "user {i}");
                assert_eq!(apart.overdue[row].to_bits(), once.overdue[i].to_bits());
            }
        }
        // A piece scored against itself ranks its users among themselves.
        let part = rows_of(&whole, &(0..40).collect::<Vec<_>>());
        let alone = user_insights(&part, &segments[..40], &thresholds, context).unwrap();
        assert_ne!(alone.rfm.r, once.rfm.r[..40]);
    }
}
