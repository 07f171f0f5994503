//! One parsed transaction as the accumulators take it ([`Row`]), and the
//! hashing and packing of user keys.

use std::hash::BuildHasher;

use super::PARTITIONS;
use crate::values::amount::Money;

/// The hash of a user key: fixed, so partitions are the same on every run.
#[inline]
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
#[inline]
pub fn partition_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTITIONS
}

/// The hash a partition's table files a user under, from the low 32 bits
/// of [`hash_key`]: the tables take bucket bits from the bottom and tag
/// bits from the top, and the multiply by an odd constant spreads the 32
/// bits over both.
#[inline]
pub(super) fn table_hash(low: u32) -> u64 {
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
    /// When the transaction happened, in UTC milliseconds since the Unix
    /// epoch.
    pub time_ms: i64,
    /// In nano-units (see [`Money`]).
    pub amount: i64,
    /// A key of up to eight bytes, little-endian and zero-padded; else the
    /// offset in the chunk's arena of its length (`u64`, little-endian)
    /// followed by its bytes.
    key: u64,
    /// The low 32 bits of [`hash_key`] of the key.
    pub(super) hash: u32,
    /// 1..=8 for an inline key, [`LONG_KEY`] for one in the arena.
    key_len: u8,
    /// -1 without a status, 0 failure, 1 success.
    pub success: i8,
    /// Channel id in the run's channel list, or [`NO_CHANNEL`](super::NO_CHANNEL).
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
    #[inline]
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
    pub(super) fn has_key(&self, word: u64, len: u32, long_keys: &[u8], arena: &[u8]) -> bool {
        if self.key_len == LONG_KEY {
            let at = word as usize;
            len as usize > INLINE_KEY && long_keys[at..at + len as usize] == *self.long_key(arena)
        } else {
            word == self.key && len == u32::from(self.key_len)
        }
    }

    /// The key's bytes, read from `arena` when long.
    #[inline]
    pub(super) fn key_bytes<'a>(&'a self, arena: &'a [u8]) -> KeyBytes<'a> {
        if self.key_len == LONG_KEY {
            KeyBytes::Long(self.long_key(arena))
        } else {
            KeyBytes::Inline(self.key.to_le_bytes(), self.key_len)
        }
    }
}

/// A row's key, borrowed or unpacked.
pub(super) enum KeyBytes<'a> {
    Inline([u8; 8], u8),
    Long(&'a [u8]),
}

impl KeyBytes<'_> {
    #[inline]
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            KeyBytes::Inline(bytes, len) => &bytes[..usize::from(*len)],
            KeyBytes::Long(key) => key,
        }
    }
}

/// The first eight bytes of `key`, little-endian and zero-padded: with the
/// length, the whole of a short key in one word.
#[inline]
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
    /// The partition of the row's user (see [`partition_of`]).
    pub partition: usize,
    /// The row, with `amount` 0.
    pub row: Row,
    /// The amount, exact, in nano-units.
    pub amount: Money,
}
