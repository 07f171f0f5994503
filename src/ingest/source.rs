//! Where the bytes come from: windows of a memory-mapped file, or large
//! blocks read from standard input (or any file that cannot be mapped).
//! Both hand record-aligned blocks to the aggregation, after the header has
//! been read and the file's columns and time format settled.
//!
//! Files are mapped a window at a time (the next one mapped ahead on
//! another thread), so the pages of a multi-gigabyte log do not all stay
//! resident: memory follows users, not rows.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use memmap2::{Mmap, MmapOptions};

use super::block::{Block, BlockRead, FileContext};
use super::columnar::Opened;
use super::error::IngestError;
use super::error::{RowError, RowErrorKind};
use super::fields::detect_time_format;
use super::records::{self, Syntax};
use super::schema::{IngestOptions, ResolvedColumns};
use crate::formats::decompress;
use crate::values::time::TimeFormat;

/// Bytes handed to the aggregation at a time: large enough to keep every
/// core busy between the (short) pauses at window ends, small enough to
/// bound memory (two windows are mapped at once, see [`MapWindow`]) and to
/// start work soon. Grows when one record is longer. 64 MiB was 1-3% slower
/// (measured when the first window was as large as the others) and 66 MB
/// larger.
const WINDOW: usize = 32 << 20;

/// The first window, smaller: no work starts before it is mapped and its
/// header read, while later windows are mapped on another thread as the
/// one before is read. Measured at 10M rows: 32 MiB took the first block
/// 10 ms to start, 4 MiB 2 ms.
const FIRST_WINDOW: usize = 4 << 20;

/// Mapping offsets must be page multiples; this is one for 4, 16 and 64 KiB
/// pages.
const MAP_ALIGN: u64 = 64 << 10;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What one input gave, beside what went into the aggregation.
pub(crate) struct FileRead {
    pub has_channel: bool,
    pub has_status: bool,
    pub bytes: u64,
}

type BlockFn<'f> = dyn FnMut(&Block<'_>, &FileContext<'_>) -> Result<BlockRead, IngestError> + 'f;

/// A moving view of an input.
trait Window {
    /// The unread bytes: at least `min` of them unless the input ends
    /// first, and whether they reach the end of the input.
    fn fill(&mut self, min: usize) -> io::Result<(&[u8], bool)>;
    /// Marks `n` bytes as read.
    fn consume(&mut self, n: usize);
}

/// How far before the end of a window the next one is mapped from: the
/// next block starts at the last record end of this one, which is closer
/// to the end than this unless a record is longer.
const LOOK_BACK: u64 = 1 << 20;

/// A mapping and the file offset it starts at.
type Mapped = (u64, Mmap);

struct MapWindow {
    file: Arc<File>,
    len: u64,
    pos: u64,
    /// [`WINDOW`] and [`LOOK_BACK`] (smaller in tests).
    window: usize,
    /// Whether a window has been mapped yet: the first one is only as
    /// large as asked (see [`FIRST_WINDOW`]).
    mapped_any: bool,
    look_back: u64,
    map: Option<Mapped>,
    /// The next window, mapped on another thread while this one is read
    /// (which unmaps the window before it on the way): mapping and
    /// unmapping take the kernel a few milliseconds per window, during
    /// which the workers would otherwise wait.
    ahead: Option<JoinHandle<io::Result<Mapped>>>,
    /// Windows taken from `ahead`.
    #[cfg(test)]
    taken_ahead: usize,
}

impl MapWindow {
    fn new(file: File, len: u64) -> Self {
        MapWindow {
            file: Arc::new(file),
            len,
            pos: 0,
            window: WINDOW,
            mapped_any: false,
            look_back: LOOK_BACK,
            map: None,
            ahead: None,
            #[cfg(test)]
            taken_ahead: 0,
        }
    }

    /// Whether `map` holds `min` bytes from `pos`, or all the bytes left.
    fn covers(&self, (start, map): &Mapped, min: usize) -> bool {
        let end = start + map.len() as u64;
        *start <= self.pos && (end - self.pos >= min as u64 || end == self.len)
    }

    /// Maps the window after `map` on another thread, where `old` (the
    /// window before, if any) is unmapped first.
    fn map_ahead(&mut self, old: Option<Mapped>) {
        let end = self
            .map
            .as_ref()
            .map_or(0, |(start, map)| start + map.len() as u64);
        if end >= self.len {
            return;
        }
        let start = end.saturating_sub(self.look_back);
        let start = start - start % MAP_ALIGN;
        let len = self
            .len
            .min(start + self.look_back + MAP_ALIGN + self.window as u64)
            - start;
        let file = Arc::clone(&self.file);
        // Without a thread (none to be had), the next window is mapped when
        // it is needed, as the first one was.
        self.ahead = std::thread::Builder::new()
            .name("segmint-map".into())
            .spawn(move || {
                drop(old);
                map_touched(&file, start, len)
            })
            .ok();
    }
}

/// Maps `len` bytes of `file` from `start`, every page read in.
fn map(file: &File, start: u64, len: u64) -> io::Result<Mapped> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: the map is only read. If another process truncates the file
    // while it is mapped, touching the lost pages raises SIGBUS and the
    // process dies; writes by others may show through. These are the usual
    // terms of reading a memory-mapped log.
    let map = unsafe {
        MmapOptions::new()
            .offset(start)
            .len(len)
            .populate()
            .map(file)?
    };
    Ok((start, map))
}

/// [`map`], for the thread that maps ahead: the pages are read in by
/// touching each one, not by the mapping call. Both cost the same, but a
/// populating mmap holds the process's memory map lock for the whole
/// window (4-10 ms), and every allocation or free the workers make by
/// mmap in that time waits for it.
fn map_touched(file: &File, start: u64, len: u64) -> io::Result<Mapped> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: as in `map`.
    let map = unsafe { MmapOptions::new().offset(start).len(len).map(file)? };
    // The smallest page size: larger pages are touched more than once, for
    // nothing but a load from cache.
    const PAGE: usize = 4096;
    let mut sum = 0u8;
    for at in (0..map.len()).step_by(PAGE) {
        sum ^= map[at];
    }
    std::hint::black_box(sum);
    Ok((start, map))
}

impl Window for MapWindow {
    fn fill(&mut self, min: usize) -> io::Result<(&[u8], bool)> {
        if self.pos >= self.len {
            return Ok((&[], true));
        }
        if !self.map.as_ref().is_some_and(|m| self.covers(m, min)) {
            // The window mapped ahead, unless it fails (mapped again here,
            // for the error) or falls short (a record longer than the look
            // back).
            let ahead = match self.ahead.take().map(JoinHandle::join) {
                Some(Ok(Ok(next))) if self.covers(&next, min) => Some(next),
                _ => None,
            };
            let old = self.map.take();
            let (next, old) = match ahead {
                Some(next) => {
                    #[cfg(test)]
                    {
                        self.taken_ahead += 1;
                    }
                    (next, old)
                }
                None => {
                    // Unmapped first: one window at a time is enough.
                    drop(old);
                    let start = self.pos - self.pos % MAP_ALIGN;
                    let size = if self.mapped_any {
                        min.max(self.window)
                    } else {
                        min
                    };
                    self.mapped_any = true;
                    let end = self.len.min(self.pos + size as u64);
                    (map(&self.file, start, end - start)?, None)
                }
            };
            self.map = Some(next);
            self.map_ahead(old);
        }
        let (start, map) = self.map.as_ref().expect("mapped above");
        let at = (self.pos - start) as usize;
        Ok((&map[at..], start + map.len() as u64 == self.len))
    }

    fn consume(&mut self, n: usize) {
        self.pos += n as u64;
    }
}

struct ReadWindow<R> {
    reader: R,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    eof: bool,
}

impl<R: Read> Window for ReadWindow<R> {
    fn fill(&mut self, min: usize) -> io::Result<(&[u8], bool)> {
        self.buf.drain(..self.start);
        self.start = 0;
        // read_to_end grows the buffer as data comes: a short input costs
        // little, not a whole window.
        while !self.eof && self.buf.len() < min {
            let want = (min - self.buf.len()) as u64;
            match (&mut self.reader).take(want).read_to_end(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((&self.buf, self.eof))
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }
}

/// Reads one CSV input, opened by [`super::columnar::open`] (a regular
/// file, mapped; or a stream: standard input, a pipe, decompressed bytes),
/// calling `each_block` on its data blocks in order.
pub(crate) fn read_file(
    path: &Path,
    opened: Opened,
    options: &IngestOptions,
    each_block: &mut BlockFn<'_>,
) -> Result<FileRead, IngestError> {
    match opened {
        Opened::File(file, len) => {
            let mut window = MapWindow::new(file, len);
            read_windows(path, &mut window, options, each_block)
        }
        Opened::Stream(reader) => {
            let mut window = ReadWindow {
                reader,
                buf: Vec::new(),
                start: 0,
                eof: false,
            };
            read_windows(path, &mut window, options, each_block)
        }
        Opened::Columnar(_) => Err(IngestError::Format {
            path: path.to_path_buf(),
            message: "a Parquet or Arrow input reached the CSV reader".into(),
        }),
    }
}

fn read_windows(
    path: &Path,
    window: &mut dyn Window,
    options: &IngestOptions,
    each_block: &mut BlockFn<'_>,
) -> Result<FileRead, IngestError> {
    let io_error = io_error(path);
    // The header: the first record, complete.
    let mut want = FIRST_WINDOW;
    let (data_start, line, mut context) = loop {
        let (bytes, eof) = window.fill(want).map_err(&io_error)?;
        if bytes.is_empty() && eof {
            return Err(IngestError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        if !eof && records::last_record_end(bytes, options.delimiter).is_none() {
            want *= 2;
            continue;
        }
        let (data_start, columns) = read_header(path, bytes, options)?;
        let line = 1 + memchr::memchr_iter(b'\n', &bytes[..data_start]).count() as u64;
        let context = FileContext {
            path,
            columns,
            time_format: options.time_format,
        };
        break (data_start, line, context);
    };
    window.consume(data_start);
    let mut block_offset = data_start as u64;
    let mut block_line = line;
    // The first block is the rest of the window the header was read from.
    want = FIRST_WINDOW.saturating_sub(data_start).max(1);
    let mut quoted = false;
    loop {
        let (bytes, eof) = window.fill(want).map_err(&io_error)?;
        let Some((end, syntax)) = records::cut_block(bytes, options.delimiter, eof, quoted) else {
            want = want.saturating_mul(2);
            continue;
        };
        let block = Block {
            bytes: &bytes[..end],
            line: block_line,
            syntax,
        };
        if context.time_format == TimeFormat::Auto {
            match settle_time_format(&block, &mut context) {
                // Not one time recognised in the (small) first block:
                // look as far as a whole window before giving up.
                Err(_) if !eof && want < WINDOW => {
                    want = WINDOW;
                    continue;
                }
                settled => settled?,
            }
        }
        match each_block(&block, &context)? {
            BlockRead::Done { newlines } => block_line += newlines,
            BlockRead::HasQuotes => {
                quoted = true;
                continue;
            }
        }
        block_offset += end as u64;
        window.consume(end);
        want = WINDOW;
        quoted = false;
        if eof {
            break;
        }
    }
    Ok(FileRead {
        has_channel: context.columns.channel.is_some(),
        has_status: context.columns.status.is_some(),
        bytes: block_offset,
    })
}

/// A failed read: of the file (exit 4), or of its compressed data, which
/// is corrupt or truncated (bad input, exit 3).
fn io_error(path: &Path) -> impl Fn(io::Error) -> IngestError + '_ {
    move |source| {
        if let Some(format) = decompress::corrupt_format(&source) {
            IngestError::Format {
                path: path.to_path_buf(),
                message: decompress::describe_corruption(format, &source),
            }
        } else {
            IngestError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Reads the header (and BOM) at the start of `bytes` and maps the columns.
/// Returns where the data starts.
fn read_header(
    path: &Path,
    bytes: &[u8],
    options: &IngestOptions,
) -> Result<(usize, ResolvedColumns), IngestError> {
    let start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let syntax = Syntax::for_block(options.delimiter, &bytes[start..]);
    let Some((first, after)) = records::first_record(&bytes[start..], syntax) else {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    };
    let names: Vec<String> = first
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let columns = ResolvedColumns::resolve(path, &names, options)?;
    let data_start = if options.has_header {
        start + after
    } else {
        // The first record is data: start at it (past blank lines).
        start + records::first_record_start(&bytes[start..], syntax)
    };
    Ok((data_start, columns))
}

/// Settles `--time-format auto` from the first block with a recognisable
/// time; a block whose rows all have unrecognisable times is an error.
fn settle_time_format(block: &Block<'_>, context: &mut FileContext<'_>) -> Result<(), IngestError> {
    // A block cut as plain may end inside a quoted field: leave it to the
    // quoted retry, which sees whole records.
    if block.syntax.has_stray_quote(block.bytes) {
        return Ok(());
    }
    match detect_time_format(block.bytes, block.syntax, &context.columns) {
        Ok(format) => context.time_format = format,
        Err(Some((at, value))) => {
            let error = RowError {
                unit: super::error::Unit::Line,
                path: context.path.to_path_buf(),
                line: block.line_at(at),
                column: Some(context.columns.describe(context.columns.time)),
                kind: RowErrorKind::UndetectableTime { value },
            };
            return Err(IngestError::Row(Box::new(error)));
        }
        // No data row with the right field count in this block.
        Err(None) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn windows_mapped_ahead_show_the_file() {
        let mut bytes = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..(3 << 20) / 8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(&state.to_le_bytes());
        }
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let mut window = MapWindow::new(file, bytes.len() as u64);
        (window.window, window.look_back) = (256 << 10, 64 << 10);
        let mut step = 0u64;
        loop {
            step += 1;
            // Now and then a record longer than the look back.
            let min = if step.is_multiple_of(5) {
                600 << 10
            } else {
                256 << 10
            };
            let pos = window.pos as usize;
            let (seen, eof) = window.fill(min).unwrap();
            assert_eq!(seen, &bytes[pos..pos + seen.len()], "at {pos}");
            assert!(seen.len() >= min || eof);
            assert_eq!(eof, pos + seen.len() == bytes.len());
            let seen = seen.len();
            if eof {
                break;
            }
            // Blocks end at the last record end, within the look back of
            // the window's end.
            let back = (step * 7919) % (60 << 10);
            window.consume(seen - back as usize);
        }
        // 3 MiB in steps of about 200 KiB, a fifth of them too long.
        assert!(
            window.taken_ahead >= 8,
            "{} taken ahead",
            window.taken_ahead
        );
    }
}
