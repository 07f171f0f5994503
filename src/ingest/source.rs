//! Where the bytes come from: a memory map of a file, or large blocks read
//! from standard input (or any file that cannot be mapped). Both hand
//! record-aligned blocks to the aggregation, after reading the header and
//! settling the file's columns and time format.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::Mmap;

use super::error::IngestError;
use super::records::{self, Syntax};
use super::schema::{IngestOptions, ResolvedColumns};
use super::time::TimeFormat;
use super::{Block, FileContext, Outcome, RowError, RowErrorKind};

/// Stream block size: large enough to keep both cores busy, small enough
/// that memory stays bounded whatever the input size.
const STREAM_BLOCK: usize = 64 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What one input gave.
pub(crate) struct FileRead {
    pub has_channel: bool,
    pub has_status: bool,
    pub bytes: u64,
    pub outcome: Outcome,
}

type BlockFn<'f> = dyn FnMut(&Block<'_>, &FileContext<'_>) -> Result<Outcome, IngestError> + 'f;

/// Reads one input, calling `each_block` on its data blocks in order.
pub(crate) fn read_file(
    path: &Path,
    options: &IngestOptions,
    each_block: &mut BlockFn<'_>,
) -> Result<FileRead, IngestError> {
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        return read_stream(path, io::stdin().lock(), options, each_block);
    }
    let file = File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_dir() {
        return Err(io_error(io::Error::other("is a directory")));
    }
    if !metadata.is_file() || !options.use_mmap {
        return read_stream(path, file, options, each_block);
    }
    if metadata.len() == 0 {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    // SAFETY: the map is only read. If another process truncates the file
    // while it is mapped, touching the lost pages raises SIGBUS and the
    // process dies; writes by others may show through. Both are the usual
    // terms of reading a memory-mapped log, as ripgrep and others do.
    let map = unsafe { Mmap::map(&file) }.map_err(io_error)?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let (start, file_ctx, has) = open_data(path, &map, true, options)?;
    let block = Block {
        bytes: &map[start..],
        offset: start as u64,
        line: line_of(&map, start),
    };
    let outcome = each_block(&block, &file_ctx)?;
    Ok(FileRead {
        has_channel: has.0,
        has_status: has.1,
        bytes: map.len() as u64,
        outcome,
    })
}

fn line_of(bytes: &[u8], at: usize) -> u64 {
    1 + memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64
}

/// Reads the header (and BOM) at the start of `bytes` and settles the
/// columns and time format. Returns where the data starts.
fn open_data<'p>(
    path: &'p Path,
    bytes: &[u8],
    complete: bool,
    options: &IngestOptions,
) -> Result<(usize, FileContext<'p>, (bool, bool)), IngestError> {
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
    let data = &bytes[data_start..];
    let time_format = match options.time_format {
        TimeFormat::Auto => {
            match super::detect_time_format(
                data,
                Syntax::for_block(options.delimiter, data),
                &columns,
            ) {
                Ok(format) => format,
                Err(Some((at, value))) => {
                    let error = RowError {
                        path: path.to_path_buf(),
                        line: line_of(bytes, data_start + at),
                        column: Some(columns.describe(columns.time)),
                        kind: RowErrorKind::UndetectableTime { value },
                    };
                    return Err(IngestError::Row(Box::new(error)));
                }
                // No data row in this part of the input: any format will do
                // (an all-header file, or more of the stream to come).
                Err(None) if complete => TimeFormat::Iso,
                Err(None) => TimeFormat::Auto,
            }
        }
        format => format,
    };
    let has = (columns.channel.is_some(), columns.status.is_some());
    let context = FileContext {
        path,
        columns,
        time_format,
    };
    Ok((data_start, context, has))
}

/// Reads `reader` in blocks that end at record ends.
fn read_stream(
    path: &Path,
    mut reader: impl Read,
    options: &IngestOptions,
    each_block: &mut BlockFn<'_>,
) -> Result<FileRead, IngestError> {
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(STREAM_BLOCK);
    let mut eof = false;
    let mut total: u64 = 0;
    // Offset and line of buf[0] in the stream.
    let mut offset: u64 = 0;
    let mut line: u64 = 1;
    let mut context: Option<FileContext<'_>> = None;
    let mut has = (false, false);
    let mut outcome = Outcome::default();
    loop {
        // Fill up to the block size, more when one record is longer.
        let want = (buf.len() + STREAM_BLOCK).max(STREAM_BLOCK);
        while !eof && buf.len() < want {
            let len = buf.len();
            buf.resize(want, 0);
            match reader.read(&mut buf[len..]) {
                Ok(0) => {
                    buf.truncate(len);
                    eof = true;
                }
                Ok(n) => buf.truncate(len + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(len),
                Err(e) => return Err(io_error(e)),
            }
        }
        let mut start = 0;
        if context.is_none() {
            if buf.is_empty() && eof {
                return Err(IngestError::EmptyFile {
                    path: path.to_path_buf(),
                });
            }
            // The header must be complete before the columns are known.
            if !eof && records::last_record_end(&buf, options.delimiter).is_none() {
                continue;
            }
            let (data_start, ctx, h) = open_data(path, &buf, eof, options)?;
            start = data_start;
            has = h;
            context = Some(ctx);
        }
        let end = if eof {
            buf.len()
        } else {
            match records::last_record_end(&buf[start..], options.delimiter) {
                Some(end) => start + end,
                None => continue,
            }
        };
        let ctx = context.as_mut().expect("set above");
        if ctx.time_format == TimeFormat::Auto {
            let data = &buf[start..end];
            if let Ok(format) = super::detect_time_format(
                data,
                Syntax::for_block(options.delimiter, data),
                &ctx.columns,
            ) {
                ctx.time_format = format;
            } else if eof {
                ctx.time_format = TimeFormat::Iso;
            }
        }
        let head_line = line + memchr::memchr_iter(b'\n', &buf[..start]).count() as u64;
        let block = Block {
            bytes: &buf[start..end],
            offset: offset + start as u64,
            line: head_line,
        };
        if ctx.time_format != TimeFormat::Auto || block.bytes.iter().all(u8::is_ascii_whitespace) {
            let got = each_block(&block, ctx)?;
            outcome = std::mem::take(&mut outcome).merge(got);
        } else {
            // Only rows whose time cannot be recognised: report the first.
            let columns = &ctx.columns;
            let found = super::detect_time_format(
                block.bytes,
                Syntax::for_block(options.delimiter, block.bytes),
                columns,
            );
            if let Err(Some((at, value))) = found {
                let error = RowError {
                    path: path.to_path_buf(),
                    line: block.line_at(at),
                    column: Some(columns.describe(columns.time)),
                    kind: RowErrorKind::UndetectableTime { value },
                };
                return Err(IngestError::Row(Box::new(error)));
            }
        }
        line = head_line + memchr::memchr_iter(b'\n', block.bytes).count() as u64;
        offset += end as u64;
        total += end as u64;
        buf.drain(..end);
        if eof {
            break;
        }
    }
    Ok(FileRead {
        has_channel: has.0,
        has_status: has.1,
        bytes: total,
        outcome,
    })
}
