//! Per-user accumulators, and the user-partitioned table of them.
//!
//! Users are spread over [`PARTITIONS`] hash tables by a hash of their key.
//! Reading a block of rows happens in two parallel phases: parse rows into
//! per-partition lists, then let each partition's table take its rows. A
//! partition's index is small enough to stay in cache while its rows find
//! their users, and every user lives in exactly one table, so no
//! two threads ever hold the same user and no merge is needed. Every field
//! is an integer count, sum, minimum, maximum or set, so the result does not
//! depend on how rows were grouped into chunks or threads.

mod partition;
mod row;
mod user;

pub use self::partition::{AddScratch, FinishedUsers, Partition};
pub use self::row::{INLINE_KEY, Row, WideRow, hash_key, hash_packed, pack_key, partition_of};
pub use self::user::{
    Activity, DayEntry, DayLists, RecentDays, UserAccumulator, UserKey, median_of_integers,
};

/// Most distinct channel values a run accepts: a channel column is a
/// handful of categories, and each becomes an output column.
pub const MAX_CHANNELS: usize = 1024;

/// Number of user partitions (see the module docs).
pub const PARTITIONS: usize = 128;

/// Channel ids counted inline in each user's accumulator.
const INLINE_CHANNELS: usize = 4;

/// Marks a row without a channel.
pub const NO_CHANNEL: u16 = u16::MAX;

/// Every user's accumulator, partitioned, and the channel names that
/// channel ids refer to.
#[derive(Debug)]
pub struct Aggregate {
    /// The users, [`PARTITIONS`] tables of them: a user lives in the one
    /// [`partition_of`] the hash of its key.
    pub partitions: Vec<Partition>,
    /// Channel names (UTF-8), by channel id: the id a [`Row`] carries is
    /// an index here.
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
    /// No users yet: [`PARTITIONS`] empty partitions, no channels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Transactions added.
    pub fn rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows).sum()
    }

    /// Users so far.
    pub fn users(&self) -> usize {
        self.partitions.iter().map(Partition::users).sum()
    }

    /// The earliest transaction time added, in UTC milliseconds; `None`
    /// before the first row.
    pub fn min_ms(&self) -> Option<i64> {
        self.partitions.iter().filter_map(|p| p.min_ms).min()
    }

    /// The latest transaction time added, in UTC milliseconds; `None`
    /// before the first row.
    pub fn max_ms(&self) -> Option<i64> {
        self.partitions.iter().filter_map(|p| p.max_ms).max()
    }

    /// The users of each partition, finished (see
    /// `UserAccumulator::finish`), and the channel names.
    pub fn into_partitions(self) -> (Vec<FinishedUsers>, Vec<Box<[u8]>>) {
        use rayon::prelude::*;
        let parts = self
            .partitions
            .into_par_iter()
            .map(Partition::finish)
            .collect();
        (parts, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::row::table_hash;
    use super::*;
    use crate::values::amount::Money;

    #[test]
    fn short_keys_hash_alike_from_bytes_and_words() {
        for key in [&b"a"[..], b"a\0", b"", b"abcdefgh", b"u028597"] {
            assert_eq!(hash_key(key), hash_packed(pack_key(key), key.len()));
        }
        assert_ne!(hash_key(b"a"), hash_key(b"a\0"));
    }

    #[test]
    fn keys_spread_evenly_over_partitions_and_table_buckets() {
        // Keys as logs write them: prefixed counters, bare numbers, and
        // zero-padded ids, 100,000 of each (781 per partition on average).
        let kinds: [fn(u32) -> String; 3] = [
            |i| format!("u{i}"),
            |i| i.to_string(),
            |i| format!("{i:08}"),
        ];
        for kind in kinds {
            let mut partitions = vec![0u32; PARTITIONS];
            let mut buckets = vec![0u32; 1024];
            for i in 0..100_000 {
                let hash = hash_key(kind(i).as_bytes());
                partitions[partition_of(hash)] += 1;
                buckets[(table_hash(hash as u32) >> 54) as usize] += 1;
            }
            // Within 5 standard deviations of a uniform spread (a count
            // is about Poisson, its deviation the root of the mean).
            for counts in [&partitions, &buckets] {
                let mean = 100_000.0 / counts.len() as f64;
                let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                let slack = 5.0 * mean.sqrt();
                assert!(
                    f64::from(*low) > mean - slack && f64::from(*high) < mean + slack,
                    "{} buckets: {low}..{high}, mean {mean}",
                    counts.len()
                );
            }
        }
    }

    #[test]
    fn rows_are_half_a_cache_line() {
        assert_eq!(std::mem::size_of::<Row>(), 32);
        assert_eq!(std::mem::align_of::<Row>(), 32);
    }

    #[test]
    fn keys_are_found_inline_and_in_the_arena() {
        let mut arena = Vec::new();
        let mut partition = Partition::default();
        let mut scratch = AddScratch::with_capacity(1024);
        let keys: [&[u8]; 6] = [b"a", b"a\0", b"abcdefgh", b"abcdefghi", b"abcdefghj", b"ab"];
        for round in 0..3 {
            let rows: Vec<Row> = keys
                .iter()
                .map(|k| {
                    let (word, hash) = (pack_key(k), hash_key(k));
                    Row::new(k, word, hash, round, 1, NO_CHANNEL, -1, &mut arena)
                })
                .collect();
            partition.add_rows(std::iter::once((&rows[..], &arena[..])), &mut scratch);
        }
        assert_eq!(partition.users(), keys.len());
        let aggregate = Aggregate {
            partitions: vec![partition],
            channels: Vec::new(),
        };
        let (parts, _) = aggregate.into_partitions();
        for (key, user) in parts[0].keys.iter().zip(&parts[0].users) {
            assert!(keys.contains(&key.as_slice()), "{key:?}");
            assert_eq!(user.frequency, 3);
        }
    }

    #[test]
    fn a_batch_of_lists_adds_as_rows_one_by_one() {
        // Rows of five users in two lists, users interleaved, several rows
        // per user and list, times out of order, three channels.
        let mut arena = Vec::new();
        let keys: [&[u8]; 5] = [b"u1", b"u2", b"a-long-user-key", b"u4", b"u5"];
        let mut lists = [Vec::new(), Vec::new()];
        for i in 0..60i64 {
            let key = keys[(i * 7 % 5) as usize];
            let time_ms = (i * 7_919 % 61) * 3_600_000 * 5;
            let channel = [0, 1, 6, NO_CHANNEL][(i % 4) as usize];
            let success = (i % 3) as i8 - 1;
            let row = Row::new(
                key,
                pack_key(key),
                hash_key(key),
                time_ms,
                i * 1_000,
                channel,
                success,
                &mut arena,
            );
            lists[(i % 2) as usize].push(row);
        }
        // Sorted seven rows at a time: lists are cut and parts added in
        // turn, which must come to the same.
        let mut partition = Partition::default();
        let batch = lists.iter().map(|rows| (&rows[..], &arena[..]));
        partition.add_rows(batch, &mut AddScratch::with_capacity(7));

        let mut expected: Vec<(Vec<u8>, UserAccumulator)> = Vec::new();
        let mut day_lists = DayLists::default();
        for row in lists.iter().flatten() {
            let key = row.key_bytes(&arena).as_slice().to_vec();
            let at = match expected.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    expected.push((key, UserAccumulator::new(row.time_ms)));
                    expected.len() - 1
                }
            };
            expected[at]
                .1
                .add(row, Money(i128::from(row.amount)), &mut day_lists);
        }
        assert_eq!(partition.rows, 60);
        let aggregate = Aggregate {
            partitions: vec![partition],
            channels: Vec::new(),
        };
        let (mut parts, _) = aggregate.into_partitions();
        let finished = parts.pop().unwrap();
        assert_eq!(finished.users.len(), keys.len());
        let FinishedUsers {
            keys: user_keys,
            users,
            activity,
            ..
        } = finished;
        for ((key, mut user), activity) in user_keys.iter().zip(users).zip(activity) {
            let (_, mut want) = expected.iter().find(|(k, _)| **k == **key).unwrap().clone();
            assert_eq!(activity, want.finish(&mut day_lists));
            // Where a list lies depends on the order users grew theirs.
            (user.hours.at, want.hours.at) = (0, 0);
            assert_eq!(format!("{user:?}"), format!("{want:?}"));
        }
    }
}
