//! Per-user accumulators and the table of them that one worker fills.
//!
//! Every field merges associatively and commutatively (integer sums, min,
//! max, set unions), so aggregating the chunks of a log in any grouping, on
//! any number of threads, gives the same result bit for bit.

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::ingest::amount::Money;
use crate::ingest::time::{day_of, hour_of};

/// Most distinct channel values one table accepts: a channel column is a
/// handful of categories, and each becomes an output column.
pub const MAX_CHANNELS: usize = 1024;

/// One parsed transaction, as the accumulators see it.
#[derive(Clone, Copy, Debug)]
pub struct Transaction<'a> {
    pub time_ms: i64,
    pub amount: Money,
    pub channel: Option<&'a [u8]>,
    /// `None` without a status; `Some(true)` for a success status.
    pub success: Option<bool>,
}

/// Transaction counts on the seven UTC days ending at `last_day`, the latest
/// day seen. Enough to count a user's transactions in the 7 days ending at
/// any reference day not before `last_day`, without knowing that day while
/// reading (SPEC section 3, `avg_daily_last_7d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentDays {
    last_day: i64,
    /// `counts[i]` is the count on day `last_day - i`.
    counts: [u64; 7],
}

impl RecentDays {
    fn new(day: i64) -> Self {
        RecentDays {
            last_day: day,
            counts: [0; 7],
        }
    }

    fn shift_to(&mut self, day: i64) {
        if day <= self.last_day {
            return;
        }
        let by = day - self.last_day;
        if by >= 7 {
            self.counts = [0; 7];
        } else {
            let by = by as usize;
            self.counts.copy_within(0..7 - by, by);
            self.counts[..by].fill(0);
        }
        self.last_day = day;
    }

    fn add(&mut self, day: i64, count: u64) {
        self.shift_to(day);
        let back = self.last_day - day;
        if back < 7 {
            self.counts[back as usize] += count;
        }
    }

    fn merge(&mut self, other: &RecentDays) {
        self.shift_to(other.last_day);
        for (i, &c) in other.counts.iter().enumerate() {
            self.add(other.last_day - i as i64, c);
        }
    }

    /// Transactions on days `from..=to`, for `to >= last_day`.
    pub fn count_between(&self, from: i64, to: i64) -> u64 {
        (0..7)
            .map(|i| (self.last_day - i as i64, self.counts[i]))
            .filter(|&(day, _)| day >= from && day <= to)
            .map(|(_, c)| c)
            .sum()
    }
}

/// Everything kept about one user while reading.
#[derive(Clone, Debug)]
pub struct UserAccumulator {
    pub frequency: u64,
    pub monetary: Money,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Hours (since the epoch) with a transaction; duplicates are removed
    /// whenever the vector would grow, so its size follows the number of
    /// distinct hours, not of rows.
    hours: Vec<i32>,
    /// (channel id in the owning table, transactions).
    channels: SmallVec<[(u32, u64); 4]>,
    /// Transactions with a non-empty status, and the successful ones.
    pub with_status: u64,
    pub successes: u64,
    pub recent: RecentDays,
}

impl UserAccumulator {
    fn new(time_ms: i64) -> Self {
        UserAccumulator {
            frequency: 0,
            monetary: Money::ZERO,
            first_ms: time_ms,
            last_ms: time_ms,
            hours: Vec::new(),
            channels: SmallVec::new(),
            with_status: 0,
            successes: 0,
            recent: RecentDays::new(day_of(time_ms)),
        }
    }

    fn add(&mut self, tx: &Transaction<'_>, channel: Option<u32>) {
        self.frequency += 1;
        self.monetary += tx.amount;
        self.first_ms = self.first_ms.min(tx.time_ms);
        self.last_ms = self.last_ms.max(tx.time_ms);
        self.add_hour(hour_of(tx.time_ms) as i32);
        if let Some(id) = channel {
            self.add_channel(id, 1);
        }
        if let Some(success) = tx.success {
            self.with_status += 1;
            self.successes += u64::from(success);
        }
        self.recent.add(day_of(tx.time_ms), 1);
    }

    fn add_hour(&mut self, hour: i32) {
        // Logs are mostly in time order: the same hour repeats back to back.
        if self.hours.last() == Some(&hour) {
            return;
        }
        if self.hours.len() == self.hours.capacity() && self.hours.len() >= 16 {
            self.compact_hours();
        }
        self.hours.push(hour);
    }

    fn compact_hours(&mut self) {
        self.hours.sort_unstable();
        self.hours.dedup();
    }

    fn add_channel(&mut self, id: u32, count: u64) {
        match self.channels.iter_mut().find(|(c, _)| *c == id) {
            Some((_, n)) => *n += count,
            None => self.channels.push((id, count)),
        }
    }

    /// Folds `other` in; `remap[id]` is this table's id for `other`'s
    /// channel `id`.
    fn merge(&mut self, other: UserAccumulator, remap: &[u32]) {
        self.frequency += other.frequency;
        self.monetary += other.monetary;
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        self.hours.extend_from_slice(&other.hours);
        if self.hours.len() >= 16 {
            self.compact_hours();
        }
        for (id, count) in other.channels {
            self.add_channel(remap[id as usize], count);
        }
        self.with_status += other.with_status;
        self.successes += other.successes;
        self.recent.merge(&other.recent);
    }

    /// Distinct hours and distinct UTC days with a transaction.
    pub fn distinct_hours_and_days(&mut self) -> (u64, u64) {
        self.compact_hours();
        let mut days = 0;
        let mut last_day = None;
        for &h in &self.hours {
            let day = i64::from(h).div_euclid(24);
            if last_day != Some(day) {
                days += 1;
                last_day = Some(day);
            }
        }
        (self.hours.len() as u64, days)
    }

    /// (channel id, transactions) pairs.
    pub fn channel_counts(&self) -> &[(u32, u64)] {
        &self.channels
    }
}

/// Per-user accumulators keyed by user key, with the channel names their
/// ids refer to, and input-wide bounds.
#[derive(Debug, Default)]
pub struct Aggregate {
    users: HashMap<Box<[u8]>, UserAccumulator>,
    channels: Vec<Box<[u8]>>,
    /// Transactions accepted.
    pub rows: u64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

/// A user key and its accumulator.
pub type KeyedUser = (Box<[u8]>, UserAccumulator);

/// A new channel value would pass [`MAX_CHANNELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyChannels;

impl Aggregate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn channel_names(&self) -> &[Box<[u8]>] {
        &self.channels
    }

    fn channel_id(&mut self, name: &[u8]) -> Result<u32, TooManyChannels> {
        if let Some(i) = self.channels.iter().position(|c| &**c == name) {
            return Ok(i as u32);
        }
        if self.channels.len() >= MAX_CHANNELS {
            return Err(TooManyChannels);
        }
        self.channels.push(name.into());
        Ok(self.channels.len() as u32 - 1)
    }

    /// Adds one transaction of user `key`.
    pub fn add(&mut self, key: &[u8], tx: &Transaction<'_>) -> Result<(), TooManyChannels> {
        let channel = match tx.channel {
            Some(name) => Some(self.channel_id(name)?),
            None => None,
        };
        let user = match self.users.get_mut(key) {
            Some(user) => user,
            None => self
                .users
                .entry(key.into())
                .or_insert_with(|| UserAccumulator::new(tx.time_ms)),
        };
        user.add(tx, channel);
        self.rows += 1;
        self.min_ms = Some(self.min_ms.map_or(tx.time_ms, |m| m.min(tx.time_ms)));
        self.max_ms = Some(self.max_ms.map_or(tx.time_ms, |m| m.max(tx.time_ms)));
        Ok(())
    }

    /// Folds `other` into `self`. Associative and commutative up to the
    /// numbering of channel ids, which readers resolve through
    /// [`Aggregate::channel_names`].
    pub fn merge(mut self, mut other: Aggregate) -> Aggregate {
        if other.users.len() > self.users.len() {
            std::mem::swap(&mut self, &mut other);
        }
        let remap: Vec<u32> = other
            .channels
            .iter()
            .map(|name| match self.channels.iter().position(|c| c == name) {
                Some(i) => i as u32,
                None => {
                    self.channels.push(name.clone());
                    self.channels.len() as u32 - 1
                }
            })
            .collect();
        for (key, user) in other.users {
            match self.users.get_mut(&key) {
                Some(mine) => mine.merge(user, &remap),
                None => {
                    let mut user = user;
                    for (id, _) in user.channels.iter_mut() {
                        *id = remap[*id as usize];
                    }
                    self.users.insert(key, user);
                }
            }
        }
        self.rows += other.rows;
        self.min_ms = min_opt(self.min_ms, other.min_ms, i64::min);
        self.max_ms = min_opt(self.max_ms, other.max_ms, i64::max);
        self
    }

    /// The users, in no particular order, and the channel names.
    pub fn into_users(self) -> (Vec<KeyedUser>, Vec<Box<[u8]>>) {
        (self.users.into_iter().collect(), self.channels)
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_days_window() {
        let mut r = RecentDays::new(10);
        r.add(10, 1);
        r.add(4, 1); // 6 days back: kept
        r.add(3, 1); // 7 days back: out of the ring
        r.add(12, 2);
        assert_eq!(r.count_between(6, 12), 3);
        assert_eq!(r.count_between(10, 12), 3);
        let mut other = RecentDays::new(20);
        other.add(20, 5);
        r.merge(&other);
        assert_eq!(r.count_between(14, 20), 5);
        assert_eq!(r.count_between(0, 20), 5);
    }

    #[test]
    fn hours_compact_to_distinct() {
        let mut u = UserAccumulator::new(0);
        for i in 0..1000 {
            u.add_hour(i % 50);
        }
        assert!(u.hours.len() <= 100);
        assert_eq!(u.distinct_hours_and_days(), (50, 3));
    }
}
