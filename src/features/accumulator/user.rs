//! One user's accumulator: counts, sums, extremes, active days and hours,
//! channels.

use smallvec::SmallVec;

use super::row::Row;
use super::{INLINE_CHANNELS, NO_CHANNEL};
use crate::values::amount::Money;
use crate::values::time::hour_of;

/// Transaction counts on the seven UTC days ending at the latest day seen.
/// Enough to count a user's transactions in the 7 days ending at any
/// reference day not before that day, without knowing it while reading
/// (README, "Features", `avg_daily_last_7d`).
///
/// A ring of seven slots, one per day modulo 7, each holding the latest
/// day of its class seen and that day's count: a row of a later day takes
/// the slot over, one of an earlier day (seven or more days before the
/// slot's) is too old to matter. A row thus updates one slot, without a
/// loop over the days it skips or a branch the processor cannot predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecentDays {
    days: [i32; 7],
    counts: [u32; 7],
}

impl RecentDays {
    fn touch(&self) -> u64 {
        (self.days[0] ^ self.days[6]) as u64 ^ u64::from(self.counts[0] ^ self.counts[6])
    }
}

impl Default for RecentDays {
    fn default() -> Self {
        RecentDays {
            // Earlier than any day: every slot is free.
            days: [i32::MIN; 7],
            counts: [0; 7],
        }
    }
}

impl RecentDays {
    fn slot(day: i64) -> usize {
        day.rem_euclid(7) as usize
    }

    /// Adds `count` transactions on `day` (a day of a valid time, which
    /// fits an `i32`).
    #[inline]
    pub(super) fn add(&mut self, day: i64, count: u32) {
        let slot = Self::slot(day);
        let day = day as i32;
        let kept = if day == self.days[slot] {
            self.counts[slot]
        } else {
            0
        };
        if day >= self.days[slot] {
            self.days[slot] = day;
            self.counts[slot] = kept + count;
        }
    }

    /// Transactions on days `from..=to`, for `to` not before the latest
    /// day seen.
    pub fn count_between(&self, from: i64, to: i64) -> u64 {
        let Some(&last) = self.days.iter().max().filter(|&&d| d != i32::MIN) else {
            return 0;
        };
        let window = i64::from(last) - 6..=i64::from(last);
        (self.days.iter().zip(self.counts))
            .filter(|&(&day, _)| {
                let day = i64::from(day);
                window.contains(&day) && day >= from && day <= to
            })
            .map(|(_, count)| u64::from(count))
            .sum()
    }
}

/// The active-day lists of one partition's users (see `ActiveHours`),
/// kept in one vector as slices of 4, 8, 16... entries. A list that
/// outgrows its slice moves to a slice twice as large, and the old one is
/// kept for the next list that needs one of its size. Lists thus cost no
/// allocation of their own, none of them is freed one by one, and a
/// partition is only ever touched by one thread at a time.
#[derive(Debug, Default)]
pub struct DayLists {
    entries: Vec<DayEntry>,
    /// Offsets of free slices; `free[k]` holds slices of `4 << k` entries.
    free: Vec<Vec<usize>>,
}

impl DayLists {
    fn class(capacity: u32) -> usize {
        (capacity / 4).trailing_zeros() as usize
    }

    /// A slice of `capacity` (4 << k) entries.
    fn take(&mut self, capacity: u32) -> usize {
        if let Some(at) = self.free.get_mut(Self::class(capacity)).and_then(Vec::pop) {
            return at;
        }
        let at = self.entries.len();
        self.entries
            .resize(at + capacity as usize, DayEntry::default());
        at
    }

    fn give_back(&mut self, at: usize, capacity: u32) {
        let class = Self::class(capacity);
        if self.free.len() <= class {
            self.free.resize_with(class + 1, Vec::new);
        }
        self.free[class].push(at);
    }
}

/// One active day of a user: the day (since 1970-01-01), a 24-bit mask of
/// its active UTC hours and its transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayEntry {
    /// UTC days since 1970-01-01.
    pub day: i32,
    /// Bit h set: a transaction in UTC hour h of the day.
    pub mask: u32,
    /// Transactions on the day.
    pub count: u32,
}

/// The UTC hours with a transaction, as days with a 24-bit mask of their
/// hours and a count of their transactions: a day takes 12 bytes however
/// many of its hours are active, and rows of a day already seen (most of
/// them: logs run in time order) only set a bit and count.
#[derive(Clone, Debug, Default)]
pub(super) struct ActiveHours {
    /// The day of the last row, its hours and transactions so far: kept
    /// here until a row of another day comes, so users with one active
    /// day, and the rows of every user's current day, never touch the
    /// list.
    day: i32,
    mask: u32,
    count: u32,
    /// Earlier (day, hour mask) pairs: `len` entries of a slice of
    /// `capacity` entries at `at` in the partition's [`DayLists`] (none
    /// while `capacity` is 0). A day appears more than once only when rows
    /// come out of time order, and repeats are merged whenever the list
    /// would grow, so its size follows the number of active days.
    pub(super) at: usize,
    len: u32,
    capacity: u32,
}

impl ActiveHours {
    /// Adds an hour (since the epoch) of day `day` (`hour.div_euclid(24)`).
    #[inline]
    pub(super) fn add(&mut self, hour: i64, day: i64, lists: &mut DayLists) {
        let bit = 1u32 << (hour - day * 24);
        let day = day as i32;
        if day != self.day {
            self.end_day(day, lists);
        }
        self.mask |= bit;
        self.count += 1;
    }

    /// Files the current day and starts `day`.
    #[cold]
    fn end_day(&mut self, day: i32, lists: &mut DayLists) {
        if self.mask != 0 {
            if self.len == self.capacity {
                self.make_room(lists);
            }
            lists.entries[self.at + self.len as usize] = DayEntry {
                day: self.day,
                mask: self.mask,
                count: self.count,
            };
            self.len += 1;
        }
        self.day = day;
        self.mask = 0;
        self.count = 0;
    }

    /// Room for one more entry: repeats merged, or a larger slice.
    fn make_room(&mut self, lists: &mut DayLists) {
        if self.len >= 16 {
            self.len = compact(self.days_mut(lists));
            if self.len < self.capacity {
                return;
            }
        }
        let capacity = if self.capacity == 0 {
            4
        } else {
            self.capacity * 2
        };
        let at = lists.take(capacity);
        let len = self.len as usize;
        lists.entries.copy_within(self.at..self.at + len, at);
        if self.capacity > 0 {
            lists.give_back(self.at, self.capacity);
        }
        self.at = at;
        self.capacity = capacity;
    }

    fn days_mut<'l>(&self, lists: &'l mut DayLists) -> &'l mut [DayEntry] {
        &mut lists.entries[self.at..self.at + self.len as usize]
    }

    /// The active days, in day order, once [`Self::finish`] has run.
    pub(super) fn days<'l>(&self, lists: &'l DayLists) -> &'l [DayEntry] {
        &lists.entries[self.at..self.at + self.len as usize]
    }

    /// Counts the distinct hours and days, and the median gap between
    /// active days; the days stay in `lists`, in day order.
    pub(super) fn finish(&mut self, lists: &mut DayLists) -> Activity {
        self.end_day(0, lists);
        self.len = compact(self.days_mut(lists));
        let days = self.days_mut(lists);
        Activity {
            hours: days.iter().map(|d| u64::from(d.mask.count_ones())).sum(),
            days: days.len() as u64,
            gap_days: median_gap(days),
        }
    }
}

/// The median of the gaps, in days, between consecutive `days` (in day
/// order); the mean of the two middle gaps for an even count. `None` for
/// fewer than two days.
fn median_gap(days: &[DayEntry]) -> Option<f64> {
    if days.len() < 2 {
        return None;
    }
    let mut gaps: SmallVec<[i32; 32]> = days.windows(2).map(|w| w[1].day - w[0].day).collect();
    Some(median_of_integers(&mut gaps))
}

/// The median of a non-empty list of day counts (mean of the middle two
/// for an even count), exact in f64.
pub fn median_of_integers(values: &mut [i32]) -> f64 {
    let n = values.len();
    let (_, &mut upper, _) = values.select_nth_unstable(n / 2);
    if n % 2 == 1 {
        f64::from(upper)
    } else {
        let lower = *values[..n / 2].iter().max().expect("n >= 2");
        (f64::from(lower) + f64::from(upper)) / 2.0
    }
}

/// Sorts day entries by day and merges those of one day into the first
/// ones; returns how many remain.
fn compact(days: &mut [DayEntry]) -> u32 {
    days.sort_unstable_by_key(|d| d.day);
    let mut kept = 0;
    for i in 0..days.len() {
        if kept > 0 && days[kept - 1].day == days[i].day {
            days[kept - 1].mask |= days[i].mask;
            days[kept - 1].count += days[i].count;
        } else {
            days[kept] = days[i];
            kept += 1;
        }
    }
    kept as u32
}

/// Everything kept about one user while reading.
#[derive(Clone, Debug)]
pub struct UserAccumulator {
    /// Transactions of the user.
    pub frequency: u64,
    /// Sum of the user's amounts, exact, in nano-units.
    pub monetary: Money,
    /// Time of the user's earliest transaction, in UTC milliseconds.
    pub first_ms: i64,
    /// Time of the user's latest transaction, in UTC milliseconds.
    pub last_ms: i64,
    pub(super) hours: ActiveHours,
    /// Transactions by channel id, for the first few ids (counted without
    /// a search: most logs have a handful of channels)...
    channels: [u64; INLINE_CHANNELS],
    /// ... and (channel id, transactions) for the others.
    more_channels: Vec<(u32, u64)>,
    /// Transactions with a non-empty status...
    pub with_status: u64,
    /// ... and those of them whose status is a success
    /// (`--success-status`).
    pub successes: u64,
    /// Transactions on the user's latest seven UTC days, for
    /// `avg_daily_last_7d`.
    pub recent: RecentDays,
    /// The earliest UTC day seen (`i32::MAX` before the first row)...
    first_day: i32,
    /// ... and the sum of its amounts, for `repeat_spend`.
    pub first_day_spend: Money,
}

impl UserAccumulator {
    pub(super) fn new(time_ms: i64) -> Self {
        UserAccumulator {
            frequency: 0,
            monetary: Money::ZERO,
            first_ms: time_ms,
            last_ms: time_ms,
            hours: ActiveHours::default(),
            channels: [0; INLINE_CHANNELS],
            more_channels: Vec::new(),
            with_status: 0,
            successes: 0,
            recent: RecentDays::default(),
            first_day: i32::MAX,
            first_day_spend: Money::ZERO,
        }
    }

    #[inline]
    pub(super) fn add(&mut self, row: &Row, amount: Money, lists: &mut DayLists) {
        self.frequency += 1;
        self.monetary += amount;
        self.first_ms = self.first_ms.min(row.time_ms);
        self.last_ms = self.last_ms.max(row.time_ms);
        let day = self.add_time_and_labels(row, lists) as i32;
        if day <= self.first_day {
            if day < self.first_day {
                self.first_day = day;
                self.first_day_spend = Money::ZERO;
            }
            self.first_day_spend += amount;
        }
    }

    /// Adds rows whose amounts fit a [`Row`]; sums are kept in registers
    /// across the rows.
    // Inlined into the partition's loop over users, in another module
    // (and so, without the hint, maybe another codegen unit): 5% more
    // instructions per row when it was a call.
    #[inline]
    pub(super) fn add_rows(&mut self, rows: &[Row], lists: &mut DayLists) {
        let mut monetary = 0i128;
        let (mut first, mut last) = (self.first_ms, self.last_ms);
        let (mut first_day, mut first_day_spend) = (self.first_day, self.first_day_spend.0);
        for row in rows {
            monetary += i128::from(row.amount);
            first = first.min(row.time_ms);
            last = last.max(row.time_ms);
            let day = self.add_time_and_labels(row, lists) as i32;
            // Rows of later days (most of them) only compare.
            if day <= first_day {
                if day < first_day {
                    first_day = day;
                    first_day_spend = 0;
                }
                first_day_spend += i128::from(row.amount);
            }
        }
        self.frequency += rows.len() as u64;
        self.monetary += Money(monetary);
        self.first_ms = first;
        self.last_ms = last;
        self.first_day = first_day;
        self.first_day_spend = Money(first_day_spend);
    }

    /// The hour, day, channel and status of a row; returns the row's UTC
    /// day.
    #[inline]
    fn add_time_and_labels(&mut self, row: &Row, lists: &mut DayLists) -> i64 {
        let hour = hour_of(row.time_ms);
        // Hours start at midnight UTC: the day of the hour is the day.
        let day = hour.div_euclid(24);
        self.hours.add(hour, day, lists);
        if row.channel != NO_CHANNEL {
            self.add_channel(u32::from(row.channel), 1);
        }
        // Without branches: statuses come in no predictable order.
        self.with_status += u64::from(row.success >= 0);
        self.successes += u64::from(row.success > 0);
        self.recent.add(day, 1);
        day
    }

    fn add_channel(&mut self, id: u32, count: u64) {
        if let Some(n) = self.channels.get_mut(id as usize) {
            *n += count;
            return;
        }
        match self.more_channels.iter_mut().find(|(c, _)| *c == id) {
            Some((_, n)) => *n += count,
            None => self.more_channels.push((id, count)),
        }
    }

    /// Counts the distinct hours and days; `lists` are its partition's.
    pub(super) fn finish(&mut self, lists: &mut DayLists) -> Activity {
        self.hours.finish(lists)
    }

    /// The active days, in day order, once finished; `lists` are its
    /// partition's.
    pub fn days<'l>(&self, lists: &'l DayLists) -> &'l [DayEntry] {
        self.hours.days(lists)
    }

    /// A value read from every field, so from every cache line the
    /// accumulator spans (see [`crate::features::FeatureRows`]'s use).
    pub fn touch(&self) -> u64 {
        self.frequency
            ^ self.monetary.0 as u64
            ^ self.first_ms as u64
            ^ self.last_ms as u64
            ^ u64::from(self.hours.mask)
            ^ self.channels[0]
            ^ self.channels[INLINE_CHANNELS - 1]
            ^ self.more_channels.len() as u64
            ^ self.with_status
            ^ self.successes
            ^ self.recent.touch()
    }

    /// (channel id, transactions) pairs.
    pub fn channel_counts(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let inline = (0..).zip(self.channels).filter(|&(_, n)| n > 0);
        inline.chain(self.more_channels.iter().copied())
    }
}

/// A user key, once reading is over: most keys are short, and keeping them
/// inline saves an allocation per user.
pub type UserKey = SmallVec<[u8; 24]>;

/// Distinct UTC hours and days with a transaction, and the user's
/// rhythm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activity {
    /// Distinct UTC (date, hour) buckets with a transaction
    /// (`active_hours`).
    pub hours: u64,
    /// Distinct UTC dates with a transaction (`active_days`).
    pub days: u64,
    /// The median gap, in days, between consecutive active days
    /// (`gap_days`); `None` with one active day.
    pub gap_days: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_days_window() {
        let mut r = RecentDays::default();
        r.add(10, 1);
        r.add(4, 1); // 6 days back: kept
        r.add(3, 1); // 7 days back: out of the ring
        r.add(12, 2);
        assert_eq!(r.count_between(6, 12), 3);
        assert_eq!(r.count_between(10, 12), 3);
        r.add(20, 5);
        assert_eq!(r.count_between(14, 20), 5);
        assert_eq!(r.count_between(0, 20), 5);
    }

    #[test]
    fn recent_days_match_counting_every_day() {
        // Days mostly rising, with jumps and late rows, against a count of
        // every day.
        let mut state = 12345u64;
        let mut day = 100i64;
        let mut ring = RecentDays::default();
        let mut all = std::collections::BTreeMap::new();
        for _ in 0..2000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (state >> 33) % 100;
            day += match r {
                0..=49 => 0,
                50..=79 => 1,
                80..=89 => (r % 9) as i64,
                _ => 0,
            };
            let at = if r >= 95 { day - (r % 10) as i64 } else { day };
            ring.add(at, 1);
            *all.entry(at).or_insert(0u64) += 1;
            let last = *all.keys().next_back().unwrap();
            for to in [last, last + 3] {
                for width in [1, 4, 7] {
                    let from = to - width + 1;
                    let want: u64 = all.range(from..=to).map(|(_, n)| n).sum();
                    assert_eq!(ring.count_between(from, to), want, "{from}..={to}");
                }
            }
        }
    }

    #[test]
    fn hours_compact_to_distinct() {
        let mut hours = ActiveHours::default();
        let mut lists = DayLists::default();
        // 50 hours over three days (0-23, 24-47, 48-49), out of order.
        for i in 0..1000i64 {
            let hour = i * 7 % 50;
            hours.add(hour, hour.div_euclid(24), &mut lists);
        }
        assert!(hours.capacity <= 32, "{}", hours.capacity);
        assert_eq!(
            hours.finish(&mut lists),
            Activity {
                hours: 50,
                days: 3,
                gap_days: Some(1.0)
            }
        );
        let counts: Vec<u32> = hours.days(&lists).iter().map(|d| d.count).collect();
        assert_eq!(counts, [480, 480, 40]);
    }

    #[test]
    fn active_hours_match_a_set_of_hours() {
        // Pseudo-random hours around the epoch (negative ones included),
        // runs of one day, and jumps back in time.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        // Users of one partition, growing their lists in turn.
        let mut lists = DayLists::default();
        for round in 0..50 {
            let mut hours = ActiveHours::default();
            let mut all = std::collections::BTreeSet::new();
            let mut per_day = std::collections::BTreeMap::new();
            let mut hour = -500i64 + round;
            for _ in 0..400 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                hour += match state % 10 {
                    0..=5 => (state >> 8) as i64 % 3,
                    6..=8 => (state >> 8) as i64 % 60,
                    _ => -((state >> 8) as i64 % 900),
                };
                hours.add(hour, hour.div_euclid(24), &mut lists);
                all.insert(hour);
                *per_day.entry(hour.div_euclid(24)).or_insert(0u32) += 1;
            }
            let days: Vec<i64> = per_day.keys().copied().collect();
            let mut gaps: Vec<i64> = days.windows(2).map(|w| w[1] - w[0]).collect();
            gaps.sort_unstable();
            let m = gaps.len();
            let gap_days = (m > 0).then(|| {
                if m % 2 == 1 {
                    gaps[m / 2] as f64
                } else {
                    (gaps[m / 2 - 1] + gaps[m / 2]) as f64 / 2.0
                }
            });
            let want = Activity {
                hours: all.len() as u64,
                days: days.len() as u64,
                gap_days,
            };
            assert_eq!(hours.finish(&mut lists), want, "round {round}");
            let got: Vec<(i64, u32)> = hours
                .days(&lists)
                .iter()
                .map(|d| (i64::from(d.day), d.count))
                .collect();
            let want: Vec<(i64, u32)> = per_day.into_iter().collect();
            assert_eq!(got, want, "round {round}");
        }
    }
}
