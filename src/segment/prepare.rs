//! What is segmented: the users' numeric table, read from transaction logs
//! (aggregated per user) or from a feature table, and the points the
//! methods work on: the features picked, transformed (`log1p:`) and
//! scaled.

use std::path::Path;

use crate::features::matrix::{
    FeatureError, FeatureMatrix, FeatureSpec, NumericTable, Scaler, Transform,
};
use crate::formats::InputFormat;
use crate::ingest::numeric::{NumericOptions, read_numeric_table};
use crate::ingest::{Delimiter, IngestError, IngestReport};

use super::model::{InputSchema, Scaling};

/// The users to segment, their features and the points.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Every column read, one row per user, in original units: the
    /// features are picked from it; RFM, churn and profiles read it too.
    pub table: NumericTable,
    /// The features clustered, a column and its transform each, in the
    /// order of the points' columns.
    pub specs: Vec<FeatureSpec>,
    /// Per feature, the mean and population std of the transformed values
    /// that scale them into `points` (means 0 and stds 1 under
    /// [`Scaling::None`]).
    pub scaler: Scaler,
    /// Whether the features were z-scored (`--scale`).
    pub scaling: Scaling,
    /// The points a method works on: one row per user of `table` (in its
    /// order), one column per feature of `specs`, scaled.
    pub points: FeatureMatrix,
    /// How the users were read, for the model.
    pub schema: InputSchema,
    /// How the transaction logs were read; `None` for a feature table.
    pub ingest: Option<IngestReport>,
    /// The user graph (Leiden), node `i` the table's user `i`; `None`
    /// when none was built (a kNN graph is built from the points).
    pub graph: Option<crate::graph::UserGraph>,
}

impl Prepared {
    /// The features as `--features` spells them.
    pub fn feature_names(&self) -> Vec<String> {
        self.specs.iter().map(ToString::to_string).collect()
    }

    /// The column whose mean orders segments: monetary when the table has
    /// it, else the first feature's column.
    pub fn order_column(&self) -> String {
        if self.table.column_index("monetary").is_some() {
            "monetary".into()
        } else {
            self.specs[0].column.clone()
        }
    }

    /// The features that are the same for every user (left at 0).
    pub fn constant_features(&self) -> Vec<&FeatureSpec> {
        self.scaler
            .constant_columns()
            .into_iter()
            .map(|j| &self.specs[j])
            .collect()
    }

    /// The raw values of `column`, one per user.
    pub fn column_values(&self, column: &str) -> Vec<f64> {
        column_values(&self.table, column)
    }
}

/// The raw values of `column` of `table`, one per user.
pub fn column_values(table: &NumericTable, column: &str) -> Vec<f64> {
    let c = table.column_index(column).expect("a column of the table");
    (0..table.rows()).map(|i| table.row(i)[c]).collect()
}

/// The columns behind the default feature set, without transforms.
fn default_columns() -> Vec<String> {
    FeatureSpec::defaults()
        .into_iter()
        .map(|s| s.column)
        .collect()
}

/// Reads a numeric feature table (CSV, Parquet or Arrow; `format` is
/// `--input-format`, checked against the bytes): only the columns of
/// `asked` (when given), else the default features' columns when it has
/// them all, else every column but the key.
pub fn read_feature_table(
    path: &Path,
    key_column: Option<String>,
    delimiter: Delimiter,
    format: Option<InputFormat>,
    asked: Option<&[FeatureSpec]>,
) -> Result<NumericTable, IngestError> {
    let columns = asked.map(|specs| {
        let mut columns: Vec<String> = Vec::with_capacity(specs.len());
        for spec in specs {
            if !columns.contains(&spec.column) {
                columns.push(spec.column.clone());
            }
        }
        columns
    });
    let options = NumericOptions {
        key_column,
        columns,
        prefer: Some(default_columns()),
        delimiter,
        format,
    };
    read_numeric_table(path, &options)
}

/// Picks, transforms and scales the features of `table`: `asked`, or the
/// default features (for a feature table that does not have them all,
/// `from_table`: every column of it).
pub fn prepare(
    table: NumericTable,
    asked: Option<Vec<FeatureSpec>>,
    scaling: Scaling,
    schema: InputSchema,
    from_table: bool,
) -> Result<Prepared, FeatureError> {
    let specs = match asked {
        Some(specs) => specs,
        None if table.columns == default_columns() || !from_table => FeatureSpec::defaults(),
        None => table
            .columns
            .iter()
            .map(|c| FeatureSpec {
                column: c.clone(),
                transform: Transform::None,
            })
            .collect(),
    };
    let raw = table.select(&specs)?;
    let scaler = match scaling {
        Scaling::Zscore => Scaler::fit(&raw),
        Scaling::None => Scaler::identity(specs.len()),
    };
    let points = scaler.transform(&raw);
    Ok(Prepared {
        table,
        specs,
        scaler,
        scaling,
        points,
        schema,
        ingest: None,
        graph: None,
    })
}

/// The users of an edge list alone (no logs or table), in order of first
/// appearance, with their graph attached: their features are their
/// `degree` (neighbours) and `strength` (edge weights added), picked
/// (`asked`, default both) and scaled like any table's.
pub fn prepare_edges(
    path: &Path,
    asked: Option<Vec<FeatureSpec>>,
    scaling: Scaling,
) -> Result<Prepared, crate::error::Error> {
    let list = crate::graph::build::read_edges(path, None)?;
    let graph = &list.graph.graph;
    let mut values = Vec::with_capacity(2 * graph.nodes());
    for v in 0..graph.nodes() {
        values.push(graph.degree(v) as f64);
        values.push(graph.strength(v));
    }
    let table = NumericTable {
        keys: list.keys,
        columns: vec!["degree".into(), "strength".into()],
        values,
        source: path.display().to_string(),
    };
    let mut prepared = prepare(table, asked, scaling, InputSchema::Edges {}, true)?;
    prepared.graph = Some(list.graph);
    Ok(prepared)
}

/// Builds the user graph `source` says over the prepared users and
/// attaches it: from the counterparty column of `logs` (read with
/// `options`; the users' logs, which must be readable again), or an edge
/// list over their keys. A kNN graph is built by the fit itself.
pub fn attach_graph(
    prepared: &mut Prepared,
    source: &crate::graph::GraphSource,
    logs: Option<(&[crate::ingest::Input], &crate::ingest::IngestOptions)>,
) -> Result<(), crate::error::Error> {
    use crate::graph::GraphSource;
    match source {
        GraphSource::Peers(peers) => {
            let Some((inputs, options)) = logs else {
                return Err(crate::error::Error::Usage(
                    "--peer-col reads a column of transaction logs: give logs, not --features-input"
                        .into(),
                ));
            };
            let mut options = options.clone();
            options.columns.peer = Some(peers.column.clone());
            let graph =
                crate::graph::build::peer_graph(inputs, &options, &prepared.table.keys, peers)?;
            if let InputSchema::Transactions { peer_col, .. } = &mut prepared.schema {
                *peer_col = Some(peers.column.clone());
            }
            prepared.graph = Some(graph);
        }
        GraphSource::Edges(path) => {
            let list = crate::graph::build::read_edges(path, Some(&prepared.table.keys))?;
            prepared.graph = Some(list.graph);
        }
        GraphSource::Knn(_) => {}
    }
    Ok(())
}
