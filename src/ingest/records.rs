//! Cutting bytes into records and records into fields.
//!
//! Three syntaxes: `Quoted` (RFC 4180 via `csv-core`, used whenever a block
//! holds a `"`), `Plain` (the same delimiter but no quote anywhere in the
//! block, so fields are split in place without copying), and `Whitespace`.
//! All three end records at `\n` (a `\r` before it is dropped) and skip
//! blank lines, so any chunk boundary this module picks is a record start
//! for all of them.

use std::ops::{ControlFlow, Range};

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use wide::u8x16;

use super::schema::Delimiter;
use crate::features::accumulator::pack_key;

/// How the records of one block are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    Quoted(u8),
    /// Only for bytes without a `"` (see [`Syntax::has_stray_quote`]).
    Plain(u8),
    Whitespace,
}

impl Syntax {
    /// The syntax for a block: quote handling costs a copy per field, so it
    /// is only switched on when the block holds a quote character.
    pub fn for_block(delimiter: Delimiter, block: &[u8]) -> Syntax {
        match delimiter {
            Delimiter::Whitespace => Syntax::Whitespace,
            Delimiter::Byte(d) if memchr::memchr(b'"', block).is_some() => Syntax::Quoted(d),
            Delimiter::Byte(d) => Syntax::Plain(d),
        }
    }

    /// Whether `chunk` holds a quote that this syntax would not see:
    /// such a block must be read again as [`Syntax::Quoted`].
    pub fn has_stray_quote(self, chunk: &[u8]) -> bool {
        matches!(self, Syntax::Plain(_)) && memchr::memchr(b'"', chunk).is_some()
    }
}

/// One record's fields as ranges into `base`.
pub(crate) struct Record<'a> {
    base: &'a [u8],
    bounds: &'a [(usize, usize)],
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    pub fn field(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.bounds[i];
        &self.base[start..end]
    }

    /// The first eight bytes of field `i`, little-endian and zero-padded
    /// (see [`crate::features::accumulator::pack_key`]), with one load
    /// where the bytes after the field allow it.
    #[inline]
    pub fn field_word(&self, i: usize) -> u64 {
        let (start, end) = self.bounds[i];
        match self.base.get(start..start + 8) {
            Some(bytes) => {
                let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
                match end - start {
                    len @ 0..8 => word & ((1u64 << (8 * len)) - 1),
                    _ => word,
                }
            }
            None => pack_key(&self.base[start..end]),
        }
    }
}

/// A `"` opened at this byte offset is never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnterminatedQuote(pub usize);

/// Quote state machine matching `csv-core`'s reading of RFC 4180: a quote
/// opens a quoted field only at the start of a field; `""` inside it is an
/// escaped quote. Calls `at_boundary(offset_after_newline)` for every record
/// end outside quotes and returns where an unclosed quote opened, if any.
fn scan_quoted(block: &[u8], delimiter: u8, mut at_boundary: impl FnMut(usize)) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut opened = 0;
    for (i, &b) in block.iter().enumerate() {
        state = match state {
            State::Quoted => {
                if b == b'"' {
                    State::QuoteInQuoted
                } else {
                    State::Quoted
                }
            }
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            State::FieldStart if b == b'"' => {
                opened = i;
                State::Quoted
            }
            _ if b == delimiter => State::FieldStart,
            _ if b == b'\n' => {
                at_boundary(i + 1);
                State::FieldStart
            }
            _ => State::Unquoted,
        };
    }
    (state == State::Quoted).then_some(opened)
}

/// Cuts a block into pieces of about `target` bytes, each starting at a
/// record start. Also reports an unclosed quote, which no cut can fix.
pub(crate) fn split(
    block: &[u8],
    syntax: Syntax,
    target: usize,
) -> Result<Vec<Range<usize>>, UnterminatedQuote> {
    let target = target.max(1);
    let mut cuts = vec![0];
    match syntax {
        Syntax::Quoted(d) => {
            let mut next = target;
            let open = scan_quoted(block, d, |end| {
                if end >= next && end < block.len() {
                    cuts.push(end);
                    next = end + target;
                }
            });
            if let Some(at) = open {
                return Err(UnterminatedQuote(at));
            }
        }
        Syntax::Plain(_) | Syntax::Whitespace => {
            let mut next = target;
            while next < block.len() {
                match memchr::memchr(b'\n', &block[next..]) {
                    Some(i) if next + i + 1 < block.len() => {
                        let end = next + i + 1;
                        cuts.push(end);
                        next = end + target;
                    }
                    _ => break,
                }
            }
        }
    }
    cuts.push(block.len());
    Ok(cuts.windows(2).map(|w| w[0]..w[1]).collect())
}

/// The end of the last complete record (just after its `\n`), for
/// reading a stream in blocks; `None` when no record ends in `buf`.
pub(crate) fn last_record_end(buf: &[u8], delimiter: Delimiter) -> Option<usize> {
    let quoted = memchr::memchr(b'"', buf).is_some();
    cut_block(buf, delimiter, false, quoted).map(|(end, _)| end)
}

/// Where a block taken from the start of `buf` ends, and its syntax: after
/// the last complete record, or at the end of `buf` when that is the end
/// of the input (`eof`); `None` when no record ends in `buf`.
///
/// Unless `quoted`, the block is assumed to hold no quote, which its
/// reader checks chunk by chunk (see [`Syntax::Plain`]): a search of the
/// whole block first would read it from memory twice. A block that turns
/// out to hold one is cut again, `quoted`.
pub(crate) fn cut_block(
    buf: &[u8],
    delimiter: Delimiter,
    eof: bool,
    quoted: bool,
) -> Option<(usize, Syntax)> {
    let d = match delimiter {
        Delimiter::Byte(d) if quoted => d,
        Delimiter::Byte(d) => {
            let end = if eof {
                buf.len()
            } else {
                memchr::memrchr(b'\n', buf)? + 1
            };
            return Some((end, Syntax::Plain(d)));
        }
        Delimiter::Whitespace => {
            let end = if eof {
                buf.len()
            } else {
                memchr::memrchr(b'\n', buf)? + 1
            };
            return Some((end, Syntax::Whitespace));
        }
    };
    let end = if eof {
        buf.len()
    } else {
        let mut last = None;
        scan_quoted(buf, d, |end| last = Some(end));
        last?
    };
    Some((end, Syntax::Quoted(d)))
}

/// What reading a chunk's records found besides the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The number of `\n` bytes in the chunk (for line numbers); only
    /// complete when the visitor never broke.
    pub newlines: u64,
    /// Whether the chunk holds a `"` that its syntax does not see (only
    /// [`Syntax::Plain`]; see [`Syntax::has_stray_quote`]), checked over
    /// the whole chunk even when the visitor broke. When it does, the
    /// records visited were cut wrongly and must be thrown away.
    pub stray_quote: bool,
}

/// Reads the records of `chunk` (which starts at a record start), calling
/// `visit(offset_of_record_in_chunk, &record)` for each one. Blank lines are
/// skipped. Stops early when `visit` breaks.
pub(crate) fn for_each_record(
    chunk: &[u8],
    syntax: Syntax,
    mut visit: impl FnMut(usize, &Record<'_>) -> ControlFlow<()>,
) -> Scanned {
    let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(16);
    match syntax {
        Syntax::Plain(d) => {
            let mut start = 0;
            let mut field_start = 0;
            let mut lines = 0;
            let mut masks = SeparatorMasks::new(chunk, d);
            for (base, delimiters, newlines) in masks.by_ref() {
                let mut hits = delimiters | newlines;
                while hits != 0 {
                    let bit = hits.trailing_zeros();
                    let i = base + bit as usize;
                    hits &= hits - 1;
                    if newlines & (1 << bit) == 0 {
                        bounds.push((field_start, i));
                        field_start = i + 1;
                        continue;
                    }
                    // Counted here: `count_ones` is a dozen instructions
                    // on processors without a popcount.
                    lines += 1;
                    if visit_line(chunk, start, field_start, i, &mut bounds, &mut visit).is_break()
                    {
                        // Rare (a bad row): the rest is searched apart.
                        return Scanned {
                            newlines: lines,
                            stray_quote: syntax.has_stray_quote(chunk),
                        };
                    }
                    start = i + 1;
                    field_start = start;
                }
            }
            if start < chunk.len() {
                let _ = visit_line(
                    chunk,
                    start,
                    field_start,
                    chunk.len(),
                    &mut bounds,
                    &mut visit,
                );
            }
            // Every byte went through the masks.
            Scanned {
                newlines: lines,
                stray_quote: masks.saw_quote(),
            }
        }
        Syntax::Whitespace => {
            let mut start = 0;
            while start < chunk.len() {
                let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |i| start + i);
                bounds.clear();
                let mut i = start;
                while i < end {
                    while i < end && matches!(chunk[i], b' ' | b'\t' | b'\r') {
                        i += 1;
                    }
                    let field_start = i;
                    while i < end && !matches!(chunk[i], b' ' | b'\t' | b'\r') {
                        i += 1;
                    }
                    if i > field_start {
                        bounds.push((field_start, i));
                    }
                }
                if !bounds.is_empty() {
                    let record = Record {
                        base: chunk,
                        bounds: &bounds,
                    };
                    if visit(start, &record).is_break() {
                        break;
                    }
                }
                start = end + 1;
            }
            Scanned {
                newlines: memchr::memchr_iter(b'\n', chunk).count() as u64,
                stray_quote: false,
            }
        }
        Syntax::Quoted(d) => {
            read_quoted(chunk, d, &mut bounds, visit);
            Scanned {
                newlines: memchr::memchr_iter(b'\n', chunk).count() as u64,
                stray_quote: false,
            }
        }
    }
}

/// Bit masks of the delimiters and newlines of `bytes`, 64 bytes at a
/// time: yields (offset, delimiter mask, newline mask), bit `i` standing
/// for byte `offset + i`.
///
/// Fields are short (a few bytes between separators), where a search call
/// per separator costs more than it finds. This compares sixteen bytes at
/// once (SIMD, through `wide`: SSE2 or NEON, with a portable fallback) and
/// packs the results into one bit per byte, so the caller walks separators
/// with bit operations alone.
///
/// It also looks for quotes on the way, which the plain syntax must not
/// meet: one more comparison per sixteen bytes, where a separate search
/// would read the chunk a second time.
struct SeparatorMasks<'a> {
    bytes: &'a [u8],
    offset: usize,
    delimiter: u8x16,
    /// Lanes that have held a `"` (all ones), over the bytes yielded.
    quotes: u8x16,
}

impl<'a> SeparatorMasks<'a> {
    fn new(bytes: &'a [u8], delimiter: u8) -> Self {
        SeparatorMasks {
            bytes,
            offset: 0,
            delimiter: u8x16::splat(delimiter),
            quotes: u8x16::splat(0),
        }
    }

    /// Whether a `"` was among the bytes yielded so far.
    fn saw_quote(&self) -> bool {
        self.quotes.to_bitmask() != 0
    }
}

impl Iterator for SeparatorMasks<'_> {
    type Item = (usize, u64, u64);

    #[inline]
    fn next(&mut self) -> Option<(usize, u64, u64)> {
        let rest = &self.bytes[self.offset..];
        if rest.is_empty() {
            return None;
        }
        let width = rest.len().min(64);
        // The last bytes are copied into a full block; the bits of the
        // padding are masked off below.
        let mut tail = [0u8; 64];
        let block: &[u8] = if width == 64 {
            &rest[..64]
        } else {
            tail[..width].copy_from_slice(rest);
            &tail
        };
        let (newline, quote) = (u8x16::splat(b'\n'), u8x16::splat(b'"'));
        let (mut delimiters, mut newlines) = (0u64, 0u64);
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let bytes: [u8; 16] = lane.try_into().expect("sixteen bytes");
            let v = u8x16::from(bytes);
            delimiters |= u64::from(v.simd_eq(self.delimiter).to_bitmask() as u16) << (16 * k);
            newlines |= u64::from(v.simd_eq(newline).to_bitmask() as u16) << (16 * k);
            // The padding is zeros, never a quote.
            self.quotes |= v.simd_eq(quote);
        }
        if width < 64 {
            let valid = (1u64 << width) - 1;
            delimiters &= valid;
            newlines &= valid;
        }
        let offset = self.offset;
        self.offset += width;
        Some((offset, delimiters, newlines))
    }
}

/// Ends the line `start..end` of the plain syntax whose last field starts
/// at `field_start`, visits it unless blank, and resets `bounds`.
fn visit_line(
    chunk: &[u8],
    start: usize,
    field_start: usize,
    end: usize,
    bounds: &mut Vec<(usize, usize)>,
    visit: &mut impl FnMut(usize, &Record<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut last_end = end;
    if last_end > field_start && chunk[last_end - 1] == b'\r' {
        last_end -= 1;
    }
    bounds.push((field_start, last_end));
    let blank = bounds.len() == 1 && last_end == start;
    let flow = if blank {
        ControlFlow::Continue(())
    } else {
        visit(
            start,
            &Record {
                base: chunk,
                bounds,
            },
        )
    };
    bounds.clear();
    flow
}

fn read_quoted(
    chunk: &[u8],
    delimiter: u8,
    bounds: &mut Vec<(usize, usize)>,
    mut visit: impl FnMut(usize, &Record<'_>) -> ControlFlow<()>,
) {
    let mut reader: Reader = ReaderBuilder::new().delimiter(delimiter).build();
    let mut out = vec![0u8; 1024];
    let mut ends = vec![0usize; 32];
    let (mut out_len, mut ends_len) = (0, 0);
    let mut pos = 0;
    let mut record_start = 0;
    loop {
        let (result, n_in, n_out, n_ends) =
            reader.read_record(&chunk[pos..], &mut out[out_len..], &mut ends[ends_len..]);
        pos += n_in;
        out_len += n_out;
        ends_len += n_ends;
        match result {
            // An empty input slice tells csv-core the data has ended.
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                bounds.clear();
                let mut field_start = 0;
                for &end in &ends[..ends_len] {
                    bounds.push((field_start, end));
                    field_start = end;
                }
                // csv-core skips blank lines before a record: point at the
                // record itself.
                while record_start < chunk.len() && matches!(chunk[record_start], b'\n' | b'\r') {
                    record_start += 1;
                }
                let record = Record {
                    base: &out[..out_len],
                    bounds,
                };
                if visit(record_start, &record).is_break() {
                    return;
                }
                record_start = pos;
                out_len = 0;
                ends_len = 0;
            }
            ReadRecordResult::End => return,
        }
    }
}

/// The offset of the first record of `block` (past blank lines).
pub(crate) fn first_record_start(block: &[u8], syntax: Syntax) -> usize {
    let mut start = block.len();
    for_each_record(block, syntax, |offset, _| {
        start = offset;
        ControlFlow::Break(())
    });
    start
}

/// The fields of the first record of `block` as owned bytes, and the
/// offset where the next record starts. `None` for a block of blank lines.
pub(crate) fn first_record(block: &[u8], syntax: Syntax) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut found = None;
    for_each_record(block, syntax, |offset, record| {
        let fields = (0..record.len())
            .map(|i| record.field(i).to_vec())
            .collect();
        found = Some((fields, offset));
        ControlFlow::Break(())
    });
    let (fields, offset) = found?;
    // The record ends at the first record terminator outside quotes.
    let next = match syntax {
        Syntax::Quoted(d) => {
            let mut end = None;
            scan_quoted(&block[offset..], d, |e| {
                if end.is_none() {
                    end = Some(e);
                }
            });
            end.map_or(block.len(), |e| offset + e)
        }
        _ => memchr::memchr(b'\n', &block[offset..]).map_or(block.len(), |i| offset + i + 1),
    };
    Some((fields, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(data: &[u8], syntax: Syntax) -> Vec<(usize, Vec<String>)> {
        let mut all = Vec::new();
        for_each_record(data, syntax, |offset, r| {
            let fields = (0..r.len())
                .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                .collect();
            all.push((offset, fields));
            ControlFlow::Continue(())
        });
        all
    }

    #[test]
    fn plain_and_quoted_agree_on_unquoted_data() {
        let data = b"a,b,c\r\n\n1,2,3\n4,,6";
        let plain = records(data, Syntax::Plain(b','));
        assert_eq!(plain, records(data, Syntax::Quoted(b',')));
        assert_eq!(plain[1], (8, vec!["1".into(), "2".into(), "3".into()]));
        assert_eq!(plain[2].1, vec!["4", "", "6"]);
    }

    #[test]
    fn separator_masks_match_a_byte_loop() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| b"ab,\n;,x\n\n,,\xFF\0"[(i * 7 % 13) as usize])
            .collect();
        // A NUL delimiter checks that a short last block's padding is not
        // taken for separators.
        for delimiter in [b',', 0] {
            for start in 0..9 {
                let mut found = Vec::new();
                for (base, delimiters, newlines) in SeparatorMasks::new(&data[start..], delimiter) {
                    for bit in 0..64 {
                        if (delimiters | newlines) >> bit & 1 == 1 {
                            found.push((base + bit, newlines >> bit & 1 == 1));
                        }
                    }
                }
                let expected: Vec<_> = data[start..]
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == delimiter || **b == b'\n')
                    .map(|(i, b)| (i, *b == b'\n'))
                    .collect();
                assert_eq!(found, expected);
            }
        }
    }

    #[test]
    fn field_words_are_packed_fields() {
        // Fields of 0 to 12 bytes, the last ones too close to the end for
        // an eight-byte load.
        let data = b"a,,abcdefgh,abcdefghijkl,1234567\nxy,z,\xC3\xA9t\xC3\xA9,q\n";
        for syntax in [Syntax::Plain(b','), Syntax::Quoted(b',')] {
            for_each_record(data, syntax, |_, record| {
                for i in 0..record.len() {
                    assert_eq!(record.field_word(i), pack_key(record.field(i)), "{i}");
                }
                ControlFlow::Continue(())
            });
        }
    }

    #[test]
    fn every_syntax_counts_newlines() {
        let data = b"a,b\r\n\n\"x\ny\",z\n  c d\n\ne,f";
        for syntax in [
            Syntax::Plain(b','),
            Syntax::Quoted(b','),
            Syntax::Whitespace,
        ] {
            let n = for_each_record(data, syntax, |_, _| ControlFlow::Continue(()));
            assert_eq!(n.newlines, 6, "{syntax:?}");
        }
    }

    #[test]
    fn plain_reading_finds_every_quote() {
        // A quote at each position of a 150-byte chunk (ends of 64-byte
        // blocks and the short last block included), with the visitor
        // reading on, or breaking at the first or at the last record.
        let line = b"u1,2025-04-01 00:00:16,WhatsApp,read,0.0413\n";
        let clean: Vec<u8> = line.iter().copied().cycle().take(150).collect();
        for break_at in [None, Some(0), Some(2)] {
            let read = |chunk: &[u8]| {
                let mut seen = 0;
                for_each_record(chunk, Syntax::Plain(b','), |_, _| {
                    seen += 1;
                    if Some(seen - 1) == break_at {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
            };
            assert!(!read(&clean).stray_quote);
            for at in 0..clean.len() {
                let mut chunk = clean.clone();
                chunk[at] = b'"';
                assert!(read(&chunk).stray_quote, "quote at {at}, {break_at:?}");
            }
        }
        // The other syntaxes see quotes, or need not.
        for syntax in [Syntax::Quoted(b','), Syntax::Whitespace] {
            let scanned = for_each_record(b"\"a\",b\n", syntax, |_, _| ControlFlow::Continue(()));
            assert!(!scanned.stray_quote);
        }
    }

    #[test]
    fn quoted_fields() {
        let data = b"\"a,1\",\"say \"\"hi\"\"\",\"two\nlines\"\nx,y,z\n";
        let r = records(data, Syntax::Quoted(b','));
        assert_eq!(r[0].1, vec!["a,1", "say \"hi\"", "two\nlines"]);
        assert_eq!(
            r[1],
            (data.len() - 6, vec!["x".into(), "y".into(), "z".into()])
        );
    }

    #[test]
    fn whitespace_runs() {
        let r = records(b"  a \t b  c\r\n\n d e\t f", Syntax::Whitespace);
        assert_eq!(r[0].1, vec!["a", "b", "c"]);
        assert_eq!(r[1].1, vec!["d", "e", "f"]);
    }

    #[test]
    fn splits_never_cut_quoted_newlines() {
        let data = b"\"x\ny\",1\n\"p\nq\",2\nr,3\n";
        for target in 1..data.len() + 2 {
            let pieces = split(data, Syntax::Quoted(b','), target).unwrap();
            let mut joined = Vec::new();
            for piece in &pieces {
                joined.extend(
                    records(&data[piece.clone()], Syntax::Quoted(b','))
                        .into_iter()
                        .map(|r| r.1),
                );
            }
            let whole: Vec<_> = records(data, Syntax::Quoted(b','))
                .into_iter()
                .map(|r| r.1)
                .collect();
            assert_eq!(joined, whole, "target {target}");
        }
    }

    #[test]
    fn unterminated_quote_is_found() {
        assert_eq!(
            split(b"a,1\n\"b,2\n", Syntax::Quoted(b','), 2),
            Err(UnterminatedQuote(4))
        );
        assert_eq!(
            last_record_end(b"a,1\n\"b\n", Delimiter::Byte(b',')),
            Some(4)
        );
    }

    #[test]
    fn blocks_are_cut_plain_until_a_quote_is_seen() {
        let comma = Delimiter::Byte(b',');
        // A quoted line break in the tail: a plain cut ends at the last
        // newline, and the stray quote sends the block back to be cut quoted.
        let buf = b"a,1\n\"b\nc\",2\nd";
        let (end, syntax) = cut_block(buf, comma, false, false).unwrap();
        assert_eq!((end, syntax), (12, Syntax::Plain(b',')));
        assert!(syntax.has_stray_quote(&buf[..end]));
        assert_eq!(
            cut_block(buf, comma, false, true),
            Some((12, Syntax::Quoted(b',')))
        );
        let open = b"a,1\n\"b\nc";
        assert_eq!(
            cut_block(open, comma, false, false),
            Some((7, Syntax::Plain(b',')))
        );
        assert_eq!(
            cut_block(open, comma, false, true),
            Some((4, Syntax::Quoted(b',')))
        );
        assert_eq!(
            cut_block(open, comma, true, true),
            Some((8, Syntax::Quoted(b',')))
        );
        // No record ends: the caller reads more.
        assert_eq!(cut_block(b"abc", comma, false, false), None);
        assert_eq!(
            cut_block(b"abc", comma, true, false),
            Some((3, Syntax::Plain(b',')))
        );
        let (end, syntax) = cut_block(b"a \"b\n c", Delimiter::Whitespace, false, false).unwrap();
        assert_eq!((end, syntax), (5, Syntax::Whitespace));
        assert!(!syntax.has_stray_quote(b"a \"b\n"));
    }

    #[test]
    fn first_record_and_rest() {
        let (fields, next) = first_record(b"\n\"h,1\",h2\nrow", Syntax::Quoted(b',')).unwrap();
        assert_eq!(fields, vec![b"h,1".to_vec(), b"h2".to_vec()]);
        assert_eq!(next, 10);
    }
}
