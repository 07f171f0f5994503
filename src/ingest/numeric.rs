//! Reading a numeric feature table (`--features-input FILE`): one row per
//! user, a key column and numeric columns, as CSV (plain, gzip or zstd),
//! Parquet or Arrow IPC. Used to cluster features computed elsewhere, or a
//! `segmint features` output.
//!
//! Only the columns asked for are parsed, so a table may carry text
//! columns (first_seen, labels) beside the numeric ones. Errors carry the
//! file, line (for Parquet and Arrow, row) and column like the transaction
//! reader's.
//!
//! A CSV file is memory-mapped (standard input, pipes and compressed
//! files are read into memory first), cut into chunks at line ends and
//! parsed in parallel: each chunk's keys go to one text arena, its values
//! straight to their rows of the table. Lines are split by hand, 64 bytes
//! at a time; data with a quote anywhere is cut where a scan that follows
//! the quoting says records end instead, and each chunk parsed by
//! `csv-core`, so a quoted field may hold delimiters and line ends.
//! Duplicate keys are found afterwards, in parallel over partitions of the
//! keys' hashes, without a string per key.
//!
//! Errors are those of reading the file row by row: the first bad record in
//! file order is reported, and a key repeated on a line before it comes
//! first.

#[path = "numeric_columnar.rs"]
mod columnar_table;

use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use memchr::{memchr, memchr_iter, memchr2};
use rayon::prelude::*;
use wide::u8x16;

use super::columnar::{self, Opened};
use super::csv_table;
use super::error::{Unit, excerpt, excerpt_list};
use super::input::Input;
use super::schema::Delimiter;
use super::{IngestError, RowError, RowErrorKind};
use crate::features::matrix::{Keys, NumericTable};
use crate::formats::InputFormat;
use crate::formats::decompress;

/// Which columns to read.
#[derive(Debug, Clone, Default)]
pub struct NumericOptions {
    /// The key column; `None` means `user_id` when present, else the first.
    pub key_column: Option<String>,
    /// Columns to parse; `None` means `prefer` when the header has all of
    /// them, else every column but the key.
    pub columns: Option<Vec<String>>,
    /// The columns wanted by default (those of the default features), read
    /// when `columns` is `None` and the header has all of them.
    pub prefer: Option<Vec<String>>,
    /// The field separator of CSV: a single byte, as whitespace is refused.
    pub delimiter: Delimiter,
    /// The format the user named (`--input-format`), checked against the
    /// bytes; `None` lets the bytes (and the extension) decide.
    pub format: Option<InputFormat>,
}

/// Bytes of CSV parsed per task: a few dozen per core for a gigabyte, so
/// the cores finish together, and large enough that a chunk's setup
/// (a `csv-core` reader, a hash partitioning) costs nothing.
const CHUNK_BYTES: usize = 4 << 20;

/// Reads `path` (`-` is standard input) into a [`NumericTable`], in file
/// order. Empty cells (and nulls) become NaN (rejected later if clustered
/// on).
pub fn read_numeric_table(
    path: &Path,
    options: &NumericOptions,
) -> Result<NumericTable, IngestError> {
    let read_error = |source: io::Error| match decompress::corrupt_format(&source) {
        Some(format) => IngestError::Format {
            path: path.to_path_buf(),
            message: decompress::describe_corruption(format, &source),
        },
        None => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
    };
    match columnar::open(&Input::new(path), options.format, true)? {
        Opened::Columnar(batches) => columnar_table::read(*batches, options),
        Opened::File(file, _) => {
            let bytes = Bytes::of_file(file).map_err(read_error)?;
            read_csv(path, &bytes, options, CHUNK_BYTES)
        }
        Opened::Stream(mut stream) => {
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).map_err(read_error)?;
            read_csv(path, &bytes, options, CHUNK_BYTES)
        }
    }
}

/// A file's bytes: mapped, or read when the file cannot be mapped.
enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Bytes {
    fn of_file(mut file: File) -> io::Result<Bytes> {
        // SAFETY: the map is only read, while the table is read. If another
        // process truncates the file meanwhile, touching the lost pages
        // raises SIGBUS; these are the usual terms of reading a
        // memory-mapped file.
        match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => Ok(Bytes::Mapped(map)),
            Err(_) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                Ok(Bytes::Read(bytes))
            }
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Read(bytes) => bytes,
        }
    }
}

/// The key column and the columns to read (indices into `names`, in the
/// order of the table's values) by the rules of [`NumericOptions`].
fn select_columns(
    path: &Path,
    names: &[String],
    options: &NumericOptions,
) -> Result<(usize, Vec<usize>), IngestError> {
    let header_error = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        message,
    };
    let find = |name: &str| {
        let mut at = names.iter().enumerate().filter(|(_, n)| *n == name);
        match (at.next(), at.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some((i, _)), Some((j, _))) => Err(header_error(format!(
                "the header names column {name:?} twice (columns {} and {}): which one is meant?",
                i + 1,
                j + 1
            ))),
            (None, _) => Err(header_error(format!(
                "no column {name:?} in the header (it has: {})",
                excerpt_list(names)
            ))),
        }
    };
    let key = match &options.key_column {
        Some(name) => find(name)?,
        None if names.iter().any(|n| n == "user_id") => find("user_id")?,
        None => 0,
    };
    let wanted: Vec<usize> = match &options.columns {
        Some(columns) => columns.iter().map(|c| find(c)).collect::<Result<_, _>>()?,
        None => match &options.prefer {
            Some(prefer) if prefer.iter().all(|p| names.contains(p)) => {
                prefer.iter().map(|c| find(c)).collect::<Result<_, _>>()?
            }
            _ => (0..names.len()).filter(|&i| i != key).collect(),
        },
    };
    for (a, &i) in wanted.iter().enumerate() {
        if let Some(&j) = wanted[a + 1..].iter().find(|&&j| names[j] == names[i]) {
            return Err(header_error(format!(
                "the header names column {:?} twice (columns {} and {}): which one is meant?",
                names[i],
                i.min(j) + 1,
                i.max(j) + 1
            )));
        }
    }
    if wanted.is_empty() {
        return Err(header_error(format!(
            "no feature columns besides the key column {:?}",
            names[key]
        )));
    }
    Ok((key, wanted))
}

/// The header of a CSV table: its names, where the data starts and on
/// which line.
struct Header {
    names: Vec<String>,
    /// Offset of the first byte after the header record.
    start: usize,
    /// The 1-based line the data starts on.
    first_line: u64,
}

/// Reads the header record at the start of `data` (with the CSV reader, so
/// quoting, a BOM and CRLF line ends are as for any record).
fn read_header(path: &Path, data: &[u8], delimiter: u8) -> Result<Header, IngestError> {
    let header_error = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        message,
    };
    let mut csv = csv_table::reader(delimiter, data);
    let headers = csv.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut names = Vec::with_capacity(headers.len());
    for i in 0..headers.len() {
        let field = csv_table::cell(&headers, i);
        let field = if i == 0 {
            field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field)
            .map_err(|_| header_error(format!("column {} of the header is not UTF-8", i + 1)))?;
        names.push(name.trim().to_string());
    }
    let position = csv.position();
    Ok(Header {
        names,
        start: usize::try_from(position.byte())
            .unwrap_or(data.len())
            .min(data.len()),
        first_line: position.line(),
    })
}

/// Reads a CSV table held in `data`, cut into chunks of about
/// `chunk_bytes`.
fn read_csv(
    path: &Path,
    data: &[u8],
    options: &NumericOptions,
    chunk_bytes: usize,
) -> Result<NumericTable, IngestError> {
    let delimiter = match options.delimiter {
        Delimiter::Byte(b) if !matches!(b, b'"' | b'\n' | b'\r') => b,
        Delimiter::Byte(b) => {
            return Err(IngestError::Header {
                path: path.to_path_buf(),
                message: format!(
                    "a feature table's delimiter cannot be {:?}, a quote or line end",
                    b as char
                ),
            });
        }
        Delimiter::Whitespace => {
            return Err(IngestError::Header {
                path: path.to_path_buf(),
                message: "a feature table must use a single-byte delimiter, not whitespace".into(),
            });
        }
    };
    let header = read_header(path, data, delimiter)?;
    let (key, wanted) = select_columns(path, &header.names, options)?;
    let body = &data[header.start..];
    let layout = Layout {
        delimiter,
        fields: header.names.len(),
        key,
        needed: wanted.iter().copied().chain([key]).max().unwrap_or(key) + 1,
        wanted: &wanted,
    };
    let d = wanted.len();
    // A first pass, in parallel, counts each chunk's line ends (it has at
    // most that many records, one more without a last line end) and looks
    // for quotes: without any, lines are split by hand; with one, the data
    // is cut again where records end and parsed by `csv-core`. Each chunk's
    // values then go straight to their place in the table, and no gigabyte
    // of values is built twice.
    let bound = |chunk: &[u8]| {
        memchr_iter(b'\n', chunk).count() + usize::from(chunk.last().is_some_and(|&b| b != b'\n'))
    };
    let mut chunks = plain_chunks(body, chunk_bytes);
    let scanned: Vec<(usize, bool)> = chunks
        .par_iter()
        .map(|r| {
            (
                bound(&body[r.clone()]),
                memchr(b'"', &body[r.clone()]).is_some(),
            )
        })
        .collect();
    let quoted = scanned.iter().any(|&(_, quote)| quote);
    let bounds: Vec<usize> = if quoted {
        chunks = quoted_chunks(body, delimiter, chunk_bytes);
        chunks.par_iter().map(|r| bound(&body[r.clone()])).collect()
    } else {
        scanned.into_iter().map(|(bound, _)| bound).collect()
    };
    // Zeroed memory costs nothing until written.
    let mut values = vec![0.0f64; bounds.iter().sum::<usize>() * d];
    let mut regions = Vec::with_capacity(chunks.len());
    let mut rest = values.as_mut_slice();
    for &bound in &bounds {
        let (region, tail) = rest.split_at_mut(bound * d);
        regions.push(region);
        rest = tail;
    }
    let parts: Vec<Part> = chunks
        .par_iter()
        .zip(regions)
        .map(|(range, region)| {
            let chunk = &body[range.clone()];
            let mut rows = Rows::new(region, d);
            let parsed = if quoted {
                parse_quoted(chunk, range.start, &layout, &mut rows)
            } else {
                parse_plain(chunk, range.start, &layout, &mut rows)
            };
            rows.finish(parsed.err())
        })
        .collect();

    let position_error = |at: usize, column: Option<usize>, kind: RowErrorKind| {
        let line = header.first_line + memchr_iter(b'\n', &body[..at]).count() as u64;
        row_error(path, &header.names, Unit::Line, line, column, kind)
    };
    let failed = parts.iter().position(|p| p.failure.is_some());
    let read = &parts[..failed.map_or(parts.len(), |i| i + 1)];
    let keys = concat_keys(read.iter().map(|p| &p.keys));
    let first_rows = first_rows(read.iter().map(|p| p.keys.len()));
    if keys.len() > u32::MAX as usize {
        return Err(IngestError::Header {
            path: path.to_path_buf(),
            message: format!(
                "{} rows: a feature table holds at most {} users",
                keys.len(),
                u32::MAX
            ),
        });
    }
    let hashed: Vec<(usize, &Hashed)> = first_rows
        .iter()
        .copied()
        .zip(read.iter().map(|p| &p.hashed))
        .collect();
    if let Some((row, first)) = first_duplicate(&keys, &hashed) {
        let start = |row: usize| {
            let part = first_rows.partition_point(|&f| f <= row) - 1;
            read[part].starts[row - first_rows[part]]
        };
        let first_line =
            header.first_line + memchr_iter(b'\n', &body[..start(first)]).count() as u64;
        return Err(position_error(
            start(row),
            Some(key),
            RowErrorKind::DuplicateKey {
                key: keys[row].to_string(),
                first_line,
            },
        ));
    }
    if let Some(failure) = failed.and_then(|i| parts[i].failure.clone()) {
        return Err(position_error(failure.at, failure.column, failure.kind));
    }
    if keys.is_empty() {
        return Err(IngestError::NoRows {
            detail: format!(" ({} has a header and no rows)", path.display()),
        });
    }

    // Close the gaps that blank lines and quoted line ends left.
    let (mut to, mut from) = (0, 0);
    for (part, bound) in parts.iter().zip(&bounds) {
        let len = part.keys.len() * d;
        if from != to {
            values.copy_within(from..from + len, to);
        }
        to += len;
        from += bound * d;
    }
    values.truncate(to);
    Ok(NumericTable {
        keys,
        columns: wanted.iter().map(|&c| header.names[c].clone()).collect(),
        values,
        source: super::error::display_path(path),
    })
}

/// A positioned error of a table's row.
fn row_error(
    path: &Path,
    names: &[String],
    unit: Unit,
    line: u64,
    column: Option<usize>,
    kind: RowErrorKind,
) -> IngestError {
    IngestError::Row(Box::new(RowError {
        unit,
        path: path.to_path_buf(),
        line,
        column: column.map(|c| (c + 1, names[c].clone())),
        kind,
    }))
}

/// The keys of every part, one after the other.
fn concat_keys<'a>(parts: impl Iterator<Item = &'a Keys> + Clone) -> Keys {
    let (count, bytes) = parts
        .clone()
        .fold((0, 0), |(n, b), k| (n + k.len(), b + k.text_len()));
    let mut keys = Keys::with_capacity(count, bytes);
    for part in parts {
        keys.append(part);
    }
    keys
}

/// The table row of each part's first row, given each part's rows.
fn first_rows(rows: impl Iterator<Item = usize>) -> Vec<usize> {
    rows.scan(0, |next, n| {
        let first = *next;
        *next += n;
        Some(first)
    })
    .collect()
}

/// How a record's fields are read.
struct Layout<'a> {
    delimiter: u8,
    /// Fields per record: the header's.
    fields: usize,
    /// The key's field.
    key: usize,
    /// The fields read as numbers, in the order of a row's values.
    wanted: &'a [usize],
    /// Fields up to the last one read (key or value): the others are only
    /// counted.
    needed: usize,
}

/// A bad record: where it starts (an offset into the data after the
/// header) and what is wrong.
#[derive(Clone, Debug)]
struct Failure {
    at: usize,
    column: Option<usize>,
    kind: RowErrorKind,
}

/// One record's fields: field `i` ends at `ends[i]` in `bytes` and starts
/// `gap` bytes after field `i - 1` ends (1 where the delimiter is still
/// there, 0 where `csv-core` took it out).
struct Record<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
    gap: usize,
    /// Fields of the record, which `ends` may stop short of (see
    /// [`Layout::needed`]).
    fields: usize,
}

impl Record<'_> {
    /// Field `i` (below [`Layout::needed`]), without the `\r` of a CRLF
    /// line end.
    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] + self.gap
        };
        let field = &self.bytes[start..self.ends[i]];
        if i + 1 == self.fields {
            field.strip_suffix(b"\r").unwrap_or(field)
        } else {
            field
        }
    }
}

/// The rows of one chunk, being read.
struct Rows<'v> {
    keys: Keys,
    starts: Vec<usize>,
    tags: Vec<u32>,
    /// Where the chunk's values go, row after row: room for as many rows
    /// as the chunk has line ends.
    values: &'v mut [f64],
    d: usize,
}

/// What one chunk gave.
struct Part {
    keys: Keys,
    /// Where each row's record starts (an offset into the data after the
    /// header), for the line numbers of errors.
    starts: Vec<usize>,
    hashed: Hashed,
    /// The chunk's first bad record, where its reading stopped.
    failure: Option<Failure>,
}

impl<'v> Rows<'v> {
    fn new(values: &'v mut [f64], d: usize) -> Self {
        let rows = values.len() / d;
        Rows {
            keys: Keys::with_capacity(rows, 0),
            starts: Vec::with_capacity(rows),
            tags: Vec::with_capacity(rows),
            values,
            d,
        }
    }

    /// Takes the record starting at `at`. A bad key leaves the row out; a
    /// bad value keeps its key, so that a duplicate of it is reported
    /// first, as row by row.
    fn take(&mut self, layout: &Layout<'_>, at: usize, record: &Record<'_>) -> Result<(), Failure> {
        let fail = |column: Option<usize>, kind| Failure { at, column, kind };
        if record.fields != layout.fields {
            return Err(fail(
                None,
                RowErrorKind::FieldCount {
                    expected: layout.fields,
                    found: record.fields,
                },
            ));
        }
        let Ok(key) = std::str::from_utf8(record.field(layout.key)) else {
            return Err(fail(Some(layout.key), RowErrorKind::InvalidUtf8));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(fail(Some(layout.key), RowErrorKind::EmptyKey));
        }
        if self.keys.is_empty() {
            // Room for the text of as many keys of this one's length.
            self.keys.reserve(0, self.starts.capacity() * key.len());
        }
        let row = self.keys.len();
        self.keys.push(key);
        self.starts.push(at);
        self.tags.push(key_tag(key));
        let values = &mut self.values[row * self.d..(row + 1) * self.d];
        for (value, &c) in values.iter_mut().zip(layout.wanted) {
            let cell = record.field(c).trim_ascii();
            *value = if cell.is_empty() {
                f64::NAN
            } else {
                parse_number(cell).ok_or_else(|| {
                    fail(
                        Some(c),
                        RowErrorKind::Number {
                            value: excerpt(cell),
                        },
                    )
                })?
            };
        }
        Ok(())
    }

    fn finish(self, failure: Option<Failure>) -> Part {
        Part {
            hashed: Hashed::of(&self.tags),
            keys: self.keys,
            starts: self.starts,
            failure,
        }
    }
}

/// Chunks of `body` (data without quotes) ending at the first line end
/// after every `chunk` bytes.
fn plain_chunks(body: &[u8], chunk: usize) -> Vec<Range<usize>> {
    let mut chunks = Vec::with_capacity(body.len() / chunk.max(1) + 1);
    let mut start = 0;
    while start < body.len() {
        let target = start.saturating_add(chunk.max(1)).min(body.len());
        let end = match memchr(b'\n', &body[target - 1..]) {
            Some(i) => target + i,
            None => body.len(),
        };
        chunks.push(start..end);
        start = end;
    }
    chunks
}

/// Where a scan of quoted CSV stands.
#[derive(Clone, Copy, PartialEq)]
enum Scan {
    /// At the start of a field (or record).
    FieldStart,
    /// In a field that did not start with a quote: quotes are text.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote in a quoted field: its end, or the first of a
    /// doubled quote.
    QuoteInQuoted,
}

/// Chunks of `body` ending at the first record end after every `chunk`
/// bytes, found by following the quoting as `csv-core` does (a quote opens
/// a quoted field only at a field's start; a doubled quote inside one is a
/// quote), so no chunk starts inside a quoted field.
fn quoted_chunks(body: &[u8], delimiter: u8, chunk: usize) -> Vec<Range<usize>> {
    let mut chunks = Vec::with_capacity(body.len() / chunk.max(1) + 1);
    let mut start = 0;
    let mut state = Scan::FieldStart;
    let mut at = 0;
    while at < body.len() {
        let record_end;
        match state {
            Scan::Quoted => match memchr(b'"', &body[at..]) {
                Some(i) => {
                    at += i + 1;
                    state = Scan::QuoteInQuoted;
                    continue;
                }
                None => break,
            },
            Scan::Unquoted => match memchr2(delimiter, b'\n', &body[at..]) {
                Some(i) => {
                    at += i + 1;
                    record_end = body[at - 1] == b'\n';
                    state = Scan::FieldStart;
                }
                None => break,
            },
            Scan::FieldStart | Scan::QuoteInQuoted => {
                let b = body[at];
                at += 1;
                record_end = b == b'\n';
                // A quote at a field's start opens it; after a quote in a
                // quoted field, it is a doubled (escaped) quote.
                state = match b {
                    b'"' => Scan::Quoted,
                    b'\n' => Scan::FieldStart,
                    b if b == delimiter => Scan::FieldStart,
                    _ => Scan::Unquoted,
                };
            }
        }
        if record_end && at - start >= chunk {
            chunks.push(start..at);
            start = at;
        }
    }
    if start < body.len() {
        chunks.push(start..body.len());
    }
    chunks
}

/// Parses a chunk of data without quotes (`base` is its offset in the
/// data after the header).
///
/// Fields are short (a few bytes between delimiters), where a search call
/// per delimiter costs more than it finds: the chunk is compared 64 bytes
/// at a time (see [`separators`]) and delimiters and line ends are walked
/// with bit operations. Past the last field read, a line's delimiters are
/// only counted, a block's worth at once. (Compiled also for processors
/// with instructions that count and find bits, which the walk is made of.)
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+popcnt", "x86_64+popcnt"))]
fn parse_plain(
    chunk: &[u8],
    base: usize,
    layout: &Layout<'_>,
    rows: &mut Rows<'_>,
) -> Result<(), Failure> {
    let mut line = Line {
        start: 0,
        ends: Vec::with_capacity(layout.needed + 1),
        uncounted: 0,
    };
    let mut block = 0;
    while block < chunk.len() {
        let (mut delimiters, mut newlines) = separators(&chunk[block..], layout.delimiter);
        loop {
            if line.ends.len() == layout.needed {
                let before = if newlines == 0 {
                    delimiters
                } else {
                    delimiters & ((newlines & newlines.wrapping_neg()) - 1)
                };
                line.uncounted += before.count_ones() as usize;
                delimiters &= !before;
            }
            let next = delimiters | newlines;
            if next == 0 {
                break;
            }
            let bit = next.trailing_zeros();
            let at = block + bit as usize;
            if newlines & (1 << bit) != 0 {
                newlines &= newlines - 1;
                if at == line.start {
                    // A blank line: no record, as for the CSV reader.
                    line.start = at + 1;
                } else {
                    line.end(chunk, at, base, layout, rows)?;
                }
            } else {
                delimiters &= delimiters - 1;
                line.ends.push(at - line.start);
            }
        }
        block += 64;
    }
    if line.start < chunk.len() {
        line.end(chunk, chunk.len(), base, layout, rows)?;
    }
    Ok(())
}

/// The line being split by [`parse_plain`].
struct Line {
    /// Where it starts in the chunk.
    start: usize,
    /// Where its first [`Layout::needed`] delimiters are, from its start.
    ends: Vec<usize>,
    /// Its delimiters past those.
    uncounted: usize,
}

impl Line {
    /// Ends the line at `at` (a line end, or the chunk's end) and takes its
    /// record.
    fn end(
        &mut self,
        chunk: &[u8],
        at: usize,
        base: usize,
        layout: &Layout<'_>,
        rows: &mut Rows<'_>,
    ) -> Result<(), Failure> {
        let fields = if self.ends.len() < layout.needed {
            self.ends.push(at - self.start);
            self.ends.len()
        } else {
            layout.needed + 1 + self.uncounted
        };
        let record = Record {
            bytes: &chunk[self.start..at],
            ends: &self.ends,
            gap: 1,
            fields,
        };
        let taken = rows.take(layout, base + self.start, &record);
        self.ends.clear();
        self.uncounted = 0;
        self.start = at + 1;
        taken
    }
}

/// Bit masks of the delimiters and line ends among the first 64 bytes of
/// `bytes` (bit `i` for byte `i`; fewer bytes leave the high bits clear).
/// Sixteen bytes are compared at once (SIMD through `wide`: SSE2 or NEON,
/// with a portable fallback).
#[inline]
fn separators(bytes: &[u8], delimiter: u8) -> (u64, u64) {
    let width = bytes.len().min(64);
    if width < 64 {
        // The last bytes, in a block of zeros whose bits are masked off.
        let mut tail = [0u8; 64];
        tail[..width].copy_from_slice(&bytes[..width]);
        let (delimiters, newlines) = separators(&tail, delimiter);
        let valid = (1u64 << width) - 1;
        return (delimiters & valid, newlines & valid);
    }
    let (delimiter, newline) = (u8x16::splat(delimiter), u8x16::splat(b'\n'));
    let (mut delimiters, mut newlines) = (0u64, 0u64);
    for (k, lane) in bytes[..64].chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(lane);
        let v = u8x16::from(bytes);
        delimiters |= u64::from(v.simd_eq(delimiter).to_bitmask() as u16) << (16 * k);
        newlines |= u64::from(v.simd_eq(newline).to_bitmask() as u16) << (16 * k);
    }
    (delimiters, newlines)
}

/// Parses a chunk of quoted data with `csv-core` (`base` is its offset in
/// the data after the header). The chunk starts and ends at record ends,
/// so its end is the end of a record.
fn parse_quoted(
    chunk: &[u8],
    base: usize,
    layout: &Layout<'_>,
    rows: &mut Rows<'_>,
) -> Result<(), Failure> {
    use csv_core::ReadRecordResult;
    let mut reader = csv_core::ReaderBuilder::new()
        .delimiter(layout.delimiter)
        .terminator(csv_core::Terminator::Any(b'\n'))
        .build();
    let mut out = vec![0u8; 1 << 12];
    let mut ends = vec![0usize; layout.fields + 1];
    let (mut at, mut out_len, mut ends_len) = (0, 0, 0);
    let mut record_start = None;
    loop {
        let start = *record_start.get_or_insert_with(|| {
            // Blank lines, which the reader skips, are not the record's.
            at + chunk[at..].iter().take_while(|&&b| b == b'\n').count()
        });
        let (result, read, written, ended) =
            reader.read_record(&chunk[at..], &mut out[out_len..], &mut ends[ends_len..]);
        at += read;
        out_len += written;
        ends_len += ended;
        match result {
            // The chunk's end is the input's: the next call, with no
            // input, ends the last record.
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                let record = Record {
                    bytes: &out[..out_len],
                    ends: &ends[..ends_len],
                    gap: 0,
                    fields: ends_len,
                };
                rows.take(layout, base + start, &record)?;
                (out_len, ends_len) = (0, 0);
                record_start = None;
            }
            ReadRecordResult::End => return Ok(()),
        }
    }
}

/// A decimal number, exactly as `str::parse::<f64>` reads it; `nan` and
/// `inf` spellings parse (and are rejected later as non-finite, with the
/// user named).
fn parse_number(cell: &[u8]) -> Option<f64> {
    match exact_decimal(cell) {
        Some(value) => Some(value),
        None => std::str::from_utf8(cell).ok()?.parse::<f64>().ok(),
    }
}

/// Powers of ten that an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Plain decimals (`-12.5`, `0.125`, `7`) of at most 2^53 without their
/// point and with at most 22 decimals: their digits and the power of ten
/// are exact in an f64, so one division, correctly rounded, gives the
/// correctly rounded value, the one `str::parse` gives (Clinger's fast
/// path). `None` for anything else (exponents, long digit strings, text),
/// left to `str::parse`. Digits are read eight at a time where they can
/// be.
fn exact_decimal(cell: &[u8]) -> Option<f64> {
    /// Digits a u64 holds whatever they are.
    const MAX_DIGITS: usize = 19;
    const EXACT: u64 = 1 << 53;
    let (negative, text) = match cell.first()? {
        b'-' => (true, &cell[1..]),
        b'+' => (false, &cell[1..]),
        _ => (false, cell),
    };
    // Digits one at a time, while they fit: false past MAX_DIGITS.
    let one_by_one = |at: &mut usize, mantissa: &mut u64, digits: &mut usize| {
        while let Some(&b) = text.get(*at) {
            if !b.is_ascii_digit() {
                break;
            }
            if *digits == MAX_DIGITS {
                return false;
            }
            *mantissa = *mantissa * 10 + u64::from(b - b'0');
            *digits += 1;
            *at += 1;
        }
        true
    };
    let mut mantissa = 0u64;
    let mut digits = 0;
    let mut at = 0;
    if !one_by_one(&mut at, &mut mantissa, &mut digits) {
        return None;
    }
    let mut decimals = 0;
    if text.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while digits + 8 <= MAX_DIGITS {
            let Some(eight) = text.get(at..at + 8) else {
                break;
            };
            let word = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            if !eight_digits(word) {
                break;
            }
            mantissa = mantissa * 100_000_000 + eight_digits_value(word);
            digits += 8;
            at += 8;
        }
        if !one_by_one(&mut at, &mut mantissa, &mut digits) {
            return None;
        }
        decimals = at - start;
    }
    if at != text.len() || digits == 0 || mantissa > EXACT || decimals >= POW10.len() {
        return None;
    }
    let value = mantissa as f64 / POW10[decimals];
    Some(if negative { -value } else { value })
}

/// Whether the eight bytes of `word` (little-endian) are all ASCII digits.
fn eight_digits(word: u64) -> bool {
    let above = word.wrapping_add(0x4646_4646_4646_4646);
    let below = word.wrapping_sub(0x3030_3030_3030_3030);
    (above | below) & 0x8080_8080_8080_8080 == 0
}

/// The value of eight ASCII digits (the first one most significant), in
/// three multiplications (as `core`'s float parser reads them).
fn eight_digits_value(word: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = word - 0x3030_3030_3030_3030;
    let v = v * 10 + (v >> 8);
    let high = (v & MASK).wrapping_mul(MUL1);
    let low = ((v >> 16) & MASK).wrapping_mul(MUL2);
    u64::from((high.wrapping_add(low) >> 32) as u32)
}

/// Partitions of the key tags that duplicates are looked for in, in
/// parallel: each one's table of a few thousand rows stays in cache.
const PARTITIONS: usize = 256;

/// A key's tag: 32 bits of its hash, all that finding duplicates keeps of
/// it (equal keys have equal tags; keys are compared where tags are).
fn key_tag(key: &str) -> u32 {
    let hash = foldhash::fast::FixedState::with_seed(0x005E_ED0F_4B1E).hash_one(key);
    (hash >> 32) as u32
}

/// The partition of a tag: its top bits.
fn partition(tag: u32) -> usize {
    (tag >> 24) as usize % PARTITIONS
}

/// The hash of a tag in a partition's table: its bits spread over 64, so
/// that the table's bucket index (low bits) and control byte (top bits)
/// both vary within a partition.
fn spread(tag: u32) -> u64 {
    u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A part's key tags, each with its row in the part, grouped by
/// partition.
struct Hashed {
    entries: Vec<(u32, u32)>,
    /// Where each partition's entries start in `entries`, and the end.
    groups: Vec<u32>,
}

impl Hashed {
    /// The tags of a part's rows, in row order (fewer than 2^32 rows).
    fn of(tags: &[u32]) -> Hashed {
        let mut groups = vec![0u32; PARTITIONS + 1];
        for &tag in tags {
            groups[partition(tag) + 1] += 1;
        }
        for p in 0..PARTITIONS {
            groups[p + 1] += groups[p];
        }
        let mut next = groups.clone();
        let mut entries = vec![(0u32, 0u32); tags.len()];
        for (row, &tag) in tags.iter().enumerate() {
            let slot = &mut next[partition(tag)];
            entries[*slot as usize] = (tag, row as u32);
            *slot += 1;
        }
        Hashed { entries, groups }
    }

    /// The entries of partition `p`, in row order.
    fn group(&self, p: usize) -> &[(u32, u32)] {
        &self.entries[self.groups[p] as usize..self.groups[p + 1] as usize]
    }
}

/// The first row of `keys` (in table order) whose key an earlier row has,
/// and that earlier row. `parts` are the parts' first rows and tags, in
/// order; `keys` has fewer than 2^32 rows.
fn first_duplicate(keys: &Keys, parts: &[(usize, &Hashed)]) -> Option<(usize, usize)> {
    (0..PARTITIONS)
        .into_par_iter()
        .filter_map(|p| {
            let count = parts.iter().map(|(_, h)| h.group(p).len()).sum();
            // Rows with their tags: keys are read (from anywhere in the
            // arena) only where tags are equal, for a duplicate or one
            // in billions of others.
            let mut table = HashTable::<(u32, u32)>::with_capacity(count);
            for &(first, hashed) in parts {
                for &(tag, local) in hashed.group(p) {
                    let row = first + local as usize;
                    let entry = table.entry(
                        spread(tag),
                        |&(other, other_tag)| other_tag == tag && keys[other as usize] == keys[row],
                        |&(_, other_tag)| spread(other_tag),
                    );
                    match entry {
                        Entry::Occupied(earlier) => return Some((row, earlier.get().0 as usize)),
                        Entry::Vacant(slot) => {
                            slot.insert((row as u32, tag));
                        }
                    }
                }
            }
            None
        })
        .min()
}

fn csv_error(path: &Path, error: csv::Error) -> IngestError {
    let line = error.position().map_or(0, |p| p.line());
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
        _ => IngestError::Header {
            path: path.to_path_buf(),
            message: format!("line {line}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float32Array, Float64Array,
        Int32Array, Int64Array, RecordBatch, StringArray, UInt64Array,
    };
    use arrow_schema::{Field, Schema};

    use super::*;

    fn read(text: &str, options: &NumericOptions) -> Result<NumericTable, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).unwrap();
        read_numeric_table(&path, options)
    }

    /// Reads `text` cut into chunks of about `chunk` bytes.
    fn read_chunked(
        text: &str,
        options: &NumericOptions,
        chunk: usize,
    ) -> Result<NumericTable, IngestError> {
        read_csv(Path::new("t.csv"), text.as_bytes(), options, chunk)
    }

    fn message(result: Result<NumericTable, IngestError>) -> String {
        result.unwrap_err().to_string()
    }

    /// Tables compared bit for bit (NaN equal to NaN).
    fn same(a: &NumericTable, b: &NumericTable) -> bool {
        a.keys == b.keys
            && a.columns == b.columns
            && a.values.len() == b.values.len()
            && a.values
                .iter()
                .zip(&b.values)
                .all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// A table of `n` users and `width` numeric columns besides the key.
    fn table_text(n: usize, width: usize) -> String {
        let mut text = String::from("user_id");
        for c in 0..width {
            text.push_str(&format!(",c{c}"));
        }
        text.push('\n');
        for i in 0..n {
            text.push_str(&format!("user{i}"));
            for c in 0..width {
                match (i + c) % 7 {
                    0 => text.push(','),
                    1 => text.push_str(&format!(",{}", i as f64 / 8.0 - c as f64)),
                    2 => text.push_str(&format!(",{:e}", (i * c + 1) as f64 * 1.1e-9)),
                    _ => text.push_str(&format!(",{}", (i * 31 + c) as f64 / 3.0)),
                }
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn reads_key_and_numeric_columns() {
        let t = read(
            "\u{feff}name,user_id,x,y\nfoo,b,1.5,-2\nbar,a,3,\n",
            &NumericOptions {
                columns: Some(vec!["y".into(), "x".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.keys.to_vec(), ["b", "a"]);
        assert_eq!(t.columns, vec!["y", "x"]);
        assert_eq!(t.values[..2], [-2.0, 1.5]);
        assert!(t.values[2].is_nan());
        assert_eq!(t.values[3], 3.0);
    }

    #[test]
    fn positions_bad_cells_and_duplicates() {
        let err = message(read("id,x\na,1\nb,oops\n", &NumericOptions::default()));
        assert!(
            err.ends_with("line 3, column 2 (x): expected a number, found \"oops\""),
            "{err}"
        );
        let err = message(read("id,x\na,1\na,2\n", &NumericOptions::default()));
        assert!(err.contains("line 3, column 1 (id)"), "{err}");
        assert!(err.contains("first on line 2"), "{err}");
        let err = message(read("id,x\na,1,2\n", &NumericOptions::default()));
        assert!(err.contains("expected 2 fields, found 3"), "{err}");
        let err = read("id,x\n", &NumericOptions::default()).unwrap_err();
        assert!(matches!(err, IngestError::NoRows { .. }));
        let err = message(read(
            "id,x\na,1\n",
            &NumericOptions {
                key_column: Some("user".into()),
                ..Default::default()
            },
        ));
        assert!(err.contains("no column \"user\""), "{err}");
    }

    #[test]
    fn empty_files_and_headers_alone() {
        let err = read("", &NumericOptions::default()).unwrap_err();
        assert!(matches!(err, IngestError::EmptyFile { .. }), "{err}");
        for text in ["id,x", "id,x\n", "id,x\r\n\n\n"] {
            let err = read(text, &NumericOptions::default()).unwrap_err();
            assert!(matches!(err, IngestError::NoRows { .. }), "{text:?}: {err}");
        }
        let err = message(read("id\na\n", &NumericOptions::default()));
        assert!(err.contains("no feature columns besides"), "{err}");
        let err = message(read(
            "id,x\na,1\n",
            &NumericOptions {
                delimiter: Delimiter::Whitespace,
                ..Default::default()
            },
        ));
        assert!(err.contains("not whitespace"), "{err}");
    }

    #[test]
    fn any_chunk_size_reads_the_same_table() {
        let text = table_text(300, 9);
        let options = NumericOptions {
            columns: Some(vec!["c4".into(), "c0".into(), "c8".into()]),
            ..Default::default()
        };
        let whole = read_chunked(&text, &options, 1 << 30).unwrap();
        assert_eq!(whole.rows(), 300);
        assert_eq!(whole.keys[299], *"user299");
        for chunk in [1, 2, 7, 64, 100, 1000] {
            let t = read_chunked(&text, &options, chunk).unwrap();
            assert!(same(&t, &whole), "chunks of {chunk}");
        }
        // The values are those of `str::parse`, in the columns' order.
        let line: Vec<&str> = text.lines().nth(6).unwrap().split(',').collect();
        for (slot, c) in [5, 1, 9].into_iter().enumerate() {
            let want = line[c].parse::<f64>().unwrap_or(f64::NAN);
            assert_eq!(whole.row(5)[slot].to_bits(), want.to_bits(), "{}", line[c]);
        }
        // Every column but the key, by default.
        let all = read_chunked(&text, &NumericOptions::default(), 33).unwrap();
        assert_eq!(all.columns.len(), 9);
        assert_eq!(all.values.len(), 300 * 9);
    }

    #[test]
    fn wide_rows() {
        let text = table_text(50, 300);
        let some = NumericOptions {
            columns: Some(vec!["c299".into(), "c3".into()]),
            ..Default::default()
        };
        let t = read_chunked(&text, &some, 500).unwrap();
        let all = read_chunked(&text, &NumericOptions::default(), 500).unwrap();
        assert_eq!(all.columns.len(), 300);
        for i in 0..50 {
            assert_eq!(t.row(i)[0].to_bits(), all.row(i)[299].to_bits());
            assert_eq!(t.row(i)[1].to_bits(), all.row(i)[3].to_bits());
        }
        let bad = text.replacen("\nuser40,", "\nuser40,1,", 1);
        let err = message(read_chunked(&bad, &some, 500));
        assert!(
            err.ends_with("line 42: expected 301 fields, found 302"),
            "{err}"
        );
    }

    #[test]
    fn crlf_line_ends_and_blank_lines() {
        let text = "id,x,y\r\na,1,2\r\n\nb, 3 ,\r\n\nc,4,5";
        for chunk in [1, 5, 1 << 20] {
            let t = read_chunked(text, &NumericOptions::default(), chunk).unwrap();
            assert_eq!(t.keys.to_vec(), ["a", "b", "c"]);
            assert_eq!(t.values[..3], [1.0, 2.0, 3.0]);
            assert!(t.values[3].is_nan());
            assert_eq!(t.values[4..], [4.0, 5.0]);
        }
        // A line holding only `\r` is a record of one empty field.
        let err = message(read_chunked(
            "id,x\r\na,1\r\n\r\n\r\nb,2\r\n",
            &NumericOptions::default(),
            4,
        ));
        assert!(err.ends_with("line 3: expected 2 fields, found 1"), "{err}");
        // Lines count from the record's own line, past blank ones.
        let err = message(read_chunked(
            "id,x\n\na,1\n\n\nb,x\n",
            &NumericOptions::default(),
            3,
        ));
        assert!(err.contains("line 6, column 2 (x)"), "{err}");
    }

    #[test]
    fn quoted_fields_may_hold_delimiters_and_line_ends() {
        let text = "id,\"x\",note,y\n\
                    \"a,1\",1,\"one\nline, two\",2\n\
                    b,\"3\",\"say \"\"hi\"\"\",4\r\n\
                    \" c \",5,,\"6\"\n";
        let options = NumericOptions {
            columns: Some(vec!["x".into(), "y".into()]),
            ..Default::default()
        };
        for chunk in [1, 3, 10, 1 << 20] {
            let t = read_chunked(text, &options, chunk).unwrap();
            assert_eq!(t.keys.to_vec(), ["a,1", "b", "c"], "chunks of {chunk}");
            assert_eq!(t.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        }
        // Lines count the line ends inside quoted fields.
        let bad = text.replace("\"6\"", "\"six\"");
        for chunk in [1, 1 << 20] {
            let err = message(read_chunked(&bad, &options, chunk));
            assert!(
                err.ends_with("line 5, column 4 (y): expected a number, found \"six\""),
                "{err}"
            );
        }
        // A quote that never closes takes the rest of the file.
        let err = message(read_chunked(
            "id,x\na,1\n\"b,2\nc,3\n",
            &NumericOptions::default(),
            2,
        ));
        assert!(err.ends_with("line 3: expected 2 fields, found 1"), "{err}");
    }

    #[test]
    fn a_quote_late_in_the_file_reads_it_all_again() {
        let mut text = table_text(200, 3);
        text.push_str("\"user 200\",1,2,3\n");
        let t = read_chunked(&text, &NumericOptions::default(), 64).unwrap();
        assert_eq!(t.rows(), 201);
        assert_eq!(t.keys[200], *"user 200");
        let plain = read_chunked(&table_text(200, 3), &NumericOptions::default(), 64).unwrap();
        assert!(
            t.values[..600]
                .iter()
                .zip(&plain.values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn a_bom_before_the_header() {
        let t = read_chunked("\u{feff}user_id,x\nu,1\n", &NumericOptions::default(), 1).unwrap();
        assert_eq!(t.columns, ["x"]);
        assert_eq!(t.keys.to_vec(), ["u"]);
        let t = read_chunked(
            "\u{feff}\"user_id\",x\nu,1\n",
            &NumericOptions::default(),
            1,
        )
        .unwrap();
        assert_eq!(t.columns, ["x"]);
    }

    #[test]
    fn errors_name_the_first_bad_line_whatever_the_chunks() {
        let text = table_text(500, 3);
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.starts_with(&format!("{key},")))
                .unwrap()
                + 1
        };
        // A duplicate in a late chunk names both lines.
        let dup = text.replacen("user450,", "user12,", 1);
        for chunk in [1, 100, 1 << 20] {
            let err = message(read_chunked(&dup, &NumericOptions::default(), chunk));
            assert!(
                err.contains(&format!(
                    "line {}, column 1 (user_id): user key \"user12\" appears again (first on line {})",
                    line_of("user450"),
                    line_of("user12")
                )),
                "{err}"
            );
        }
        // A bad number in a late chunk.
        let bad = text.replacen("user480,", "user480,zz", 1);
        let err = message(read_chunked(&bad, &NumericOptions::default(), 100));
        assert!(
            err.contains(&format!("line {}, column 2 (c0)", line_of("user480"))),
            "{err}"
        );
        // The earlier of a duplicate and a bad number comes first; on one
        // line, the duplicate.
        let both = dup.replacen("user480,", "user480,zz", 1);
        let err = message(read_chunked(&both, &NumericOptions::default(), 100));
        assert!(err.contains("appears again"), "{err}");
        let both = text
            .replacen("user480,", "user12,", 1)
            .replacen("user450,", "user450,zz", 1);
        let err = message(read_chunked(&both, &NumericOptions::default(), 100));
        assert!(err.contains("expected a number, found \"zz"), "{err}");
        let same_line = text.replacen("user480,", "user12,zz", 1);
        let err = message(read_chunked(&same_line, &NumericOptions::default(), 100));
        assert!(err.contains("appears again"), "{err}");
        // Values are checked in the order asked for.
        let err = message(read_chunked(
            "id,x,y\na,p,q\n",
            &NumericOptions {
                columns: Some(vec!["y".into(), "x".into()]),
                ..Default::default()
            },
            1,
        ));
        assert!(err.contains("column 3 (y)"), "{err}");
        // Keys: trimmed, not empty, UTF-8.
        let err = message(read_chunked(
            "id,x\na,1\n  ,2\n",
            &NumericOptions::default(),
            1,
        ));
        assert!(
            err.ends_with("line 3, column 1 (id): expected a user key, found an empty field"),
            "{err}"
        );
        let err = message(read(
            "id,x\n\u{00e9},1\n \u{00e9},2\n",
            &NumericOptions::default(),
        ));
        assert!(err.contains("first on line 2"), "{err}");
        let err = read_csv(
            Path::new("t.csv"),
            b"id,x\na\xff,1\n",
            &NumericOptions::default(),
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("line 2, column 1 (id): expected UTF-8 text, found invalid bytes"));
    }

    #[test]
    fn numbers_parse_as_str_parse_does() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "+1",
            "1.",
            ".5",
            "-.5",
            ".",
            "-",
            "+",
            "",
            "1e3",
            "1E-3",
            "inf",
            "-inf",
            "NaN",
            "nan",
            "infinity",
            "1.2.3",
            "0x10",
            "1_000",
            "9007199254740992",
            "9007199254740993",
            "90071992547409921",
            "0.1",
            "0.30000000000000004",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "1e400",
            "4.9e-324",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "١",
        ]
        .map(String::from)
        .to_vec();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let bits = next();
            let value = f64::from_bits(bits);
            cells.push(format!("{value}"));
            cells.push(ryu::Buffer::new().format(value).to_string());
            let digits = (next() % 20) as usize + 1;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = (next() % (digits as u64 + 2)) as usize;
            if point <= digits {
                text.insert(point, '.');
            }
            if next() % 3 == 0 {
                text.insert(0, '-');
            }
            cells.push(text);
        }
        for cell in &cells {
            let want = cell.parse::<f64>().ok();
            let got = parse_number(cell.as_bytes());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{cell:?}");
        }
        assert_eq!(exact_decimal(b"12.25"), Some(12.25));
        assert_eq!(exact_decimal(b"1e5"), None);
    }

    #[test]
    fn compressed_tables() {
        let text = table_text(100, 2);
        let want = read_chunked(&text, &NumericOptions::default(), 1 << 20).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("t.csv.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let zst = dir.path().join("t.csv.zst");
        std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        for path in [&gz, &zst] {
            let t = read_numeric_table(path, &NumericOptions::default()).unwrap();
            assert!(same(&t, &want), "{}", path.display());
        }
        let bytes = std::fs::read(&gz).unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_numeric_table(&gz, &NumericOptions::default()).unwrap_err();
        assert!(matches!(err, IngestError::Format { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(err.exit_code(), 3);
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    /// Writes `batches` as Parquet (row groups of three rows), an Arrow
    /// IPC file and an Arrow IPC stream, in `dir`.
    fn write_columnar(dir: &Path, batches: &[RecordBatch]) -> [std::path::PathBuf; 3] {
        let schema = batches[0].schema();
        let parquet = dir.join("t.parquet");
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(3))
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            File::create(&parquet).unwrap(),
            schema.clone(),
            Some(properties),
        )
        .unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap();
        let arrow = dir.join("t.arrow");
        let mut writer =
            arrow_ipc::writer::FileWriter::try_new(File::create(&arrow).unwrap(), &schema).unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.finish().unwrap();
        let stream = dir.join("t.arrows");
        let mut writer =
            arrow_ipc::writer::StreamWriter::try_new(File::create(&stream).unwrap(), &schema)
                .unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.finish().unwrap();
        [parquet, arrow, stream]
    }

    #[test]
    fn parquet_and_arrow_tables() {
        let first = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["p", "q", "r", "s"])) as ArrayRef,
            ),
            (
                "user_id",
                Arc::new(StringArray::from(vec!["a", " b ", "c", "d"])),
            ),
            (
                "frequency",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(-4)])),
            ),
            (
                "monetary",
                Arc::new(
                    Decimal128Array::from(vec![Some(1250), Some(-5), None, Some(7)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "active_days",
                Arc::new(Float32Array::from(vec![0.1, 2.5, f32::NAN, 4.0])),
            ),
            (
                "dormant",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
            ),
        ]);
        let second = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["t", "u"])) as ArrayRef,
            ),
            ("user_id", Arc::new(StringArray::from(vec!["e", "f"]))),
            ("frequency", Arc::new(Int64Array::from(vec![5, 6]))),
            (
                "monetary",
                Arc::new(
                    Decimal128Array::from(vec![1, 2])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            ("active_days", Arc::new(Float32Array::from(vec![5.0, 6.0]))),
            ("dormant", Arc::new(BooleanArray::from(vec![false, false]))),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let options = NumericOptions {
            prefer: Some(vec![
                "frequency".into(),
                "monetary".into(),
                "active_days".into(),
            ]),
            ..Default::default()
        };
        for path in write_columnar(dir.path(), &[first.clone(), second.clone()]) {
            let t = read_numeric_table(&path, &options).unwrap();
            assert_eq!(t.keys.to_vec(), ["a", "b", "c", "d", "e", "f"]);
            assert_eq!(t.columns, ["frequency", "monetary", "active_days"]);
            assert_eq!(t.row(0), [1.0, 12.5, 0.1]);
            assert!(t.row(1)[0].is_nan());
            assert_eq!(t.row(1)[1..], [-0.05, 2.5]);
            assert!(t.row(2)[1].is_nan() && t.row(2)[2].is_nan());
            assert_eq!(t.row(5), [6.0, 0.02, 6.0]);
            assert_eq!(t.source, path.display().to_string());
            let columns = ["frequency", "monetary", "active_days", "dormant"];
            let all = read_numeric_table(
                &path,
                &NumericOptions {
                    columns: Some(columns.map(String::from).to_vec()),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(all.columns, columns);
            assert_eq!(all.row(0)[3], 1.0);
            assert!(all.row(2)[3].is_nan());
            // The bytes decide, and must agree with --input-format.
            let err = read_numeric_table(
                &path,
                &NumericOptions {
                    format: Some(InputFormat::Csv),
                    ..Default::default()
                },
            )
            .unwrap_err();
            assert!(matches!(err, IngestError::Format { .. }), "{err}");
            // Text columns do not hold numbers.
            let err = message(read_numeric_table(
                &path,
                &NumericOptions {
                    columns: Some(vec!["label".into()]),
                    ..Default::default()
                },
            ));
            assert!(
                err.ends_with("column 1 (label) is of type Utf8, which cannot hold numbers (integers, floats, decimals or booleans)"),
                "{err}"
            );
            let err = message(read_numeric_table(
                &path,
                &NumericOptions {
                    key_column: Some("active_days".into()),
                    ..Default::default()
                },
            ));
            assert!(err.contains("cannot hold the user key"), "{err}");
        }

        // Duplicates and empty keys, positioned by row.
        let keys = |keys: Vec<Option<&str>>| {
            let n = keys.len();
            batch(vec![
                ("user_id", Arc::new(StringArray::from(keys)) as ArrayRef),
                ("x", Arc::new(Float64Array::from(vec![1.0; n]))),
            ])
        };
        let first = keys(vec![Some("a"), Some("b"), Some("c")]);
        let dup = keys(vec![Some("d"), Some("b")]);
        let empty = keys(vec![Some("g"), Some(" ")]);
        let null = keys(vec![None, Some("h")]);
        for (batches, want) in [
            (
                vec![first.clone(), dup.clone(), empty.clone()],
                "row 5, column 1 (user_id): user key \"b\" appears again (first on line 2)",
            ),
            (
                vec![first.clone(), empty, dup],
                "row 5, column 1 (user_id): expected a user key, found an empty field",
            ),
            (
                vec![first, null],
                "row 4, column 1 (user_id): expected a user key, found an empty field",
            ),
        ] {
            let sub = tempfile::tempdir().unwrap();
            for path in write_columnar(sub.path(), &batches) {
                let err = message(read_numeric_table(&path, &NumericOptions::default()));
                assert!(err.contains(want), "{err}");
            }
        }
    }

    #[test]
    fn dictionary_and_integer_keys() {
        let dictionary: DictionaryArray<arrow_array::types::Int32Type> =
            vec!["x", "y", "x2", "z"].into_iter().collect();
        let with_dictionary = batch(vec![
            ("user_id", Arc::new(dictionary) as ArrayRef),
            ("v", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
        ]);
        let with_integers = batch(vec![
            (
                "user_id",
                Arc::new(UInt64Array::from(vec![
                    7,
                    18_446_744_073_709_551_615,
                    0,
                    42,
                ])) as ArrayRef,
            ),
            ("v", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
        ]);
        for (b, want) in [
            (with_dictionary, ["x", "y", "x2", "z"]),
            (with_integers, ["7", "18446744073709551615", "0", "42"]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            for path in write_columnar(dir.path(), std::slice::from_ref(&b)) {
                let t = read_numeric_table(&path, &NumericOptions::default()).unwrap();
                assert_eq!(t.keys.to_vec(), want, "{}", path.display());
                assert_eq!(t.values, [1.0, 2.0, 3.0, 4.0]);
            }
        }
    }
}
