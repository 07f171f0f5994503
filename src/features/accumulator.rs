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

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use smallvec::SmallVec;

use crate::values::amount::Money;
use crate::values::time::hour_of;

/// Most distinct channel values a run accepts: a channel column is a
/// handful of categories, and each becomes an output column.
pub const MAX_CHANNELS: usize = 1024;

/// Number of user partitions (see the module docs).
pub const PARTITIONS: usize = 128;

/// Channel ids counted inline in each user's accumulator.
const INLINE_CHANNELS: usize = 4;

/// Marks a row without a channel.
pub const NO_CHANNEL: u16 = u16::MAX;

/// The hash of a user key: fixed, so partitions are the same on every run.
pub fn hash_key(key: &[u8]) -> u64 {
    if key.len() <= INLINE_KEY {
        hash_packed(pack_key(key), key.len())
    } else {
        KEY_HASH.hash_one(key)
    }
}

/// [`hash_key`] of a key of at most eight bytes, from its [`pack_key`]
/// word: one word hashed instead of a run of bytes.
#[inline]
pub fn hash_packed(word: u64, len: usize) -> u64 {
    // The length tells `a` from `a\0`, which pack to the same word.
    KEY_HASH.hash_one((word, len as u8))
}

const KEY_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5EC_A11);

/// The partition of a key hash. Bits 32..40: rows keep only the low 32
/// bits (see `Row::hash`), and a partition's keys must still differ there.
pub fn partition_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTITIONS
}

/// The hash a partition's table files a user under, from the low 32 bits
/// of [`hash_key`]: the tables take bucket bits from the bottom and tag
/// bits from the top, and the multiply by an odd constant spreads the 32
/// bits over both.
fn table_hash(low: u32) -> u64 {
    u64::from(low).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// [`Row::key_len`] of a key kept in the chunk's arena.
const LONG_KEY: u8 = u8::MAX;

/// Keys up to this many bytes travel inside the row.
pub const INLINE_KEY: usize = 8;

/// One parsed transaction, as the accumulators see it.
///
/// Phase one writes every row to one of [`PARTITIONS`] lists and phase two
/// reads it back, so its size is most of the cost of moving it: 32 bytes,
/// aligned so that a row never straddles two cache lines. Amounts that do
/// not fit an `i64` of nano-units (beyond about 9.2 billion units) travel
/// as [`WideRow`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct Row {
    pub time_ms: i64,
    /// In nano-units (see [`Money`]).
    pub amount: i64,
    /// A key of up to eight bytes, little-endian and zero-padded; else the
    /// offset in the chunk's arena of its length (`u64`, little-endian)
    /// followed by its bytes.
    key: u64,
    /// The low 32 bits of [`hash_key`] of the key.
    hash: u32,
    /// 1..=8 for an inline key, [`LONG_KEY`] for one in the arena.
    key_len: u8,
    /// -1 without a status, 0 failure, 1 success.
    pub success: i8,
    /// Channel id in the run's channel list, or [`NO_CHANNEL`].
    pub channel: u16,
}

impl Row {
    /// A row of `key`, whose [`pack_key`] word is `word` when it is short
    /// and whose [`hash_key`] is `hash`; a long key is copied into `arena`.
    /// `amount` is in nano-units.
    // Inlined: built in place, the row is stored field by field to its
    // destination, not assembled on the stack and reloaded as a whole (a
    // wide load over narrow stores stalls store forwarding).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn new(
        key: &[u8],
        word: u64,
        hash: u64,
        time_ms: i64,
        amount: i64,
        channel: u16,
        success: i8,
        arena: &mut Vec<u8>,
    ) -> Row {
        let (word, key_len) = if key.len() <= INLINE_KEY {
            (word, key.len() as u8)
        } else {
            let at = arena.len() as u64;
            arena.extend_from_slice(&(key.len() as u64).to_le_bytes());
            arena.extend_from_slice(key);
            (at, LONG_KEY)
        };
        Row {
            time_ms,
            amount,
            key: word,
            hash: hash as u32,
            key_len,
            success,
            channel,
        }
    }

    /// The key of a row whose key is in `arena`.
    fn long_key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        let at = self.key as usize;
        let mut len = [0u8; 8];
        len.copy_from_slice(&arena[at..at + 8]);
        let len = u64::from_le_bytes(len) as usize;
        &arena[at + 8..at + 8 + len]
    }

    /// Whether this row's key is the indexed key `(word, len)` (see
    /// [`IndexEntry`]).
    #[inline]
    fn has_key(&self, word: u64, len: u32, long_keys: &[u8], arena: &[u8]) -> bool {
        if self.key_len == LONG_KEY {
            let at = word as usize;
            len as usize > INLINE_KEY && long_keys[at..at + len as usize] == *self.long_key(arena)
        } else {
            word == self.key && len == u32::from(self.key_len)
        }
    }

    /// The key's bytes, read from `arena` when long.
    fn key_bytes<'a>(&'a self, arena: &'a [u8]) -> KeyBytes<'a> {
        if self.key_len == LONG_KEY {
            KeyBytes::Long(self.long_key(arena))
        } else {
            KeyBytes::Inline(self.key.to_le_bytes(), self.key_len)
        }
    }
}

/// A row's key, borrowed or unpacked.
enum KeyBytes<'a> {
    Inline([u8; 8], u8),
    Long(&'a [u8]),
}

impl KeyBytes<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            KeyBytes::Inline(bytes, len) => &bytes[..usize::from(*len)],
            KeyBytes::Long(key) => key,
        }
    }
}

/// The first eight bytes of `key`, little-endian and zero-padded: with the
/// length, the whole of a short key in one word.
pub fn pack_key(key: &[u8]) -> u64 {
    // A byte loop, not a slice copy: a copy of variable length becomes a
    // call to memcpy, which costs more than the whole loop. (Parsing reads
    // the word from the record instead, see `Record::field_word`.)
    let mut word = 0u64;
    for (i, &b) in key.iter().take(INLINE_KEY).enumerate() {
        word |= u64::from(b) << (8 * i);
    }
    word
}

/// A row whose amount does not fit a [`Row`] (see there), with its
/// partition: rare enough to be kept in one list per chunk.
#[derive(Clone, Copy, Debug)]
pub struct WideRow {
    pub partition: usize,
    /// The row, with `amount` 0.
    pub row: Row,
    pub amount: Money,
}

/// Transaction counts on the seven UTC days ending at the latest day seen.
/// Enough to count a user's transactions in the 7 days ending at any
/// reference day not before that day, without knowing it while reading
/// (SPEC section 3, `avg_daily_last_7d`).
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
    fn add(&mut self, day: i64, count: u32) {
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
    entries: Vec<(i32, u32)>,
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
        self.entries.resize(at + capacity as usize, (0, 0));
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

/// The UTC hours with a transaction, as days with a 24-bit mask of their
/// hours: a day takes 8 bytes however many of its hours are active, and
/// rows of a day already seen (most of them: logs run in time order) only
/// set a bit.
#[derive(Clone, Debug, Default)]
struct ActiveHours {
    /// The day of the last row, and its hours so far: kept here until a
    /// row of another day comes, so users with one active day, and the
    /// rows of every user's current day, never touch the list.
    day: i32,
    mask: u32,
    /// Earlier (day, hour mask) pairs: `len` entries of a slice of
    /// `capacity` entries at `at` in the partition's [`DayLists`] (none
    /// while `capacity` is 0). A day appears more than once only when rows
    /// come out of time order, and repeats are merged whenever the list
    /// would grow, so its size follows the number of active days.
    at: usize,
    len: u32,
    capacity: u32,
}

impl ActiveHours {
    /// Adds an hour (since the epoch) of day `day` (`hour.div_euclid(24)`).
    #[inline]
    fn add(&mut self, hour: i64, day: i64, lists: &mut DayLists) {
        let bit = 1u32 << (hour - day * 24);
        let day = day as i32;
        if day != self.day {
            self.end_day(day, lists);
        }
        self.mask |= bit;
    }

    /// Files the current day and starts `day`.
    #[cold]
    fn end_day(&mut self, day: i32, lists: &mut DayLists) {
        if self.mask != 0 {
            if self.len == self.capacity {
                self.make_room(lists);
            }
            lists.entries[self.at + self.len as usize] = (self.day, self.mask);
            self.len += 1;
        }
        self.day = day;
        self.mask = 0;
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

    fn days_mut<'l>(&self, lists: &'l mut DayLists) -> &'l mut [(i32, u32)] {
        &mut lists.entries[self.at..self.at + self.len as usize]
    }

    /// Counts the distinct hours and days.
    fn finish(&mut self, lists: &mut DayLists) -> Activity {
        self.end_day(0, lists);
        self.len = compact(self.days_mut(lists));
        let days = self.days_mut(lists);
        Activity {
            hours: days
                .iter()
                .map(|(_, mask)| u64::from(mask.count_ones()))
                .sum(),
            days: days.len() as u64,
        }
    }
}

/// Sorts (day, hour mask) pairs by day and merges those of one day into
/// the first ones; returns how many remain.
fn compact(days: &mut [(i32, u32)]) -> u32 {
    days.sort_unstable_by_key(|&(day, _)| day);
    let mut kept = 0;
    for i in 0..days.len() {
        if kept > 0 && days[kept - 1].0 == days[i].0 {
            days[kept - 1].1 |= days[i].1;
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
    pub frequency: u64,
    pub monetary: Money,
    pub first_ms: i64,
    pub last_ms: i64,
    hours: ActiveHours,
    /// Transactions by channel id, for the first few ids (counted without
    /// a search: most logs have a handful of channels)...
    channels: [u64; INLINE_CHANNELS],
    /// ... and (channel id, transactions) for the others.
    more_channels: Vec<(u32, u64)>,
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
            hours: ActiveHours::default(),
            channels: [0; INLINE_CHANNELS],
            more_channels: Vec::new(),
            with_status: 0,
            successes: 0,
            recent: RecentDays::default(),
        }
    }

    fn add(&mut self, row: &Row, amount: Money, lists: &mut DayLists) {
        self.frequency += 1;
        self.monetary += amount;
        self.first_ms = self.first_ms.min(row.time_ms);
        self.last_ms = self.last_ms.max(row.time_ms);
        self.add_time_and_labels(row, lists);
    }

    /// Adds rows whose amounts fit a [`Row`]; sums are kept in registers
    /// across the rows.
    fn add_rows(&mut self, rows: &[Row], lists: &mut DayLists) {
        let mut monetary = 0i128;
        let (mut first, mut last) = (self.first_ms, self.last_ms);
        for row in rows {
            monetary += i128::from(row.amount);
            first = first.min(row.time_ms);
            last = last.max(row.time_ms);
            self.add_time_and_labels(row, lists);
        }
        self.frequency += rows.len() as u64;
        self.monetary += Money(monetary);
        self.first_ms = first;
        self.last_ms = last;
    }

    /// The hour, day, channel and status of a row.
    #[inline]
    fn add_time_and_labels(&mut self, row: &Row, lists: &mut DayLists) {
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
    fn finish(&mut self, lists: &mut DayLists) -> Activity {
        self.hours.finish(lists)
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

/// Distinct UTC hours and days with a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activity {
    pub hours: u64,
    pub days: u64,
}

/// The users of one partition once reading is over, by user number: their
/// keys, accumulators and activity. The accumulators stay where reading
/// left them (a copy of them all would cost as much as the rest of
/// finishing).
#[derive(Debug, Default)]
pub struct FinishedUsers {
    pub keys: Vec<UserKey>,
    pub users: Vec<UserAccumulator>,
    pub activity: Vec<Activity>,
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
    pub min_ms: Option<i64>,
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
fn stored_key<'a>(entry: &IndexEntry, long_keys: &'a [u8]) -> KeyBytes<'a> {
    let len = entry.len as usize;
    if len <= INLINE_KEY {
        KeyBytes::Inline(entry.word.to_le_bytes(), len as u8)
    } else {
        let at = entry.word as usize;
        KeyBytes::Long(&long_keys[at..at + len])
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

    /// Users so far.
    pub fn users(&self) -> usize {
        self.partitions.iter().map(Partition::users).sum()
    }

    pub fn min_ms(&self) -> Option<i64> {
        self.partitions.iter().filter_map(|p| p.min_ms).min()
    }

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
            .map(|partition| {
                let Partition {
                    index,
                    long_keys,
                    mut users,
                    mut day_lists,
                    ..
                } = partition;
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
                }
            })
            .collect();
        (parts, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        } = finished;
        for ((key, mut user), activity) in user_keys.iter().zip(users).zip(activity) {
            let (_, mut want) = expected.iter().find(|(k, _)| **k == **key).unwrap().clone();
            assert_eq!(activity, want.finish(&mut day_lists));
            // Where a list lies depends on the order users grew theirs.
            (user.hours.at, want.hours.at) = (0, 0);
            assert_eq!(format!("{user:?}"), format!("{want:?}"));
        }
    }

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
        assert_eq!(hours.finish(&mut lists), Activity { hours: 50, days: 3 });
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
            }
            let days: std::collections::BTreeSet<i64> =
                all.iter().map(|h| h.div_euclid(24)).collect();
            let want = Activity {
                hours: all.len() as u64,
                days: days.len() as u64,
            };
            assert_eq!(hours.finish(&mut lists), want, "round {round}");
        }
    }
}
