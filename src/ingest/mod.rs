//! Reading transaction logs (SPEC section 2) into per-user accumulators.
//!
//! Files are memory-mapped a window at a time and cut into chunks at record
//! starts. Reading happens in two parallel phases: the chunks of a block
//! are parsed into rows sorted by user partition, and once enough rows are
//! pending (see `PENDING_ROWS_PER_USER`) each partition of the
//! [`Aggregate`] takes its rows (see [`crate::features::accumulator`]).
//! Standard input, and files that cannot be mapped, are read in large
//! blocks that are processed the same way, so memory follows the number of
//! users, not of rows.
//!
//! This module owns parsing and positioning errors; what is computed per
//! user lives in [`crate::features`].

mod csv_table;
pub mod error;
pub mod input;
pub mod numeric;
mod records;
pub mod scan;
pub mod schema;
pub mod scores;
mod source;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;

pub use self::error::{IngestError, RowError, RowErrorKind};
pub use self::input::{Input, inputs};
pub use self::schema::{ColumnNames, Delimiter, IngestOptions, ResolvedColumns, Role};
pub use crate::values::time::TimeFormat;
use crate::values::time::TimeParser;

use self::error::excerpt;
use self::records::{Record, Scanned, Syntax};
use crate::features::accumulator::{
    AddScratch, Aggregate, INLINE_KEY, MAX_CHANNELS, NO_CHANNEL, PARTITIONS, Row, WideRow,
    hash_key, hash_packed, pack_key, partition_of,
};
use crate::values::amount::Money;

/// How many skipped rows are kept to show the user.
pub const BAD_ROW_EXAMPLES: usize = 5;

/// What reading the inputs produced.
#[derive(Debug)]
pub struct Ingested {
    pub aggregate: Aggregate,
    /// Some input had a channel / status column.
    pub has_channel: bool,
    pub has_status: bool,
    pub report: IngestReport,
}

/// Counts about the read, for summaries.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    pub files: Vec<String>,
    pub bytes: u64,
    /// Data rows accepted.
    pub rows: u64,
    /// Rows skipped under `--skip-bad-rows`.
    pub skipped_rows: u64,
    /// The first skipped rows' errors, in input order.
    pub skipped_examples: Vec<String>,
    /// Rows after `--as-of`, left out.
    pub rows_after_as_of: u64,
    /// Rows before the period's start ([`IngestOptions::since`]), left out.
    pub rows_before_since: u64,
}

/// Reads every input (a path, `-` for standard input, or a copy of a
/// stream) as one log.
///
/// `progress` is called with the number of bytes just processed. Work runs
/// on the current rayon pool.
pub fn ingest(
    inputs: &[Input],
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Ingested, IngestError> {
    let mut run = Run {
        aggregate: Aggregate::new(),
        channels: Mutex::new(Vec::new()),
        ..Run::default()
    };
    let mut report = IngestReport::default();
    let (mut has_channel, mut has_status) = (false, false);
    for input in inputs {
        let file = source::read_file(input, options, &mut |block, file| {
            run.read_block(block, file, options, progress)
        })?;
        has_channel |= file.has_channel;
        has_status |= file.has_status;
        report.files.push(input.display());
        report.bytes += file.bytes;
    }
    run.add_pending();
    let mut aggregate = run.aggregate;
    aggregate.channels = run.channels.into_inner().unwrap_or_else(|e| e.into_inner());
    report.rows = aggregate.rows();
    report.skipped_rows = run.skipped;
    report.rows_after_as_of = run.after_as_of;
    report.rows_before_since = run.before_since;
    report.skipped_examples = run.examples.iter().map(ToString::to_string).collect();
    if report.rows == 0 {
        let mut left_out = Vec::new();
        if report.skipped_rows > 0 {
            left_out.push(format!("{} bad rows skipped", report.skipped_rows));
        }
        if report.rows_after_as_of > 0 {
            left_out.push(format!(
                "{} rows after --as-of left out",
                report.rows_after_as_of
            ));
        }
        if report.rows_before_since > 0 {
            left_out.push(format!(
                "{} rows before the period left out",
                report.rows_before_since
            ));
        }
        let detail = if left_out.is_empty() {
            String::new()
        } else {
            format!(" ({})", left_out.join(", "))
        };
        return Err(IngestError::NoRows { detail });
    }
    Ok(Ingested {
        aggregate,
        has_channel,
        has_status,
        report,
    })
}

/// A data block of one file: records starting at `bytes[0]`.
pub(crate) struct Block<'a> {
    pub bytes: &'a [u8],
    /// Line number (1-based) of `bytes[0]`.
    pub line: u64,
    pub syntax: Syntax,
}

impl Block<'_> {
    fn line_at(&self, at: usize) -> u64 {
        self.line + memchr::memchr_iter(b'\n', &self.bytes[..at]).count() as u64
    }
}

/// What reading a block came to.
pub(crate) enum BlockRead {
    /// Read, with this many `\n` bytes (for the next block's line numbers).
    Done { newlines: u64 },
    /// The block holds a quote its syntax does not handle: nothing was
    /// taken from it, and it must be cut and read again as quoted.
    HasQuotes,
}

/// The channel names, locked: a panic elsewhere while they were held
/// cannot leave them half-changed (pushes are whole).
fn lock(channels: &Mutex<Vec<Box<[u8]>>>) -> std::sync::MutexGuard<'_, Vec<Box<[u8]>>> {
    channels.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-file reading context.
pub(crate) struct FileContext<'a> {
    pub path: &'a Path,
    pub columns: ResolvedColumns,
    pub time_format: TimeFormat,
}

/// A bad row of the block being read, not yet positioned.
struct Bad {
    /// Offset in the block.
    at: usize,
    field: Option<usize>,
    kind: RowErrorKind,
}

impl Bad {
    fn position(self, block: &Block<'_>, file: &FileContext<'_>) -> RowError {
        RowError {
            path: file.path.to_path_buf(),
            line: block.line_at(self.at),
            column: self.field.map(|i| file.columns.describe(i)),
            kind: self.kind,
        }
    }
}

/// The block's syntax and its chunks of about `options.chunk_bytes`, cut
/// at record starts; a quote left open is an error at its row.
fn split_block(
    block: &Block<'_>,
    file: &FileContext<'_>,
    options: &IngestOptions,
) -> Result<(Syntax, Vec<std::ops::Range<usize>>), IngestError> {
    let syntax = block.syntax;
    let pieces = records::split(block.bytes, syntax, options.chunk_bytes).map_err(|open| {
        let bad = Bad {
            at: open.0,
            field: None,
            kind: RowErrorKind::UnterminatedQuote,
        };
        IngestError::Row(Box::new(bad.position(block, file)))
    })?;
    Ok((syntax, pieces))
}

/// State of a whole run across inputs and blocks.
#[derive(Default)]
struct Run {
    aggregate: Aggregate,
    /// Channel names; a row's channel id indexes this.
    channels: Mutex<Vec<Box<[u8]>>>,
    skipped: u64,
    after_as_of: u64,
    before_since: u64,
    /// The first skipped rows, in input order.
    examples: Vec<RowError>,
    /// One per chunk read; the first `pending` hold rows not yet added.
    buffers: Vec<Parsed>,
    pending: usize,
    pending_rows: usize,
    /// Working space of phase two, kept between batches.
    scratch: PerWorker<AddScratch>,
    /// Phase one's staging, kept between chunks.
    staging: PerWorker<Staging>,
}

/// Working space kept for each worker of the current rayon pool, from task
/// to task: a worker only ever takes its own, so the lock is never
/// contended (a task makes no nested rayon call while it holds it).
struct PerWorker<T>(Vec<Mutex<T>>);

impl<T> Default for PerWorker<T> {
    fn default() -> Self {
        PerWorker(Vec::new())
    }
}

impl<T> PerWorker<T> {
    /// Makes one for every worker that has none yet.
    fn fill(&mut self, mut make: impl FnMut() -> T) {
        let threads = rayon::current_num_threads();
        if self.0.len() < threads {
            self.0.resize_with(threads, || Mutex::new(make()));
        }
    }

    /// The calling worker's own (after [`Self::fill`]).
    fn get(&self) -> std::sync::MutexGuard<'_, T> {
        let worker = rayon::current_thread_index().unwrap_or(0) % self.0.len();
        self.0[worker].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Rows parsed before they are added, as a multiple of the users so far.
///
/// A partition updates each of its users' accumulators once per batch of
/// rows, with all that user's rows of the batch (see
/// [`crate::features::accumulator::Partition`]). With many users and few
/// rows per block (a million users, a 32 MiB block holds about half a row
/// per user), adding every block would walk all accumulators for one row each;
/// rows are therefore kept across blocks until each user has several on
/// average. This costs one [`Row`] (32 bytes) per multiple per user, up to
/// [`MAX_PENDING_ROWS`]: memory still follows users, not rows.
const PENDING_ROWS_PER_USER: usize = 8;

/// At most this many rows (512 MiB) are held back, whatever the users.
const MAX_PENDING_ROWS: usize = 1 << 24;

/// Rows staged per partition before they are copied to it (see
/// [`Staging`]): 64 KiB a worker. Measured at 50M rows: 8 cost 2% more
/// CPU (a copy call per 256 bytes), 4 cost 8% more, 32 was no better.
const STAGED: usize = 16;

/// Rows on their way to their partitions. Rows go to 128 lists at random,
/// and a store to a list's next cache line waits for that line to be read
/// from memory; rows are therefore staged in a small block that stays in
/// cache and copied [`STAGED`] at a time, which keeps fewer stores waiting.
/// One per worker, reused from chunk to chunk.
struct Staging {
    /// `STAGED` rows per partition, of which `len[p]` are in use.
    rows: Vec<Row>,
    len: Vec<usize>,
}

impl Staging {
    fn new() -> Self {
        Staging {
            rows: vec![Row::default(); PARTITIONS * STAGED],
            len: vec![0; PARTITIONS],
        }
    }

    #[inline(always)]
    fn push(&mut self, parts: &mut [Vec<Row>], partition: usize, row: Row) {
        let n = self.len[partition];
        let at = partition * STAGED;
        self.rows[at + n] = row;
        if n + 1 == STAGED {
            parts[partition].extend_from_slice(&self.rows[at..at + STAGED]);
            self.len[partition] = 0;
        } else {
            self.len[partition] = n + 1;
        }
    }

    /// Forgets the staged rows.
    fn clear(&mut self) {
        self.len.fill(0);
    }

    /// Moves the staged rows to their partitions.
    fn flush(&mut self, parts: &mut [Vec<Row>]) {
        for (p, n) in self.len.iter_mut().enumerate() {
            let at = p * STAGED;
            parts[p].extend_from_slice(&self.rows[at..at + *n]);
            *n = 0;
        }
    }
}

/// What phase one made of one chunk.
struct Parsed {
    /// Rows by partition.
    parts: Vec<Vec<Row>>,
    /// Rows whose amounts do not fit a [`Row`].
    wide: Vec<WideRow>,
    /// Long keys.
    arena: Vec<u8>,
    skipped: u64,
    after_as_of: u64,
    before_since: u64,
    /// The first bad rows (with `--skip-bad-rows`), or the one that
    /// stopped the chunk.
    bad: Vec<Bad>,
    stopped: bool,
    /// `\n` bytes in the chunk.
    newlines: u64,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            parts: (0..PARTITIONS).map(|_| Vec::new()).collect(),
            wide: Vec::new(),
            arena: Vec::new(),
            skipped: 0,
            after_as_of: 0,
            before_since: 0,
            bad: Vec::new(),
            stopped: false,
            newlines: 0,
        }
    }
}

impl Parsed {
    /// Rows held.
    fn rows(&self) -> usize {
        self.parts.iter().map(Vec::len).sum::<usize>() + self.wide.len()
    }

    fn clear(&mut self) {
        self.parts.iter_mut().for_each(Vec::clear);
        self.wide.clear();
        self.arena.clear();
        self.skipped = 0;
        self.after_as_of = 0;
        self.before_since = 0;
        self.bad.clear();
        self.stopped = false;
        self.newlines = 0;
    }
}

impl Run {
    /// Reads one block: phase one parses chunks in parallel into rows by
    /// partition, which phase two ([`Self::add_pending`]) takes later.
    fn read_block(
        &mut self,
        block: &Block<'_>,
        file: &FileContext<'_>,
        options: &IngestOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BlockRead, IngestError> {
        let (syntax, pieces) = split_block(block, file, options)?;
        let quotes = AtomicBool::new(false);
        let channels_before = lock(&self.channels).len();
        // Without --skip-bad-rows the first bad row ends the run: chunks
        // past the earliest one found so far are not worth reading.
        let first_bad = AtomicUsize::new(usize::MAX);
        // Parse buffers are kept from block to block: fresh ones would cost
        // page faults and regrowth on every block.
        let chunks = self.pending..self.pending + pieces.len();
        if self.buffers.len() < chunks.end {
            self.buffers.resize_with(chunks.end, Parsed::default);
        }
        let channels = &self.channels;
        let parsed = &mut self.buffers[chunks.clone()];
        // One chunk per task. Rayon otherwise stops splitting at a few
        // chunks per task, and the worker that finishes first can then find
        // nothing to take while the other runs its last task's chunks one
        // after another: up to 10 ms lost at every block.
        self.staging.fill(Staging::new);
        let staging = &self.staging;
        let tasks = pieces.par_iter().zip(parsed.par_iter_mut());
        tasks.with_max_len(1).for_each(|(piece, out)| {
            let mut staging = staging.get();
            // Empty unless a chunk panicked while parsing.
            staging.clear();
            let staging = &mut *staging;
            out.clear();
            let chunk = &block.bytes[piece.clone()];
            if quotes.load(Ordering::Relaxed) {
                return;
            }
            // A chunk past a bad row is not read (but it is searched
            // for quotes below).
            if piece.start < first_bad.load(Ordering::Relaxed) {
                let mut parser = ChunkParser::new(file, options, channels, out, staging);
                let scanned = parser.parse(chunk, piece.start, syntax);
                if scanned.stray_quote {
                    quotes.store(true, Ordering::Relaxed);
                    return;
                }
                out.newlines = scanned.newlines;
                if out.stopped {
                    first_bad.fetch_min(out.bad[0].at, Ordering::Relaxed);
                }
            }
        });
        // A quote anywhere sends the block to be read quoted, even after a
        // bad row: quoted reading may see that row otherwise (a quote left
        // open, a lone `\r` ending a record) and must decide which error
        // comes first. Chunks left unread for the bad row are searched
        // here, on that rare path only.
        let first_bad = first_bad.into_inner();
        let quotes = quotes.into_inner()
            || (first_bad != usize::MAX
                && pieces
                    .iter()
                    .filter(|piece| piece.start > first_bad)
                    .any(|piece| syntax.has_stray_quote(&block.bytes[piece.clone()])));
        if quotes {
            // Chunks already read as plain may have named channels from
            // inside a quoted field: forget them.
            lock(&self.channels).truncate(channels_before);
            return Ok(BlockRead::HasQuotes);
        }
        progress(block.bytes.len() as u64);
        let parsed = &self.buffers[chunks.clone()];

        let mut bad: Vec<Bad> = Vec::new();
        for chunk in parsed {
            self.skipped += chunk.skipped;
            self.after_as_of += chunk.after_as_of;
            self.before_since += chunk.before_since;
        }
        if let Some(stop) = parsed
            .iter()
            .filter(|c| c.stopped)
            .map(|c| &c.bad[0])
            .min_by_key(|b| b.at)
        {
            let stop = Bad {
                at: stop.at,
                field: stop.field,
                kind: stop.kind.clone(),
            };
            return Err(IngestError::Row(Box::new(stop.position(block, file))));
        }
        for chunk in parsed.iter() {
            bad.extend(chunk.bad.iter().map(|b| Bad {
                at: b.at,
                field: b.field,
                kind: b.kind.clone(),
            }));
            if bad.len() >= BAD_ROW_EXAMPLES {
                break;
            }
        }
        let room = BAD_ROW_EXAMPLES.saturating_sub(self.examples.len());
        self.examples
            .extend(bad.into_iter().take(room).map(|b| b.position(block, file)));

        self.pending = chunks.end;
        self.pending_rows += parsed.iter().map(Parsed::rows).sum::<usize>();
        let batch = (PENDING_ROWS_PER_USER * self.aggregate.users()).min(MAX_PENDING_ROWS);
        if self.pending_rows >= batch {
            self.add_pending();
        }
        let newlines = self.buffers[chunks].iter().map(|c| c.newlines).sum();
        Ok(BlockRead::Done { newlines })
    }

    /// Phase two: each partition takes its pending rows, partitions in
    /// parallel.
    fn add_pending(&mut self) {
        let parsed = &self.buffers[..self.pending];
        // Reserved once, at twice a partition's share of the largest
        // batch; larger batches are sorted in parts. Regrowing would free
        // large blocks, after which the system allocator (glibc) serves
        // larger requests from its heap rather than fresh mappings, and the
        // memory freed once reading ends is no longer returned (about +20%
        // peak here).
        let rows = 2 * MAX_PENDING_ROWS / PARTITIONS;
        self.scratch.fill(|| AddScratch::with_capacity(rows));
        let scratch = &self.scratch;
        // One partition per task, for the reason given in `read_block`.
        self.aggregate
            .partitions
            .par_iter_mut()
            .enumerate()
            .with_max_len(1)
            .for_each(|(p, partition)| {
                let mut scratch = scratch.get();
                let lists = parsed.iter().map(|c| (&c.parts[p][..], &c.arena[..]));
                partition.add_rows(lists, &mut scratch);
                for chunk in parsed {
                    partition.add_wide_rows(p, &chunk.wide, &chunk.arena);
                }
            });
        self.pending = 0;
        self.pending_rows = 0;
    }
}

/// Phase one for one chunk: rows parsed, checked and sorted by partition.
struct ChunkParser<'a> {
    file: &'a FileContext<'a>,
    options: &'a IngestOptions,
    channels: &'a Mutex<Vec<Box<[u8]>>>,
    /// The ids of the channels this chunk has seen.
    known_channels: ShortNames<u16>,
    /// Whether each status seen is a success.
    statuses: ShortNames<bool>,
    times: TimeParser,
    out: &'a mut Parsed,
    /// Empty between chunks.
    staging: &'a mut Staging,
}

impl<'a> ChunkParser<'a> {
    fn new(
        file: &'a FileContext<'a>,
        options: &'a IngestOptions,
        channels: &'a Mutex<Vec<Box<[u8]>>>,
        out: &'a mut Parsed,
        staging: &'a mut Staging,
    ) -> Self {
        ChunkParser {
            file,
            options,
            channels,
            known_channels: ShortNames::default(),
            statuses: ShortNames::default(),
            times: TimeParser::new(file.time_format),
            out,
            staging,
        }
    }

    /// Parses `chunk`, which starts at block offset `base`. What it parsed
    /// is void when the chunk has a stray quote (see
    /// [`records::Scanned`]).
    fn parse(&mut self, chunk: &[u8], base: usize, syntax: Syntax) -> Scanned {
        let scanned = records::for_each_record(chunk, syntax, |at, record| {
            let Err((field, kind)) = self.row(record) else {
                return ControlFlow::Continue(());
            };
            let bad = Bad {
                at: base + at,
                field,
                kind,
            };
            if self.options.skip_bad_rows {
                self.out.skipped += 1;
                if self.out.bad.len() < BAD_ROW_EXAMPLES {
                    self.out.bad.push(bad);
                }
                ControlFlow::Continue(())
            } else {
                self.out.bad = vec![bad];
                self.out.stopped = true;
                ControlFlow::Break(())
            }
        });
        self.staging.flush(&mut self.out.parts);
        scanned
    }

    fn row(&mut self, record: &Record<'_>) -> Result<(), FieldError> {
        let RowFields {
            key,
            key_word,
            time_ms,
            amount,
            channel,
            status,
        } = parse_row(record, self.file, &mut self.times)?;
        if self.options.as_of.is_some_and(|as_of| time_ms > as_of) {
            self.out.after_as_of += 1;
            return Ok(());
        }
        if self.options.since.is_some_and(|since| time_ms < since) {
            self.out.before_since += 1;
            return Ok(());
        }
        // Keys are almost always short and ASCII: one word to check.
        let short = key.len() <= INLINE_KEY;
        let ascii = if short {
            key_word & 0x8080_8080_8080_8080 == 0
        } else {
            key.is_ascii()
        };
        if !ascii && std::str::from_utf8(key).is_err() {
            return Err((Some(self.file.columns.user), RowErrorKind::InvalidUtf8));
        }
        let channel = match channel {
            Some(name) => self.channel_id(name)?,
            None => NO_CHANNEL,
        };
        let success = match status {
            Some(s) => i8::from(self.is_success(s)?),
            None => -1,
        };
        let hash = if short {
            hash_packed(key_word, key.len())
        } else {
            hash_key(key)
        };
        let partition = partition_of(hash);
        let out = &mut *self.out;
        let arena = &mut out.arena;
        match amount {
            Amount::Nanos(nanos) => {
                let row = Row::new(key, key_word, hash, time_ms, nanos, channel, success, arena);
                self.staging.push(&mut out.parts, partition, row);
            }
            Amount::Wide(amount) => {
                let row = Row::new(key, key_word, hash, time_ms, 0, channel, success, arena);
                out.wide.push(WideRow {
                    partition,
                    row,
                    amount,
                });
            }
        }
        Ok(())
    }

    fn channel_id(&mut self, name: Name<'_>) -> Result<u16, FieldError> {
        if let Some(&id) = self.known_channels.get(name) {
            return Ok(id);
        }
        let Name { bytes: name, .. } = name;
        // Channel names become column names: checked once per chunk.
        if std::str::from_utf8(name).is_err() {
            return Err((self.file.columns.channel, RowErrorKind::InvalidUtf8));
        }
        let mut names = lock(self.channels);
        let id = match names.iter().position(|n| **n == *name) {
            Some(i) => i,
            None if names.len() < MAX_CHANNELS => {
                names.push(name.into());
                names.len() - 1
            }
            None => {
                let kind = RowErrorKind::TooManyChannels {
                    limit: MAX_CHANNELS,
                };
                return Err((self.file.columns.channel, kind));
            }
        };
        self.known_channels.insert(Name::new(name), id as u16);
        Ok(id as u16)
    }

    fn is_success(&mut self, status: Name<'_>) -> Result<bool, FieldError> {
        if let Some(&success) = self.statuses.get(status) {
            return Ok(success);
        }
        let Name { bytes: status, .. } = status;
        if std::str::from_utf8(status).is_err() {
            return Err((self.file.columns.status, RowErrorKind::InvalidUtf8));
        }
        let success = self
            .options
            .success_statuses
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(status));
        self.statuses.insert(Name::new(status), success);
        Ok(success)
    }
}

/// A short text field (a channel name, a status) and its first eight
/// bytes as a word (see [`Record::field_word`]).
#[derive(Clone, Copy)]
struct Name<'r> {
    bytes: &'r [u8],
    word: u64,
}

impl<'r> Name<'r> {
    fn new(bytes: &'r [u8]) -> Self {
        Name {
            bytes,
            word: pack_key(bytes),
        }
    }

    /// Whether `known`, a name of the same length and first word, is this
    /// one: names of up to 16 bytes are settled by their last word.
    #[inline]
    fn same_rest(&self, known: &[u8]) -> bool {
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
struct ShortNames<V> {
    /// (first word, length, name, value).
    seen: Vec<(u64, usize, Box<[u8]>, V)>,
    /// 1 + the index in `seen` of a name hashing to each slot, or 0.
    slots: [u8; SHORT_NAMES],
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
    fn slot(word: u64, len: usize) -> usize {
        let mixed = (word ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHORT_NAMES.trailing_zeros())) as usize
    }

    #[inline]
    fn get(&self, name: Name<'_>) -> Option<&V> {
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

    fn insert(&mut self, name: Name<'_>, value: V) {
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

type FieldError = (Option<usize>, RowErrorKind);

/// The fields of one row; channel and status are `None` when empty or
/// absent.
struct RowFields<'r> {
    key: &'r [u8],
    /// The first eight bytes of the key (see [`Record::field_word`]).
    key_word: u64,
    time_ms: i64,
    amount: Amount,
    channel: Option<Name<'r>>,
    status: Option<Name<'r>>,
}

/// An amount, in nano-units when it fits a [`Row`].
enum Amount {
    Nanos(i64),
    Wide(Money),
}

impl Amount {
    fn money(self) -> Money {
        match self {
            Amount::Nanos(nanos) => Money(i128::from(nanos)),
            Amount::Wide(money) => money,
        }
    }
}

fn parse_row<'r>(
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
    let key_word = record.field_word(columns.user);
    Ok(RowFields {
        key,
        key_word,
        time_ms,
        amount,
        channel,
        status,
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
pub(crate) fn detect_time_format(
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
fn is_eight_digits(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    value.len() == 8 && value.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_find_every_name_they_took() {
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
