//! A whole read across inputs and blocks: chunks parsed in parallel into
//! rows by user partition (phase one), then each partition's users take
//! their rows (phase two), with the bad rows counted and the first ones
//! kept.

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use super::block::{Bad, Block, BlockRead, FileContext, split_block};
use super::columnar::LogColumns;
use super::error::{IngestError, RowError, RowErrorKind, Unit};
use super::fields::{Amount, FieldError, Name, RowFields, ShortNames, parse_row};
use super::records::{self, Record, Scanned, Syntax};
use super::schema::IngestOptions;
use super::{BAD_ROW_EXAMPLES, IngestReport};
use crate::features::accumulator::{
    AddScratch, Aggregate, INLINE_KEY, MAX_CHANNELS, NO_CHANNEL, PARTITIONS, Row, WideRow,
    hash_key, hash_packed, partition_of,
};
use crate::values::time::TimeParser;

/// The channel names, locked: a panic elsewhere while they were held
/// cannot leave them half-changed (pushes are whole).
pub(super) fn lock(channels: &Mutex<Vec<Box<[u8]>>>) -> std::sync::MutexGuard<'_, Vec<Box<[u8]>>> {
    channels.lock().unwrap_or_else(|e| e.into_inner())
}

/// State of a whole run across inputs and blocks.
#[derive(Default)]
pub(super) struct Run {
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
pub(super) struct PerWorker<T>(Vec<Mutex<T>>);

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
pub(super) struct Staging {
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
pub(super) struct Parsed {
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
    pub(super) fn new() -> Run {
        Run {
            aggregate: Aggregate::new(),
            channels: Mutex::new(Vec::new()),
            ..Run::default()
        }
    }

    /// Adds the rows still pending; the aggregate, with the channel names,
    /// and the counts of rows taken, skipped and left out in `report`.
    pub(super) fn finish(mut self, report: &mut IngestReport) -> Aggregate {
        self.add_pending();
        let mut aggregate = self.aggregate;
        aggregate.channels = self
            .channels
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        report.rows = aggregate.rows();
        report.skipped_rows = self.skipped;
        report.rows_after_as_of = self.after_as_of;
        report.rows_before_since = self.before_since;
        report.skipped_examples = self.examples.iter().map(ToString::to_string).collect();
        aggregate
    }

    /// Reads one block: phase one parses chunks in parallel into rows by
    /// partition, which phase two ([`Self::add_pending`]) takes later.
    pub(super) fn read_block(
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
        self.settle(chunks.clone(), |_, bad| bad.position(block, file))?;
        let newlines = self.buffers[chunks].iter().map(|c| c.newlines).sum();
        Ok(BlockRead::Done { newlines })
    }

    /// Counts what chunks `chunks` of the buffers left out, stops at the
    /// first bad row that stopped one (chunks in input order), keeps the
    /// first bad rows skipped, and adds the rows once enough are pending.
    /// `position(chunk, bad)` places a bad row of chunk `chunk` (an index
    /// into `chunks`).
    fn settle(
        &mut self,
        chunks: std::ops::Range<usize>,
        position: impl Fn(usize, Bad) -> RowError,
    ) -> Result<(), IngestError> {
        let parsed = &self.buffers[chunks.clone()];
        for chunk in parsed {
            self.skipped += chunk.skipped;
            self.after_as_of += chunk.after_as_of;
            self.before_since += chunk.before_since;
        }
        // The first chunk that stopped holds the input's first bad row:
        // chunks are in input order, and a chunk stops at its first.
        if let Some((c, stop)) = parsed
            .iter()
            .enumerate()
            .filter(|(_, c)| c.stopped)
            .map(|(i, c)| (i, &c.bad[0]))
            .min_by_key(|(i, b)| (*i, b.at))
        {
            let stop = Bad {
                at: stop.at,
                field: stop.field,
                kind: stop.kind.clone(),
            };
            return Err(IngestError::Row(Box::new(position(c, stop))));
        }
        let room = BAD_ROW_EXAMPLES.saturating_sub(self.examples.len());
        let bad = parsed
            .iter()
            .enumerate()
            .flat_map(|(c, chunk)| chunk.bad.iter().map(move |b| (c, b)))
            .take(room)
            .map(|(c, b)| {
                let bad = Bad {
                    at: b.at,
                    field: b.field,
                    kind: b.kind.clone(),
                };
                position(c, bad)
            });
        self.examples.extend(bad);

        self.pending = chunks.end;
        self.pending_rows += parsed.iter().map(Parsed::rows).sum::<usize>();
        let batch = (PENDING_ROWS_PER_USER * self.aggregate.users()).min(MAX_PENDING_ROWS);
        if self.pending_rows >= batch {
            self.add_pending();
        }
        Ok(())
    }

    /// Reads a wave of Parquet or Arrow batches (each with its first row's
    /// number in the file), in parallel, as [`Self::read_block`] reads a
    /// block's chunks.
    pub(super) fn read_batches(
        &mut self,
        wave: &[(u64, RecordBatch)],
        file: &FileContext<'_>,
        schema: &SchemaRef,
        options: &IngestOptions,
    ) -> Result<(), IngestError> {
        let chunks = self.pending..self.pending + wave.len();
        if self.buffers.len() < chunks.end {
            self.buffers.resize_with(chunks.end, Parsed::default);
        }
        let first_bad = AtomicUsize::new(usize::MAX);
        let channels = &self.channels;
        self.staging.fill(Staging::new);
        let staging = &self.staging;
        let parsed = &mut self.buffers[chunks.clone()];
        let columns = &file.columns;
        let failed: Vec<String> = wave
            .par_iter()
            .zip(parsed.par_iter_mut())
            .enumerate()
            .with_max_len(1)
            .filter_map(|(index, ((_, batch), out))| {
                out.clear();
                // Without --skip-bad-rows, batches past a bad row are not
                // read.
                if index > first_bad.load(Ordering::Relaxed) {
                    return None;
                }
                let mut batch = match LogColumns::new(batch, columns, schema) {
                    Ok(batch) => batch,
                    Err(message) => return Some(message),
                };
                let mut staging = staging.get();
                staging.clear();
                let mut parser = ChunkParser::new(file, options, channels, out, &mut staging);
                parser.parse_batch(&mut batch);
                if out.stopped {
                    first_bad.fetch_min(index, Ordering::Relaxed);
                }
                None
            })
            .collect();
        if let Some(message) = failed.into_iter().next() {
            return Err(IngestError::Format {
                path: file.path.to_path_buf(),
                message,
            });
        }
        self.settle(chunks, |c, bad| RowError {
            path: file.path.to_path_buf(),
            line: wave[c].0 + bad.at as u64 + 1,
            unit: Unit::Row,
            column: bad.field.map(|i| file.columns.describe(i)),
            kind: bad.kind,
        })
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
pub(super) struct ChunkParser<'a> {
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

    #[inline]
    fn row(&mut self, record: &Record<'_>) -> Result<(), FieldError> {
        let fields = parse_row(record, self.file, &mut self.times)?;
        self.accept(fields)
    }

    /// Takes the rows of a Parquet or Arrow batch whose first row is
    /// `first_row` (0-based) of its file; a bad row's `at` is its index in
    /// the batch.
    fn parse_batch(&mut self, batch: &mut LogColumns<'_>) {
        for i in 0..batch.rows() {
            let taken = match batch.fields(i, &mut self.times) {
                Ok(fields) => self.accept(fields),
                Err(e) => Err(e),
            };
            let Err((field, kind)) = taken else { continue };
            let bad = Bad { at: i, field, kind };
            if self.options.skip_bad_rows {
                self.out.skipped += 1;
                if self.out.bad.len() < BAD_ROW_EXAMPLES {
                    self.out.bad.push(bad);
                }
            } else {
                self.out.bad = vec![bad];
                self.out.stopped = true;
                break;
            }
        }
        self.staging.flush(&mut self.out.parts);
    }

    /// Takes one row's fields: left out by the period, or sorted into its
    /// partition.
    #[inline]
    fn accept(&mut self, fields: RowFields<'_>) -> Result<(), FieldError> {
        let RowFields {
            key,
            key_word,
            time_ms,
            amount,
            channel,
            status,
            ..
        } = fields;
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

    #[inline]
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

    #[inline]
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
