//! The numbers of a report (SPEC section 5), gathered once: the JSON
//! summary is this struct, and the HTML report draws from it, so the two
//! always agree.

use serde::Serialize;

use crate::cluster::sweep::Sweep;
use crate::features::table::FeatureTable;
use crate::ingest::IngestReport;
use crate::insights::activity::{Activity, ChannelMix, HourWeekday, StatusCount, WEEKDAYS};
use crate::insights::churn::{ChurnRisk, ChurnThresholds};
use crate::insights::concentration::{Concentration, concentration};
use crate::insights::rfm::RfmSegment;
use crate::insights::segments::{SegmentProfile, UserInsights};
use crate::values::time::{MS_PER_DAY, format_iso};

/// Summary format identifier and version, for readers of the JSON.
pub const SUMMARY_FORMAT: &str = "segmint-summary";
pub const SUMMARY_VERSION: u32 = 1;

/// How many users the churn table lists.
pub const AT_RISK_ROWS: usize = 25;

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub format: &'static str,
    pub version: u32,
    pub generated_by: String,
    pub inputs: Vec<String>,
    /// Rows of the inputs left out, and why.
    pub left_out: LeftOut,
    /// Reference time and observation window (UTC).
    pub as_of: String,
    pub window_start: String,
    pub window_days: i64,
    pub kpis: Kpis,
    pub channels: Vec<ChannelMix>,
    pub funnel: Vec<StatusCount>,
    /// The heatmaps' rows (UTC weekdays); columns are hours 0-23.
    pub heatmap_rows: [&'static str; 7],
    /// Transactions by weekday (rows) and hour (columns), UTC.
    pub heatmap: HourWeekday,
    pub concentration: Concentration,
    pub sweep: SweepCurve,
    pub segmentation: Segmentation,
    pub rfm: RfmSummary,
    pub churn: ChurnSummary,
}

/// Rows of the inputs the numbers do not count.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LeftOut {
    /// Bad rows skipped under `--skip-bad-rows`.
    pub skipped_rows: u64,
    /// The first of them, as their errors read.
    pub skipped_examples: Vec<String>,
    /// Rows after `--as-of`.
    pub rows_after_as_of: u64,
}

impl LeftOut {
    pub fn of(report: &IngestReport) -> Self {
        LeftOut {
            skipped_rows: report.skipped_rows,
            skipped_examples: report.skipped_examples.clone(),
            rows_after_as_of: report.rows_after_as_of,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Kpis {
    pub users: u64,
    pub transactions: u64,
    pub revenue: f64,
    pub success_rate: Option<f64>,
    /// Average revenue per user.
    pub arpu: f64,
    /// Users with a transaction in the last 7 days.
    pub active_last_7d: u64,
    pub dormant_users: u64,
    /// Users whose churn risk is not Safe.
    pub at_risk_users: u64,
    /// Revenue of those users.
    pub revenue_at_risk: f64,
}

/// The sweep's curves, for the elbow and silhouette charts.
#[derive(Clone, Debug, Serialize)]
pub struct SweepCurve {
    pub ks: Vec<usize>,
    pub inertia: Vec<f64>,
    /// Euclidean silhouette, exact or sampled (see `silhouette_on`).
    pub silhouette: Vec<Option<f64>>,
    /// Users the silhouette was computed on.
    pub silhouette_on: Vec<Option<usize>>,
    pub calinski_harabasz: Vec<Option<f64>>,
    pub davies_bouldin: Vec<Option<f64>>,
    /// K at the knee of the inertia curve.
    pub knee: Option<usize>,
    /// K with the highest silhouette; none when no silhouette was
    /// computed (`--silhouette none`).
    pub best_silhouette: Option<usize>,
}

impl SweepCurve {
    pub fn new(sweep: &Sweep) -> Self {
        let m = &sweep.metrics;
        SweepCurve {
            ks: m.iter().map(|m| m.k).collect(),
            inertia: m.iter().map(|m| m.inertia).collect(),
            silhouette: m.iter().map(|m| m.silhouette).collect(),
            silhouette_on: m.iter().map(|m| m.silhouette_on).collect(),
            calinski_harabasz: m.iter().map(|m| m.calinski_harabasz).collect(),
            davies_bouldin: m.iter().map(|m| m.davies_bouldin).collect(),
            knee: sweep.knee,
            best_silhouette: m
                .iter()
                .any(|m| m.silhouette.is_some())
                .then_some(sweep.chosen),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Segmentation {
    pub k: usize,
    pub features: Vec<String>,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    /// Segment names, highest value first.
    pub names: Vec<String>,
    pub profiles: Vec<SegmentProfile>,
    /// Hour x weekday activity per segment, segment 0 first.
    pub heatmaps: Vec<HourWeekday>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RfmSummary {
    /// One row per named RFM segment, in [`RfmSegment::ALL`] order.
    pub segments: Vec<RfmCount>,
    /// Users per cell: `grid[r - 1][f - 1]`.
    pub grid: [[u64; 5]; 5],
}

#[derive(Clone, Debug, Serialize)]
pub struct RfmCount {
    pub segment: String,
    pub users: u64,
    pub revenue: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChurnSummary {
    pub thresholds: ChurnThresholds,
    /// One row per risk, in [`ChurnRisk::ALL`] order.
    pub risks: Vec<RiskCount>,
    /// The users most worth a call: every risk but Safe, riskiest first,
    /// then by revenue.
    pub at_risk: Vec<AtRiskUser>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RiskCount {
    pub risk: String,
    pub users: u64,
    pub revenue: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AtRiskUser {
    pub user_id: String,
    pub segment: String,
    pub risk: String,
    pub reason: String,
    pub revenue: f64,
    pub transactions: u64,
    pub recency_days: f64,
    pub usage_trend: Option<f64>,
    pub failure_rate: Option<f64>,
}

/// Everything a summary is made from.
pub struct Parts<'a> {
    pub inputs: Vec<String>,
    pub left_out: LeftOut,
    pub table: &'a FeatureTable,
    pub activity: Activity,
    pub sweep: &'a Sweep,
    /// The fit reported (one of the sweep's, or a separate one).
    pub k: usize,
    pub features: Vec<String>,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub names: Vec<String>,
    pub segments: &'a [u32],
    pub profiles: Vec<SegmentProfile>,
    pub insights: &'a UserInsights,
    pub thresholds: ChurnThresholds,
}

impl Summary {
    pub fn new(parts: Parts<'_>) -> Summary {
        let Parts {
            inputs,
            left_out,
            table,
            mut activity,
            sweep,
            k,
            features,
            inertia,
            silhouette,
            names,
            segments,
            profiles,
            insights,
            thresholds,
        } = parts;
        let users = &table.users;
        let revenue: Vec<f64> = users.iter().map(|u| u.monetary.to_f64()).collect();
        let total_revenue = activity.revenue;

        let mut rfm_users = [0u64; RfmSegment::ALL.len()];
        let mut rfm_revenue = [0.0f64; RfmSegment::ALL.len()];
        let mut grid = [[0u64; 5]; 5];
        let rfm = &insights.rfm;
        for i in 0..users.len() {
            let s = RfmSegment::ALL
                .iter()
                .position(|&s| s == rfm.segments[i])
                .expect("every RFM segment is in ALL");
            rfm_users[s] += 1;
            rfm_revenue[s] += revenue[i];
            grid[usize::from(rfm.r[i]) - 1][usize::from(rfm.f[i]) - 1] += 1;
        }

        let mut risk_users = [0u64; ChurnRisk::ALL.len()];
        let mut risk_revenue = [0.0f64; ChurnRisk::ALL.len()];
        let risk_index = |r: ChurnRisk| {
            ChurnRisk::ALL
                .iter()
                .position(|&a| a == r)
                .expect("every risk is in ALL")
        };
        for (i, &risk) in insights.churn.iter().enumerate() {
            risk_users[risk_index(risk)] += 1;
            risk_revenue[risk_index(risk)] += revenue[i];
        }
        let mut flagged: Vec<usize> = (0..users.len())
            .filter(|&i| insights.churn[i] != ChurnRisk::Safe)
            .collect();
        flagged.sort_by(|&a, &b| {
            risk_index(insights.churn[a])
                .cmp(&risk_index(insights.churn[b]))
                .then(revenue[b].total_cmp(&revenue[a]))
                .then(users[a].user_id.cmp(&users[b].user_id))
        });
        let at_risk = flagged
            .iter()
            .take(AT_RISK_ROWS)
            .map(|&i| AtRiskUser {
                user_id: users[i].user_id.clone(),
                segment: names[segments[i] as usize].clone(),
                risk: insights.churn[i].name().to_string(),
                reason: insights.reasons[i].clone(),
                revenue: revenue[i],
                transactions: users[i].frequency,
                recency_days: users[i].recency_days,
                usage_trend: users[i].usage_trend,
                failure_rate: users[i].failure_rate,
            })
            .collect();

        let kpis = Kpis {
            users: users.len() as u64,
            transactions: activity.transactions,
            revenue: total_revenue,
            success_rate: activity.success_rate,
            arpu: if users.is_empty() {
                0.0
            } else {
                total_revenue / users.len() as f64
            },
            active_last_7d: users.iter().filter(|u| u.avg_daily_last_7d > 0.0).count() as u64,
            dormant_users: users.iter().filter(|u| u.is_dormant).count() as u64,
            at_risk_users: flagged.len() as u64,
            // From +0: an empty f64 sum is -0, which prints as "-0.00".
            revenue_at_risk: flagged.iter().fold(0.0, |total, &i| total + revenue[i]),
        };
        let heatmaps = std::mem::take(&mut activity.segment_heatmaps);
        Summary {
            format: SUMMARY_FORMAT,
            version: SUMMARY_VERSION,
            generated_by: format!("segmint {}", env!("CARGO_PKG_VERSION")),
            inputs,
            left_out,
            as_of: format_iso(table.as_of_ms),
            window_start: format_iso(table.window_start_day * MS_PER_DAY),
            window_days: table.window_days,
            kpis,
            channels: activity.channels,
            funnel: activity.funnel,
            heatmap_rows: WEEKDAYS,
            heatmap: activity.heatmap,
            concentration: concentration(&revenue, &[1, 3, 5, 10], 100),
            sweep: SweepCurve::new(sweep),
            segmentation: Segmentation {
                k,
                features,
                inertia,
                silhouette,
                names,
                profiles,
                heatmaps,
            },
            rfm: RfmSummary {
                segments: RfmSegment::ALL
                    .iter()
                    .enumerate()
                    .map(|(s, seg)| RfmCount {
                        segment: seg.name().to_string(),
                        users: rfm_users[s],
                        revenue: rfm_revenue[s],
                    })
                    .collect(),
                grid,
            },
            churn: ChurnSummary {
                thresholds,
                risks: ChurnRisk::ALL
                    .iter()
                    .enumerate()
                    .map(|(r, risk)| RiskCount {
                        risk: risk.name().to_string(),
                        users: risk_users[r],
                        revenue: risk_revenue[r],
                    })
                    .collect(),
                at_risk,
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serialises") + "\n"
    }
}
