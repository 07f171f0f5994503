//! Business analytics over the transactions themselves (README, "Segments and insights"):
//! totals, channel mix, the status funnel and the hour x weekday heatmap,
//! globally and per segment. Per-user numbers live in the feature table;
//! this module owns what needs every row, folded in one pass by
//! [`crate::ingest::scan::scan`].

use hashbrown::HashMap;
use serde::Serialize;

use crate::features::table::FeatureTable;
use crate::ingest::scan::{Transaction, scan};
use crate::ingest::{IngestError, IngestOptions, Input};
use crate::values::amount::Money;
use crate::values::time::{day_of, hour_of};

/// Weekday labels, Monday first (ISO 8601).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Statuses in funnel order: the stages a message goes through, then the
/// outcomes that end it early. Other statuses follow, most frequent first.
pub const FUNNEL_ORDER: [&str; 7] = [
    "sent",
    "delivered",
    "read",
    "opened",
    "clicked",
    "rna",
    "failed",
];

/// Transactions per weekday (rows, Monday first) and UTC hour (columns).
pub type HourWeekday = [[u64; 24]; 7];

/// Everything the transactions say beyond per-user features.
#[derive(Clone, Debug, Serialize)]
pub struct Activity {
    /// Transactions read (rows accepted; rows left out are not counted),
    /// of every user.
    pub transactions: u64,
    /// Sum of every amount, net of refunds, in the log's money units
    /// (summed exactly, then made an f64).
    pub revenue: f64,
    /// Transactions with a non-empty status; 0 without a status column.
    pub with_status: u64,
    /// Of those, the transactions whose status is a success
    /// (`--success-status`).
    pub successes: u64,
    /// `successes / with_status`, in [0, 1]; `None` when no transaction
    /// has a status.
    pub success_rate: Option<f64>,
    /// Most transactions first.
    pub channels: Vec<ChannelMix>,
    /// In [`FUNNEL_ORDER`], then by count.
    pub funnel: Vec<StatusCount>,
    /// UTC times; all users.
    pub heatmap: HourWeekday,
    /// One per segment, segment 0 first (empty without segments).
    pub segment_heatmaps: Vec<HourWeekday>,
    /// Revenue, net of refunds, of each period (week or month) of the
    /// feature table's calendar, the first first.
    pub period_revenue: Vec<f64>,
}

/// One channel's transactions, revenue, users and success rate.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelMix {
    /// The channel, as the log spells it.
    pub channel: String,
    /// Transactions on the channel.
    pub transactions: u64,
    /// Sum of the channel's amounts, net of refunds (negative when refunds
    /// outweigh purchases), in the log's money units.
    pub revenue: f64,
    /// Users with at least one transaction on the channel.
    pub users: u64,
    /// The channel's part of all transactions (those without a channel
    /// included), in [0, 1]; 0 when there are none.
    pub transaction_share: f64,
    /// The channel's part of the revenue, each channel's net revenue
    /// clipped at 0: in [0, 1] even with a channel of refunds.
    pub revenue_share: f64,
    /// Successes among the channel's transactions with a status, in
    /// [0, 1]; `None` when none of them has one.
    pub success_rate: Option<f64>,
}

/// One status of the funnel: how many transactions ended in it.
#[derive(Clone, Debug, Serialize)]
pub struct StatusCount {
    /// The status, as the log spells it (a different case is another
    /// status).
    pub status: String,
    /// Transactions with this status.
    pub transactions: u64,
    /// Their part of the transactions with a status, in [0, 1].
    pub share: f64,
    /// Whether the status counts as a success (`--success-status`).
    pub success: bool,
    /// Transactions per channel, in [`Activity::channels`] order.
    pub by_channel: Vec<u64>,
}

/// Counts of one (channel, status) pair.
#[derive(Clone, Debug)]
struct Cell {
    channel: Option<Box<str>>,
    status: Option<Box<str>>,
    transactions: u64,
    revenue: Money,
}

/// What one chunk of rows adds up to.
struct Fold {
    cells: Vec<Cell>,
    /// Cell of the previous row: logs repeat a few pairs.
    last: usize,
    /// `segments + 1` heatmaps; the last one holds users without a segment.
    heat: Vec<HourWeekday>,
    /// Revenue per period of the calendar.
    periods: Vec<Money>,
}

impl Fold {
    fn new(segments: usize, periods: usize) -> Self {
        Fold {
            cells: Vec::new(),
            last: 0,
            heat: vec![[[0; 24]; 7]; segments + 1],
            periods: vec![Money::ZERO; periods],
        }
    }

    fn cell(&mut self, channel: Option<&str>, status: Option<&str>) -> &mut Cell {
        let same = |c: &Cell| c.channel.as_deref() == channel && c.status.as_deref() == status;
        if !self.cells.get(self.last).is_some_and(same) {
            self.last = match self.cells.iter().position(same) {
                Some(i) => i,
                None => {
                    self.cells.push(Cell {
                        channel: channel.map(Into::into),
                        status: status.map(Into::into),
                        transactions: 0,
                        revenue: Money::ZERO,
                    });
                    self.cells.len() - 1
                }
            };
        }
        &mut self.cells[self.last]
    }

    fn merge(&mut self, other: Fold) {
        for cell in other.cells {
            let mine = self.cell(cell.channel.as_deref(), cell.status.as_deref());
            mine.transactions += cell.transactions;
            mine.revenue += cell.revenue;
        }
        for (mine, theirs) in self.heat.iter_mut().zip(&other.heat) {
            for (a, b) in mine.iter_mut().flatten().zip(theirs.iter().flatten()) {
                *a += b;
            }
        }
        for (a, &b) in self.periods.iter_mut().zip(&other.periods) {
            *a += b;
        }
    }
}

/// ISO weekday index (Monday 0) of a UTC day number (1970-01-01 was a
/// Thursday).
pub fn weekday_of(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

/// Reads the logs once more and adds up the activity. `segments[i]` is the
/// segment of `table.users[i]` (none: pass an empty slice and `k = 0`).
pub fn activity(
    inputs: &[Input],
    options: &IngestOptions,
    table: &FeatureTable,
    segments: &[u32],
    k: usize,
) -> Result<Activity, IngestError> {
    let by_user: HashMap<&str, u32, foldhash::fast::RandomState> = table
        .users
        .iter()
        .zip(segments)
        .map(|(u, &s)| (u.user_id.as_str(), s))
        .collect();
    let visit = |fold: &mut Fold, row: &Transaction<'_>| {
        let cell = fold.cell(row.channel, row.status);
        cell.transactions += 1;
        cell.revenue += row.amount;
        let segment = by_user.get(row.user).map_or(k, |&s| s as usize);
        let hour = hour_of(row.time_ms).rem_euclid(24) as usize;
        let day = day_of(row.time_ms);
        fold.heat[segment][weekday_of(day)][hour] += 1;
        if day >= table.window_start_day
            && let Some(revenue) = fold.periods.get_mut(table.calendar.period_of(day))
        {
            *revenue += row.amount;
        }
    };
    let periods = table.calendar.periods.len();
    let fold = scan(
        inputs,
        options,
        || Fold::new(k, periods),
        visit,
        Fold::merge,
    )?;
    Ok(summarise(fold, table, options, k))
}

fn is_success(options: &IngestOptions, status: &str) -> bool {
    options
        .success_statuses
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
}

fn share(part: f64, whole: f64) -> f64 {
    if whole == 0.0 { 0.0 } else { part / whole }
}

fn summarise(fold: Fold, table: &FeatureTable, options: &IngestOptions, k: usize) -> Activity {
    let transactions: u64 = fold.cells.iter().map(|c| c.transactions).sum();
    let revenue_money = fold
        .cells
        .iter()
        .fold(Money::ZERO, |total, c| total + c.revenue);
    let revenue = revenue_money.to_f64();
    fn status(c: &Cell, has_status: bool) -> Option<&str> {
        c.status.as_deref().filter(|_| has_status)
    }
    let status_of = |c| status(c, table.has_status);
    let with_status: u64 = fold
        .cells
        .iter()
        .filter(|c| status_of(c).is_some())
        .map(|c| c.transactions)
        .sum();
    let successes: u64 = fold
        .cells
        .iter()
        .filter(|c| status_of(c).is_some_and(|s| is_success(options, s)))
        .map(|c| c.transactions)
        .sum();

    // Channels, most transactions first (ties by name).
    let mut names: Vec<&str> = fold
        .cells
        .iter()
        .filter_map(|c| c.channel.as_deref())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut channels: Vec<ChannelMix> = names
        .iter()
        .map(|&name| {
            let cells = || {
                fold.cells
                    .iter()
                    .filter(move |c| c.channel.as_deref() == Some(name))
            };
            let count: u64 = cells().map(|c| c.transactions).sum();
            let money = cells().fold(Money::ZERO, |t, c| t + c.revenue).to_f64();
            let statused: u64 = cells()
                .filter(|c| status_of(c).is_some())
                .map(|c| c.transactions)
                .sum();
            let succeeded: u64 = cells()
                .filter(|c| status_of(c).is_some_and(|s| is_success(options, s)))
                .map(|c| c.transactions)
                .sum();
            let users = table
                .channels
                .iter()
                .position(|c| c == name)
                .map_or(0, |j| {
                    (0..table.users.len())
                        .filter(|&i| table.shares(i)[j] > 0.0)
                        .count() as u64
                });
            ChannelMix {
                channel: name.to_string(),
                transactions: count,
                revenue: money,
                users,
                transaction_share: share(count as f64, transactions as f64),
                revenue_share: 0.0, // below, once all are known
                success_rate: (statused > 0).then(|| succeeded as f64 / statused as f64),
            }
        })
        .collect();
    let positive: f64 = channels.iter().map(|c| c.revenue.max(0.0)).sum();
    for c in &mut channels {
        c.revenue_share = share(c.revenue.max(0.0), positive);
    }
    channels.sort_by(|a, b| {
        b.transactions
            .cmp(&a.transactions)
            .then_with(|| a.channel.cmp(&b.channel))
    });

    // The funnel: one row per status.
    let mut statuses: Vec<&str> = fold.cells.iter().filter_map(status_of).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let mut funnel: Vec<StatusCount> = statuses
        .iter()
        .map(|&status| {
            let by_channel = channels
                .iter()
                .map(|ch| {
                    fold.cells
                        .iter()
                        .filter(|c| {
                            c.channel.as_deref() == Some(&ch.channel)
                                && status_of(c) == Some(status)
                        })
                        .map(|c| c.transactions)
                        .sum()
                })
                .collect();
            let count: u64 = fold
                .cells
                .iter()
                .filter(|c| status_of(c) == Some(status))
                .map(|c| c.transactions)
                .sum();
            StatusCount {
                status: status.to_string(),
                transactions: count,
                share: share(count as f64, with_status as f64),
                success: is_success(options, status),
                by_channel,
            }
        })
        .collect();
    let stage = |s: &str| {
        FUNNEL_ORDER
            .iter()
            .position(|f| f.eq_ignore_ascii_case(s))
            .unwrap_or(FUNNEL_ORDER.len())
    };
    funnel.sort_by(|a, b| {
        stage(&a.status)
            .cmp(&stage(&b.status))
            .then_with(|| b.transactions.cmp(&a.transactions))
            .then_with(|| a.status.cmp(&b.status))
    });

    let mut heatmap: HourWeekday = [[0; 24]; 7];
    for map in &fold.heat {
        for (a, b) in heatmap.iter_mut().flatten().zip(map.iter().flatten()) {
            *a += b;
        }
    }
    let period_revenue = fold.periods.iter().map(|m| m.to_f64()).collect();
    let mut segment_heatmaps = fold.heat;
    segment_heatmaps.truncate(k);
    Activity {
        transactions,
        revenue,
        with_status,
        successes,
        success_rate: (with_status > 0).then(|| successes as f64 / with_status as f64),
        channels,
        funnel,
        heatmap,
        segment_heatmaps,
        period_revenue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::table::FeatureOptions;
    use crate::ingest::ingest;

    #[test]
    fn weekdays_follow_the_calendar() {
        // 1970-01-01 was a Thursday; 2025-04-04 a Friday (day 20182).
        assert_eq!(WEEKDAYS[weekday_of(0)], "Thu");
        assert_eq!(WEEKDAYS[weekday_of(20_182)], "Fri");
        assert_eq!(WEEKDAYS[weekday_of(-1)], "Wed");
    }

    /// Six hand-checked rows: two channels, three statuses, two users in
    /// two segments, and one row left out by --as-of.
    #[test]
    fn adds_up_a_small_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tx.csv");
        std::fs::write(
            &log,
            "user_id,created_at,channel,status,total_price\n\
             a,2025-04-04 18:10:00,SMS,delivered,1.00\n\
             a,2025-04-04 18:50:00,SMS,failed,0.50\n\
             b,2025-04-05 09:00:00,Email,opened,0.25\n\
             b,2025-04-05 09:30:00,Email,sent,0.25\n\
             b,2025-04-06 23:59:59,SMS,delivered,2.00\n\
             a,2025-04-08 00:00:00,SMS,delivered,9.00\n",
        )
        .unwrap();
        let options = IngestOptions {
            as_of: Some(1_743_984_000_000 - 1), // 2025-04-07 00:00:00 - 1 ms
            ..IngestOptions::default()
        };
        let ingested = ingest(&[Input::new(&log)], &options, &|_| {}).unwrap();
        let table = FeatureTable::from_aggregate(
            ingested.aggregate,
            true,
            true,
            &FeatureOptions {
                as_of: options.as_of,
                ..FeatureOptions::default()
            },
        )
        .unwrap();
        // a is segment 1, b segment 0.
        let a = activity(&[log.into()], &options, &table, &[1, 0], 2).unwrap();
        assert_eq!(a.transactions, 5);
        assert!((a.revenue - 4.0).abs() < 1e-12);
        assert_eq!((a.with_status, a.successes), (5, 3));
        let names: Vec<&str> = a.channels.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(names, ["SMS", "Email"]);
        let sms = &a.channels[0];
        assert_eq!((sms.transactions, sms.users), (3, 2));
        assert!((sms.revenue - 3.5).abs() < 1e-12);
        assert!((sms.success_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.channels[1].revenue_share - 0.125).abs() < 1e-12);
        let funnel: Vec<(&str, u64, &[u64])> = a
            .funnel
            .iter()
            .map(|s| (s.status.as_str(), s.transactions, s.by_channel.as_slice()))
            .collect();
        assert_eq!(
            funnel,
            [
                ("sent", 1, &[0, 1][..]),
                ("delivered", 2, &[2, 0][..]),
                ("opened", 1, &[0, 1][..]),
                ("failed", 1, &[1, 0][..]),
            ]
        );
        // Friday 18h twice (a, segment 1), Saturday 9h twice and Sunday
        // 23h once (b, segment 0).
        assert_eq!(a.heatmap[4][18], 2);
        assert_eq!(a.heatmap[5][9], 2);
        assert_eq!(a.heatmap[6][23], 1);
        assert_eq!(a.heatmap.iter().flatten().sum::<u64>(), 5);
        assert_eq!(a.segment_heatmaps[1][4][18], 2);
        assert_eq!(a.segment_heatmaps[0][4][18], 0);
        assert_eq!(a.segment_heatmaps[0][5][9], 2);
    }

    /// A channel of refunds nets below zero: it gets no share, and the
    /// other channels' shares still add up to 1.
    #[test]
    fn revenue_shares_clip_a_refunds_channel() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tx.csv");
        std::fs::write(
            &log,
            "user_id,created_at,channel,total_price\n\
             a,2025-04-04 18:10:00,SMS,3.00\n\
             a,2025-04-04 18:20:00,Email,1.00\n\
             b,2025-04-05 09:00:00,Refunds,-2.00\n",
        )
        .unwrap();
        let options = IngestOptions::default();
        let ingested = ingest(&[Input::new(&log)], &options, &|_| {}).unwrap();
        let table = FeatureTable::from_aggregate(
            ingested.aggregate,
            true,
            false,
            &FeatureOptions::default(),
        )
        .unwrap();
        let a = activity(&[log.into()], &options, &table, &[0, 0], 1).unwrap();
        assert!((a.revenue - 2.0).abs() < 1e-12);
        let share = |name: &str| {
            a.channels
                .iter()
                .find(|c| c.channel == name)
                .unwrap()
                .revenue_share
        };
        assert_eq!(share("SMS"), 0.75);
        assert_eq!(share("Email"), 0.25);
        assert_eq!(share("Refunds"), 0.0);
    }
}
