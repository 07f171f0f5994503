//! The finished per-user feature table (SPEC section 3) and its CSV form.

use std::io::{self, Write};

use rayon::prelude::*;

use super::accumulator::{Aggregate, UserAccumulator};
use crate::ingest::amount::Money;
use crate::ingest::time::{MS_PER_DAY, day_of, format_iso};

/// Settings of the feature definitions.
#[derive(Clone, Copy, Debug)]
pub struct FeatureOptions {
    /// Reference time (UTC ms); `None` is the latest transaction.
    pub as_of: Option<i64>,
    /// `is_dormant` is `recency_days > dormant_days`.
    pub dormant_days: f64,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            as_of: None,
            dormant_days: 30.0,
        }
    }
}

/// One user's features. `None` is an empty cell.
#[derive(Clone, Debug, PartialEq)]
pub struct UserFeatures {
    pub user_id: String,
    pub frequency: u64,
    pub monetary: Money,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub recency_days: f64,
    pub tenure_days: f64,
    pub active_days: u64,
    pub active_hours: u64,
    pub channel_diversity: Option<u64>,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    pub avg_daily_volume: f64,
    pub avg_daily_last_7d: f64,
    pub avg_daily_prev: Option<f64>,
    pub usage_trend: Option<f64>,
    pub is_dormant: bool,
}

/// All users' features, sorted by user key (byte order).
#[derive(Clone, Debug)]
pub struct FeatureTable {
    pub as_of_ms: i64,
    /// The observation window: the first transaction's UTC day to as_of's.
    pub window_start_day: i64,
    pub window_days: i64,
    /// Channel names, sorted; one `share_<name>` column each.
    pub channels: Vec<String>,
    pub has_channel: bool,
    pub has_status: bool,
    pub users: Vec<UserFeatures>,
    /// Row-major `users.len() x channels.len()` channel shares.
    shares: Vec<f64>,
}

impl FeatureTable {
    /// Finishes the accumulators into features. `None` when no transaction
    /// was accepted.
    pub fn from_aggregate(
        aggregate: Aggregate,
        has_channel: bool,
        has_status: bool,
        options: &FeatureOptions,
    ) -> Option<FeatureTable> {
        let (min_ms, max_ms) = (aggregate.min_ms?, aggregate.max_ms?);
        let as_of_ms = options.as_of.unwrap_or(max_ms);
        let window_start_day = day_of(min_ms);
        let as_of_day = day_of(as_of_ms);
        let window_days = as_of_day - window_start_day + 1;
        let (mut users, channel_names) = aggregate.into_users();
        users.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let mut order: Vec<usize> = (0..channel_names.len()).collect();
        order.sort_by(|&a, &b| channel_names[a].cmp(&channel_names[b]));
        // column[id] = output column of the table's channel id.
        let mut column = vec![0; channel_names.len()];
        for (col, &id) in order.iter().enumerate() {
            column[id] = col;
        }
        let channels: Vec<String> = order
            .iter()
            .map(|&id| String::from_utf8_lossy(&channel_names[id]).into_owned())
            .collect();
        let n_channels = channels.len();

        let window = Window {
            as_of_ms,
            as_of_day,
            start_day: window_start_day,
            days: window_days,
        };
        let rows: Vec<(UserFeatures, Vec<f64>)> = users
            .into_par_iter()
            .map(|(key, mut user)| {
                let mut shares = vec![0.0; n_channels];
                for &(id, count) in user.channel_counts() {
                    shares[column[id as usize]] = count as f64 / user.frequency as f64;
                }
                let features =
                    finish_user(key, &mut user, &window, has_channel, has_status, options);
                (features, shares)
            })
            .collect();
        let mut shares = Vec::with_capacity(rows.len() * n_channels);
        let users = rows
            .into_iter()
            .map(|(features, s)| {
                shares.extend_from_slice(&s);
                features
            })
            .collect();
        Some(FeatureTable {
            as_of_ms,
            window_start_day,
            window_days,
            channels,
            has_channel,
            has_status,
            users,
            shares,
        })
    }

    /// The channel shares of user `row`, in `channels` order.
    pub fn shares(&self, row: usize) -> &[f64] {
        let n = self.channels.len();
        &self.shares[row * n..(row + 1) * n]
    }

    /// The header of the CSV form.
    pub fn column_names(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            "user_id",
            "frequency",
            "monetary",
            "first_seen",
            "last_seen",
            "recency_days",
            "tenure_days",
            "active_days",
            "active_hours",
            "channel_diversity",
        ]
        .map(String::from)
        .to_vec();
        names.extend(self.channels.iter().map(|c| format!("share_{c}")));
        names.extend(
            [
                "success_rate",
                "failure_rate",
                "avg_daily_volume",
                "avg_daily_last_7d",
                "avg_daily_prev",
                "usage_trend",
                "is_dormant",
            ]
            .map(String::from),
        );
        names
    }

    /// Writes the table as CSV (RFC 4180, `\n` line ends). Floats use the
    /// shortest representation that reads back to the same value.
    pub fn write_csv(&self, out: impl Write) -> io::Result<()> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(out);
        writer.write_record(self.column_names())?;
        let mut cells: Vec<String> = Vec::new();
        for (row, user) in self.users.iter().enumerate() {
            cells.clear();
            cells.push(user.user_id.clone());
            cells.push(user.frequency.to_string());
            cells.push(user.monetary.to_string());
            cells.push(format_iso(user.first_seen_ms));
            cells.push(format_iso(user.last_seen_ms));
            cells.push(float(user.recency_days));
            cells.push(float(user.tenure_days));
            cells.push(user.active_days.to_string());
            cells.push(user.active_hours.to_string());
            cells.push(
                user.channel_diversity
                    .map_or_else(String::new, |d| d.to_string()),
            );
            cells.extend(self.shares(row).iter().map(|&s| float(s)));
            cells.push(optional(user.success_rate));
            cells.push(optional(user.failure_rate));
            cells.push(float(user.avg_daily_volume));
            cells.push(float(user.avg_daily_last_7d));
            cells.push(optional(user.avg_daily_prev));
            cells.push(optional(user.usage_trend));
            cells.push(user.is_dormant.to_string());
            writer.write_record(&cells)?;
        }
        writer.flush()
    }
}

struct Window {
    as_of_ms: i64,
    as_of_day: i64,
    start_day: i64,
    days: i64,
}

fn finish_user(
    key: Box<[u8]>,
    user: &mut UserAccumulator,
    window: &Window,
    has_channel: bool,
    has_status: bool,
    options: &FeatureOptions,
) -> UserFeatures {
    let (active_hours, active_days) = user.distinct_hours_and_days();
    let frequency = user.frequency;
    let last_7_from = window.as_of_day - 6;
    let last_7 = user.recent.count_between(last_7_from, window.as_of_day);
    let prev_days = (last_7_from - window.start_day).max(0);
    let avg_daily_last_7d = last_7 as f64 / 7.0;
    let avg_daily_prev = (prev_days > 0).then(|| (frequency - last_7) as f64 / prev_days as f64);
    let usage_trend = avg_daily_prev
        .filter(|&p| p > 0.0)
        .map(|p| avg_daily_last_7d / p - 1.0);
    let success_rate = (has_status && user.with_status > 0)
        .then(|| user.successes as f64 / user.with_status as f64);
    let recency_days = (window.as_of_ms - user.last_ms) as f64 / MS_PER_DAY as f64;
    // Keys were checked to be UTF-8 while reading.
    let user_id = String::from_utf8(key.into_vec())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    UserFeatures {
        user_id,
        frequency,
        monetary: user.monetary,
        first_seen_ms: user.first_ms,
        last_seen_ms: user.last_ms,
        recency_days,
        tenure_days: (window.as_of_ms - user.first_ms) as f64 / MS_PER_DAY as f64,
        active_days,
        active_hours,
        channel_diversity: has_channel.then(|| user.channel_counts().len() as u64),
        success_rate,
        failure_rate: success_rate.map(|s| 1.0 - s),
        avg_daily_volume: frequency as f64 / window.days as f64,
        avg_daily_last_7d,
        avg_daily_prev,
        usage_trend,
        is_dormant: recency_days > options.dormant_days,
    }
}

fn float(x: f64) -> String {
    if x == 0.0 {
        // Also turns -0.0 into 0.
        return "0".to_string();
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format(x);
    s.strip_suffix(".0").unwrap_or(s).to_string()
}

fn optional(x: Option<f64>) -> String {
    x.map_or_else(String::new, float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_formatting() {
        assert_eq!(float(1.0), "1");
        assert_eq!(float(-0.0), "0");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.0 / 3.0), "0.3333333333333333");
    }
}
