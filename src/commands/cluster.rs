//! Shared by sweep, fit and score: reading what to cluster into a scaled
//! feature matrix.

use std::path::Path;

use ndarray::Array2;

use super::{Session, load_features, note, spinner};
use crate::cli::{ClusterInputArgs, FeatureArgs, InputArgs, KMeansArgs, Scale};
use segmint::Error;
use segmint::backend::{Backend, Workload};
use segmint::cluster::model::{InputSchema, Scaling};
use segmint::cluster::{SilhouetteMode, Sweep, sweep};
use segmint::features::matrix::{
    DEFAULT_FEATURES, FeatureMatrix, FeatureSpec, Frame, NumericTable, Scaler, Transform,
};
use segmint::ingest::numeric::{NumericOptions, read_numeric_table};
use segmint::ingest::{self, IngestReport};

/// The users to cluster, their features and the scaled matrix.
pub struct Prepared {
    pub table: NumericTable,
    pub specs: Vec<FeatureSpec>,
    pub scaler: Scaler,
    pub scaling: Scaling,
    pub points: FeatureMatrix,
    pub schema: InputSchema,
    /// How the transaction logs were read; `None` for a feature table.
    pub ingest: Option<IngestReport>,
}

impl Prepared {
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
}

/// The columns behind the default feature set, without transforms.
fn default_columns() -> Vec<String> {
    FeatureSpec::defaults()
        .into_iter()
        .map(|s| s.column)
        .collect()
}

fn parse_specs(features: &Option<Vec<String>>) -> Result<Option<Vec<FeatureSpec>>, Error> {
    features
        .as_ref()
        .map(|f| FeatureSpec::parse_list(f).map_err(Error::Usage))
        .transpose()
}

/// Reads transaction logs into their numeric feature table.
pub fn table_from_logs(
    inputs: &[std::path::PathBuf],
    input: &InputArgs,
    feature: &FeatureArgs,
    quiet: bool,
) -> Result<(NumericTable, IngestReport), Error> {
    let (table, report) = load_features(&ingest::inputs(inputs), input, feature, quiet)?;
    Ok((NumericTable::from_features(&table), report))
}

/// Reads a numeric feature table.
pub fn table_from_file(
    path: &Path,
    key_col: Option<String>,
    specs: Option<&[FeatureSpec]>,
    input: &InputArgs,
) -> Result<NumericTable, Error> {
    let mut columns: Option<Vec<String>> =
        specs.map(|s| s.iter().map(|f| f.column.clone()).collect());
    if let Some(columns) = columns.as_mut() {
        let mut seen = std::collections::HashSet::new();
        columns.retain(|c| seen.insert(c.clone()));
    }
    let options = NumericOptions {
        key_column: key_col,
        columns,
        prefer: Some(default_columns()),
        delimiter: input.delimiter,
    };
    Ok(read_numeric_table(path, &options)?)
}

pub fn prepare(data: &ClusterInputArgs, quiet: bool) -> Result<Prepared, Error> {
    let asked = parse_specs(&data.features)?;
    let (table, schema, report) = match &data.features_input {
        Some(path) => {
            let table = table_from_file(path, data.key_col.clone(), asked.as_deref(), &data.input)?;
            let schema = InputSchema::FeatureTable {
                key_col: data.key_col.clone(),
                delimiter: data.input.delimiter.to_string(),
            };
            (table, schema, None)
        }
        None => {
            if data.key_col.is_some() {
                return Err(Error::Usage(
                    "--key-col names the key of a --features-input table; for logs use --user-col"
                        .into(),
                ));
            }
            let (table, report) = table_from_logs(&data.inputs, &data.input, &data.feature, quiet)?;
            (
                table,
                transactions_schema(&data.input, &data.feature),
                Some(report),
            )
        }
    };
    let mut prepared = prepare_table(
        table,
        &data.features,
        data.scale,
        schema,
        data.features_input.is_some(),
        quiet,
    )?;
    prepared.ingest = report;
    Ok(prepared)
}

/// Selects, transforms and scales the features of a table.
/// `features_input`: the table is a `--features-input` table, whose own
/// columns are the default features unless it has the default ones.
pub fn prepare_table(
    table: NumericTable,
    features: &Option<Vec<String>>,
    scale: Scale,
    schema: InputSchema,
    features_input: bool,
    quiet: bool,
) -> Result<Prepared, Error> {
    let asked = parse_specs(features)?;
    let specs = match asked {
        Some(specs) => specs,
        None if table.columns == default_columns() || !features_input => {
            FeatureSpec::parse_list(&DEFAULT_FEATURES).expect("valid")
        }
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
    let (scaler, scaling) = match scale {
        Scale::Zscore => (Scaler::fit(&raw), Scaling::Zscore),
        Scale::None => (Scaler::identity(specs.len()), Scaling::None),
    };
    if !quiet {
        for j in scaler.constant_columns() {
            note(format_args!(
                "segmint: warning: feature {} is the same for every user; it is left at 0",
                specs[j]
            ))?;
        }
    }
    let points = scaler.transform(&raw);
    Ok(Prepared {
        table,
        specs,
        scaler,
        scaling,
        points,
        schema,
        ingest: None,
    })
}

/// The input options of a transaction log, for the model file.
pub fn transactions_schema(input: &InputArgs, feature: &FeatureArgs) -> InputSchema {
    InputSchema::Transactions {
        user_col: input.user_col.clone(),
        time_col: input.time_col.clone(),
        amount_col: input.amount_col.clone(),
        channel_col: input.channel_col.clone(),
        status_col: input.status_col.clone(),
        no_header: input.no_header,
        delimiter: input.delimiter.to_string(),
        time_format: input.time_format.to_string(),
        success_statuses: input.success_status.clone(),
        dormant_days: feature.dormant_days,
    }
}

/// The raw values of `column`, one per user.
pub fn column_values(table: &NumericTable, column: &str) -> Vec<f64> {
    let c = table.column_index(column).expect("a column of the table");
    (0..table.rows()).map(|i| table.row(i)[c]).collect()
}

/// Euclidean distances in scaled space from squared working ones.
pub fn roots(squared: &[f32], frame: &Frame) -> Vec<f64> {
    squared
        .iter()
        .map(|&v| frame.distance(f64::from(v).sqrt()))
        .collect()
}

/// `centres` reordered by segment: row `rank[c]` is cluster c's centre.
pub fn centres_by_segment(centres: &Array2<f64>, rank: &[u32]) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); centres.nrows()];
    for (c, row) in centres.rows().into_iter().enumerate() {
        out[rank[c] as usize] = row.to_vec();
    }
    out
}

/// Opens the backend `--device` asks for and fits every K of `ks` there,
/// with every metric (`mode` for the silhouette), behind a spinner.
pub fn cluster(
    session: &Session,
    points: &FeatureMatrix,
    ks: &[usize],
    kmeans: &KMeansArgs,
    mode: SilhouetteMode,
) -> Result<(Backend, Sweep), Error> {
    let runs: Vec<usize> = ks
        .iter()
        .flat_map(|&k| std::iter::repeat_n(k, kmeans.n_init))
        .collect();
    let silhouettes: Vec<usize> = if mode.resolve(points.n()) == SilhouetteMode::None {
        Vec::new()
    } else {
        ks.to_vec()
    };
    let backend = session.backend(&Workload {
        n: points.n(),
        d: points.d(),
        runs: &runs,
        silhouettes: &silhouettes,
    })?;
    let bar = spinner(session.quiet, "clustering");
    let result = sweep(&backend, points, ks, &kmeans.params(ks[0]), mode);
    bar.finish_and_clear();
    let result = result?;
    if !session.quiet {
        warn_empty(points, &result)?;
    }
    Ok((backend, result))
}

/// Says which K left clusters empty (scikit-learn warns too): with fewer
/// distinct users than K, some segments cannot hold anyone.
fn warn_empty(points: &FeatureMatrix, result: &Sweep) -> Result<(), Error> {
    let short: Vec<(usize, usize)> = result
        .fits
        .iter()
        .map(|f| (f.k(), f.sizes().iter().filter(|&&s| s == 0).count()))
        .filter(|&(_, empty)| empty > 0)
        .collect();
    if short.is_empty() {
        return Ok(());
    }
    let distinct: std::collections::HashSet<Vec<u32>> = (0..points.n())
        .map(|i| points.row(i).iter().map(|v| v.to_bits()).collect())
        .collect();
    for (k, empty) in short {
        let why = if distinct.len() < k {
            format!(
                "the users have only {} distinct feature values (duplicates), fewer than K",
                distinct.len()
            )
        } else {
            "no user is nearest to their centres".to_string()
        };
        note(format_args!(
            "segmint: warning: K = {k}: {empty} of the {k} segments are empty: {why}"
        ))?;
    }
    Ok(())
}
