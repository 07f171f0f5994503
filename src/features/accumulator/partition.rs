//! The users of one partition: an index of their keys beside their
//! accumulators, and how a batch of rows finds its users.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::row::{INLINE_KEY, KeyBytes, Row, WideRow, hash_key, pack_key, table_hash};
use super::user::{Activity, DayLists, UserAccumulator, UserKey};

/// The users of one partition once reading is over, by user number: their
/// keys, accumulators and activity. The accumulators stay where reading
/// left them (a copy of them all would cost as much as the rest of
/// finishing).
#[derive(Debug, Default)]
pub struct FinishedUsers {
    /// Each user's key.
    pub keys: Vec<UserKey>,
    /// Each user's accumulator.
    pub users: Vec<UserAccumulator>,
    /// Each user's distinct active hours and days.
    pub activity: Vec<Activity>,
    /// The users' active days (see [`UserAccumulator::days`]).
    pub day_lists: DayLists,
}

/// A user of a partition's index: the key, packed (see [`pack_key`]) or
/// as an offset in the partition's arena, and the user's number.
#[derive(Clone, Copy, Debug)]
struct IndexEntry {
    /// The packed key when `len` is at most eight bytes, else the offset
    /// of the key in [`Partition::long_keys`].
    word: u64,
    len: u32,
    user: u32,
}

/// The users of one partition.
///
/// Keys and accumulators are kept apart: the index (16 bytes a user) stays
/// in cache while a batch of rows finds its users. The rows are then put
/// in user order (a counting sort), so that each accumulator is updated
/// once per batch, with all its rows, and the accumulators are visited in
/// the order they lie in memory, which the processor can stream.
#[derive(Debug, Default)]
pub struct Partition {
    index: HashTable<IndexEntry>,
    /// The bytes of keys longer than eight bytes.
    long_keys: Vec<u8>,
    users: Vec<UserAccumulator>,
    /// The users' active days.
    day_lists: DayLists,
    /// Transactions added.
    pub rows: u64,
    /// The earliest transaction time added, in UTC milliseconds; `None`
    /// before the first row.
    pub min_ms: Option<i64>,
    /// The latest transaction time added, in UTC milliseconds; `None`
    /// before the first row.
    pub max_ms: Option<i64>,
}

impl Partition {
    /// Adds a batch of rows whose keys hash to this partition: lists of
    /// rows, each with the arena its long keys are read from. A batch
    /// larger than the scratch's limit (rows of few users, which all fall
    /// in one partition) is added in parts, so the scratch never grows.
    pub fn add_rows<'r>(
        &mut self,
        lists: impl Iterator<Item = (&'r [Row], &'r [u8])>,
        scratch: &mut AddScratch,
    ) {
        let limit = scratch.limit;
        let mut part: Vec<(&[Row], &[u8])> = Vec::new();
        let mut rows = 0;
        for (list, arena) in lists {
            for piece in list.chunks(limit) {
                if rows + piece.len() > limit {
                    self.add_sorted(&part, scratch);
                    part.clear();
                    rows = 0;
                }
                part.push((piece, arena));
                rows += piece.len();
            }
        }
        if rows > 0 {
            self.add_sorted(&part, scratch);
        }
    }

    /// [`Self::add_rows`] for at most `scratch.limit` rows.
    fn add_sorted(&mut self, lists: &[(&[Row], &[u8])], scratch: &mut AddScratch) {
        let lists = lists.iter().copied();
        let AddScratch {
            found,
            cursor,
            by_user,
            ..
        } = scratch;
        found.clear();
        for (rows, arena) in lists.clone() {
            found.extend(rows.iter().map(|row| self.user_of(row, arena)));
        }
        if found.is_empty() {
            return;
        }
        // Counting sort: `cursor[u]` starts where user u's rows go...
        cursor.clear();
        cursor.resize(self.users.len(), 0);
        for &user in found.iter() {
            cursor[user as usize] += 1;
        }
        let mut next = 0;
        for slot in cursor.iter_mut() {
            let count = *slot;
            *slot = next;
            next += count;
        }
        if by_user.len() < found.len() {
            by_user.resize(found.len(), Row::default());
        }
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let rows = lists.flat_map(|(rows, _)| rows);
        for (row, &user) in rows.zip(found.iter()) {
            let at = &mut cursor[user as usize];
            by_user[*at as usize] = *row;
            *at += 1;
            min = min.min(row.time_ms);
            max = max.max(row.time_ms);
        }
        // ... and ends where they end.
        let mut start = 0;
        for (user, &end) in self.users.iter_mut().zip(cursor.iter()) {
            if end > start {
                user.add_rows(&by_user[start as usize..end as usize], &mut self.day_lists);
            }
            start = end;
        }
        self.count(found.len(), min, max);
    }

    /// Adds the wide rows of this partition (`partition`) among `wide`.
    pub fn add_wide_rows(&mut self, partition: usize, wide: &[WideRow], arena: &[u8]) {
        for wide in wide.iter().filter(|w| w.partition == partition) {
            let user = self.user_of(&wide.row, arena);
            self.users[user as usize].add(&wide.row, wide.amount, &mut self.day_lists);
            self.count(1, wide.row.time_ms, wide.row.time_ms);
        }
    }

    /// Users so far.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn count(&mut self, rows: usize, min: i64, max: i64) {
        self.rows += rows as u64;
        self.min_ms = Some(self.min_ms.map_or(min, |m| m.min(min)));
        self.max_ms = Some(self.max_ms.map_or(max, |m| m.max(max)));
    }

    /// The number of the row's user, a new one if need be.
    #[inline]
    fn user_of(&mut self, row: &Row, arena: &[u8]) -> u32 {
        let long_keys = &self.long_keys;
        let entry = self.index.entry(
            table_hash(row.hash),
            |e| row.has_key(e.word, e.len, long_keys, arena),
            |e| table_hash(hash_key(stored_key(e, long_keys).as_slice()) as u32),
        );
        match entry {
            Entry::Occupied(found) => found.get().user,
            Entry::Vacant(slot) => {
                let key = row.key_bytes(arena);
                let key = key.as_slice();
                let word = if key.len() <= INLINE_KEY {
                    pack_key(key)
                } else {
                    let at = self.long_keys.len() as u64;
                    self.long_keys.extend_from_slice(key);
                    at
                };
                let user = self.users.len() as u32;
                slot.insert(IndexEntry {
                    word,
                    len: key.len() as u32,
                    user,
                });
                self.users.push(UserAccumulator::new(row.time_ms));
                user
            }
        }
    }
}

impl Partition {
    /// The partition's users, finished (see `UserAccumulator::finish`).
    pub fn finish(self) -> FinishedUsers {
        let Partition {
            index,
            long_keys,
            mut users,
            mut day_lists,
            ..
        } = self;
        let mut keys = vec![UserKey::new(); users.len()];
        for entry in &index {
            keys[entry.user as usize] =
                UserKey::from_slice(stored_key(entry, &long_keys).as_slice());
        }
        let activity = users
            .iter_mut()
            .map(|user| user.finish(&mut day_lists))
            .collect();
        FinishedUsers {
            keys,
            users,
            activity,
            day_lists,
        }
    }
}

/// Working space of [`Partition::add_rows`], kept from batch to batch:
/// one per worker, reserved once for `limit` rows.
#[derive(Debug)]
pub struct AddScratch {
    /// Most rows sorted at once.
    limit: usize,
    /// The user of each row.
    found: Vec<u32>,
    /// Where each user's rows go, then where they end.
    cursor: Vec<u32>,
    /// The rows, by user.
    by_user: Vec<Row>,
}

impl AddScratch {
    /// Space to sort up to `rows` rows at once, reserved now.
    pub fn with_capacity(rows: usize) -> Self {
        let limit = rows.max(1);
        AddScratch {
            limit,
            found: Vec::with_capacity(limit),
            cursor: Vec::new(),
            by_user: Vec::with_capacity(limit),
        }
    }
}

/// The key of an index entry.
#[inline]
fn stored_key<'a>(entry: &IndexEntry, long_keys: &'a [u8]) -> KeyBytes<'a> {
    let len = entry.len as usize;
    if len <= INLINE_KEY {
        KeyBytes::Inline(entry.word.to_le_bytes(), len as u8)
    } else {
        let at = entry.word as usize;
        KeyBytes::Long(&long_keys[at..at + len])
    }
}
