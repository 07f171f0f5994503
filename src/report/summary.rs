//! The numbers of a report (README, "Segments and insights"), gathered
//! once: the JSON summary is this struct, and the HTML report draws from
//! it, so the two always agree.

use serde::Serialize;

use crate::cluster::sweep::Sweep;
use crate::features::cadence::Cadence;
use crate::features::calendar::{Cohort, PeriodKind};
use crate::features::table::FeatureTable;
use crate::ingest::IngestReport;
use crate::insights::activity::{Activity, ChannelMix, HourWeekday, StatusCount, WEEKDAYS};
use crate::insights::btyd::{BgNbd, BtydError, Fitted, GammaGamma, LifetimeFit};
use crate::insights::certainty::MixtureSummary;
use crate::insights::churn::{ChurnRisk, ChurnThresholds};
use crate::insights::communities::CommunitySummary;
use crate::insights::concentration::{Concentration, concentration};
use crate::insights::latent::LatentSummary;
use crate::insights::rfm::RfmSegment;
use crate::insights::segments::{SegmentProfile, UserInsights};
use crate::insights::tree::TreeSummary;
use crate::report::text::thousands;
use crate::values::time::{MS_PER_DAY, day_of, format_iso};

/// Summary format identifier and version, for readers of the JSON.
pub const SUMMARY_FORMAT: &str = "segmint-summary";
/// The version of the summary's layout that this crate writes.
pub const SUMMARY_VERSION: u32 = 2;

/// How many users the churn table lists.
pub const AT_RISK_ROWS: usize = 25;

/// Every number of a report, for the HTML page and as the JSON summary
/// (`report --json`); each field is a JSON field of the same name.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Always [`SUMMARY_FORMAT`], `segmint-summary`.
    pub format: &'static str,
    /// The layout's version, [`SUMMARY_VERSION`].
    pub version: u32,
    /// What wrote the summary: `segmint <version>`.
    pub generated_by: String,
    /// The input logs in the order given, `<stdin>` for standard input.
    pub inputs: Vec<String>,
    /// Rows of the inputs left out, and why.
    pub left_out: LeftOut,
    /// The reference time (`--as-of`, or the latest transaction), as
    /// ISO 8601 UTC: `2025-06-30T23:59:12Z`.
    pub as_of: String,
    /// The first day of the observation window (the first transaction's
    /// UTC date), as its midnight in ISO 8601 UTC.
    pub window_start: String,
    /// Days in the observation window, its first and as_of's UTC dates
    /// included.
    pub window_days: i64,
    /// The headline figures of all users.
    pub kpis: Kpis,
    /// One row per channel, most transactions first; empty without a
    /// channel column.
    pub channels: Vec<ChannelMix>,
    /// One row per status, in funnel order
    /// ([`crate::insights::activity::FUNNEL_ORDER`]), then the others by
    /// count; empty without a status column.
    pub funnel: Vec<StatusCount>,
    /// The heatmaps' rows (UTC weekdays); columns are hours 0-23.
    pub heatmap_rows: [&'static str; 7],
    /// Transactions by weekday (rows) and hour (columns), UTC.
    pub heatmap: HourWeekday,
    /// How much of the revenue the top users carry (refunds clipped at
    /// 0): top 1, 3, 5 and 10 users, top 10% and 20%, a Pareto curve of
    /// 101 points and the Gini coefficient.
    pub concentration: Concentration,
    /// The metrics of every K swept, for choosing K.
    pub sweep: SweepCurve,
    /// The segments reported.
    pub segmentation: Segmentation,
    /// Users and revenue per RFM segment.
    pub rfm: RfmSummary,
    /// Users and revenue per churn risk, and the users most at risk.
    pub churn: ChurnSummary,
    /// The log's rhythm: users' gaps between active days, and the trend
    /// window they gave.
    pub cadence: CadenceSummary,
    /// Revenue, transactions and active users per week or month.
    pub trends: Trends,
    /// Monthly acquisition cohorts and their users active each month
    /// since.
    pub cohorts: Vec<Cohort>,
    /// The BG/NBD and Gamma-Gamma fits, P(alive), expected transactions
    /// and CLV; `null` when the features they read are missing.
    pub lifetime: Option<LifetimeSummary>,
}

/// The log's rhythm (see [`Cadence`]), and why the trend window has its
/// length.
#[derive(Clone, Debug, Serialize)]
pub struct CadenceSummary {
    /// Users, gaps, the trend window and its source.
    #[serde(flatten)]
    pub cadence: Cadence,
    /// The trend window and why, in a sentence.
    pub explanation: String,
}

/// Activity per period.
#[derive(Clone, Debug, Serialize)]
pub struct Trends {
    /// `week` (logs up to 26 weeks long) or `month`.
    pub period: PeriodKind,
    /// Every period of the window, oldest first.
    pub periods: Vec<TrendPeriod>,
}

/// One week's or month's activity.
#[derive(Clone, Debug, Serialize)]
pub struct TrendPeriod {
    /// Its first day, `YYYY-MM-DD`.
    pub start: String,
    /// Days of the period inside the observation window.
    pub days_observed: u32,
    /// Whether the window covers only part of it (a first or last period
    /// cut short: its totals are not comparable with the others').
    pub partial: bool,
    /// Revenue, net of refunds.
    pub revenue: f64,
    /// Transactions.
    pub transactions: u64,
    /// Users with a transaction in the period.
    pub active_users: u64,
}

/// A fitted model's parameters and fit, or why there is none.
#[derive(Clone, Debug, Serialize)]
pub struct ModelFit<P> {
    /// The parameters; `null` when there is no fit.
    pub params: Option<P>,
    /// Customers fitted on.
    pub customers: Option<u64>,
    /// Mean log-likelihood per customer.
    pub log_likelihood: Option<f64>,
    /// Newton iterations.
    pub iterations: Option<u32>,
    /// Why there is no fit; `null` when there is one.
    pub error: Option<String>,
}

impl<P: Copy> ModelFit<P> {
    /// The record of a fit, or of why there is none.
    pub fn new(fit: &Result<Fitted<P>, BtydError>) -> Self {
        match fit {
            Ok(f) => ModelFit {
                params: Some(f.params),
                customers: Some(f.customers),
                log_likelihood: Some(f.log_likelihood),
                iterations: Some(f.iterations),
                error: None,
            },
            Err(e) => ModelFit {
                params: None,
                customers: None,
                log_likelihood: None,
                iterations: None,
                error: Some(e.to_string()),
            },
        }
    }
}

impl ModelFit<BgNbd> {
    /// `BG/NBD r 0.272, alpha 5.06, a 0.802, b 2.32 (4,000 customers)`,
    /// or why there is no fit.
    pub fn describe(&self) -> String {
        match (&self.params, &self.error) {
            (Some(p), _) => format!(
                "BG/NBD r {}, alpha {}, a {}, b {} ({} customers)",
                sig(p.r),
                sig(p.alpha),
                sig(p.a),
                sig(p.b),
                thousands(self.customers.unwrap_or(0))
            ),
            (None, e) => format!("no BG/NBD: {}", e.as_deref().unwrap_or("not fitted")),
        }
    }
}

impl ModelFit<GammaGamma> {
    /// `Gamma-Gamma p 6.14, q 3.86, v 14.5 (2,707 repeat customers)`, or
    /// why there is no fit.
    pub fn describe(&self) -> String {
        match (&self.params, &self.error) {
            (Some(p), _) => format!(
                "Gamma-Gamma p {}, q {}, v {} ({} repeat customers)",
                sig(p.p),
                sig(p.q),
                sig(p.v),
                thousands(self.customers.unwrap_or(0))
            ),
            (None, e) => format!("no Gamma-Gamma: {}", e.as_deref().unwrap_or("not fitted")),
        }
    }
}

/// Three significant digits.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

/// Lifetime value (README, "Lifetime value").
#[derive(Clone, Debug, Serialize)]
pub struct LifetimeSummary {
    /// Days ahead the expectations cover.
    pub horizon_days: u32,
    /// Discount rate per 30 days of the CLV.
    pub discount_rate: f64,
    /// BG/NBD: r, alpha, a, b.
    pub bgnbd: ModelFit<BgNbd>,
    /// Gamma-Gamma: p, q, v.
    pub gamma_gamma: ModelFit<GammaGamma>,
    /// Mean P(alive) over the users; `null` without BG/NBD.
    pub mean_p_alive: Option<f64>,
    /// Users whose P(alive) is below the churn rules' `p_alive_risk`.
    pub likely_gone: Option<u64>,
    /// Expected transactions of all users over the horizon.
    pub expected_transactions: Option<f64>,
    /// CLV of all users over the horizon; `null` without Gamma-Gamma.
    pub clv: Option<f64>,
    /// CLV of the users at churn risk (every risk but Safe): the value
    /// at risk.
    pub value_at_risk: Option<f64>,
    /// Per segment, segment 0 first: mean P(alive) and total CLV.
    pub segments: Vec<SegmentValue>,
}

/// One segment's lifetime value.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentValue {
    /// The segment's name.
    pub segment: String,
    /// Mean P(alive) of its users.
    pub mean_p_alive: Option<f64>,
    /// Expected transactions of its users over the horizon.
    pub expected_transactions: Option<f64>,
    /// CLV of its users over the horizon.
    pub clv: Option<f64>,
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
    /// The rows a read left out, as its report counts them.
    pub fn of(report: &IngestReport) -> Self {
        LeftOut {
            skipped_rows: report.skipped_rows,
            skipped_examples: report.skipped_examples.clone(),
            rows_after_as_of: report.rows_after_as_of,
        }
    }
}

/// The headline figures of a report, over all users of the window.
#[derive(Clone, Debug, Serialize)]
pub struct Kpis {
    /// Users with at least one transaction counted.
    pub users: u64,
    /// Transactions counted (rows left out excluded).
    pub transactions: u64,
    /// Sum of every amount, net of refunds, in currency units.
    pub revenue: f64,
    /// Successful transactions over those with a status, in [0, 1];
    /// `null` when no transaction has a status.
    pub success_rate: Option<f64>,
    /// Average revenue per user.
    pub arpu: f64,
    /// Users with a transaction in the last 7 days.
    pub active_last_7d: u64,
    /// Users with a transaction in the trend window (`recent_days`, the
    /// last days the log's cadence makes comparable).
    pub active_recent: u64,
    /// Days of the trend window.
    pub recent_days: u32,
    /// Users without a transaction for more than `--dormant-days` days
    /// and more than `--dormant-gaps` of their expected gaps, as the
    /// Dormant rule has it (whether or not an earlier rule gave them
    /// another risk).
    pub dormant_users: u64,
    /// Users whose churn risk is not Safe.
    pub at_risk_users: u64,
    /// Revenue of those users.
    pub revenue_at_risk: f64,
}

/// The sweep's curves, for the elbow and silhouette charts.
#[derive(Clone, Debug, Serialize)]
pub struct SweepCurve {
    /// The K swept, ascending; every other list holds one entry per K, in
    /// this order.
    pub ks: Vec<usize>,
    /// Sum of squared distances of the users to their centres, in scaled
    /// space (lower is tighter).
    pub inertia: Vec<f64>,
    /// Euclidean silhouette, exact or sampled (see `silhouette_on`).
    pub silhouette: Vec<Option<f64>>,
    /// Users the silhouette was computed on.
    pub silhouette_on: Vec<Option<usize>>,
    /// Calinski-Harabasz index (higher is better); `null` where fewer than
    /// 2 segments, or as many segments as users, hold users.
    pub calinski_harabasz: Vec<Option<f64>>,
    /// Davies-Bouldin index (lower is better); `null` where
    /// `calinski_harabasz` is.
    pub davies_bouldin: Vec<Option<f64>>,
    /// K at the knee of the inertia curve.
    pub knee: Option<usize>,
    /// K with the highest silhouette; none when no silhouette was
    /// computed (`--silhouette none`).
    pub best_silhouette: Option<usize>,
}

impl SweepCurve {
    /// The curves of `sweep`, and its knee and choice.
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

/// The fit reported: its segments, their names and profiles.
#[derive(Clone, Debug, Serialize)]
pub struct Segmentation {
    /// Segments (`--k`, or the sweep's choice with `--k auto`).
    pub k: usize,
    /// The features clustered on, in column order.
    pub features: Vec<String>,
    /// Sum of squared distances of the users to their segment's centre,
    /// in scaled space.
    pub inertia: f64,
    /// Mean Euclidean silhouette, exact or sampled; `null` when not
    /// computed (`--silhouette none`).
    pub silhouette: Option<f64>,
    /// Segment names, highest value first.
    pub names: Vec<String>,
    /// One per segment, segment 0 first: size, revenue, feature means in
    /// original units and churn mix.
    pub profiles: Vec<SegmentProfile>,
    /// Hour x weekday activity per segment, segment 0 first.
    pub heatmaps: Vec<HourWeekday>,
    /// For a Gaussian mixture (`--method gmm`): its likelihood, criteria
    /// and how certain the memberships are; absent for K-Means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixture: Option<MixtureSummary>,
    /// For hierarchical clustering: the top of the tree and the height
    /// of each K's cut; absent for other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<TreeSummary>,
    /// For graph communities (Leiden): the graph, the modularity, the
    /// edge weight between segments and the bridging users; absent for
    /// other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communities: Option<CommunitySummary>,
    /// For deep embedding clustering: the network, how its training went
    /// and a sample of users in its latent space; absent for other
    /// methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latent: Option<LatentSummary>,
}

/// The RFM segments of all users (README, "Segments and insights").
#[derive(Clone, Debug, Serialize)]
pub struct RfmSummary {
    /// One row per named RFM segment, in [`RfmSegment::ALL`] order.
    pub segments: Vec<RfmCount>,
    /// Users per cell: `grid[r - 1][f - 1]`.
    pub grid: [[u64; 5]; 5],
}

/// One RFM segment's users and revenue.
#[derive(Clone, Debug, Serialize)]
pub struct RfmCount {
    /// The segment's name: `Champions`, `At Risk`.
    pub segment: String,
    /// Users in the segment (0 for an empty one).
    pub users: u64,
    /// Their revenue, net of refunds, in currency units.
    pub revenue: f64,
}

/// Churn risks of all users (README, "Segments and insights").
#[derive(Clone, Debug, Serialize)]
pub struct ChurnSummary {
    /// The thresholds the risks were assigned with.
    pub thresholds: ChurnThresholds,
    /// One row per risk, in [`ChurnRisk::ALL`] order.
    pub risks: Vec<RiskCount>,
    /// The users most worth a call: every risk but Safe, by CLV when the
    /// lifetime models were fitted (the value at risk first), else
    /// riskiest first, then by revenue; at most [`AT_RISK_ROWS`].
    pub at_risk: Vec<AtRiskUser>,
    /// What `at_risk` is ranked by: `clv` or `risk`.
    pub ranked_by: &'static str,
}

/// One churn risk's users and revenue.
#[derive(Clone, Debug, Serialize)]
pub struct RiskCount {
    /// The risk's name: `Dormant`, `High Risk (Declining)`.
    pub risk: String,
    /// Users with that risk (0 for none).
    pub users: u64,
    /// Their revenue, net of refunds, in currency units.
    pub revenue: f64,
}

/// A user at risk of churning, as the churn table lists it.
#[derive(Clone, Debug, Serialize)]
pub struct AtRiskUser {
    /// The user's key.
    pub user_id: String,
    /// The name of the user's segment.
    pub segment: String,
    /// The name of its churn risk (never `Safe`).
    pub risk: String,
    /// Why it got that risk, with the numbers behind it.
    pub reason: String,
    /// Its revenue, net of refunds, in currency units.
    pub revenue: f64,
    /// Its transactions (`frequency`).
    pub transactions: u64,
    /// Days from its last transaction to as_of.
    pub recency_days: f64,
    /// The usage trend over the trend window (`cadence_trend`, -0.3 is a
    /// 30% drop); `null` when it had no activity on the window's earlier
    /// days.
    pub trend: Option<f64>,
    /// Failed transactions over those with a status, in [0, 1]; `null`
    /// when none of them has a status.
    pub failure_rate: Option<f64>,
    /// Days since the last transaction over the user's expected gap;
    /// `null` when unknown.
    pub overdue: Option<f64>,
    /// P(alive); `null` without BG/NBD.
    pub p_alive: Option<f64>,
    /// CLV over the horizon; `null` without Gamma-Gamma.
    pub clv: Option<f64>,
}

/// Everything a summary is made from.
pub struct Parts<'a> {
    /// The input logs' names, for [`Summary::inputs`].
    pub inputs: Vec<String>,
    /// Rows of the inputs left out, for [`Summary::left_out`].
    pub left_out: LeftOut,
    /// The users' features; the other per-user parts follow its row order.
    pub table: &'a FeatureTable,
    /// The activity pass over the logs, its per-segment heatmaps included.
    pub activity: Activity,
    /// The sweep over K, its reported fit's row computed on the segments
    /// written.
    pub sweep: &'a Sweep,
    /// The fit reported (one of the sweep's, or a separate one).
    pub k: usize,
    /// The features clustered on.
    pub features: Vec<String>,
    /// The reported fit's inertia, in scaled space.
    pub inertia: f64,
    /// The reported fit's mean silhouette; `None` when not computed.
    pub silhouette: Option<f64>,
    /// Segment names, segment 0 (the highest value) first.
    pub names: Vec<String>,
    /// Each user's segment.
    pub segments: &'a [u32],
    /// One profile per segment, segment 0 first.
    pub profiles: Vec<SegmentProfile>,
    /// Each user's RFM scores and churn risk.
    pub insights: &'a UserInsights,
    /// The thresholds the churn risks were assigned with.
    pub thresholds: ChurnThresholds,
    /// A Gaussian mixture's record; `None` for K-Means.
    pub mixture: Option<MixtureSummary>,
    /// A hierarchical fit's tree; `None` for other methods.
    pub tree: Option<TreeSummary>,
    /// A Leiden fit's communities; `None` for other methods.
    pub communities: Option<CommunitySummary>,
    /// A deep embedding clustering fit's latent space; `None` for other
    /// methods.
    pub latent: Option<LatentSummary>,
    /// The lifetime models' fits; `None` when the table lacks their
    /// columns.
    pub lifetime: Option<&'a LifetimeFit>,
}

impl Summary {
    /// Gathers the numbers of `parts`: totals, RFM and churn counts, the
    /// users most at risk, and revenue concentration.
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
            mixture,
            tree,
            communities,
            latent,
            lifetime,
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
        let scores = insights.lifetime.as_ref();
        let clv = scores.and_then(|l| l.clv.as_deref());
        let known = |v: f64| Some(v).filter(|v| !v.is_nan());
        match clv {
            Some(clv) => flagged.sort_by(|&a, &b| {
                // NaN (no value) last.
                let value = |i: usize| known(clv[i]).unwrap_or(f64::NEG_INFINITY);
                value(b)
                    .total_cmp(&value(a))
                    .then(risk_index(insights.churn[a]).cmp(&risk_index(insights.churn[b])))
                    .then(users[a].user_id.cmp(&users[b].user_id))
            }),
            None => flagged.sort_by(|&a, &b| {
                risk_index(insights.churn[a])
                    .cmp(&risk_index(insights.churn[b]))
                    .then(revenue[b].total_cmp(&revenue[a]))
                    .then(users[a].user_id.cmp(&users[b].user_id))
            }),
        }
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
                trend: users[i].cadence_trend,
                failure_rate: users[i].failure_rate,
                overdue: known(insights.overdue[i]),
                p_alive: scores.and_then(|l| known(l.p_alive[i])),
                clv: clv.and_then(|c| known(c[i])),
            })
            .collect();
        let recent_from = day_of(table.as_of_ms) - i64::from(table.cadence.trend_days) + 1;
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
            active_recent: users
                .iter()
                .filter(|u| day_of(u.last_seen_ms) >= recent_from)
                .count() as u64,
            recent_days: table.cadence.trend_days,
            // As the Dormant rule sees them (whatever rule came first).
            dormant_users: (0..users.len())
                .filter(|&i| {
                    let late = insights.overdue[i];
                    users[i].recency_days > thresholds.dormant_days
                        && (late.is_nan() || late > thresholds.dormant_gaps)
                })
                .count() as u64,
            at_risk_users: flagged.len() as u64,
            // From +0: an empty f64 sum is -0, which prints as "-0.00".
            revenue_at_risk: flagged.iter().fold(0.0, |total, &i| total + revenue[i]),
        };
        let lifetime = lifetime.map(|fit| {
            let sum = |values: &[f64], pick: &dyn Fn(usize) -> bool| {
                (0..values.len())
                    .filter(|&i| pick(i) && !values[i].is_nan())
                    .fold(0.0, |t, i| t + values[i])
            };
            let mean = |values: &[f64], pick: &dyn Fn(usize) -> bool| {
                let (total, count) = (0..values.len())
                    .filter(|&i| pick(i) && !values[i].is_nan())
                    .fold((0.0, 0u64), |(t, c), i| (t + values[i], c + 1));
                (count > 0).then(|| total / count as f64)
            };
            let all = |_: usize| true;
            LifetimeSummary {
                horizon_days: fit.model.options.horizon_days,
                discount_rate: fit.model.options.discount_rate,
                bgnbd: ModelFit::new(&fit.bgnbd),
                gamma_gamma: ModelFit::new(&fit.gamma_gamma),
                mean_p_alive: scores.and_then(|l| mean(&l.p_alive, &all)),
                likely_gone: scores.map(|l| {
                    l.p_alive
                        .iter()
                        .filter(|&&p| p < thresholds.p_alive_risk)
                        .count() as u64
                }),
                expected_transactions: scores.map(|l| sum(&l.expected, &all)),
                clv: clv.map(|c| sum(c, &all)),
                value_at_risk: clv.map(|c| sum(c, &|i| insights.churn[i] != ChurnRisk::Safe)),
                segments: (0..k)
                    .map(|s| {
                        let of = |i: usize| segments[i] as usize == s;
                        SegmentValue {
                            segment: names[s].clone(),
                            mean_p_alive: scores.and_then(|l| mean(&l.p_alive, &of)),
                            expected_transactions: scores.map(|l| sum(&l.expected, &of)),
                            clv: clv.map(|c| sum(c, &of)),
                        }
                    })
                    .collect(),
            }
        });
        let calendar = &table.calendar;
        let period_revenue = std::mem::take(&mut activity.period_revenue);
        let trends = Trends {
            period: calendar.period,
            periods: calendar
                .periods
                .iter()
                .zip(&period_revenue)
                .map(|(p, &revenue)| TrendPeriod {
                    start: p.start.clone(),
                    days_observed: p.days_observed,
                    partial: p.partial,
                    revenue,
                    transactions: p.transactions,
                    active_users: p.active_users,
                })
                .collect(),
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
                mixture,
                tree,
                communities,
                latent,
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
                ranked_by: if clv.is_some() { "clv" } else { "risk" },
            },
            cadence: CadenceSummary {
                explanation: table.cadence.explain(),
                cadence: table.cadence.clone(),
            },
            trends,
            cohorts: calendar.cohorts.clone(),
            lifetime,
        }
    }

    /// The summary as pretty-printed JSON, with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serialises") + "\n"
    }
}
