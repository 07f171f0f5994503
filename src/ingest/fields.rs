//! One row's fields parsed: the user key, time, amount, channel and
//! status, with errors that name the field; and the detection of a file's
//! time format from its rows.

use std::ops::ControlFlow;

use super::block::FileContext;
use super::error::{RowErrorKind, excerpt};
use super::records::{self, Record, Syntax};
use super::schema::ResolvedColumns;
use crate::features::accumulator::pack_key;
use crate::values::amount::Money;
use crate::values::time::{TimeFormat, TimeParser};

/// A short text field (a channel name, a status) and its first eight
/// bytes as a word (see [`Record::field_word`]).
#[derive(Clone, Copy)]
pub(super) struct Name<'r> {
    pub(super) bytes: &'r [u8],
    pub(super) word: u64,
}

impl<'r> Name<'r> {
    #[inline]
    pub(super) fn new(bytes: &'r [u8]) -> Self {
        Name {
            bytes,
            word: pack_key(bytes),
        }
    }

    /// Whether `known`, a name of the same length and first word, is this
    /// one: names of up to 16 bytes are settled by their last word.
    #[inline]
    pub(super) fn same_rest(&self, known: &[u8]) -> bool {
        let len = self.bytes.len();
        if len <= 8 {
            return true;
        }
        let last = |s: &[u8]| u64::from_le_bytes(s[len - 8..].try_into().expect("eight bytes"));
        last(self.bytes) == last(known) && (len <= 16 || self.bytes[8..] == known[8..])
    }
}

/// A small lookup from short byte strings (channel names, statuses: a few
/// values repeated on every row) to values. Most lookups are settled by a
/// compare of a word and a length (see [`Name`]), in the one slot that the
/// word and length hash to: a search of the list would take a branch per
/// name tried, which the processor cannot predict when values come in no
/// order.
pub(super) struct ShortNames<V> {
    /// (first word, length, name, value).
    pub(super) seen: Vec<(u64, usize, Box<[u8]>, V)>,
    /// 1 + the index in `seen` of a name hashing to each slot, or 0.
    pub(super) slots: [u8; SHORT_NAMES],
}

impl<V> Default for ShortNames<V> {
    fn default() -> Self {
        ShortNames {
            seen: Vec::new(),
            slots: [0; SHORT_NAMES],
        }
    }
}

/// Past this many names, a [`ShortNames`] no longer remembers new ones (a
/// column of many distinct values gains nothing from it).
const SHORT_NAMES: usize = 64;

impl<V> ShortNames<V> {
    #[inline]
    pub(super) fn slot(word: u64, len: usize) -> usize {
        let mixed = (word ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHORT_NAMES.trailing_zeros())) as usize
    }

    #[inline]
    pub(super) fn get(&self, name: Name<'_>) -> Option<&V> {
        let len = name.bytes.len();
        let matches = |(word, n, known, _): &&(u64, usize, Box<[u8]>, V)| {
            *word == name.word && *n == len && name.same_rest(known)
        };
        let at = self.slots[Self::slot(name.word, len)];
        if let Some(entry) = at.checked_sub(1).map(|i| &self.seen[usize::from(i)])
            && matches(&entry)
        {
            return Some(&entry.3);
        }
        // Another name took the slot first, or none is known yet.
        self.seen.iter().find(matches).map(|(_, _, _, value)| value)
    }

    pub(super) fn insert(&mut self, name: Name<'_>, value: V) {
        if self.seen.len() < SHORT_NAMES {
            let len = name.bytes.len();
            let slot = &mut self.slots[Self::slot(name.word, len)];
            if *slot == 0 {
                *slot = self.seen.len() as u8 + 1;
            }
            self.seen.push((name.word, len, name.bytes.into(), value));
        }
    }
}

pub(super) type FieldError = (Option<usize>, RowErrorKind);

/// The fields of one row; channel and status are `None` when empty or
/// absent.
pub(super) struct RowFields<'r> {
    pub(super) key: &'r [u8],
    /// The first eight bytes of the key (see [`Record::field_word`]).
    pub(super) key_word: u64,
    pub(super) time_ms: i64,
    pub(super) amount: Amount,
    pub(super) channel: Option<Name<'r>>,
    pub(super) status: Option<Name<'r>>,
    /// The counterparty, when the column is read and the cell not empty.
    pub(super) peer: Option<&'r [u8]>,
}

/// An amount, in nano-units when it fits a [`Row`].
pub(super) enum Amount {
    Nanos(i64),
    Wide(Money),
}

impl Amount {
    #[inline]
    pub(super) fn money(self) -> Money {
        match self {
            Amount::Nanos(nanos) => Money(i128::from(nanos)),
            Amount::Wide(money) => money,
        }
    }
}

pub(super) fn parse_row<'r>(
    record: &Record<'r>,
    file: &FileContext<'_>,
    times: &mut TimeParser,
) -> Result<RowFields<'r>, FieldError> {
    let columns = &file.columns;
    if record.len() != columns.field_count {
        let kind = RowErrorKind::FieldCount {
            expected: columns.field_count,
            found: record.len(),
        };
        return Err((None, kind));
    }
    let key = record.field(columns.user);
    if key.is_empty() {
        return Err((Some(columns.user), RowErrorKind::EmptyKey));
    }
    let time_text = record.field(columns.time);
    let time_ms = times.parse(time_text).map_err(|error| {
        let value = excerpt(time_text);
        (
            Some(columns.time),
            RowErrorKind::Time {
                error,
                format: file.time_format,
                value,
            },
        )
    })?;
    let amount_text = record.field(columns.amount);
    let amount = match crate::values::amount::parse_nanos(amount_text) {
        Some(nanos) => Amount::Nanos(nanos),
        None => {
            let money = Money::parse(amount_text).map_err(|error| {
                (
                    Some(columns.amount),
                    RowErrorKind::Amount {
                        error,
                        value: excerpt(amount_text),
                    },
                )
            })?;
            match i64::try_from(money.0) {
                Ok(nanos) => Amount::Nanos(nanos),
                Err(_) => Amount::Wide(money),
            }
        }
    };
    let channel = columns.channel.and_then(|i| {
        let bytes = record.field(i);
        let word = record.field_word(i);
        (!bytes.is_empty()).then_some(Name { bytes, word })
    });
    let status = columns.status.and_then(|i| {
        let field = record.field(i);
        let bytes = field.trim_ascii();
        if bytes.is_empty() {
            None
        } else if bytes.len() == field.len() {
            let word = record.field_word(i);
            Some(Name { bytes, word })
        } else {
            Some(Name::new(bytes))
        }
    });
    let peer = columns
        .peer
        .map(|i| record.field(i))
        .filter(|p| !p.is_empty());
    let key_word = record.field_word(columns.user);
    Ok(RowFields {
        key,
        key_word,
        time_ms,
        amount,
        channel,
        status,
        peer,
    })
}

/// Picks the time format of a file from its first data row whose time
/// value can be recognised. Fails with the first row's offset and value
/// when rows exist but none can be recognised, with `None` when there is
/// no row of the right field count.
///
/// An 8-digit value that is not a valid date (20251345) would read as unix
/// seconds; before settling on seconds for such a value the rest of the
/// block is read, and one 8-digit valid date there makes the file
/// `YYYYMMDD` (the bad value is then reported as a bad date). Unix seconds
/// of 8 digits are 1970-1973.
pub(super) fn detect_time_format(
    data: &[u8],
    syntax: Syntax,
    columns: &ResolvedColumns,
) -> Result<TimeFormat, Option<(usize, String)>> {
    let mut found = Err(None);
    let mut eight_digit_seconds = false;
    records::for_each_record(data, syntax, |at, record| {
        if record.len() != columns.field_count {
            return ControlFlow::Continue(());
        }
        let value = record.field(columns.time);
        let format = TimeFormat::detect(value);
        if eight_digit_seconds {
            if format == Some(TimeFormat::Ymd) {
                found = Ok(TimeFormat::Ymd);
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        }
        match format {
            Some(TimeFormat::Unix) if is_eight_digits(value) => {
                found = Ok(TimeFormat::Unix);
                eight_digit_seconds = true;
                ControlFlow::Continue(())
            }
            Some(format) => {
                found = Ok(format);
                ControlFlow::Break(())
            }
            None => {
                if matches!(found, Err(None)) {
                    found = Err(Some((at, excerpt(value))));
                }
                ControlFlow::Continue(())
            }
        }
    });
    found
}

/// A value that could be meant as YYYYMMDD.
pub(super) fn is_eight_digits(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    value.len() == 8 && value.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn short_names_find_every_name_they_took() {
        // Names that share first words and lengths, long ones differing
        // only at the end, and more names than slots (so slots collide
        // and the last ones are not taken).
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for i in 0..40u32 {
            texts.push(format!("s{i}").into_bytes());
            texts.push(format!("long-status-name-{i:03}").into_bytes());
        }
        texts.push(Vec::new());
        texts.push(b"abcdefgh".to_vec());
        texts.push(b"abcdefgh\0".to_vec());
        let mut names = ShortNames::default();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(names.get(Name::new(text)), None);
            names.insert(Name::new(text), i);
        }
        for (i, text) in texts.iter().enumerate() {
            let want = (i < SHORT_NAMES).then_some(&i);
            assert_eq!(names.get(Name::new(text)), want, "{text:?}");
        }
        assert_eq!(names.get(Name::new(b"long-status-name-999")), None);
    }
}
