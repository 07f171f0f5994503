//! The finished per-user feature table (README, "Features") and its CSV form.

use std::io::{self, Write};

use rayon::prelude::*;

use super::accumulator::{Activity, Aggregate, DayEntry, FinishedUsers, UserAccumulator};
use super::cadence::Cadence;
use super::calendar::{Calendar, CalendarCounter};
use crate::values::amount::Money;
use crate::values::csv::{push_float, push_text};
use crate::values::time::{MS_PER_DAY, day_of, write_iso};

/// Settings of the feature definitions.
#[derive(Clone, Copy, Debug)]
pub struct FeatureOptions {
    /// Reference time (UTC ms); `None` is the latest transaction.
    pub as_of: Option<i64>,
    /// `is_dormant` is `recency_days > dormant_days`.
    pub dormant_days: f64,
    /// The trend window of `cadence_trend`, in days; `None` chooses it
    /// from the log's cadence (see [`Cadence`]).
    pub trend_days: Option<u32>,
    /// The first day of the observation window (UTC day number); `None` is
    /// the first transaction's day. Rows before it must have been left out
    /// (`IngestOptions::since`).
    pub window_start: Option<i64>,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            as_of: None,
            dormant_days: 30.0,
            trend_days: None,
            window_start: None,
        }
    }
}

/// One user's features. `None` is an empty cell.
#[derive(Clone, Debug, PartialEq)]
pub struct UserFeatures {
    /// The user key.
    pub user_id: String,
    /// Transactions of the user in the window.
    pub frequency: u64,
    /// Sum of the user's amounts, exact, in nano-units; negative when
    /// refunds exceed spend.
    pub monetary: Money,
    /// Time of the user's first transaction, in UTC milliseconds.
    pub first_seen_ms: i64,
    /// Time of the user's last transaction, in UTC milliseconds.
    pub last_seen_ms: i64,
    /// Days (fractional) from the last transaction to as_of.
    pub recency_days: f64,
    /// Days (fractional) from the first transaction to as_of.
    pub tenure_days: f64,
    /// Distinct UTC dates with a transaction.
    pub active_days: u64,
    /// Distinct UTC (date, hour) buckets with a transaction.
    pub active_hours: u64,
    /// Whole UTC days from the first active day to the last (BG/NBD's
    /// recency).
    pub active_span_days: i64,
    /// Whole UTC days from the first active day to as_of's (BG/NBD's T).
    pub age_days: i64,
    /// The median gap, in days, between consecutive active days; `None`
    /// with one active day.
    pub gap_days: Option<f64>,
    /// Spend per active day after the first: `monetary` less the first
    /// active day's amounts, over `active_days - 1`; `None` with one
    /// active day.
    pub repeat_spend: Option<f64>,
    /// Distinct channels the user used; `None` without a channel column.
    pub channel_diversity: Option<u64>,
    /// Of the user's transactions with a status, the share whose status is
    /// a success; `None` without a status column, or when none of the
    /// user's transactions has one.
    pub success_rate: Option<f64>,
    /// `1 - success_rate`; `None` when `success_rate` is.
    pub failure_rate: Option<f64>,
    /// `frequency` per day of the window ([`FeatureTable::window_days`]).
    pub avg_daily_volume: f64,
    /// Transactions on the seven UTC days ending at as_of's date, / 7.
    pub avg_daily_last_7d: f64,
    /// Transactions per day on the window's days before those seven;
    /// `None` when the window has no such day.
    pub avg_daily_prev: Option<f64>,
    /// `avg_daily_last_7d / avg_daily_prev - 1`; `None` when
    /// `avg_daily_prev` is 0 or `None`.
    pub usage_trend: Option<f64>,
    /// `usage_trend` over the trend window ([`Cadence::trend_days`] days
    /// instead of 7): transactions per day on its days against those on
    /// the window's days before them, less 1.
    pub cadence_trend: Option<f64>,
    /// `recency_days` is above [`FeatureOptions::dormant_days`].
    pub is_dormant: bool,
}

/// All users' features, sorted by user key (byte order).
#[derive(Clone, Debug)]
pub struct FeatureTable {
    /// The reference time, in UTC milliseconds: `--as-of`, else the latest
    /// transaction's time.
    pub as_of_ms: i64,
    /// The observation window: the first transaction's UTC day to as_of's.
    /// Its first day, in days since 1970-01-01.
    pub window_start_day: i64,
    /// Days in the window, both ends counted.
    pub window_days: i64,
    /// Channel names, sorted; one `share_<name>` column each.
    pub channels: Vec<String>,
    /// Some input had a channel column (else `channel_diversity` is empty).
    pub has_channel: bool,
    /// Some input had a status column (else the success and failure rates
    /// are empty).
    pub has_status: bool,
    /// The log's rhythm, and the trend window it gave.
    pub cadence: Cadence,
    /// Transactions and active users per week or month, and monthly
    /// acquisition cohorts.
    pub calendar: Calendar,
    /// One per user, sorted by user key (byte order).
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
        FeatureRows::from_aggregate(aggregate, has_channel, has_status, options)
            .map(FeatureRows::into_table)
    }

    /// The channel shares of user `row`, in `channels` order.
    pub fn shares(&self, row: usize) -> &[f64] {
        let n = self.channels.len();
        &self.shares[row * n..(row + 1) * n]
    }

    /// The header of the CSV form.
    pub fn column_names(&self) -> Vec<String> {
        column_names(&self.channels)
    }

    /// Writes the table as CSV (RFC 4180, `\n` line ends): the same bytes
    /// as [`FeatureRows::write_csv`] of the rows it was made from.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let header = csv_header(&self.column_names());
        write_csv_rows(out, &header, self.users.len(), |buf, first, count| {
            let mut floats = FloatTexts::new();
            for (row, user) in (first..).zip(&self.users[first..first + count]) {
                let key = user.user_id.as_bytes();
                push_row(buf, &mut floats, key, user, self.shares(row));
            }
        })
    }
}

/// Users read into cache at a time by [`FeatureRows::warm`]: about 40 KB.
const WARMED: usize = 128;

/// The finished accumulators of every user in key order, with the
/// observation window: each user's features are computed when asked for.
///
/// `segmint features` writes its CSV straight from here: building a
/// [`FeatureTable`] first would cost a row struct and a key string per
/// user (about 200 MB for a million users, all of it fresh memory) before
/// the first byte is written. Commands that keep working on the features
/// take [`Self::into_table`].
pub struct FeatureRows {
    /// The reference time, in UTC milliseconds (as in [`FeatureTable`]).
    pub as_of_ms: i64,
    /// As in [`FeatureTable`].
    pub window_start_day: i64,
    /// Days in the window, both ends counted.
    pub window_days: i64,
    /// Channel names, sorted.
    pub channels: Vec<String>,
    /// Some input had a channel column.
    pub has_channel: bool,
    /// Some input had a status column.
    pub has_status: bool,
    /// The log's rhythm, and the trend window it gave.
    pub cadence: Cadence,
    parts: Vec<FinishedUsers>,
    /// (key prefix, partition, slot) of every user, in key order.
    sorted: Vec<(u64, u32, u32)>,
    /// `column[id]`: the `channels` index of the run's channel id `id`.
    column: Vec<usize>,
    window: Window,
    options: FeatureOptions,
}

impl FeatureRows {
    /// Finishes the accumulators and puts the users in key order. `None`
    /// when no transaction was accepted.
    pub fn from_aggregate(
        aggregate: Aggregate,
        has_channel: bool,
        has_status: bool,
        options: &FeatureOptions,
    ) -> Option<FeatureRows> {
        let (min_ms, max_ms) = (aggregate.min_ms()?, aggregate.max_ms()?);
        let as_of_ms = options.as_of.unwrap_or(max_ms);
        let window_start_day = options.window_start.unwrap_or_else(|| day_of(min_ms));
        let as_of_day = day_of(as_of_ms);
        let window_days = as_of_day - window_start_day + 1;
        let (parts, channel_names) = aggregate.into_partitions();
        let sorted = sorted_positions(&parts);
        let gaps: Vec<f64> = parts
            .par_iter()
            .flat_map_iter(|part| part.activity.iter().filter_map(|a| a.gap_days))
            .collect();
        let cadence = Cadence::new(gaps, window_days, options.trend_days);

        let mut order: Vec<usize> = (0..channel_names.len()).collect();
        order.sort_by(|&a, &b| channel_names[a].cmp(&channel_names[b]));
        let mut column = vec![0; channel_names.len()];
        for (col, &id) in order.iter().enumerate() {
            column[id] = col;
        }
        let channels = order
            .iter()
            .map(|&id| String::from_utf8_lossy(&channel_names[id]).into_owned())
            .collect();
        Some(FeatureRows {
            as_of_ms,
            window_start_day,
            window_days,
            channels,
            has_channel,
            has_status,
            window: Window {
                as_of_ms,
                as_of_day,
                start_day: window_start_day,
                days: window_days,
                trend_days: i64::from(cadence.trend_days),
            },
            cadence,
            parts,
            sorted,
            column,
            options: *options,
        })
    }

    /// Gives the table the `share_<channel>` columns of `names` (sorted,
    /// duplicates dropped) instead of the log's channels: a channel of the
    /// list the log lacks gets shares of 0. Pieces of one log (a
    /// partition's users each) then share one schema. A channel of the log
    /// not in the list is `Err` with its name.
    pub fn set_channels(&mut self, names: &[String]) -> Result<(), String> {
        let mut channels: Vec<String> = names.to_vec();
        channels.sort();
        channels.dedup();
        let mut column = Vec::with_capacity(self.column.len());
        for &col in &self.column {
            let name = &self.channels[col];
            match channels.binary_search(name) {
                Ok(at) => column.push(at),
                Err(_) => return Err(name.clone()),
            }
        }
        self.channels = channels;
        self.column = column;
        Ok(())
    }

    /// Users.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// No users: never so of rows [`Self::from_aggregate`] makes (it gives
    /// `None` instead).
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The key, finished accumulator and activity of user `row`.
    fn user(&self, row: usize) -> (&[u8], &UserAccumulator, Activity) {
        let (_, part, slot) = self.sorted[row];
        let (part, slot) = (&self.parts[part as usize], slot as usize);
        (&part.keys[slot], &part.users[slot], part.activity[slot])
    }

    /// The active days of user `row`, in day order.
    fn days(&self, row: usize) -> &[DayEntry] {
        let (_, part, slot) = self.sorted[row];
        let part = &self.parts[part as usize];
        part.users[slot as usize].days(&part.day_lists)
    }

    /// The features of user `row`, without the key (`user_id` is empty).
    fn features(&self, row: usize) -> UserFeatures {
        let (_, user, activity) = self.user(row);
        finish_user(
            user,
            activity,
            self.days(row),
            &self.window,
            self.has_channel,
            self.has_status,
            &self.options,
        )
    }

    /// Writes the channel shares of `user` into `row` (`channels.len()`
    /// zeroed cells).
    fn shares_into(&self, user: &UserAccumulator, row: &mut [f64]) {
        for (id, count) in user.channel_counts() {
            row[self.column[id as usize]] = count as f64 / user.frequency as f64;
        }
    }

    /// The header of the CSV form (see [`FeatureTable::column_names`]).
    pub fn column_names(&self) -> Vec<String> {
        column_names(&self.channels)
    }

    /// Writes the features as CSV, the same bytes as [`FeatureTable::write_csv`].
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let header = csv_header(&self.column_names());
        let n_channels = self.channels.len();
        write_csv_rows(out, &header, self.len(), |buf, first, count| {
            let mut shares = vec![0.0; n_channels];
            let mut floats = FloatTexts::new();
            let end = first + count;
            for start in (first..end).step_by(WARMED) {
                let rows = start..(start + WARMED).min(end);
                std::hint::black_box(self.warm(rows.clone()));
                for row in rows {
                    let (key, user, _) = self.user(row);
                    shares.fill(0.0);
                    self.shares_into(user, &mut shares);
                    let features = self.features(row);
                    push_row(buf, &mut floats, key, &features, &shares);
                }
            }
        })
    }

    /// Reads the data of users `rows` into cache, ahead of their use.
    ///
    /// Users are stored by partition and written in key order, so each
    /// one's key, accumulator and activity are cache misses. Formatting a
    /// row takes long enough that the processor never reaches the next
    /// user's loads while one user's are pending; in this loop, which does
    /// nothing else, it has many in flight at once. Writing took 409 -> 304
    /// ms at 921,582 users, 41 -> 32 ms at 96,654 (medians, 2 threads).
    fn warm(&self, rows: std::ops::Range<usize>) -> u64 {
        rows.map(|row| {
            let (key, user, activity) = self.user(row);
            key.len() as u64 ^ user.touch() ^ activity.days
        })
        .fold(0, u64::wrapping_add)
    }

    /// Every user's features, as a table.
    pub fn into_table(self) -> FeatureTable {
        let users: Vec<UserFeatures> = (0..self.len())
            .into_par_iter()
            .map(|row| {
                let (key, _, _) = self.user(row);
                // Keys were checked to be UTF-8 while reading.
                UserFeatures {
                    user_id: String::from_utf8_lossy(key).into_owned(),
                    ..self.features(row)
                }
            })
            .collect();
        let (first, last) = (self.window.start_day, self.window.as_of_day);
        let calendar = (0..self.len())
            .into_par_iter()
            .fold(
                || CalendarCounter::new(first, last),
                |mut counter, row| {
                    counter.add(self.days(row));
                    counter
                },
            )
            .reduce_with(|mut a, b| {
                a.merge(&b);
                a
            })
            .unwrap_or_else(|| CalendarCounter::new(first, last))
            .finish();
        let n_channels = self.channels.len();
        let mut shares = vec![0.0; users.len() * n_channels];
        if n_channels > 0 {
            shares
                .par_chunks_mut(n_channels)
                .enumerate()
                .for_each(|(row, cells)| self.shares_into(self.user(row).1, cells));
        }
        let FeatureRows {
            as_of_ms,
            window_start_day,
            window_days,
            channels,
            has_channel,
            has_status,
            cadence,
            parts,
            ..
        } = self;
        // A million small allocations: free them on every core.
        parts.into_par_iter().for_each(drop);
        FeatureTable {
            as_of_ms,
            window_start_day,
            window_days,
            channels,
            has_channel,
            has_status,
            cadence,
            calendar,
            users,
            shares,
        }
    }
}

/// The CSV header of a table with these channels.
fn column_names(channels: &[String]) -> Vec<String> {
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
        "active_span_days",
        "age_days",
        "gap_days",
        "repeat_spend",
        "channel_diversity",
    ]
    .map(String::from)
    .to_vec();
    names.extend(channels.iter().map(|c| format!("share_{c}")));
    names.extend(
        [
            "success_rate",
            "failure_rate",
            "avg_daily_volume",
            "avg_daily_last_7d",
            "avg_daily_prev",
            "usage_trend",
            "cadence_trend",
            "is_dormant",
        ]
        .map(String::from),
    );
    names
}

/// The CSV header line of `names`.
fn csv_header(names: &[String]) -> Vec<u8> {
    let mut header = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            header.push(b',');
        }
        push_text(&mut header, name);
    }
    header.push(b'\n');
    header
}

/// Writes `header`, then rows `0..rows`, which `push_rows(buf, first,
/// count)` formats into `buf`.
///
/// Rows are formatted in parallel, a batch at a time, straight into
/// byte buffers: with a million users, per-cell strings would cost more
/// than reading the log did. Batch n + 1 is formatted (on every core)
/// while batch n is written.
fn write_csv_rows(
    out: &mut dyn Write,
    header: &[u8],
    rows: usize,
    push_rows: impl Fn(&mut Vec<u8>, usize, usize) + Sync,
) -> io::Result<()> {
    out.write_all(header)?;
    const BATCH: usize = 1 << 16;
    const PIECE: usize = 1 << 11;
    let format = |batch_index: usize| -> Vec<Vec<u8>> {
        let start = (batch_index * BATCH).min(rows);
        let end = (start + BATCH).min(rows);
        (start..end)
            .into_par_iter()
            .step_by(PIECE)
            .map(|first| {
                let count = PIECE.min(end - first);
                let mut buf = Vec::with_capacity(count * 256);
                push_rows(&mut buf, first, count);
                buf
            })
            .collect()
    };
    let batches = rows.div_ceil(BATCH);
    let mut pieces = format(0);
    for next in 1..=batches {
        let mut formatted = Vec::new();
        rayon::in_place_scope(|scope| {
            if next < batches {
                scope.spawn(|_| formatted = format(next));
            }
            pieces.iter().try_for_each(|piece| out.write_all(piece))
        })?;
        pieces = formatted;
    }
    out.flush()
}

/// One CSV row: the key, the features and the channel shares.
fn push_row(
    buf: &mut Vec<u8>,
    floats: &mut FloatTexts,
    key: &[u8],
    user: &UserFeatures,
    shares: &[f64],
) {
    let mut ints = itoa::Buffer::new();
    push_text(buf, key);
    buf.push(b',');
    buf.extend_from_slice(ints.format(user.frequency).as_bytes());
    buf.push(b',');
    user.monetary.push_decimal(buf);
    buf.push(b',');
    write_iso(buf, user.first_seen_ms);
    buf.push(b',');
    write_iso(buf, user.last_seen_ms);
    buf.push(b',');
    push_float(buf, user.recency_days);
    buf.push(b',');
    push_float(buf, user.tenure_days);
    buf.push(b',');
    buf.extend_from_slice(ints.format(user.active_days).as_bytes());
    buf.push(b',');
    buf.extend_from_slice(ints.format(user.active_hours).as_bytes());
    buf.push(b',');
    buf.extend_from_slice(ints.format(user.active_span_days).as_bytes());
    buf.push(b',');
    buf.extend_from_slice(ints.format(user.age_days).as_bytes());
    for value in [user.gap_days, user.repeat_spend] {
        buf.push(b',');
        if let Some(v) = value {
            floats.push(buf, v);
        }
    }
    buf.push(b',');
    if let Some(d) = user.channel_diversity {
        buf.extend_from_slice(ints.format(d).as_bytes());
    }
    for &share in shares {
        buf.push(b',');
        floats.push(buf, share);
    }
    for value in [user.success_rate, user.failure_rate] {
        buf.push(b',');
        if let Some(v) = value {
            floats.push(buf, v);
        }
    }
    buf.push(b',');
    floats.push(buf, user.avg_daily_volume);
    buf.push(b',');
    floats.push(buf, user.avg_daily_last_7d);
    for value in [user.avg_daily_prev, user.usage_trend, user.cadence_trend] {
        buf.push(b',');
        if let Some(v) = value {
            floats.push(buf, v);
        }
    }
    buf.extend_from_slice(if user.is_dormant {
        b",true\n"
    } else {
        b",false\n"
    });
}

/// Recently formatted floats, by bit pattern. The ratio columns (channel
/// shares, success and failure rates, daily averages and the trend) are
/// ratios of small counts: in a million users' features, each column
/// takes a few thousand distinct values, and 85-99% of a column's cells
/// are among its 64 commonest. A hit copies the text instead of running
/// the shortest-representation search again. The times in days (recency,
/// tenure) hardly repeat and bypass it.
struct FloatTexts {
    /// (bits, text length, text); a length of 0 marks an empty slot.
    slots: Vec<(u64, u8, [u8; FLOAT_TEXT])>,
}

/// The longest text of an `f64` (`-2.2250738585072014e-308`).
const FLOAT_TEXT: usize = 24;

impl FloatTexts {
    const SLOTS: usize = 1 << 10;

    fn new() -> Self {
        FloatTexts {
            slots: vec![(0, 0, [0; FLOAT_TEXT]); Self::SLOTS],
        }
    }

    /// [`push_float`], through the cache.
    #[inline]
    fn push(&mut self, buf: &mut Vec<u8>, x: f64) {
        let bits = x.to_bits();
        let slot = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SLOTS.trailing_zeros()))
            as usize;
        let (known, len, text) = &mut self.slots[slot];
        if *known == bits && *len > 0 {
            buf.extend_from_slice(&text[..usize::from(*len)]);
            return;
        }
        let start = buf.len();
        push_float(buf, x);
        let pushed = &buf[start..];
        if pushed.len() <= FLOAT_TEXT {
            text[..pushed.len()].copy_from_slice(pushed);
            (*known, *len) = (bits, pushed.len() as u8);
        }
    }
}

/// (key prefix, partition, slot) of every user, in key order. The first
/// eight key bytes, big-endian, order most pairs without reading the keys.
fn sorted_positions(parts: &[FinishedUsers]) -> Vec<(u64, u32, u32)> {
    let prefix = |key: &[u8]| {
        let mut bytes = [0u8; 8];
        for (slot, &b) in bytes.iter_mut().zip(key) {
            *slot = b;
        }
        u64::from_be_bytes(bytes)
    };
    let mut sorted: Vec<(u64, u32, u32)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, part)| {
            part.keys
                .iter()
                .enumerate()
                .map(move |(i, key)| (prefix(key), p as u32, i as u32))
        })
        .collect();
    sorted.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            parts[a.1 as usize].keys[a.2 as usize].cmp(&parts[b.1 as usize].keys[b.2 as usize])
        })
    });
    sorted
}

#[derive(Clone, Copy, Debug)]
struct Window {
    as_of_ms: i64,
    as_of_day: i64,
    start_day: i64,
    days: i64,
    /// Days of the trend window of `cadence_trend`.
    trend_days: i64,
}

/// `last / days` over `prev / prev_days`, less 1 (a usage trend); `None`
/// when the window has no earlier day or none of its earlier days had a
/// transaction.
fn trend(last: u64, days: i64, frequency: u64, prev_days: i64) -> (Option<f64>, Option<f64>) {
    let recent = last as f64 / days as f64;
    let prev = (prev_days > 0).then(|| (frequency - last) as f64 / prev_days as f64);
    (prev, prev.filter(|&p| p > 0.0).map(|p| recent / p - 1.0))
}

/// A user's features, but for the key (`user_id` is left empty).
fn finish_user(
    user: &UserAccumulator,
    activity: Activity,
    days: &[DayEntry],
    window: &Window,
    has_channel: bool,
    has_status: bool,
    options: &FeatureOptions,
) -> UserFeatures {
    let frequency = user.frequency;
    let last_7_from = window.as_of_day - 6;
    let last_7 = user.recent.count_between(last_7_from, window.as_of_day);
    let avg_daily_last_7d = last_7 as f64 / 7.0;
    let (avg_daily_prev, usage_trend) = trend(last_7, 7, frequency, last_7_from - window.start_day);
    // Days are in order, none after as_of's: the window's are the last.
    let trend_from = window.as_of_day - window.trend_days + 1;
    let in_trend: u64 = days
        .iter()
        .rev()
        .take_while(|d| i64::from(d.day) >= trend_from)
        .map(|d| u64::from(d.count))
        .sum();
    let (_, cadence_trend) = trend(
        in_trend,
        window.trend_days,
        frequency,
        trend_from - window.start_day,
    );
    let first_day = day_of(user.first_ms);
    let repeat_days = activity.days.saturating_sub(1);
    let repeat_spend = (repeat_days > 0)
        .then(|| (user.monetary - user.first_day_spend).to_f64() / repeat_days as f64);
    let success_rate = (has_status && user.with_status > 0)
        .then(|| user.successes as f64 / user.with_status as f64);
    let recency_days = (window.as_of_ms - user.last_ms) as f64 / MS_PER_DAY as f64;
    UserFeatures {
        user_id: String::new(),
        frequency,
        monetary: user.monetary,
        first_seen_ms: user.first_ms,
        last_seen_ms: user.last_ms,
        recency_days,
        tenure_days: (window.as_of_ms - user.first_ms) as f64 / MS_PER_DAY as f64,
        active_days: activity.days,
        active_hours: activity.hours,
        active_span_days: day_of(user.last_ms) - first_day,
        age_days: window.as_of_day - first_day,
        gap_days: activity.gap_days,
        repeat_spend,
        channel_diversity: has_channel.then(|| user.channel_counts().count() as u64),
        success_rate,
        failure_rate: success_rate.map(|s| 1.0 - s),
        avg_daily_volume: frequency as f64 / window.days as f64,
        avg_daily_last_7d,
        avg_daily_prev,
        usage_trend,
        cadence_trend,
        is_dormant: recency_days > options.dormant_days,
    }
}

impl FeatureRows {
    /// Calls `each(key, features, channel shares)` for the users `rows`, in
    /// order: what [`Self::write_csv`] formats, for the columnar writers
    /// (`super::columnar`).
    pub(crate) fn each_row(
        &self,
        rows: std::ops::Range<usize>,
        mut each: impl FnMut(&[u8], &UserFeatures, &[f64]),
    ) {
        let mut shares = vec![0.0; self.channels.len()];
        for start in rows.clone().step_by(WARMED) {
            let warmed = start..(start + WARMED).min(rows.end);
            std::hint::black_box(self.warm(warmed.clone()));
            for row in warmed {
                let (key, user, _) = self.user(row);
                shares.fill(0.0);
                self.shares_into(user, &mut shares);
                each(key, &self.features(row), &shares);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(mut push: impl FnMut(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        push(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn float_formatting() {
        assert_eq!(text(|b| push_float(b, 1.0)), "1");
        assert_eq!(text(|b| push_float(b, -0.0)), "0");
        assert_eq!(text(|b| push_float(b, 0.25)), "0.25");
        assert_eq!(text(|b| push_float(b, 1.0 / 3.0)), "0.3333333333333333");
    }

    #[test]
    fn cached_floats_are_the_floats() {
        // Ratios of small counts (which repeat and fill the slots many
        // times over), zeros of both signs, and the longest texts.
        let mut values: Vec<f64> = (1..80)
            .flat_map(|den| (0..=den).map(move |num| f64::from(num) / f64::from(den)))
            .collect();
        values.extend([-0.0, -2.2250738585072014e-308, f64::MAX, 1e300 / 7.0]);
        let mut floats = FloatTexts::new();
        for round in 0..3 {
            for &x in values.iter().rev().skip(round) {
                assert_eq!(text(|b| floats.push(b, x)), text(|b| push_float(b, x)));
            }
        }
    }

    #[test]
    fn text_quoting() {
        assert_eq!(text(|b| push_text(b, b"plain")), "plain");
        assert_eq!(text(|b| push_text(b, b"a,\"b\"")), "\"a,\"\"b\"\"\"");
    }
}
