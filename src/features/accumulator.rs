//! Per-user accumulators, and the user-partitioned table of them.
//!
//! Users are spread over [`PARTITIONS`] hash tables by a hash of their key.
//! Reading a block of rows happens in two parallel phases: parse rows into
//! per-partition lists, then let each partition's table take its rows. A
//! partition's table is small enough to stay in cache, which is what makes
//! the second phase fast, and every user lives in exactly one table, so no
//! two threads ever hold the same user and no merge is needed. Every field
//! is an integer count, sum, minimum, maximum or set, so the result does not
//! depend on how rows were grouped into chunks or threads.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::ingest::amount::Money;
use crate::ingest::time::{day_of, hour_of};

/// Most distinct channel values a run accepts: a channel column is a
/// handful of categories, and each becomes an output column.
pub const MAX_CHANNELS: usize = 1024;

/// Number of user partitions (see the module docs).
pub const PARTITIONS: usize = 128;

/// Marks a row without a channel.
pub const NO_CHANNEL: u16 = u16::MAX;

/// The hash of a user key: fixed, so partitions are the same on every run.
pub fn hash_key(key: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5EC_A11).hash_one(key)
}

/// The partition of a key hash. Bits 32..40: the hash tables use the low
/// bits for buckets and the top seven as tags, and a partition's keys must
/// still differ there.
pub fn partition_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTITIONS
}

/// A user key as stored in a parsed row: inline when short, else an offset
/// into the arena of the chunk the row came from.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef {
    len: u32,
    bytes: [u8; 24],
}

impl KeyRef {
    const INLINE: usize = 24;

    /// Stores `key`, in `arena` when it is long.
    pub fn new(key: &[u8], arena: &mut Vec<u8>) -> KeyRef {
        let mut bytes = [0u8; Self::INLINE];
        if key.len() <= Self::INLINE {
            // A byte loop: see `fingerprint`.
            for (slot, &b) in bytes.iter_mut().zip(key) {
                *slot = b;
            }
        } else {
            bytes[..8].copy_from_slice(&(arena.len() as u64).to_le_bytes());
            arena.extend_from_slice(key);
        }
        KeyRef {
            len: key.len() as u32,
            bytes,
        }
    }

    pub fn get<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        let len = self.len as usize;
        if len <= Self::INLINE {
            &self.bytes[..len]
        } else {
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&self.bytes[..8]);
            let start = u64::from_le_bytes(offset) as usize;
            &arena[start..start + len]
        }
    }
}

/// One parsed transaction, as the accumulators see it.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// `hash_key` of the key.
    pub hash: u64,
    pub time_ms: i64,
    pub amount: Money,
    pub key: KeyRef,
    /// Channel id in the run's channel list, or [`NO_CHANNEL`].
    pub channel: u16,
    /// -1 without a status, 0 failure, 1 success.
    pub success: i8,
}

/// Transaction counts on the seven UTC days ending at `last_day`, the latest
/// day seen. Enough to count a user's transactions in the 7 days ending at
/// any reference day not before `last_day`, without knowing that day while
/// reading (SPEC section 3, `avg_daily_last_7d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentDays {
    last_day: i64,
    /// `counts[i]` is the count on day `last_day - i`.
    counts: [u32; 7],
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

    fn add(&mut self, day: i64, count: u32) {
        self.shift_to(day);
        let back = self.last_day - day;
        if back < 7 {
            self.counts[back as usize] += count;
        }
    }

    /// Transactions on days `from..=to`, for `to >= last_day`.
    pub fn count_between(&self, from: i64, to: i64) -> u64 {
        (0..7)
            .map(|i| (self.last_day - i as i64, self.counts[i]))
            .filter(|&(day, _)| day >= from && day <= to)
            .map(|(_, c)| u64::from(c))
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

    fn add(&mut self, row: &Row) {
        self.frequency += 1;
        self.monetary += row.amount;
        self.first_ms = self.first_ms.min(row.time_ms);
        self.last_ms = self.last_ms.max(row.time_ms);
        self.add_hour(hour_of(row.time_ms) as i32);
        if row.channel != NO_CHANNEL {
            self.add_channel(u32::from(row.channel), 1);
        }
        if row.success >= 0 {
            self.with_status += 1;
            self.successes += row.success as u64;
        }
        self.recent.add(day_of(row.time_ms), 1);
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

    /// Removes duplicate hours; [`Self::distinct_hours_and_days`] needs it.
    pub fn finish(&mut self) {
        self.compact_hours();
    }

    /// Distinct hours and distinct UTC days with a transaction, once
    /// [`Self::finish`] has run.
    pub fn distinct_hours_and_days(&self) -> (u64, u64) {
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

/// A user key: most keys are short, and keeping them inline in the hash
/// table saves an allocation per user and a pointer chase per lookup.
pub type UserKey = SmallVec<[u8; 24]>;

/// A user key and its accumulator.
pub type KeyedUser = (UserKey, UserAccumulator);

/// The users of one partition.
#[derive(Debug, Default)]
pub struct Partition {
    users: HashTable<KeyedUser>,
    /// Transactions added.
    pub rows: u64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl Partition {
    /// Adds rows whose keys hash to this partition; long keys are read
    /// from `arena`.
    pub fn add_rows(&mut self, rows: &[Row], arena: &[u8]) {
        if rows.is_empty() {
            return;
        }
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for row in rows {
            let key = row.key.get(arena);
            let user = match self.users.find_mut(row.hash, |(k, _)| k.as_slice() == key) {
                Some((_, user)) => user,
                None => {
                    let entry = (UserKey::from_slice(key), UserAccumulator::new(row.time_ms));
                    let slot = self
                        .users
                        .insert_unique(row.hash, entry, |(k, _)| hash_key(k));
                    &mut slot.into_mut().1
                }
            };
            user.add(row);
            min = min.min(row.time_ms);
            max = max.max(row.time_ms);
        }
        self.rows += rows.len() as u64;
        self.min_ms = Some(self.min_ms.map_or(min, |m| m.min(min)));
        self.max_ms = Some(self.max_ms.map_or(max, |m| m.max(max)));
    }
}

/// Every user's accumulator, partitioned, and the channel names that
/// channel ids refer to.
#[derive(Debug)]
pub struct Aggregate {
    pub partitions: Vec<Partition>,
    pub channels: Vec<Box<[u8]>>,
}

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate {
            partitions: (0..PARTITIONS).map(|_| Partition::default()).collect(),
            channels: Vec::new(),
        }
    }
}

impl Aggregate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Transactions added.
    pub fn rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows).sum()
    }

    pub fn min_ms(&self) -> Option<i64> {
        self.partitions.iter().filter_map(|p| p.min_ms).min()
    }

    pub fn max_ms(&self) -> Option<i64> {
        self.partitions.iter().filter_map(|p| p.max_ms).max()
    }

    /// The users of each partition, finished (see
    /// [`UserAccumulator::finish`]), and the channel names.
    pub fn into_partitions(self) -> (Vec<Vec<KeyedUser>>, Vec<Box<[u8]>>) {
        use rayon::prelude::*;
        let parts = self
            .partitions
            .into_par_iter()
            .map(|partition| {
                let mut users: Vec<KeyedUser> = partition.users.into_iter().collect();
                users.iter_mut().for_each(|(_, user)| user.finish());
                users
            })
            .collect();
        (parts, self.channels)
    }
}

/// The length and first seven bytes of a name, as one number: equal
/// fingerprints of names shorter than eight bytes mean equal names.
pub fn fingerprint(name: &[u8]) -> u64 {
    // A byte loop, not a slice copy: a copy of variable length becomes a
    // call to memcpy, which costs more than the whole lookup.
    let mut print = (name.len().min(255) as u64) << 56;
    for (i, &b) in name.iter().take(7).enumerate() {
        print |= u64::from(b) << (8 * i);
    }
    print
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
        r.add(20, 5);
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
        u.finish();
        assert_eq!(u.distinct_hours_and_days(), (50, 3));
    }
}
