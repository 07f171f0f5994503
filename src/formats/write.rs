//! Writing a table as Parquet or Arrow IPC: record batches, made a slice
//! of rows at a time, streamed into any writer (standard output included).
//!
//! The tables (features, scores) describe their columns as an Arrow schema
//! and say how to make the record batch of a range of rows; this module
//! does the rest, the same way for every table:
//!
//! - Batches of [`BATCH_ROWS`] rows are made in parallel, a group of them
//!   (one per core, at most [`GROUP_BATCHES`]) at a time, while the group
//!   before is written (as the CSV writers format rows). Only two groups,
//!   at most a million rows, are in memory at once in Arrow form: a table
//!   of millions of users never exists whole a second time beside its
//!   source.
//! - Parquet: zstd (see [`ZSTD_LEVEL`]), dictionary encoding (for strings,
//!   and for numbers with few distinct values, which the writer gives up
//!   on by itself where it does not pay), page statistics, row groups of
//!   [`ROW_GROUP_ROWS`] rows. `created_by` is left to the parquet crate:
//!   it names the library that laid out the bytes, which is what readers
//!   use it for (working around known writer bugs).
//! - Arrow IPC, file or stream format, uncompressed: buffer compression
//!   is an optional part of the format (since Arrow 2.0) that not every
//!   reader has (Arrow Java, under Spark, needs a codec module added;
//!   older PyArrow and several other implementations refuse such files),
//!   and an Arrow file is read by mapping it into memory, which
//!   compressed buffers defeat. Whoever wants a small file writes Parquet.
//!
//! Every error is an [`io::Error`], with the kind of the underlying one
//! where there is one (a closed pipe stays [`io::ErrorKind::BrokenPipe`]).

use std::io::{self, Write};
use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, StreamWriter};
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use super::TableFormat;

/// Rows in one record batch: enough that per-batch costs (an IPC message
/// header, handing the columns to the Parquet encoders) vanish, few
/// enough that a batch of features is about 15 MB.
pub const BATCH_ROWS: usize = 1 << 16;

/// Batches made at once, at most: one per core keeps every core busy,
/// and a bound keeps the rows in memory in Arrow form (two groups) to a
/// million however many cores there are.
pub const GROUP_BATCHES: usize = 8;

/// Rows in one Parquet row group (the parquet crate's default, and
/// PyArrow's): a reader parallelises and skips by row group, and a million
/// rows of a few dozen numeric columns compress to some tens of megabytes,
/// which the writer holds until the row group is complete.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

// Batches are made from row 0 on, so that none straddles two row groups.
const _: () = assert!(ROW_GROUP_ROWS.is_multiple_of(BATCH_ROWS));

/// The zstd level of Parquet files. Measured on the features of 945,133
/// users (26 columns, from 20,000,000 generated transactions; release
/// build, 8 alternating runs on a 2-core machine), writing into memory:
///
/// | level | file | CPU time, least | median |
/// |---|---|---|---|
/// | 1 | 39.7 MB | 1.46 s | 2.07 s |
/// | 3 | 36.4 MB | 1.69 s | 2.49 s |
///
/// (CSV: 211 MB, 1.03 s and 1.49 s.) Level 3 saves 8% of the size for 16
/// to 20% more time: the columns are mostly numbers that dictionary and
/// run-length encoding have already shrunk, which leaves the compressor
/// little to find. Level 1 is also Arrow C++'s (PyArrow's) default zstd
/// level.
pub const ZSTD_LEVEL: i32 = 1;

/// Writes the `rows` rows of a table as `format` into `out`; `batch(range)`
/// makes the record batch of the rows `range`, of `schema`. The batches are
/// written in row order.
///
/// # Errors
///
/// Those of `out`, and of making the batches; `format` CSV is
/// [`io::ErrorKind::InvalidInput`] (a table writes its own CSV).
pub fn write_batches(
    out: &mut (dyn Write + Send),
    format: TableFormat,
    schema: &SchemaRef,
    rows: usize,
    batch: impl Fn(Range<usize>) -> Result<RecordBatch, ArrowError> + Sync,
) -> io::Result<()> {
    let mut sink = Sink::new(out, format, schema)?;
    let group_rows = BATCH_ROWS * rayon::current_num_threads().clamp(1, GROUP_BATCHES);
    let make = |group: usize| -> Result<Vec<RecordBatch>, ArrowError> {
        let start = (group * group_rows).min(rows);
        let end = (start + group_rows).min(rows);
        (start..end)
            .into_par_iter()
            .step_by(BATCH_ROWS)
            .map(|first| batch(first..(first + BATCH_ROWS).min(end)))
            .collect()
    };
    let groups = rows.div_ceil(group_rows);
    let mut made = make(0).map_err(arrow_io)?;
    for next in 1..=groups {
        let mut following = Ok(Vec::new());
        rayon::in_place_scope(|scope| {
            if next < groups {
                scope.spawn(|_| following = make(next));
            }
            made.iter().try_for_each(|b| sink.write(b))
        })?;
        made = following.map_err(arrow_io)?;
    }
    sink.finish()?;
    out.flush()
}

/// The writer of one format.
enum Sink<'w> {
    Parquet(ParquetSink<'w>),
    ArrowFile(FileWriter<&'w mut (dyn Write + Send)>),
    ArrowStream(StreamWriter<&'w mut (dyn Write + Send)>),
}

impl<'w> Sink<'w> {
    fn new(
        out: &'w mut (dyn Write + Send),
        format: TableFormat,
        schema: &SchemaRef,
    ) -> io::Result<Self> {
        Ok(match format {
            TableFormat::Parquet => {
                Sink::Parquet(ParquetSink::new(out, schema).map_err(parquet_io)?)
            }
            TableFormat::ArrowFile => {
                Sink::ArrowFile(FileWriter::try_new(out, schema).map_err(arrow_io)?)
            }
            TableFormat::ArrowStream => {
                Sink::ArrowStream(StreamWriter::try_new(out, schema).map_err(arrow_io)?)
            }
            TableFormat::Csv => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "CSV is not written as record batches",
                ));
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        match self {
            Sink::Parquet(w) => w.write(batch).map_err(parquet_io),
            Sink::ArrowFile(w) => w.write(batch).map_err(arrow_io),
            Sink::ArrowStream(w) => w.write(batch).map_err(arrow_io),
        }
    }

    /// Writes what is buffered and the format's end (Parquet's footer, the
    /// Arrow file's footer, the stream's end-of-stream marker).
    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Parquet(w) => w.finish().map_err(parquet_io),
            Sink::ArrowFile(mut w) => w.finish().map_err(arrow_io),
            Sink::ArrowStream(mut w) => w.finish().map_err(arrow_io),
        }
    }
}

/// A Parquet file whose columns are encoded and compressed in parallel.
///
/// The parquet crate's [`ArrowWriter`] encodes one column after the other
/// on the calling thread: for the features of 779,706 users, 0.55 to 1.09
/// s of that thread (measured), while the other cores, the next batches
/// made, had nothing to do. Here each column has its own writer, and every
/// batch is handed to all of them at once; the bytes are the same as
/// [`ArrowWriter`]'s with the same settings (a test checks it).
struct ParquetSink<'w> {
    file: SerializedFileWriter<&'w mut (dyn Write + Send)>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The writers of the row group being filled, one per leaf column;
    /// empty before its first batch.
    columns: Vec<ArrowColumnWriter>,
    /// Rows in the row group being filled.
    rows: usize,
}

impl<'w> ParquetSink<'w> {
    fn new(out: &'w mut (dyn Write + Send), schema: &SchemaRef) -> Result<Self, ParquetError> {
        // Through ArrowWriter, for the file writer it sets up: the Arrow
        // schema stored in the file's metadata (which readers take the
        // Arrow types from) and the Parquet schema it converts to.
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(parquet_properties()?))?;
        let (file, factory) = writer.into_serialized_writer()?;
        Ok(ParquetSink {
            file,
            factory,
            schema: schema.clone(),
            columns: Vec::new(),
            rows: 0,
        })
    }

    /// Encodes `batch` into the row group being filled, column by column in
    /// parallel, and writes the row group out once it has
    /// [`ROW_GROUP_ROWS`] rows (which batches of [`BATCH_ROWS`] rows fill
    /// exactly).
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        if self.columns.is_empty() {
            let index = self.file.flushed_row_groups().len();
            self.columns = self.factory.create_column_writers(index)?;
        }
        let mut leaves = Vec::with_capacity(self.columns.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        self.columns
            .par_iter_mut()
            .zip(leaves)
            .try_for_each(|(writer, leaf)| writer.write(&leaf))?;
        self.rows += batch.num_rows();
        if self.rows >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the columns of the row group being filled (compressing their
    /// last pages in parallel) and writes it.
    fn flush(&mut self) -> Result<(), ParquetError> {
        let chunks: Vec<ArrowColumnChunk> = std::mem::take(&mut self.columns)
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<_, _>>()?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer.
    fn finish(mut self) -> Result<(), ParquetError> {
        if !self.columns.is_empty() {
            self.flush()?;
        }
        self.file.close().map(drop)
    }
}

/// The Parquet settings of every table (see the module's documentation).
fn parquet_properties() -> Result<WriterProperties, ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build())
}

/// An Arrow error as an I/O error, keeping the kind of one that was one.
fn arrow_io(error: ArrowError) -> io::Error {
    match error {
        ArrowError::IoError(_, source) => source,
        ArrowError::ExternalError(source) => boxed_io(source),
        other => io::Error::other(other),
    }
}

/// A Parquet error as an I/O error, keeping the kind of one that was one.
fn parquet_io(error: ParquetError) -> io::Error {
    match error {
        ParquetError::External(source) => boxed_io(source),
        other => io::Error::other(other),
    }
}

/// A boxed error as an I/O error: itself when it is one.
fn boxed_io(source: Box<dyn std::error::Error + Send + Sync>) -> io::Error {
    match source.downcast::<io::Error>() {
        Ok(io) => *io,
        Err(other) => io::Error::other(other),
    }
}

/// Reading written tables back, and comparing them with their CSV form:
/// for the tests of every table's writer.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{Cursor, Seek, Write};

    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
        UInt8Type, UInt32Type,
    };
    use arrow_array::{Array, RecordBatch};
    use arrow_ipc::reader::{FileReader, StreamReader};
    use arrow_schema::{DataType, SchemaRef, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use crate::formats::TableFormat;
    use crate::values::amount::Money;
    use crate::values::time::format_iso;

    /// The columnar formats.
    pub(crate) const FORMATS: [TableFormat; 3] = [
        TableFormat::Parquet,
        TableFormat::ArrowFile,
        TableFormat::ArrowStream,
    ];

    /// The schema and batches of a table written as `format`, and for
    /// Parquet the rows of each row group.
    pub(crate) fn read_back(
        bytes: &[u8],
        format: TableFormat,
    ) -> (SchemaRef, Vec<RecordBatch>, Vec<i64>) {
        match format {
            TableFormat::Parquet => {
                let mut file = tempfile::tempfile().unwrap();
                file.write_all(bytes).unwrap();
                file.rewind().unwrap();
                let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
                let groups = builder
                    .metadata()
                    .row_groups()
                    .iter()
                    .map(|g| g.num_rows())
                    .collect();
                let schema = builder.schema().clone();
                let batches = builder.build().unwrap().map(Result::unwrap).collect();
                (schema, batches, groups)
            }
            TableFormat::ArrowFile => {
                let reader = FileReader::try_new(Cursor::new(bytes), None).unwrap();
                let schema = reader.schema();
                (schema, reader.map(Result::unwrap).collect(), Vec::new())
            }
            TableFormat::ArrowStream => {
                let reader = StreamReader::try_new(Cursor::new(bytes), None).unwrap();
                let schema = reader.schema();
                (schema, reader.map(Result::unwrap).collect(), Vec::new())
            }
            TableFormat::Csv => unreachable!("CSV is read by the csv crate"),
        }
    }

    /// Asserts that `batches` hold the same table as `csv`: the same
    /// header, rows and, cell by cell, the value the CSV spells (a float
    /// the same bits as its text reads back as; null where the cell is
    /// empty).
    pub(crate) fn assert_same_as_csv(schema: &SchemaRef, batches: &[RecordBatch], csv: &[u8]) {
        let mut reader = csv::Reader::from_reader(csv);
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, header.iter().collect::<Vec<_>>());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, records.len());
        let mut records = records.iter();
        for batch in batches {
            for row in 0..batch.num_rows() {
                let record = records.next().unwrap();
                for (j, column) in batch.columns().iter().enumerate() {
                    let cell = &record[j];
                    let name = &header[j];
                    let value = cell_of(column.as_ref(), row);
                    assert_eq!(
                        value.as_deref(),
                        (!cell.is_empty())
                            .then_some(cell)
                            .map(|c| { canonical(column.data_type(), c) })
                            .as_deref(),
                        "{name}, row {row}: {value:?} against the CSV's {cell:?}"
                    );
                }
            }
        }
    }

    /// A CSV cell as [`cell_of`] spells its value: floats by their bits.
    fn canonical(data_type: &DataType, cell: &str) -> String {
        match data_type {
            DataType::Float64 => bits64(cell.parse().unwrap()),
            DataType::Float32 => bits32(cell.parse().unwrap()),
            _ => cell.to_string(),
        }
    }

    fn bits64(x: f64) -> String {
        if x.is_nan() {
            "NaN".into()
        } else {
            format!("f64 {:#x}", x.to_bits())
        }
    }

    fn bits32(x: f32) -> String {
        if x.is_nan() {
            "NaN".into()
        } else {
            format!("f32 {:#x}", x.to_bits())
        }
    }

    /// Value `row` of `column` as its CSV cell would be, floats by their
    /// bits; `None` for a null.
    fn cell_of(column: &dyn Array, row: usize) -> Option<String> {
        if column.is_null(row) {
            return None;
        }
        Some(match column.data_type() {
            DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
            DataType::Dictionary(key, value)
                if **key == DataType::Int32 && **value == DataType::Utf8 =>
            {
                let dictionary = column.as_dictionary::<Int32Type>();
                let key = dictionary.keys().value(row) as usize;
                dictionary
                    .values()
                    .as_string::<i32>()
                    .value(key)
                    .to_string()
            }
            DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
            DataType::UInt32 => column.as_primitive::<UInt32Type>().value(row).to_string(),
            DataType::UInt8 => column.as_primitive::<UInt8Type>().value(row).to_string(),
            DataType::Decimal128(38, 9) => {
                Money(column.as_primitive::<Decimal128Type>().value(row)).to_string()
            }
            DataType::Timestamp(TimeUnit::Millisecond, Some(zone)) if zone.as_ref() == "UTC" => {
                format_iso(column.as_primitive::<TimestampMillisecondType>().value(row))
            }
            DataType::Float64 => bits64(column.as_primitive::<Float64Type>().value(row)),
            DataType::Float32 => bits32(column.as_primitive::<Float32Type>().value(row)),
            DataType::Boolean => column.as_boolean().value(row).to_string(),
            other => panic!("no CSV form for {other}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::testing::{FORMATS, read_back};
    use super::*;

    fn keys_and_numbers() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]))
    }

    /// Writes rows `0..rows` of (`k<i>`, i) as `format`.
    fn write_numbers(rows: usize, format: TableFormat) -> Vec<u8> {
        let schema = keys_and_numbers();
        let mut out = Vec::new();
        write_batches(&mut out, format, &schema, rows, |range| {
            let keys = StringArray::from_iter_values(range.clone().map(|i| format!("k{i}")));
            let numbers = Int64Array::from_iter_values(range.map(|i| i as i64));
            RecordBatch::try_new(schema.clone(), vec![Arc::new(keys), Arc::new(numbers)])
        })
        .unwrap();
        out
    }

    #[test]
    fn batches_arrive_whole_and_in_order() {
        // Four batches: three whole, one partial; and an empty table.
        for rows in [200_000, 0] {
            for format in FORMATS {
                let (schema, batches, _) = read_back(&write_numbers(rows, format), format);
                assert_eq!(schema.fields(), keys_and_numbers().fields());
                let mut next = 0;
                for batch in &batches {
                    let keys = batch.column(0).as_string::<i32>();
                    let numbers = batch.column(1).as_primitive::<Int64Type>();
                    for (key, n) in keys.iter().zip(numbers.iter()) {
                        assert_eq!((key, n), (Some(format!("k{next}").as_str()), Some(next)));
                        next += 1;
                    }
                }
                assert_eq!(next, rows as i64, "{format:?}");
            }
        }
    }

    #[test]
    fn parquet_row_groups_hold_a_million_rows() {
        let rows = ROW_GROUP_ROWS + 3;
        let (_, batches, groups) = read_back(
            &write_numbers(rows, TableFormat::Parquet),
            TableFormat::Parquet,
        );
        assert_eq!(groups, [ROW_GROUP_ROWS as i64, 3]);
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows
        );
    }

    #[test]
    fn the_same_bytes_as_the_parquet_crates_own_writer() {
        let schema = keys_and_numbers();
        let mut expected = Vec::new();
        let mut writer = ArrowWriter::try_new(
            &mut expected,
            schema.clone(),
            Some(parquet_properties().unwrap()),
        )
        .unwrap();
        let keys = StringArray::from_iter_values((0..100_000).map(|i| format!("k{i}")));
        let numbers = Int64Array::from_iter_values(0..100_000);
        let whole = RecordBatch::try_new(schema, vec![Arc::new(keys), Arc::new(numbers)]).unwrap();
        writer.write(&whole).unwrap();
        writer.close().unwrap();
        assert_eq!(write_numbers(100_000, TableFormat::Parquet), expected);
    }

    /// A writer whose reader has gone away.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn errors_keep_their_kind() {
        let schema = keys_and_numbers();
        for format in FORMATS {
            let error = write_batches(&mut ClosedPipe, format, &schema, 10, |range| {
                let keys = StringArray::from_iter_values(range.clone().map(|i| i.to_string()));
                let numbers = Int64Array::from_iter_values(range.map(|i| i as i64));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(keys), Arc::new(numbers)])
            })
            .unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::BrokenPipe,
                "{format:?}: {error}"
            );
        }
        let csv = write_batches(&mut Vec::new(), TableFormat::Csv, &schema, 0, |_| {
            unreachable!("no batch is made")
        });
        assert_eq!(csv.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
