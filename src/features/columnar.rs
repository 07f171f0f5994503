//! The feature table as Parquet or Arrow IPC (`segmint features -o
//! features.parquet`): the columns of the CSV form, in its order and with
//! its names, each with the type its values have.
//!
//! | column | Arrow type | why |
//! |---|---|---|
//! | `user_id` | `Utf8` | keys are checked to be UTF-8 while reading |
//! | `frequency` | `Int64` | a count; signed, as every engine reads it |
//! | `monetary` | `Decimal128(38, 9)` | the exact sum in nano-units, as the CSV's decimal text: no rounding through a float |
//! | `first_seen`, `last_seen` | `Timestamp(Millisecond, "UTC")` | the millisecond times the CSV spells in ISO 8601 UTC |
//! | `recency_days`, `tenure_days` | `Float64` | fractional days |
//! | `active_days`, `active_hours`, `active_span_days`, `age_days` | `Int64` | counts of days and hours |
//! | `gap_days`, `repeat_spend` | `Float64`, nullable | null where the CSV cell is empty (one active day) |
//! | `channel_diversity` | `Int64`, nullable | null without a channel column |
//! | `share_<channel>` | `Float64` | |
//! | `success_rate`, `failure_rate` | `Float64`, nullable | null without a status |
//! | `avg_daily_volume`, `avg_daily_last_7d` | `Float64` | |
//! | `avg_daily_prev`, `usage_trend`, `cadence_trend` | `Float64`, nullable | null where the CSV cell is empty |
//! | `is_dormant` | `Boolean` | |
//!
//! Every number is the one the CSV spells: integers and the decimal
//! exactly, and each float the `f64` its CSV text reads back as (the CSV
//! writes `-0` as `0`, so a negative zero is written as zero here too).
//!
//! The schema's metadata carries what a CSV cannot: `segmint.as_of` (the
//! reference time, ISO 8601 UTC), `segmint.window_days` (the observation
//! window, in days) and `segmint.trend_days` (the trend window of
//! `cadence_trend`), so a later job can tell how the features were made.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use super::cadence::Cadence;
use super::table::{FeatureRows, FeatureTable, UserFeatures};
use crate::formats::TableFormat;
use crate::formats::write::write_batches;
use crate::values::time::format_iso;

/// The time zone of `first_seen` and `last_seen`.
const UTC: &str = "UTC";

/// `monetary`'s precision and scale: nano-units (9 decimals), and the most
/// digits a 128-bit decimal holds.
const MONEY_PRECISION: u8 = 38;
const MONEY_SCALE: i8 = 9;

impl FeatureTable {
    /// Writes the table as `format` (Parquet or Arrow IPC): the same rows
    /// and columns as [`FeatureTable::write_csv`], typed (see the module's
    /// documentation).
    ///
    /// # Errors
    ///
    /// Those of `out`; a `monetary` of more than 38 digits; `format` CSV is
    /// [`io::ErrorKind::InvalidInput`].
    pub fn write_table(&self, out: &mut (dyn Write + Send), format: TableFormat) -> io::Result<()> {
        let schema = schema(
            &self.column_names(),
            self.as_of_ms,
            self.window_days,
            &self.cadence,
        );
        write_batches(out, format, &schema, self.users.len(), |rows| {
            let mut columns = Columns::new(rows.len(), self.channels.len());
            for row in rows {
                let user = &self.users[row];
                columns.push(user.user_id.as_str(), user, self.shares(row))?;
            }
            columns.finish(&schema)
        })
    }
}

impl FeatureRows {
    /// Writes the features as `format` (Parquet or Arrow IPC): the same
    /// rows and columns as [`FeatureRows::write_csv`], typed (see the
    /// module's documentation).
    ///
    /// # Errors
    ///
    /// Those of `out`; a `monetary` of more than 38 digits; `format` CSV is
    /// [`io::ErrorKind::InvalidInput`].
    pub fn write_table(&self, out: &mut (dyn Write + Send), format: TableFormat) -> io::Result<()> {
        let schema = schema(
            &self.column_names(),
            self.as_of_ms,
            self.window_days,
            &self.cadence,
        );
        write_batches(out, format, &schema, self.len(), |rows| {
            let mut columns = Columns::new(rows.len(), self.channels.len());
            let mut pushed = Ok(());
            self.each_row(rows, |key, user, shares| {
                if pushed.is_ok() {
                    // Keys were checked to be UTF-8 while reading.
                    pushed = columns.push(&String::from_utf8_lossy(key), user, shares);
                }
            });
            pushed?;
            columns.finish(&schema)
        })
    }
}

/// The Arrow schema of a feature table whose CSV header is `names`.
fn schema(names: &[String], as_of_ms: i64, window_days: i64, cadence: &Cadence) -> SchemaRef {
    let fields: Vec<Field> = names
        .iter()
        .map(|name| {
            let (data_type, nullable) = column_type(name);
            Field::new(name.as_str(), data_type, nullable)
        })
        .collect();
    let metadata = HashMap::from([
        ("segmint.as_of".to_string(), format_iso(as_of_ms)),
        ("segmint.window_days".to_string(), window_days.to_string()),
        (
            "segmint.trend_days".to_string(),
            cadence.trend_days.to_string(),
        ),
    ]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// The type of the feature column `name`, and whether it may be null.
fn column_type(name: &str) -> (DataType, bool) {
    match name {
        "user_id" => (DataType::Utf8, false),
        "monetary" => (DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE), false),
        "first_seen" | "last_seen" => (
            DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into())),
            false,
        ),
        "frequency" | "active_days" | "active_hours" | "active_span_days" | "age_days" => {
            (DataType::Int64, false)
        }
        "channel_diversity" => (DataType::Int64, true),
        "gap_days" | "repeat_spend" | "success_rate" | "failure_rate" | "avg_daily_prev"
        | "usage_trend" | "cadence_trend" => (DataType::Float64, true),
        "is_dormant" => (DataType::Boolean, false),
        // recency_days, tenure_days, the channel shares and the daily
        // averages.
        _ => (DataType::Float64, false),
    }
}

/// The float the CSV's text of `x` reads back as: the CSV writes `-0` as
/// `0` (and every other float in its shortest exact form).
fn as_printed(x: f64) -> f64 {
    x + 0.0
}

/// The columns of one batch, filled row by row.
struct Columns {
    user_id: StringBuilder,
    frequency: Int64Builder,
    monetary: Decimal128Builder,
    first_seen: TimestampMillisecondBuilder,
    last_seen: TimestampMillisecondBuilder,
    recency_days: Float64Builder,
    tenure_days: Float64Builder,
    active_days: Int64Builder,
    active_hours: Int64Builder,
    active_span_days: Int64Builder,
    age_days: Int64Builder,
    gap_days: Float64Builder,
    repeat_spend: Float64Builder,
    channel_diversity: Int64Builder,
    shares: Vec<Float64Builder>,
    success_rate: Float64Builder,
    failure_rate: Float64Builder,
    avg_daily_volume: Float64Builder,
    avg_daily_last_7d: Float64Builder,
    avg_daily_prev: Float64Builder,
    usage_trend: Float64Builder,
    cadence_trend: Float64Builder,
    is_dormant: BooleanBuilder,
}

/// Key bytes reserved per row: most keys are shorter.
const KEY_BYTES: usize = 16;

impl Columns {
    fn new(rows: usize, channels: usize) -> Self {
        let ints = || Int64Builder::with_capacity(rows);
        let floats = || Float64Builder::with_capacity(rows);
        let times = || TimestampMillisecondBuilder::with_capacity(rows).with_timezone(UTC);
        Columns {
            user_id: StringBuilder::with_capacity(rows, rows * KEY_BYTES),
            frequency: ints(),
            monetary: Decimal128Builder::with_capacity(rows),
            first_seen: times(),
            last_seen: times(),
            recency_days: floats(),
            tenure_days: floats(),
            active_days: ints(),
            active_hours: ints(),
            active_span_days: ints(),
            age_days: ints(),
            gap_days: floats(),
            repeat_spend: floats(),
            channel_diversity: ints(),
            shares: (0..channels).map(|_| floats()).collect(),
            success_rate: floats(),
            failure_rate: floats(),
            avg_daily_volume: floats(),
            avg_daily_last_7d: floats(),
            avg_daily_prev: floats(),
            usage_trend: floats(),
            cadence_trend: floats(),
            is_dormant: BooleanBuilder::with_capacity(rows),
        }
    }

    /// Appends one user: its key, features and channel shares.
    fn push(&mut self, key: &str, user: &UserFeatures, shares: &[f64]) -> Result<(), ArrowError> {
        // A sum of amounts below 1e20 each would need a billion of the
        // largest to leave 38 digits; refuse it rather than write a
        // decimal that readers reject.
        if user.monetary.0.unsigned_abs() >= 10u128.pow(u32::from(MONEY_PRECISION)) {
            return Err(ArrowError::InvalidArgumentError(format!(
                "the monetary sum of user {key:?} ({}) has more than {MONEY_PRECISION} digits",
                user.monetary
            )));
        }
        let float = |b: &mut Float64Builder, x: f64| b.append_value(as_printed(x));
        let maybe = |b: &mut Float64Builder, x: Option<f64>| b.append_option(x.map(as_printed));
        // Counts of transactions, days and hours: far below 2^63.
        let count = |b: &mut Int64Builder, n: u64| b.append_value(n as i64);
        self.user_id.append_value(key);
        count(&mut self.frequency, user.frequency);
        self.monetary.append_value(user.monetary.0);
        self.first_seen.append_value(user.first_seen_ms);
        self.last_seen.append_value(user.last_seen_ms);
        float(&mut self.recency_days, user.recency_days);
        float(&mut self.tenure_days, user.tenure_days);
        count(&mut self.active_days, user.active_days);
        count(&mut self.active_hours, user.active_hours);
        self.active_span_days.append_value(user.active_span_days);
        self.age_days.append_value(user.age_days);
        maybe(&mut self.gap_days, user.gap_days);
        maybe(&mut self.repeat_spend, user.repeat_spend);
        self.channel_diversity
            .append_option(user.channel_diversity.map(|d| d as i64));
        for (column, &share) in self.shares.iter_mut().zip(shares) {
            float(column, share);
        }
        maybe(&mut self.success_rate, user.success_rate);
        maybe(&mut self.failure_rate, user.failure_rate);
        float(&mut self.avg_daily_volume, user.avg_daily_volume);
        float(&mut self.avg_daily_last_7d, user.avg_daily_last_7d);
        maybe(&mut self.avg_daily_prev, user.avg_daily_prev);
        maybe(&mut self.usage_trend, user.usage_trend);
        maybe(&mut self.cadence_trend, user.cadence_trend);
        self.is_dormant.append_value(user.is_dormant);
        Ok(())
    }

    /// The batch, in the CSV's column order.
    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let monetary = self
            .monetary
            .finish()
            .with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.user_id.finish()),
            Arc::new(self.frequency.finish()),
            Arc::new(monetary),
            Arc::new(self.first_seen.finish()),
            Arc::new(self.last_seen.finish()),
            Arc::new(self.recency_days.finish()),
            Arc::new(self.tenure_days.finish()),
            Arc::new(self.active_days.finish()),
            Arc::new(self.active_hours.finish()),
            Arc::new(self.active_span_days.finish()),
            Arc::new(self.age_days.finish()),
            Arc::new(self.gap_days.finish()),
            Arc::new(self.repeat_spend.finish()),
            Arc::new(self.channel_diversity.finish()),
        ];
        columns.extend(
            self.shares
                .iter_mut()
                .map(|share| Arc::new(share.finish()) as ArrayRef),
        );
        columns.extend([
            Arc::new(self.success_rate.finish()) as ArrayRef,
            Arc::new(self.failure_rate.finish()),
            Arc::new(self.avg_daily_volume.finish()),
            Arc::new(self.avg_daily_last_7d.finish()),
            Arc::new(self.avg_daily_prev.finish()),
            Arc::new(self.usage_trend.finish()),
            Arc::new(self.cadence_trend.finish()),
            Arc::new(self.is_dormant.finish()),
        ]);
        RecordBatch::try_new(schema.clone(), columns)
    }
}

#[cfg(test)]
mod tests {
    use arrow_schema::{DataType, TimeUnit};

    use super::*;
    use crate::features::table::FeatureOptions;
    use crate::formats::write::testing::{FORMATS, assert_same_as_csv, read_back};
    use crate::ingest::{IngestOptions, ingest};

    /// The rows of a small log: refunds, a key to quote, users with one
    /// active day (empty gap and repeat spend), a user without statuses
    /// (empty rates), times to the millisecond, four channels.
    fn rows() -> FeatureRows {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tx.csv");
        std::fs::write(
            &log,
            "user_id,created_at,total_price,channel,status\n\
             u1,2025-03-01 10:00:00,2.50,SMS,delivered\n\
             u1,2025-03-02 11:00:00,-0.50,Email,failed\n\
             u1,2025-03-20 09:30:00.250,1.25,SMS,read\n\
             \"k,2\",2025-03-02 12:00:00,1,Push,\n\
             u3,2025-02-01 08:00:00,0.000000001,WhatsApp,delivered\n\
             u3,2025-03-21 23:59:59.123,-7,WhatsApp,bounced\n\
             u3,2025-03-21 23:59:59.123,123456789.987654321,WhatsApp,clicked\n\
             u4,2025-03-21 20:00:00,0,SMS,failed\n",
        )
        .unwrap();
        let ingested = ingest(&[log.into()], &IngestOptions::default(), &|_| {}).unwrap();
        FeatureRows::from_aggregate(
            ingested.aggregate,
            ingested.has_channel,
            ingested.has_status,
            &FeatureOptions::default(),
        )
        .unwrap()
    }

    /// The types of the columns, in order.
    fn expected_types() -> Vec<(&'static str, DataType, bool)> {
        let float = |name| (name, DataType::Float64, false);
        let maybe = |name| (name, DataType::Float64, true);
        let int = |name| (name, DataType::Int64, false);
        let time = |name| {
            let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
            (name, utc, false)
        };
        vec![
            ("user_id", DataType::Utf8, false),
            int("frequency"),
            ("monetary", DataType::Decimal128(38, 9), false),
            time("first_seen"),
            time("last_seen"),
            float("recency_days"),
            float("tenure_days"),
            int("active_days"),
            int("active_hours"),
            int("active_span_days"),
            int("age_days"),
            maybe("gap_days"),
            maybe("repeat_spend"),
            ("channel_diversity", DataType::Int64, true),
            float("share_Email"),
            float("share_Push"),
            float("share_SMS"),
            float("share_WhatsApp"),
            maybe("success_rate"),
            maybe("failure_rate"),
            float("avg_daily_volume"),
            float("avg_daily_last_7d"),
            maybe("avg_daily_prev"),
            maybe("usage_trend"),
            maybe("cadence_trend"),
            ("is_dormant", DataType::Boolean, false),
        ]
    }

    /// Writes `write`'s table in every format; returns the CSV and the
    /// other formats' bytes.
    fn every_format(
        write_csv: impl Fn(&mut Vec<u8>) -> io::Result<()>,
        write_table: impl Fn(&mut Vec<u8>, TableFormat) -> io::Result<()>,
    ) -> (Vec<u8>, Vec<(TableFormat, Vec<u8>)>) {
        let mut csv = Vec::new();
        write_csv(&mut csv).unwrap();
        let tables = FORMATS
            .iter()
            .map(|&format| {
                let mut out = Vec::new();
                write_table(&mut out, format).unwrap();
                (format, out)
            })
            .collect();
        (csv, tables)
    }

    #[test]
    fn every_cell_as_the_csv_has_it() {
        let rows = rows();
        let (csv, tables) = every_format(
            |out| rows.write_csv(out),
            |out, format| rows.write_table(out, format),
        );
        let text = String::from_utf8(csv.clone()).unwrap();
        // The log has what the comparison must cover.
        assert!(text.contains("\"k,2\""), "{text}");
        assert!(text.contains(",123456782.987654322,"), "{text}");
        assert!(text.contains("2025-03-21T23:59:59.123Z"), "{text}");
        for (format, bytes) in &tables {
            let (schema, batches, _) = read_back(bytes, *format);
            let types: Vec<(&str, DataType, bool)> = schema
                .fields()
                .iter()
                .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
                .collect();
            assert_eq!(types, expected_types(), "{format:?}");
            assert_same_as_csv(&schema, &batches, &csv);
            let metadata = schema.metadata();
            assert_eq!(metadata["segmint.as_of"], "2025-03-21T23:59:59.123Z");
            assert_eq!(
                metadata["segmint.window_days"],
                rows.window_days.to_string()
            );
            assert_eq!(
                metadata["segmint.trend_days"],
                rows.cadence.trend_days.to_string()
            );
        }
        let nulls = |name: &str| {
            let (schema, batches, _) = read_back(&tables[0].1, tables[0].0);
            let j = schema.index_of(name).unwrap();
            batches
                .iter()
                .map(|b| b.column(j).null_count())
                .sum::<usize>()
        };
        // "k,2" and u4 have one active day; "k,2" has no status.
        assert_eq!((nulls("gap_days"), nulls("success_rate")), (2, 1));

        // The table made from the rows writes the same bytes.
        let table = rows.into_table();
        let (table_csv, table_tables) = every_format(
            |out| table.write_csv(out),
            |out, format| table.write_table(out, format),
        );
        assert_eq!(table_csv, csv);
        assert_eq!(table_tables, tables);
    }

    #[test]
    fn no_channel_or_status_columns_are_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tx.csv");
        std::fs::write(
            &log,
            "user_id,created_at,total_price\n\
             a,2025-03-01 10:00:00,2\n\
             a,2025-03-03 10:00:00,-0\n\
             b,2025-03-03 11:00:00,1\n",
        )
        .unwrap();
        let ingested = ingest(&[log.into()], &IngestOptions::default(), &|_| {}).unwrap();
        let table = FeatureTable::from_aggregate(
            ingested.aggregate,
            ingested.has_channel,
            ingested.has_status,
            &FeatureOptions::default(),
        )
        .unwrap();
        let mut csv = Vec::new();
        table.write_csv(&mut csv).unwrap();
        for format in FORMATS {
            let mut out = Vec::new();
            table.write_table(&mut out, format).unwrap();
            let (schema, batches, _) = read_back(&out, format);
            assert_same_as_csv(&schema, &batches, &csv);
            for name in ["channel_diversity", "success_rate", "failure_rate"] {
                let j = schema.index_of(name).unwrap();
                assert_eq!(batches[0].column(j).null_count(), 2, "{name}");
            }
        }
    }
}
