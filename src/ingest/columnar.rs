//! Parquet and Arrow IPC inputs: opening them (standard input included),
//! their record batches decoded in parallel, and a log's columns read row
//! by row into the same fields a CSV row gives (see [`LogColumns`]).
//!
//! A Parquet file's row groups are decoded in parallel, a wave of them at
//! a time (memory follows the wave, not the file), and only the columns
//! mapped to a role are decoded. An Arrow IPC file is read batch by batch;
//! an Arrow IPC stream (Spark's `mapInArrow`, `pyarrow`'s
//! `RecordBatchStreamWriter`) is read as it arrives, standard input
//! included, without a copy. Parquet and Arrow files given on standard
//! input are copied to an unnamed temporary file first: their footers are
//! read before their data.
//!
//! Values become what the CSV path makes of their text, so a Parquet copy
//! of a CSV log gives byte-identical features:
//!
//! - user keys: strings (plain, large, view or dictionary), or integers
//!   written in decimal;
//! - times: timestamps of any unit (sub-millisecond digits dropped, as
//!   the text reader drops them; a time zone changes only how the instant
//!   is shown), dates (midnight UTC), or strings and integers read as the
//!   text reader reads them (`--time-format`, detected from the file's
//!   first value);
//! - amounts: decimals (exact), integers, floats (through their shortest
//!   decimal text, the one a CSV writer prints), or strings;
//! - channel and status: strings, dictionaries, booleans or integers; a
//!   null or empty value is no channel or status, as an empty cell is.
//!
//! Rows are numbered from 1 across the whole file in errors
//! ([`super::Unit::Row`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use super::error::{IngestError, RowErrorKind, excerpt};
use super::fields::{Amount, FieldError, Name, RowFields};
use super::input::Input;
use super::schema::ResolvedColumns;
use crate::features::accumulator::pack_key;
use crate::formats::decompress::decompressed;
use crate::formats::{InputFormat, SNIFF_BYTES, Sniffed, check_input};
use crate::values::amount::{AmountError, Money, parse_nanos};
use crate::values::time::{MS_PER_DAY, TimeFormat, TimeParser};

/// Rows per decoded batch: large enough that per-batch work is nothing,
/// small enough to stay in cache while its rows are taken.
const BATCH_ROWS: usize = 64 << 10;

/// Rows decoded per wave: every core gets work, and a wave's batches
/// (about 40 bytes a row for a log's five columns) stay far below the
/// memory the users take.
const WAVE_ROWS: u64 = 4 << 20;

/// An input, opened: CSV bytes to parse, or record batches.
pub(crate) enum Opened {
    /// A regular file of plain CSV, to be memory-mapped.
    File(File, u64),
    /// CSV bytes as a stream: standard input, a pipe, a file read without
    /// maps, or decompressed data.
    Stream(Box<dyn Read>),
    /// Parquet or Arrow.
    Columnar(Box<Batches>),
}

/// Opens `input` and tells its format by its first bytes, checked against
/// `format` (`--input-format`) or the extension.
pub(crate) fn open(
    input: &Input,
    format: Option<InputFormat>,
    use_mmap: bool,
) -> Result<Opened, IngestError> {
    let path = input.name();
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match input.copy() {
        Some(copy) => copy.try_clone().map_err(io_error)?,
        None if input.is_stdin() => return open_stdin(input, format),
        None => File::open(path).map_err(io_error)?,
    };
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_dir() {
        return Err(io_error(io::Error::other("it is a directory")));
    }
    let regular = metadata.is_file();
    let mut head = [0u8; SNIFF_BYTES];
    let head = if regular {
        let n = read_at_start(&file, &mut head).map_err(io_error)?;
        &head[..n]
    } else {
        // A pipe or device: its first bytes are read once, then put back
        // in front of the rest.
        let mut reader = file;
        let n = read_head(&mut reader, &mut head).map_err(io_error)?;
        let head = head[..n].to_vec();
        return open_stream(input, format, head, Box::new(reader));
    };
    let sniffed = Sniffed::of(head);
    check(path, format, sniffed)?;
    match sniffed {
        Sniffed::Csv if regular && use_mmap => Ok(Opened::File(file, metadata.len())),
        Sniffed::Csv => Ok(Opened::Stream(Box::new(rewound(file).map_err(io_error)?))),
        Sniffed::Gzip | Sniffed::Zstd => {
            let file = rewound(file).map_err(io_error)?;
            Ok(Opened::Stream(
                decompressed(sniffed, Box::new(file)).map_err(io_error)?,
            ))
        }
        Sniffed::Parquet | Sniffed::ArrowFile => {
            Batches::mapped(path, &file, sniffed).map(|b| Opened::Columnar(Box::new(b)))
        }
        Sniffed::ArrowStream => {
            let file = rewound(file).map_err(io_error)?;
            Batches::stream(path, Box::new(io::BufReader::new(file)))
                .map(|b| Opened::Columnar(Box::new(b)))
        }
    }
}

fn check(path: &Path, format: Option<InputFormat>, sniffed: Sniffed) -> Result<(), IngestError> {
    check_input(path, format, sniffed).map_err(|message| IngestError::Format {
        path: path.to_path_buf(),
        message,
    })
}

/// Standard input: sniffed from its first bytes, which are then read again
/// in front of the rest.
fn open_stdin(input: &Input, format: Option<InputFormat>) -> Result<Opened, IngestError> {
    let mut stdin = io::stdin();
    let mut head = [0u8; SNIFF_BYTES];
    let n = read_head(&mut stdin, &mut head).map_err(|source| IngestError::Io {
        path: input.name().to_path_buf(),
        source,
    })?;
    open_stream(input, format, head[..n].to_vec(), Box::new(stdin))
}

/// A stream whose first bytes `head` were read already.
fn open_stream(
    input: &Input,
    format: Option<InputFormat>,
    head: Vec<u8>,
    rest: Box<dyn Read + Send>,
) -> Result<Opened, IngestError> {
    let path = input.name();
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let sniffed = Sniffed::of(&head);
    check(path, format, sniffed)?;
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(rest));
    match sniffed {
        Sniffed::Csv => Ok(Opened::Stream(whole)),
        Sniffed::Gzip | Sniffed::Zstd => Ok(Opened::Stream(
            decompressed(sniffed, whole).map_err(io_error)?,
        )),
        Sniffed::ArrowStream => {
            Batches::stream(path, Box::new(io::BufReader::with_capacity(1 << 20, whole)))
                .map(|b| Opened::Columnar(Box::new(b)))
        }
        Sniffed::Parquet | Sniffed::ArrowFile => {
            // Footers first: the bytes must be all there.
            let mut copy = tempfile::tempfile().map_err(io_error)?;
            let mut whole = whole;
            io::copy(&mut whole, &mut copy).map_err(io_error)?;
            Batches::mapped(path, &copy, sniffed).map(|b| Opened::Columnar(Box::new(b)))
        }
    }
}

/// Reads up to `head.len()` bytes (fewer only at the end of the input).
fn read_head(reader: &mut dyn Read, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The first bytes of a regular file, without moving its position.
fn read_at_start(file: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut file = file;
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(0))?;
    let n = read_head(&mut file, head)?;
    file.seek(io::SeekFrom::Start(0))?;
    Ok(n)
}

/// `file` from its start (clones of a copy share their position).
fn rewound(file: File) -> io::Result<File> {
    use std::io::Seek;
    let mut file = file;
    file.seek(io::SeekFrom::Start(0))?;
    Ok(file)
}

/// A Parquet or Arrow input's record batches.
pub(crate) struct Batches {
    /// The input as the user named it.
    pub path: PathBuf,
    /// Every column of the input.
    pub schema: SchemaRef,
    /// The file's size; 0 for a stream.
    len: u64,
    kind: Kind,
}

enum Kind {
    Parquet {
        data: Bytes,
        metadata: ArrowReaderMetadata,
    },
    ArrowFile(arrow_ipc::reader::FileReader<io::Cursor<Bytes>>),
    ArrowStream(arrow_ipc::reader::StreamReader<Box<dyn Read>>),
}

impl Batches {
    /// A Parquet or Arrow IPC file, memory-mapped.
    fn mapped(path: &Path, file: &File, sniffed: Sniffed) -> Result<Batches, IngestError> {
        // SAFETY: the map is only read. If another process truncates the
        // file while it is mapped, touching the lost pages raises SIGBUS;
        // these are the usual terms of reading a memory-mapped file.
        let map = unsafe { memmap2::Mmap::map(file) }.map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let data = Bytes::from_owner(map);
        let format_error = |message: String| IngestError::Format {
            path: path.to_path_buf(),
            message,
        };
        if sniffed == Sniffed::Parquet {
            let metadata = ArrowReaderMetadata::load(&data, ArrowReaderOptions::new())
                .map_err(|e| format_error(format!("not a readable Parquet file: {e}")))?;
            return Ok(Batches {
                path: path.to_path_buf(),
                schema: Arc::clone(metadata.schema()),
                len: data.len() as u64,
                kind: Kind::Parquet { data, metadata },
            });
        }
        let len = data.len() as u64;
        let reader = arrow_ipc::reader::FileReader::try_new(io::Cursor::new(data), None)
            .map_err(|e| format_error(format!("not a readable Arrow IPC file: {e}")))?;
        Ok(Batches {
            path: path.to_path_buf(),
            schema: reader.schema(),
            len,
            kind: Kind::ArrowFile(reader),
        })
    }

    /// An Arrow IPC stream.
    fn stream(path: &Path, reader: Box<dyn Read>) -> Result<Batches, IngestError> {
        let reader = arrow_ipc::reader::StreamReader::try_new(reader, None).map_err(|e| {
            IngestError::Format {
                path: path.to_path_buf(),
                message: format!("not a readable Arrow IPC stream: {e}"),
            }
        })?;
        Ok(Batches {
            path: path.to_path_buf(),
            schema: reader.schema(),
            len: 0,
            kind: Kind::ArrowStream(reader),
        })
    }

    /// The file's size in bytes; 0 for a stream.
    pub(crate) fn bytes(&self) -> u64 {
        self.len
    }

    /// The column names, for mapping roles.
    pub(crate) fn names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Calls `each` with the batches in file order, a wave at a time: each
    /// item is the file's row number (0-based) of the batch's first row and
    /// the batch, which holds the columns `columns` (indices into
    /// [`Self::schema`]) only, in ascending index order. The batches of one
    /// Parquet wave were decoded in parallel.
    pub(crate) fn read(
        self,
        columns: &[usize],
        each: &mut dyn FnMut(Vec<(u64, RecordBatch)>) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut columns = columns.to_vec();
        columns.sort_unstable();
        columns.dedup();
        let path = self.path;
        let decode_error = |what: &str, e: &dyn std::fmt::Display| IngestError::Format {
            path: path.clone(),
            message: format!("the {what} does not decode: {e}"),
        };
        match self.kind {
            Kind::Parquet { data, metadata } => {
                let groups = metadata.metadata().row_groups();
                let mut first_rows = Vec::with_capacity(groups.len());
                let mut row = 0u64;
                for group in groups {
                    first_rows.push(row);
                    row += group.num_rows().max(0) as u64;
                }
                let mask =
                    ProjectionMask::roots(metadata.parquet_schema(), columns.iter().copied());
                let mut next = 0;
                while next < groups.len() {
                    // A wave: groups up to its rows (at least one group).
                    let mut end = next;
                    let mut rows = 0;
                    while end < groups.len() && (end == next || rows < WAVE_ROWS) {
                        rows += groups[end].num_rows().max(0) as u64;
                        end += 1;
                    }
                    let decoded: Vec<Result<Vec<(u64, RecordBatch)>, IngestError>> = (next..end)
                        .into_par_iter()
                        .with_max_len(1)
                        .map(|g| {
                            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                                data.clone(),
                                metadata.clone(),
                            )
                            .with_projection(mask.clone())
                            .with_row_groups(vec![g])
                            .with_batch_size(BATCH_ROWS)
                            .build()
                            .map_err(|e| decode_error(&format!("row group {g}"), &e))?;
                            let mut row = first_rows[g];
                            let mut out = Vec::new();
                            for batch in reader {
                                let batch = batch
                                    .map_err(|e| decode_error(&format!("row group {g}"), &e))?;
                                let n = batch.num_rows() as u64;
                                out.push((row, batch));
                                row += n;
                            }
                            Ok(out)
                        })
                        .collect();
                    let mut wave = Vec::new();
                    for group in decoded {
                        wave.extend(group?);
                    }
                    each(wave)?;
                    next = end;
                }
                Ok(())
            }
            Kind::ArrowFile(reader) => read_ipc(
                reader,
                &columns,
                &mut |e| decode_error("Arrow file", e),
                each,
            ),
            Kind::ArrowStream(reader) => read_ipc(
                reader,
                &columns,
                &mut |e| decode_error("Arrow stream", e),
                each,
            ),
        }
    }
}

/// Arrow IPC batches, read one after another into waves.
fn read_ipc(
    reader: impl Iterator<Item = Result<RecordBatch, arrow_schema::ArrowError>>,
    columns: &[usize],
    error: &mut dyn FnMut(&dyn std::fmt::Display) -> IngestError,
    each: &mut dyn FnMut(Vec<(u64, RecordBatch)>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let mut wave = Vec::new();
    let (mut row, mut rows) = (0u64, 0u64);
    for batch in reader {
        let batch = batch.map_err(|e| error(&e))?;
        let batch = batch.project(columns).map_err(|e| error(&e))?;
        let n = batch.num_rows();
        // Large batches are cut, so a wave of one batch still uses every
        // core.
        let mut at = 0;
        while at < n {
            let len = BATCH_ROWS.min(n - at);
            wave.push((row + at as u64, batch.slice(at, len)));
            at += len;
        }
        row += n as u64;
        rows += n as u64;
        if rows >= WAVE_ROWS {
            each(std::mem::take(&mut wave))?;
            rows = 0;
        }
    }
    if !wave.is_empty() {
        each(wave)?;
    }
    Ok(())
}

/// Text values of a column: strings, dictionaries of strings, or other
/// types written as the text a CSV would hold.
enum Texts<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    /// A dictionary: each row's index into the values (`None` for null).
    Dictionary {
        keys: Vec<Option<u32>>,
        values: Box<Texts<'a>>,
    },
    /// Values written out once for the batch (integers, booleans).
    Written {
        bytes: Vec<u8>,
        ends: Vec<usize>,
        nulls: Option<NullBuffer>,
    },
}

impl<'a> Texts<'a> {
    /// The texts of `array`; `Err` with the type's name when it holds no
    /// text.
    fn of(array: &'a ArrayRef) -> Result<Texts<'a>, String> {
        Ok(match array.data_type() {
            DataType::Utf8 => Texts::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Texts::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Texts::View(array.as_string_view()),
            DataType::Dictionary(_, _) => {
                let dict = array
                    .as_any_dictionary_opt()
                    .ok_or_else(|| array.data_type().to_string())?;
                let values = dict.values();
                // Every key is null when the values are empty.
                let keys = if values.is_empty() {
                    vec![None; array.len()]
                } else {
                    let valid = |i: usize| dict.keys().is_valid(i);
                    dict.normalized_keys()
                        .into_iter()
                        .enumerate()
                        .map(|(i, k)| valid(i).then_some(k as u32))
                        .collect()
                };
                Texts::Dictionary {
                    keys,
                    values: Box::new(Texts::of(values)?),
                }
            }
            DataType::Boolean => {
                let values = array.as_boolean();
                written(array, |i, out| {
                    out.extend_from_slice(if values.value(i) { b"true" } else { b"false" })
                })
            }
            DataType::Int8 => write_ints(array.as_primitive::<Int8Type>()),
            DataType::Int16 => write_ints(array.as_primitive::<Int16Type>()),
            DataType::Int32 => write_ints(array.as_primitive::<Int32Type>()),
            DataType::Int64 => write_ints(array.as_primitive::<Int64Type>()),
            DataType::UInt8 => write_ints(array.as_primitive::<UInt8Type>()),
            DataType::UInt16 => write_ints(array.as_primitive::<UInt16Type>()),
            DataType::UInt32 => write_ints(array.as_primitive::<UInt32Type>()),
            DataType::UInt64 => write_ints(array.as_primitive::<UInt64Type>()),
            other => return Err(other.to_string()),
        })
    }

    /// Row `i`'s text; `None` when null.
    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            Texts::Utf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::View(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::Dictionary { keys, values } => values.get(keys[i]? as usize),
            Texts::Written { bytes, ends, nulls } => {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    return None;
                }
                let start = if i == 0 { 0 } else { ends[i - 1] };
                Some(&bytes[start..ends[i]])
            }
        }
    }
}

/// The texts `write(i, out)` gives each valid row of `array`.
fn written(array: &ArrayRef, mut write: impl FnMut(usize, &mut Vec<u8>)) -> Texts<'static> {
    let mut bytes = Vec::with_capacity(array.len() * 8);
    let mut ends = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        if array.is_valid(i) {
            write(i, &mut bytes);
        }
        ends.push(bytes.len());
    }
    Texts::Written {
        bytes,
        ends,
        nulls: array.logical_nulls(),
    }
}

fn write_ints<T>(values: &arrow_array::PrimitiveArray<T>) -> Texts<'static>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: itoa::Integer,
{
    let mut ints = itoa::Buffer::new();
    let array: ArrayRef = Arc::new(values.clone());
    written(&array, |i, out| {
        out.extend_from_slice(ints.format(values.value(i)).as_bytes())
    })
}

/// A time column.
enum Times<'a> {
    /// Milliseconds, worked out for the batch.
    Millis(Vec<i64>, Option<NullBuffer>),
    /// Text (strings, integers), parsed as the CSV reader parses it.
    Text(Texts<'a>),
}

/// An amount column.
enum Amounts<'a> {
    Decimal(&'a arrow_array::Decimal128Array, i8),
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    /// Integers and anything else, through their text.
    Text(Texts<'a>),
}

/// One batch of a log: its role columns, read row by row.
pub(super) struct LogColumns<'a> {
    user: Texts<'a>,
    time: Times<'a>,
    amount: Amounts<'a>,
    channel: Option<Texts<'a>>,
    status: Option<Texts<'a>>,
    peer: Option<Texts<'a>>,
    columns: &'a ResolvedColumns,
    /// Amounts of float columns, written as text for [`Money::parse`].
    float_text: ryu::Buffer,
    rows: usize,
}

/// The indices (into the input's schema) of the columns a log's roles use.
pub(crate) fn role_columns(columns: &ResolvedColumns) -> Vec<usize> {
    let mut used = vec![columns.user, columns.time, columns.amount];
    used.extend(columns.channel);
    used.extend(columns.status);
    used.extend(columns.peer);
    used.sort_unstable();
    used.dedup();
    used
}

impl<'a> LogColumns<'a> {
    /// The role columns of `batch`, which holds the columns of
    /// [`role_columns`] in that order. `Err` names a column whose type
    /// cannot hold its role.
    pub(super) fn new(
        batch: &'a RecordBatch,
        columns: &'a ResolvedColumns,
        schema: &SchemaRef,
    ) -> Result<LogColumns<'a>, String> {
        let used = role_columns(columns);
        let array = |index: usize| {
            let at = used.binary_search(&index).expect("a projected column");
            batch.column(at)
        };
        let wrong = |index: usize, role: &str, found: String| {
            format!(
                "column {} ({}) is of type {found}, which cannot hold the {role}",
                index + 1,
                schema.field(index).name()
            )
        };
        let texts = |index: usize, role: &str| {
            Texts::of(array(index)).map_err(|found| wrong(index, role, found))
        };
        let time_array = array(columns.time);
        let millis = |f: &dyn Fn(usize) -> i64| (0..time_array.len()).map(f).collect::<Vec<i64>>();
        let time = match time_array.data_type() {
            DataType::Timestamp(unit, _) => {
                let scale = |per_ms: i64| move |v: i64| v.div_euclid(per_ms);
                let values = match unit {
                    TimeUnit::Second => {
                        let a = time_array.as_primitive::<TimestampSecondType>();
                        millis(&|i| a.value(i).saturating_mul(1000))
                    }
                    TimeUnit::Millisecond => {
                        let a = time_array.as_primitive::<TimestampMillisecondType>();
                        millis(&|i| a.value(i))
                    }
                    TimeUnit::Microsecond => {
                        let a = time_array.as_primitive::<TimestampMicrosecondType>();
                        let to_ms = scale(1000);
                        millis(&|i| to_ms(a.value(i)))
                    }
                    TimeUnit::Nanosecond => {
                        let a = time_array.as_primitive::<TimestampNanosecondType>();
                        let to_ms = scale(1_000_000);
                        millis(&|i| to_ms(a.value(i)))
                    }
                };
                Times::Millis(values, time_array.logical_nulls())
            }
            DataType::Date32 => {
                let a = time_array.as_primitive::<Date32Type>();
                Times::Millis(
                    millis(&|i| i64::from(a.value(i)) * MS_PER_DAY),
                    time_array.logical_nulls(),
                )
            }
            DataType::Date64 => {
                let a = time_array.as_primitive::<Date64Type>();
                Times::Millis(millis(&|i| a.value(i)), time_array.logical_nulls())
            }
            _ => Times::Text(texts(columns.time, "transaction time")?),
        };
        let amount_array = array(columns.amount);
        let amount = match amount_array.data_type() {
            DataType::Decimal128(_, scale) => {
                Amounts::Decimal(amount_array.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Float64 => Amounts::F64(amount_array.as_primitive::<Float64Type>()),
            DataType::Float32 => Amounts::F32(amount_array.as_primitive::<Float32Type>()),
            DataType::Float16 => {
                let a = amount_array.as_primitive::<Float16Type>();
                let mut text = ryu::Buffer::new();
                Amounts::Text(written(amount_array, |i, out| {
                    out.extend_from_slice(text.format(f32::from(a.value(i))).as_bytes())
                }))
            }
            DataType::Boolean => {
                return Err(wrong(columns.amount, "amount", "boolean".into()));
            }
            _ => Amounts::Text(texts(columns.amount, "amount")?),
        };
        Ok(LogColumns {
            user: texts(columns.user, "user key")?,
            time,
            amount,
            channel: columns.channel.map(|c| texts(c, "channel")).transpose()?,
            status: columns.status.map(|c| texts(c, "status")).transpose()?,
            peer: columns.peer.map(|c| texts(c, "counterparty")).transpose()?,
            columns,
            float_text: ryu::Buffer::new(),
            rows: batch.num_rows(),
        })
    }

    /// Rows of the batch.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Row `i`'s fields, as [`super::fields::parse_row`] gives a CSV row's.
    #[inline]
    pub(super) fn fields(
        &mut self,
        i: usize,
        times: &mut TimeParser,
    ) -> Result<RowFields<'_>, FieldError> {
        let columns = self.columns;
        let key = self.user.get(i).unwrap_or_default();
        if key.is_empty() {
            return Err((Some(columns.user), RowErrorKind::EmptyKey));
        }
        let time_ms = match &self.time {
            Times::Millis(values, nulls) => {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    let error = times.parse(b"").expect_err("an empty time is an error");
                    return Err(time_error(columns, times, error, b""));
                }
                values[i]
            }
            Times::Text(texts) => {
                let text = texts.get(i).unwrap_or_default();
                times
                    .parse(text)
                    .map_err(|error| time_error(columns, times, error, text))?
            }
        };
        let amount = amount_of(&self.amount, i, &mut self.float_text)
            .map_err(|kind| (Some(columns.amount), kind))?;
        let channel = self
            .channel
            .as_ref()
            .and_then(|c| c.get(i))
            .filter(|c| !c.is_empty())
            .map(Name::new);
        let status = self
            .status
            .as_ref()
            .and_then(|s| s.get(i))
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty())
            .map(Name::new);
        let peer = self
            .peer
            .as_ref()
            .and_then(|p| p.get(i))
            .filter(|p| !p.is_empty());
        Ok(RowFields {
            key,
            key_word: pack_key(key),
            time_ms,
            amount,
            channel,
            status,
            peer,
        })
    }
}

fn time_error(
    columns: &ResolvedColumns,
    times: &TimeParser,
    error: crate::values::time::TimeError,
    text: &[u8],
) -> FieldError {
    (
        Some(columns.time),
        RowErrorKind::Time {
            error,
            format: times.format(),
            value: excerpt(text),
        },
    )
}

/// Nano-units per unit, as a power of ten.
const NANO_DIGITS: i8 = 9;

/// Amounts of 1e20 or more are refused, as in text.
const LIMIT: i128 = 100_000_000_000_000_000_000 * 1_000_000_000;

fn amount_of(
    amounts: &Amounts<'_>,
    i: usize,
    text: &mut ryu::Buffer,
) -> Result<Amount, RowErrorKind> {
    let from_text = |bytes: &[u8]| -> Result<Amount, RowErrorKind> {
        if let Some(nanos) = parse_nanos(bytes) {
            return Ok(Amount::Nanos(nanos));
        }
        let money = Money::parse(bytes).map_err(|error| RowErrorKind::Amount {
            error,
            value: excerpt(bytes),
        })?;
        Ok(match i64::try_from(money.0) {
            Ok(nanos) => Amount::Nanos(nanos),
            Err(_) => Amount::Wide(money),
        })
    };
    match amounts {
        Amounts::Decimal(a, scale) => {
            if a.is_null(i) {
                return from_text(b"");
            }
            let value = a.value(i);
            let too_large = || RowErrorKind::Amount {
                error: AmountError::TooLarge,
                value: excerpt(a.value_as_string(i).as_bytes()),
            };
            let nanos = if *scale <= NANO_DIGITS {
                10i128
                    .checked_pow(u32::from((NANO_DIGITS - scale).unsigned_abs()))
                    .and_then(|f| value.checked_mul(f))
                    .ok_or_else(too_large)?
            } else {
                // More than nine decimals: the tenth rounds half away from
                // zero, as in text.
                let divisor = 10i128.pow(u32::from((scale - NANO_DIGITS).unsigned_abs()));
                let (q, r) = (value / divisor, value % divisor);
                if 2 * r.abs() >= divisor {
                    q + value.signum()
                } else {
                    q
                }
            };
            if nanos.abs() >= LIMIT {
                return Err(too_large());
            }
            Ok(match i64::try_from(nanos) {
                Ok(n) => Amount::Nanos(n),
                Err(_) => Amount::Wide(Money(nanos)),
            })
        }
        Amounts::F64(a) => {
            if a.is_null(i) {
                return from_text(b"");
            }
            let x = a.value(i);
            match float_nanos(x) {
                Some(nanos) => Ok(Amount::Nanos(nanos)),
                None => from_text(text.format(x).as_bytes()),
            }
        }
        Amounts::F32(a) => {
            if a.is_null(i) {
                return from_text(b"");
            }
            from_text(text.format(a.value(i)).as_bytes())
        }
        Amounts::Text(texts) => from_text(texts.get(i).unwrap_or_default()),
    }
}

/// The nano-units of `x` when its shortest decimal text (what a CSV holds,
/// and what [`amount_of`] parses otherwise) has at most nine decimals and
/// `|x| < 2^20`, without writing the text: `None` leaves it to the text.
///
/// Below 2^20 a double's spacing is under 2.4e-10, so no two numbers of
/// nine decimals (1e-9 apart) round to the same double: if `n / 1e9`
/// rounds to `x` (division is correctly rounded, as parsing is), `n / 1e9`
/// is the only such number, and the shortest text, which has no more
/// decimals, is that number.
#[inline]
fn float_nanos(x: f64) -> Option<i64> {
    if x.is_nan() || x.abs() >= 1_048_576.0 {
        return None;
    }
    let n = (x * 1e9).round();
    (n / 1e9 == x).then_some(n as i64)
}

/// The time format of a file whose time column is text: `given` unless
/// `auto`, else detected from the first value that is recognised, as for
/// CSV. `Err` holds the first row's value when no value is.
pub(crate) fn settle_time_format(
    given: TimeFormat,
    batch: &RecordBatch,
    columns: &ResolvedColumns,
) -> Result<TimeFormat, Option<String>> {
    if given != TimeFormat::Auto {
        return Ok(given);
    }
    let used = role_columns(columns);
    let at = used
        .binary_search(&columns.time)
        .expect("a projected column");
    let array = batch.column(at);
    if matches!(
        array.data_type(),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
    ) {
        return Ok(TimeFormat::Iso);
    }
    let Ok(texts) = Texts::of(array) else {
        return Ok(TimeFormat::Iso);
    };
    let mut first = None;
    for i in 0..array.len() {
        let Some(text) = texts.get(i) else { continue };
        if let Some(format) = TimeFormat::detect(text) {
            return Ok(format);
        }
        first.get_or_insert_with(|| excerpt(text));
    }
    Err(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_give_the_nanos_of_their_shortest_text() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut text = ryu::Buffer::new();
        let mut fast = 0;
        for round in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Prices of a few decimals, and arbitrary doubles.
            let x = match round % 3 {
                0 => (state % 10_000_000) as f64 / 100.0,
                1 => ((state % 2_000_000_000) as f64 - 1e9) / 1e6,
                _ => f64::from_bits(state) % 2e6,
            };
            if !x.is_finite() {
                continue;
            }
            let want = Money::parse(text.format(x).as_bytes()).unwrap();
            if let Some(nanos) = float_nanos(x) {
                fast += 1;
                assert_eq!(i128::from(nanos), want.0, "{x:?}");
            }
        }
        assert!(fast > 100_000, "{fast} taken without text");
        assert_eq!(float_nanos(-0.0), Some(0));
        assert_eq!(float_nanos(f64::NAN), None);
        assert_eq!(float_nanos(0.1 + 0.2), None);
    }
}
