//! The scores file as Parquet or Arrow IPC (`fit`/`score -o
//! scores.parquet`): the columns of scores.csv, in its order and with its
//! names, each with the type its values have.
//!
//! | column | Arrow type | why |
//! |---|---|---|
//! | `user_id` | `Utf8` | |
//! | `segment` | `UInt32` | segments are numbered from 0 |
//! | `segment_name` | `Dictionary(Int32, Utf8)` | K names over millions of rows; the dictionary holds the names in segment order, so a key is its segment |
//! | `segment_path` (hierarchical) | `Utf8` | `parent/segment`, as in the CSV |
//! | `community` (Leiden fits) | `UInt32` | |
//! | `placed_by` (Leiden scores) | `Dictionary(Int32, Utf8)` | `member`, `edges`, `features` |
//! | `distance` | `Float64` | the value the CSV spells (see below) |
//! | `probability`, `p_0` ... (mixtures, deep embedding clustering) | `Float32` | computed in `f32` |
//! | `z_0` ... (deep embedding clustering) | `Float32` | the latent code, computed in `f32` |
//! | `silhouette` (when exact) | `Float32` | computed in `f32` |
//! | `rfm_r`, `rfm_f`, `rfm_m` | `UInt8`, nullable | scores 1 to 5 |
//! | `rfm_segment` | `Dictionary(Int32, Utf8)`, nullable | the ten RFM segments, best first |
//! | `churn_risk` | `Dictionary(Int32, Utf8)`, nullable | the seven risks, most urgent first |
//! | `churn_reason` | `Utf8`, nullable | null where the CSV cell is empty (`Safe`) |
//! | `overdue` | `Float64`, nullable | null where unknown |
//! | `p_alive`, `expected_tx_{h}d`, `clv_{h}d` (BG/NBD fitted) | `Float64`, nullable | null where unknown |
//! | the feature columns | `Float64`, nullable | null for a missing value |
//!
//! The RFM and churn columns are null throughout for a table without the
//! columns they need, where the CSV's cells are empty; they are nullable
//! in every file, so that files of one pipeline share one schema. The
//! dictionaries hold every name a column can take, in a fixed order, and
//! are the same in every batch: an Arrow IPC file allows one dictionary
//! per column, and readers get the same categories from every file. In
//! Parquet a name column is a string column with dictionary-encoded pages;
//! readers that take the Arrow schema stored in the file (PyArrow, the
//! parquet crate) get it back as a dictionary, others (Spark) as strings.
//!
//! Every number is the one the CSV spells: a float is the one its CSV
//! text reads back as, a negative zero is zero (the CSV writes `0`), and
//! where the CSV leaves a cell empty (a NaN: unknown) the value is null.
//! The distance, computed in `f32` working coordinates and kept in `f64`,
//! is written as the CSV prints it, to `f32` precision (its shortest
//! `f32` text read as an `f64`), so both files of one run agree exactly;
//! the digits beyond are noise of the `f32` arithmetic.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    UInt8Array, UInt32Array, new_null_array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::scores::Scores;
use crate::formats::TableFormat;
use crate::formats::write::write_batches;
use crate::insights::churn::ChurnRisk;
use crate::insights::rfm::RfmSegment;
use crate::segment::PlacedBy;
use crate::values::csv::push_distance;

/// Every way a user is placed, in the dictionary's order.
const PLACED_BY: [PlacedBy; 3] = [PlacedBy::Member, PlacedBy::Edges, PlacedBy::Features];

impl Scores<'_> {
    /// Writes the scores as `format` (Parquet or Arrow IPC): the same rows
    /// and columns as [`Scores::write_csv`], typed (see the module's
    /// documentation).
    ///
    /// # Errors
    ///
    /// Those of `out`; `format` CSV is [`io::ErrorKind::InvalidInput`].
    pub fn write_table(&self, out: &mut (dyn Write + Send), format: TableFormat) -> io::Result<()> {
        let dictionaries = Dictionaries::new(self.names);
        let schema = self.schema();
        write_batches(out, format, &schema, self.table.keys.len(), |rows| {
            RecordBatch::try_new(schema.clone(), self.columns(rows, &dictionaries))
        })
    }

    /// The fields, in the CSV's column order.
    fn schema(&self) -> SchemaRef {
        let field =
            |name: &str, data_type: DataType, nullable: bool| Field::new(name, data_type, nullable);
        let mut fields = vec![
            field("user_id", DataType::Utf8, false),
            field("segment", DataType::UInt32, false),
            field("segment_name", names_type(), false),
        ];
        if self.parents.is_some() {
            fields.push(field("segment_path", DataType::Utf8, false));
        }
        if self.communities.is_some() {
            fields.push(field("community", DataType::UInt32, false));
        }
        if self.placed_by.is_some() {
            fields.push(field("placed_by", names_type(), false));
        }
        fields.push(field("distance", DataType::Float64, false));
        if self.probabilities.is_some() {
            fields.push(field("probability", DataType::Float32, false));
            fields.extend(
                (0..self.names.len()).map(|c| field(&format!("p_{c}"), DataType::Float32, false)),
            );
        }
        fields.extend(
            (0..self.latent_width()).map(|z| field(&format!("z_{z}"), DataType::Float32, false)),
        );
        if self.silhouettes.is_some() {
            fields.push(field("silhouette", DataType::Float32, false));
        }
        for score in ["rfm_r", "rfm_f", "rfm_m"] {
            fields.push(field(score, DataType::UInt8, true));
        }
        fields.extend([
            field("rfm_segment", names_type(), true),
            field("churn_risk", names_type(), true),
            field("churn_reason", DataType::Utf8, true),
            field("overdue", DataType::Float64, true),
        ]);
        if let Some(l) = self.insights.and_then(|i| i.lifetime.as_ref()) {
            let h = l.horizon_days;
            for name in [
                "p_alive".to_string(),
                format!("expected_tx_{h}d"),
                format!("clv_{h}d"),
            ] {
                fields.push(field(&name, DataType::Float64, true));
            }
        }
        fields.extend(
            self.table
                .columns
                .iter()
                .map(|c| field(c, DataType::Float64, true)),
        );
        Arc::new(Schema::new(fields))
    }

    /// The columns of the users `rows`, in the schema's order.
    fn columns(&self, rows: Range<usize>, dictionaries: &Dictionaries) -> Vec<ArrayRef> {
        let n = rows.len();
        let segments = &self.segments[rows.clone()];
        let keys = StringArray::from_iter_values(self.table.keys.iter().skip(rows.start).take(n));
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(keys),
            Arc::new(UInt32Array::from(segments.to_vec())),
            dictionaries
                .segment
                .column(segments.iter().map(|&s| Some(s as i32))),
        ];
        if let Some(parents) = self.parents {
            let mut paths = StringBuilder::with_capacity(n, n * 8);
            let mut ints = itoa::Buffer::new();
            let mut path = String::new();
            for &segment in segments {
                path.clear();
                path.push_str(ints.format(parents[segment as usize]));
                path.push('/');
                path.push_str(ints.format(segment));
                paths.append_value(&path);
            }
            columns.push(Arc::new(paths.finish()));
        }
        if let Some(communities) = self.communities {
            columns.push(Arc::new(UInt32Array::from(
                communities[rows.clone()].to_vec(),
            )));
        }
        if let Some(placed) = self.placed_by {
            let key = |p: PlacedBy| PLACED_BY.iter().position(|&q| q == p).map(|i| i as i32);
            columns.push(
                dictionaries
                    .placed_by
                    .column(placed[rows.clone()].iter().map(|&p| key(p))),
            );
        }
        columns.push(Arc::new(Float64Array::from_iter_values(
            self.distances[rows.clone()]
                .iter()
                .map(|&d| distance_as_printed(d)),
        )));
        if let Some(p) = self.probabilities {
            let k = self.names.len();
            let own = rows
                .clone()
                .zip(segments)
                .map(|(i, &s)| f32_as_printed(p[i * k + s as usize]));
            columns.push(Arc::new(Float32Array::from_iter_values(own)));
            for c in 0..k {
                let of_c = rows.clone().map(|i| f32_as_printed(p[i * k + c]));
                columns.push(Arc::new(Float32Array::from_iter_values(of_c)));
            }
        }
        if let Some(codes) = self.latent {
            let width = self.latent_width();
            for z in 0..width {
                let of_z = rows.clone().map(|i| f32_as_printed(codes[i * width + z]));
                columns.push(Arc::new(Float32Array::from_iter_values(of_z)));
            }
        }
        if let Some(s) = self.silhouettes {
            columns.push(Arc::new(Float32Array::from_iter_values(
                s[rows.clone()].iter().map(|&v| f32_as_printed(v)),
            )));
        }
        match self.insights {
            Some(insights) => {
                let rfm = &insights.rfm;
                for scores in [&rfm.r, &rfm.f, &rfm.m] {
                    columns.push(Arc::new(UInt8Array::from(scores[rows.clone()].to_vec())));
                }
                let rfm_key = |s: RfmSegment| {
                    RfmSegment::ALL
                        .iter()
                        .position(|&t| t == s)
                        .map(|i| i as i32)
                };
                columns.push(
                    dictionaries
                        .rfm
                        .column(rfm.segments[rows.clone()].iter().map(|&s| rfm_key(s))),
                );
                let churn_key = |r: ChurnRisk| {
                    ChurnRisk::ALL
                        .iter()
                        .position(|&t| t == r)
                        .map(|i| i as i32)
                };
                columns.push(
                    dictionaries
                        .churn
                        .column(insights.churn[rows.clone()].iter().map(|&r| churn_key(r))),
                );
                let reasons: StringArray = insights.reasons[rows.clone()]
                    .iter()
                    .map(|r| (!r.is_empty()).then_some(r.as_str()))
                    .collect();
                columns.push(Arc::new(reasons));
                columns.push(known(insights.overdue[rows.clone()].iter().copied()));
            }
            None => {
                for data_type in [
                    DataType::UInt8,
                    DataType::UInt8,
                    DataType::UInt8,
                    names_type(),
                    names_type(),
                    DataType::Utf8,
                    DataType::Float64,
                ] {
                    columns.push(new_null_array(&data_type, n));
                }
            }
        }
        if let Some(l) = self.insights.and_then(|i| i.lifetime.as_ref()) {
            columns.push(known(l.p_alive[rows.clone()].iter().copied()));
            columns.push(known(l.expected[rows.clone()].iter().copied()));
            columns.push(match &l.clv {
                Some(clv) => known(clv[rows.clone()].iter().copied()),
                None => new_null_array(&DataType::Float64, n),
            });
        }
        for j in 0..self.table.columns.len() {
            columns.push(known(rows.clone().map(|i| self.table.row(i)[j])));
        }
        columns
    }
}

/// The type of the name columns: keys into a dictionary of names. The
/// keys are `Int32` in every one, the type PyArrow's `dictionary_encode`
/// and pandas' categoricals give, so that every name column reads alike.
fn names_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The dictionaries of the name columns, made once and shared by every
/// batch (the Arrow IPC writers then see the same dictionary and write it
/// once).
struct Dictionaries {
    segment: Dictionary,
    placed_by: Dictionary,
    rfm: Dictionary,
    churn: Dictionary,
}

impl Dictionaries {
    fn new(segment_names: &[String]) -> Self {
        Dictionaries {
            segment: Dictionary::new(segment_names.iter().map(String::as_str)),
            placed_by: Dictionary::new(PLACED_BY.map(PlacedBy::name)),
            rfm: Dictionary::new(RfmSegment::ALL.map(RfmSegment::name)),
            churn: Dictionary::new(ChurnRisk::ALL.map(ChurnRisk::name)),
        }
    }
}

/// The values of one dictionary-encoded column.
struct Dictionary(ArrayRef);

impl Dictionary {
    fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Dictionary(Arc::new(StringArray::from_iter_values(values)))
    }

    /// A column of these keys (indices into the values; `None` is null).
    fn column(&self, keys: impl Iterator<Item = Option<i32>>) -> ArrayRef {
        let keys: Int32Array = keys.collect();
        Arc::new(DictionaryArray::<Int32Type>::new(keys, self.0.clone()))
    }
}

/// A nullable float column: NaN (unknown, an empty CSV cell) is null.
fn known(values: impl Iterator<Item = f64>) -> ArrayRef {
    let column: Float64Array = values.map(|v| (!v.is_nan()).then_some(v + 0.0)).collect();
    Arc::new(column)
}

/// An `f32` as the CSV's text of it reads back: `-0` is written `0`.
fn f32_as_printed(x: f32) -> f32 {
    x + 0.0
}

/// The distance as scores.csv spells it ([`push_distance`]) reads back.
fn distance_as_printed(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let mut text = Vec::with_capacity(24);
    push_distance(&mut text, x);
    std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse().ok())
        .expect("push_distance writes a number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::matrix::NumericTable;
    use crate::features::table::{FeatureOptions, FeatureTable};
    use crate::formats::write::testing::{FORMATS, assert_same_as_csv, read_back};
    use crate::ingest::{IngestOptions, ingest};
    use crate::insights::btyd::LifetimeScores;
    use crate::insights::rfm::RfmScores;
    use crate::insights::segments::UserInsights;

    /// The numeric features of four users, one value a negative zero and
    /// some missing (NaN: the users with one active day have no gap).
    fn features() -> NumericTable {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tx.csv");
        std::fs::write(
            &log,
            "user_id,created_at,total_price,channel\n\
             u1,2025-03-01 10:00:00,2.50,SMS\n\
             u1,2025-03-02 11:00:00,-0.50,Email\n\
             \"k,2\",2025-03-02 12:00:00,1,SMS\n\
             u3,2025-02-01 08:00:00,0.1,SMS\n\
             u3,2025-03-21 23:59:59.123,-7,Email\n\
             u4,2025-03-21 20:00:00,0,SMS\n",
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
        let mut numeric = NumericTable::from_features(&table);
        numeric.values[1] = -0.0;
        assert!(numeric.values.iter().any(|v| v.is_nan()));
        numeric
    }

    fn user_insights(clv: bool) -> UserInsights {
        UserInsights {
            rfm: RfmScores {
                r: vec![5, 1, 3, 2],
                f: vec![4, 2, 1, 5],
                m: vec![1, 5, 2, 3],
                segments: vec![
                    RfmSegment::ALL[0],
                    RfmSegment::ALL[9],
                    RfmSegment::ALL[4],
                    RfmSegment::ALL[0],
                ],
            },
            churn: vec![
                ChurnRisk::Safe,
                ChurnRisk::Dormant,
                ChurnRisk::HighRiskDeclining,
                ChurnRisk::Critical,
            ],
            reasons: vec![
                String::new(),
                "no transaction for 40 days, 3.2 gaps".into(),
                "usage down 60%".into(),
                "top segment, usage down 80%".into(),
            ],
            overdue: vec![f64::NAN, 3.2, -0.0, 1.0 / 3.0],
            lifetime: Some(LifetimeScores {
                horizon_days: 90,
                p_alive: vec![0.5, f64::NAN, 1.0, 0.1 + 0.2],
                expected: vec![2.25, 0.0, f64::NAN, 1e-300],
                spend: None,
                clv: clv.then(|| vec![10.5, -0.0, f64::NAN, 7.0 / 3.0]),
            }),
        }
    }

    const SEGMENTS: [u32; 4] = [0, 1, 1, 0];
    const DISTANCES: [f64; 4] = [0.1, 5e38, 1.0 / 3.0, -0.0];
    const PROBABILITIES: [f32; 8] = [0.9, 0.1, -0.0, 1.0, 0.333_333_34, 0.666_666_7, 1.0, 0.0];
    /// Deep embedding clustering's codes: 4 users x 2.
    const LATENT: [f32; 8] = [0.25, -1.5, 3.0e-8, 2.0, -0.0, 0.1, 7.5, -2.25];
    const SILHOUETTES: [f32; 4] = [0.5, -0.25, -0.0, 1.0 / 3.0];

    fn names() -> Vec<String> {
        vec!["Power User".into(), "Casual, \"quiet\" User".into()]
    }

    /// Writes `scores` as CSV and as every other format, and checks each
    /// against the CSV and `types`.
    fn check(scores: &Scores<'_>, types: &[(&str, DataType, bool)]) {
        let mut csv = Vec::new();
        scores.write_csv(&mut csv).unwrap();
        for format in FORMATS {
            let mut out = Vec::new();
            scores.write_table(&mut out, format).unwrap();
            let (schema, batches, _) = read_back(&out, format);
            let written: Vec<(&str, DataType, bool)> = schema
                .fields()
                .iter()
                .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
                .collect();
            assert_eq!(written, types, "{format:?}");
            assert_same_as_csv(&schema, &batches, &csv);
        }
    }

    /// The types of the insight columns and the feature columns of
    /// `table`, after `lifetime`.
    fn tail_types<'a>(
        table: &'a NumericTable,
        lifetime: &[&'a str],
    ) -> Vec<(&'a str, DataType, bool)> {
        let mut types = vec![
            ("rfm_r", DataType::UInt8, true),
            ("rfm_f", DataType::UInt8, true),
            ("rfm_m", DataType::UInt8, true),
            ("rfm_segment", names_type(), true),
            ("churn_risk", names_type(), true),
            ("churn_reason", DataType::Utf8, true),
            ("overdue", DataType::Float64, true),
        ];
        types.extend(lifetime.iter().map(|&name| (name, DataType::Float64, true)));
        types.extend(
            table
                .columns
                .iter()
                .map(|c| (c.as_str(), DataType::Float64, true)),
        );
        types
    }

    #[test]
    fn every_column_of_every_method() {
        let table = features();
        let names = names();
        let insights = user_insights(false);
        let scores = Scores {
            table: &table,
            segments: &SEGMENTS,
            names: &names,
            parents: Some(&[0, 0]),
            communities: Some(&[3, 0, 1, 2]),
            placed_by: Some(&[
                PlacedBy::Member,
                PlacedBy::Edges,
                PlacedBy::Features,
                PlacedBy::Member,
            ]),
            distances: &DISTANCES,
            probabilities: Some(&PROBABILITIES),
            latent: Some(&LATENT),
            silhouettes: Some(&SILHOUETTES),
            insights: Some(&insights),
        };
        let mut types = vec![
            ("user_id", DataType::Utf8, false),
            ("segment", DataType::UInt32, false),
            ("segment_name", names_type(), false),
            ("segment_path", DataType::Utf8, false),
            ("community", DataType::UInt32, false),
            ("placed_by", names_type(), false),
            ("distance", DataType::Float64, false),
            ("probability", DataType::Float32, false),
            ("p_0", DataType::Float32, false),
            ("p_1", DataType::Float32, false),
            ("z_0", DataType::Float32, false),
            ("z_1", DataType::Float32, false),
            ("silhouette", DataType::Float32, false),
        ];
        types.extend(tail_types(
            &table,
            &["p_alive", "expected_tx_90d", "clv_90d"],
        ));
        check(&scores, &types);

        let with_clv = user_insights(true);
        check(
            &Scores {
                insights: Some(&with_clv),
                ..scores
            },
            &types,
        );
    }

    #[test]
    fn without_insights_their_columns_are_null() {
        let table = features();
        let names = names();
        let scores = Scores {
            table: &table,
            segments: &SEGMENTS,
            names: &names,
            parents: None,
            communities: None,
            placed_by: None,
            distances: &DISTANCES,
            probabilities: None,
            latent: None,
            silhouettes: None,
            insights: None,
        };
        let mut types = vec![
            ("user_id", DataType::Utf8, false),
            ("segment", DataType::UInt32, false),
            ("segment_name", names_type(), false),
            ("distance", DataType::Float64, false),
        ];
        types.extend(tail_types(&table, &[]));
        check(&scores, &types);
    }

    #[test]
    fn distances_as_the_csv_spells_them() {
        assert_eq!(distance_as_printed(0.1f32 as f64), 0.1);
        assert_eq!(distance_as_printed(-0.0).to_bits(), 0);
        assert_eq!(
            distance_as_printed(4.999_999_426_098_580_5e38),
            4.999_999_4e38
        );
    }
}
