//! The feature matrix that clustering works on (README, "Clustering"): which
//! columns, their transforms (`log1p:`), and the z-score scaler.
//!
//! Values are read and transformed in f64, scaled in f64, placed in a
//! [`Frame`] (centred, and brought near 1 by a power of two) and stored as
//! f32 (row-major, one row per user): f32 halves the bytes every Lloyd
//! pass and silhouette tile reads, and the clustering kernels accumulate
//! in f64 where sums need it. This module does not read files; see
//! [`crate::ingest::numeric`] for tables given as CSV.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::FeatureTable;

/// The default feature set of the README's "Clustering", as in the messaging analysis.
pub const DEFAULT_FEATURES: [&str; 3] = ["log1p:frequency", "log1p:monetary", "active_days"];

/// A transform applied to a column before scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// The values as they are.
    None,
    /// `ln(1 + max(x, 0))`: negative values (refunds exceeding spend) are
    /// clipped at 0 first, as the README's "Clustering" does for monetary.
    Log1p,
}

/// One clustering feature: a column and its transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// The table column the feature reads.
    pub column: String,
    /// Applied to each value before scaling.
    pub transform: Transform,
}

impl FeatureSpec {
    /// Parses `name` or `log1p:name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (transform, column) = match text.split_once(':') {
            None => (Transform::None, text),
            Some(("log1p", column)) => (Transform::Log1p, column.trim()),
            Some((prefix, _)) => {
                return Err(format!(
                    "feature {text:?}: unknown transform {prefix:?} (the only one is log1p:)"
                ));
            }
        };
        if column.is_empty() {
            return Err(format!("feature {text:?}: expected a column name"));
        }
        Ok(FeatureSpec {
            column: column.to_string(),
            transform,
        })
    }

    /// Parses a list, rejecting duplicates.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Self>, String> {
        let mut specs: Vec<FeatureSpec> = Vec::with_capacity(items.len());
        for item in items {
            let spec = Self::parse(item.as_ref())?;
            if specs.contains(&spec) {
                return Err(format!("feature {:?} is listed twice", item.as_ref()));
            }
            specs.push(spec);
        }
        if specs.is_empty() {
            return Err("expected at least one feature".into());
        }
        Ok(specs)
    }

    /// The features of [`DEFAULT_FEATURES`].
    pub fn defaults() -> Vec<Self> {
        Self::parse_list(&DEFAULT_FEATURES).expect("valid defaults")
    }

    fn apply(&self, x: f64) -> f64 {
        match self.transform {
            Transform::None => x,
            Transform::Log1p => x.max(0.0).ln_1p(),
        }
    }
}

impl std::fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.transform {
            Transform::None => write!(f, "{}", self.column),
            Transform::Log1p => write!(f, "log1p:{}", self.column),
        }
    }
}

/// User keys, one per row, in one text arena: a table of millions of users
/// holds two allocations, not one per key, so reading, cloning and
/// dropping it costs no allocator time per user.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Keys {
    /// Every key, one after the other.
    bytes: String,
    /// Where each key ends in `bytes`; key `i` starts where key `i - 1`
    /// ends.
    ends: Vec<usize>,
}

impl Keys {
    /// No keys.
    pub fn new() -> Self {
        Keys::default()
    }

    /// No keys, with room for `keys` keys of `bytes` bytes in all.
    pub fn with_capacity(keys: usize, bytes: usize) -> Self {
        Keys {
            bytes: String::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of all keys together.
    pub fn text_len(&self) -> usize {
        self.bytes.len()
    }

    /// Key `i`. Panics when `i` is not below [`Keys::len`], as slice
    /// indexing does.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Makes room for `keys` more keys of `bytes` bytes in all.
    pub fn reserve(&mut self, keys: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.ends.reserve(keys);
    }

    /// Adds `key` after the others.
    pub fn push(&mut self, key: &str) {
        self.bytes.push_str(key);
        self.ends.push(self.bytes.len());
    }

    /// Adds every key of `other` after these, in its order.
    pub fn append(&mut self, other: &Keys) {
        let base = self.bytes.len();
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.iter().map(|&end| base + end));
    }

    /// The keys in order.
    pub fn iter(&self) -> KeysIter<'_> {
        KeysIter {
            keys: self,
            front: 0,
            back: self.len(),
        }
    }

    /// An owned copy of each key, for the few places that keep keys apart
    /// from their table (a model's members, a report's examples).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl std::ops::Index<usize> for Keys {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        self.get(i)
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Keys {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut keys = Keys::new();
        keys.extend(iter);
        keys
    }
}

impl<S: AsRef<str>> Extend<S> for Keys {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.ends.reserve(iter.size_hint().0);
        for key in iter {
            self.push(key.as_ref());
        }
    }
}

impl<'a> IntoIterator for &'a Keys {
    type Item = &'a str;
    type IntoIter = KeysIter<'a>;

    fn into_iter(self) -> KeysIter<'a> {
        self.iter()
    }
}

/// The keys of a [`Keys`], in order (see [`Keys::iter`]).
#[derive(Clone, Debug)]
pub struct KeysIter<'a> {
    keys: &'a Keys,
    /// The next key from the front.
    front: usize,
    /// One past the next key from the back.
    back: usize,
}

impl<'a> Iterator for KeysIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        Some(self.keys.get(self.front - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<&'a str> {
        self.front = self.front.saturating_add(n).min(self.back);
        self.next()
    }
}

impl DoubleEndedIterator for KeysIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.keys.get(self.back))
    }
}

impl ExactSizeIterator for KeysIter<'_> {}

impl std::iter::FusedIterator for KeysIter<'_> {}

/// A table of numeric columns keyed by user: the feature table of a
/// transaction log, or any CSV given with `--features-input`. Row-major;
/// a missing value is NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericTable {
    /// The user keys, one per row, in table order.
    pub keys: Keys,
    /// The column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// `keys.len() x columns.len()` values, row after row.
    pub values: Vec<f64>,
    /// Where the values came from, for error messages.
    pub source: String,
}

impl NumericTable {
    /// Users in the table.
    pub fn rows(&self) -> usize {
        self.keys.len()
    }

    /// The values of user `i`, in `columns` order.
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.columns.len();
        &self.values[i * d..(i + 1) * d]
    }

    /// The index of column `name` in `columns`; `None` when absent.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The numeric columns of a feature table (README, "Features"), in its CSV
    /// order; first_seen and last_seen (times) are left out, is_dormant is
    /// 0 or 1, empty cells are NaN.
    pub fn from_features(table: &FeatureTable) -> Self {
        let columns: Vec<String> = table
            .column_names()
            .into_iter()
            .filter(|c| !matches!(c.as_str(), "user_id" | "first_seen" | "last_seen"))
            .collect();
        let d = columns.len();
        let mut values = Vec::with_capacity(table.users.len() * d);
        let mut keys = Keys::with_capacity(
            table.users.len(),
            table.users.iter().map(|u| u.user_id.len()).sum(),
        );
        let nan = f64::NAN;
        for (i, u) in table.users.iter().enumerate() {
            keys.push(&u.user_id);
            values.extend([
                u.frequency as f64,
                u.monetary.to_f64(),
                u.recency_days,
                u.tenure_days,
                u.active_days as f64,
                u.active_hours as f64,
                u.active_span_days as f64,
                u.age_days as f64,
                u.gap_days.unwrap_or(nan),
                u.repeat_spend.unwrap_or(nan),
                u.channel_diversity.map_or(nan, |v| v as f64),
            ]);
            values.extend_from_slice(table.shares(i));
            values.extend([
                u.success_rate.unwrap_or(nan),
                u.failure_rate.unwrap_or(nan),
                u.avg_daily_volume,
                u.avg_daily_last_7d,
                u.avg_daily_prev.unwrap_or(nan),
                u.usage_trend.unwrap_or(nan),
                u.cadence_trend.unwrap_or(nan),
                if u.is_dormant { 1.0 } else { 0.0 },
            ]);
        }
        NumericTable {
            keys,
            columns,
            values,
            source: "the feature table".into(),
        }
    }

    /// Picks and transforms the feature columns: an n x d f64 matrix.
    /// Unknown columns and non-finite values (empty cells included) are
    /// errors naming the user and the column.
    pub fn select(&self, specs: &[FeatureSpec]) -> Result<Array2<f64>, FeatureError> {
        let indices = specs
            .iter()
            .map(|s| {
                self.column_index(&s.column)
                    .ok_or_else(|| FeatureError::UnknownColumn {
                        column: s.column.clone(),
                        table: self.source.clone(),
                        available: self.columns.join(", "),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let d = specs.len();
        let mut out = Array2::<f64>::zeros((self.rows(), d));
        // Rows on every core; the first bad value (in row order) is the
        // error, as a serial loop would report it.
        let bad = out
            .as_slice_mut()
            .expect("a fresh array is contiguous")
            .par_chunks_mut(d.max(1) * ROWS_PER_TASK)
            .enumerate()
            .map(|(chunk, rows)| {
                for (r, row) in rows.chunks_mut(d.max(1)).enumerate() {
                    let i = chunk * ROWS_PER_TASK + r;
                    let values = self.row(i);
                    for (j, (spec, &c)) in specs.iter().zip(&indices).enumerate() {
                        let x = spec.apply(values[c]);
                        if !x.is_finite() {
                            return Some((i, j));
                        }
                        row[j] = x;
                    }
                }
                None
            })
            .find_first(Option::is_some)
            .flatten();
        if let Some((i, j)) = bad {
            return Err(FeatureError::NotFinite {
                table: self.source.clone(),
                user: self.keys[i].to_string(),
                column: specs[j].column.clone(),
                value: self.row(i)[indices[j]],
            });
        }
        Ok(out)
    }
}

/// Why a feature matrix cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// A feature names a column the table does not have.
    #[error("{table} has no column {column:?} (it has: {available})")]
    UnknownColumn {
        /// The column asked for.
        column: String,
        /// Where the table came from ([`NumericTable::source`]).
        table: String,
        /// The table's columns, comma-separated.
        available: String,
    },
    /// A feature value is empty, NaN or infinite once transformed.
    #[error(
        "{table}: user {user:?} has {} in feature column {column:?}; clustering needs finite numbers",
        describe_value(*value)
    )]
    NotFinite {
        /// Where the table came from ([`NumericTable::source`]).
        table: String,
        /// The user's key.
        user: String,
        /// The feature's column.
        column: String,
        /// The value before the transform; NaN for an empty cell.
        value: f64,
    },
}

fn describe_value(value: f64) -> String {
    if value.is_nan() {
        "an empty value (or NaN)".into()
    } else {
        format!("{value}")
    }
}

/// Column means and population standard deviations (README, "Clustering").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Per feature, the mean of its (transformed) values, subtracted
    /// before dividing by `std`.
    pub mean: Vec<f64>,
    /// Population std; 0 marks a constant column, which scales to 0.
    pub std: Vec<f64>,
}

impl Scaler {
    /// Fits on the columns of `x` (two passes, f64). Sums are taken at a
    /// power-of-two scale of the column's own magnitude, so values up to
    /// the largest f64 neither overflow the mean nor the variance (a
    /// spread of 1e200 squares to more than f64 holds), with the same
    /// bits as plain sums wherever those do not overflow.
    pub fn fit(x: &Array2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut std = Vec::with_capacity(x.ncols());
        for column in x.columns() {
            let m = scaled_mean(column.iter().copied(), n);
            let s = scaled_rms(column.iter().map(|&v| half_safe_difference(v, m)), n);
            // A column that differs from its mean only by rounding is
            // constant (scikit-learn's `_handle_zeros_in_scale` rule).
            let constant = s <= 10.0 * f64::EPSILON * m.abs().max(f64::MIN_POSITIVE);
            mean.push(m);
            std.push(if constant { 0.0 } else { s });
        }
        Scaler { mean, std }
    }

    /// The identity: clusters the values as given (`--scale none`).
    pub fn identity(d: usize) -> Self {
        Scaler {
            mean: vec![0.0; d],
            std: vec![1.0; d],
        }
    }

    /// Indices of constant columns.
    pub fn constant_columns(&self) -> Vec<usize> {
        (0..self.std.len())
            .filter(|&j| self.std[j] == 0.0)
            .collect()
    }

    /// The scaled value of `v` in column `j`.
    fn scale(&self, j: usize, v: f64) -> f64 {
        if self.std[j] == 0.0 {
            0.0
        } else {
            scaled_difference(v, self.mean[j], self.std[j])
        }
    }

    /// Scales the rows of `x` into the f32 points the kernels work on, in
    /// a [`Frame`] fitted to them.
    pub fn transform(&self, x: &Array2<f64>) -> FeatureMatrix {
        self.transform_with(x, &[])
    }

    /// [`Scaler::transform`] in a frame that holds `also` (points in
    /// scaled space, such as a model's centres) as well as the rows.
    pub fn transform_with(&self, x: &Array2<f64>, also: &[Vec<f64>]) -> FeatureMatrix {
        let (n, d) = x.dim();
        // Each column's scaled mean ([`scaled_mean`], the same additions in
        // the same order), all columns in one pass over the rows.
        let mut scale = vec![0.0f64; d];
        for row in x.rows() {
            for (j, (m, &v)) in scale.iter_mut().zip(row).enumerate() {
                *m = m.max(self.scale(j, v).abs());
            }
        }
        let scale: Vec<f64> = scale.into_iter().map(power_of_two_at_most).collect();
        let mut sums = vec![0.0f64; d];
        for row in x.rows() {
            for (j, (sum, &v)) in sums.iter_mut().zip(row).enumerate() {
                *sum += self.scale(j, v) / scale[j];
            }
        }
        let offset = (0..d)
            .map(|j| scale[j] * (sums[j] / n.max(1) as f64))
            .collect();
        self.transform_around(x, also, offset)
    }

    /// [`Scaler::transform_with`] centred on the origin of the scaled
    /// space, whatever the rows' own mean: where z-scores of the fitted
    /// users sit. The working coordinates of a user are then the same
    /// whichever other users are transformed with it (pieces of one run
    /// give the bits of the whole run), unless their spread is past 2^32
    /// or below 2^-32 (see [`Frame`]).
    pub fn transform_centred(&self, x: &Array2<f64>, also: &[Vec<f64>]) -> FeatureMatrix {
        self.transform_around(x, also, vec![0.0; x.ncols()])
    }

    /// The points of `x` and the frame that holds them and `also`, around
    /// `offset` (put on the frame's grid): a frame that does not depend on
    /// the rows, such as the mean of a model's centres, gives each row the
    /// same working coordinates whatever rows come with it.
    pub fn transform_around(
        &self,
        x: &Array2<f64>,
        also: &[Vec<f64>],
        offset: Vec<f64>,
    ) -> FeatureMatrix {
        let (n, d) = x.dim();
        let scaled = |i: usize, j: usize| self.scale(j, x[[i, j]]);
        let mut spread = (0..n)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|i| {
                offset
                    .iter()
                    .enumerate()
                    .map(|(j, &o)| half_safe_difference(scaled(i, j), o).abs())
                    .fold(0.0f64, f64::max)
            })
            .reduce(|| 0.0, f64::max);
        for point in also {
            for (&v, &o) in point.iter().zip(&offset) {
                spread = spread.max(half_safe_difference(v, o).abs());
            }
        }
        // Precision does not depend on a power-of-two unit, only the range
        // does: squared differences must stay within f32 (about 1e-38 to
        // 3e38). Within [2^-32, 2^32] the points keep unit 1 (z-scores
        // always do), past it they are brought near 1.
        let unit = if (UNIT_ONE_FROM..=UNIT_ONE_TO).contains(&spread) || spread == 0.0 {
            1.0
        } else {
            power_of_two_at_most(spread)
        };
        // Offsets on a grid of unit / 1024: a column already centred (a
        // z-score, whose mean is 0 up to rounding) gets exactly 0, and the
        // points stay within about 2 units of the origin.
        let grid = unit / 1024.0;
        let offset = offset
            .iter()
            .map(|&o| {
                let on_grid = (o / grid).round() * grid;
                if grid.is_normal() && on_grid.is_finite() {
                    on_grid
                } else {
                    o
                }
            })
            .collect();
        let frame = Frame { offset, unit };
        let mut values = Array2::<f32>::zeros((n, d));
        if d > 0 {
            values
                .as_slice_mut()
                .expect("a fresh array is contiguous")
                .par_chunks_mut(d)
                .with_min_len(ROWS_PER_TASK)
                .enumerate()
                .for_each(|(i, out)| {
                    for (j, o) in out.iter_mut().enumerate() {
                        *o = frame.working(j, scaled(i, j)) as f32;
                    }
                });
        }
        FeatureMatrix { values, frame }
    }
}

/// Rows a parallel task of [`NumericTable::select`] and
/// [`Scaler::transform_with`] takes at least: thousands, so that small
/// tables stay on one thread.
const ROWS_PER_TASK: usize = 1 << 13;

/// Spreads (largest distance of a value from its column's offset) that
/// keep the unit at 1.
const UNIT_ONE_FROM: f64 = 1.0 / 4_294_967_296.0;
const UNIT_ONE_TO: f64 = 4_294_967_296.0;

/// `(v - m) / s`, also where `v - m` alone would overflow (values of
/// opposite signs near the largest f64): then computed on halves, which
/// gives the same bits wherever nothing overflows.
fn scaled_difference(v: f64, m: f64, s: f64) -> f64 {
    let d = v - m;
    if d.is_finite() {
        d / s
    } else {
        (0.5 * v - 0.5 * m) / (0.5 * s)
    }
}

/// `v - m`, or half of it where it would overflow: for magnitudes.
fn half_safe_difference(v: f64, m: f64) -> f64 {
    let d = v - m;
    if d.is_finite() { d } else { 0.5 * v - 0.5 * m }
}

/// The largest power of two not above `x` (1 for 0): scaling by it is
/// exact in binary floating point.
fn power_of_two_at_most(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return 1.0;
    }
    let exponent = x.log2().floor() as i32;
    let p = 2f64.powi(exponent);
    // log2 may round up across a power of two.
    if p > x { p / 2.0 } else { p }
}

/// The mean of `values`, summed at the scale of the largest: no overflow,
/// and the bits of the plain mean wherever that does not overflow.
fn scaled_mean(values: impl Iterator<Item = f64> + Clone, n: f64) -> f64 {
    let scale = power_of_two_at_most(values.clone().fold(0.0, |m, v| m.max(v.abs())));
    scale * (values.map(|v| v / scale).sum::<f64>() / n)
}

/// The root mean square of `values`, summed at the scale of the largest.
fn scaled_rms(values: impl Iterator<Item = f64> + Clone, n: f64) -> f64 {
    let scale = power_of_two_at_most(values.clone().fold(0.0, |m, v| m.max(v.abs())));
    scale * (values.map(|v| (v / scale) * (v / scale)).sum::<f64>() / n).sqrt()
}

/// Where the f32 points the kernels work on sit in the scaled feature
/// space users see (the z-scores, or the values as given with `--scale
/// none`): `scaled = offset + unit * working`, per column.
///
/// Points are centred before they become f32, and, when their spread is
/// past 2^32 or below 2^-32, brought near 1 by a power of two common to
/// every column: the geometry is unchanged (every distance scales by
/// `unit`, exactly, in binary floating point). Centring keeps f32's
/// precision for values near 1e6 that differ by 0.0625 (f32 holds 1e6
/// only to 1/16); the unit keeps values of 1e39, or differences of 1e-30,
/// from overflowing or vanishing when squared in f32. Z-scores are
/// centred already and within range: their frame is the identity. Labels,
/// silhouettes, Calinski-Harabasz and Davies-Bouldin do not depend on the
/// frame; centres, inertia and distances are given back in scaled space.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Per column, the scaled value that working coordinate 0 stands for.
    pub offset: Vec<f64>,
    /// A power of two.
    pub unit: f64,
}

impl Frame {
    /// The frame of points given as they are.
    pub fn identity(d: usize) -> Self {
        Frame {
            offset: vec![0.0; d],
            unit: 1.0,
        }
    }

    /// Working coordinate of a scaled value in column `j`.
    fn working(&self, j: usize, scaled: f64) -> f64 {
        scaled_difference(scaled, self.offset[j], self.unit)
    }

    /// Points in scaled space (rows of `points`, row-major) as working f32
    /// coordinates: centres to hand to the kernels.
    pub fn to_working(&self, points: &[f64]) -> Vec<f32> {
        let d = self.offset.len();
        points
            .iter()
            .enumerate()
            .map(|(i, &v)| self.working(i % d, v) as f32)
            .collect()
    }

    /// Points in scaled space as working coordinates, in f64.
    pub fn to_working_f64(&self, points: &[f64]) -> Vec<f64> {
        let d = self.offset.len();
        points
            .iter()
            .enumerate()
            .map(|(i, &v)| self.working(i % d, v))
            .collect()
    }

    /// Rows of working coordinates back in scaled space.
    pub fn to_scaled(&self, working: &Array2<f64>) -> Array2<f64> {
        let mut out = working.clone();
        for mut row in out.rows_mut() {
            for (v, &o) in row.iter_mut().zip(&self.offset) {
                *v = o + self.unit * *v;
            }
        }
        out
    }

    /// A working distance in scaled units.
    pub fn distance(&self, working: f64) -> f64 {
        working * self.unit
    }

    /// A working sum of squared distances in scaled units.
    pub fn squared(&self, working: f64) -> f64 {
        working * self.unit * self.unit
    }
}

/// The points the kernels work on: n rows of d f32 features, row-major and
/// contiguous, and the frame that places them in scaled space.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// The working coordinates: n rows (users) of d features.
    pub values: Array2<f32>,
    /// Where the working coordinates sit in scaled space.
    pub frame: Frame,
}

impl FeatureMatrix {
    /// Points given as they are (the identity frame).
    pub fn from_rows(n: usize, d: usize, data: Vec<f32>) -> Self {
        FeatureMatrix {
            values: Array2::from_shape_vec((n, d), data).expect("n * d values"),
            frame: Frame::identity(d),
        }
    }

    /// Points (users).
    pub fn n(&self) -> usize {
        self.values.nrows()
    }

    /// Features per point.
    pub fn d(&self) -> usize {
        self.values.ncols()
    }

    /// The points in scaled space (the frame undone), row-major, as f32:
    /// a network's input.
    pub fn scaled_f32(&self) -> Vec<f32> {
        let d = self.d().max(1);
        self.as_slice()
            .iter()
            .enumerate()
            .map(|(i, &w)| (self.frame.offset[i % d] + self.frame.unit * f64::from(w)) as f32)
            .collect()
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[f32] {
        self.values
            .as_slice()
            .expect("feature matrices are standard layout")
    }

    /// The working coordinates of point `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.d();
        &self.as_slice()[i * d..(i + 1) * d]
    }

    /// The rows at `indices`, in that order, in the same frame.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let d = self.d();
        let mut data = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        FeatureMatrix {
            values: Array2::from_shape_vec((indices.len(), d), data).expect("n * d values"),
            frame: self.frame.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feature_specs() {
        assert_eq!(
            FeatureSpec::parse("log1p:monetary").unwrap(),
            FeatureSpec {
                column: "monetary".into(),
                transform: Transform::Log1p
            }
        );
        assert_eq!(
            FeatureSpec::parse(" active_days ").unwrap().transform,
            Transform::None
        );
        assert!(FeatureSpec::parse("sqrt:x").unwrap_err().contains("log1p"));
        assert!(FeatureSpec::parse("log1p:").is_err());
        assert!(FeatureSpec::parse_list(&["a", "a"]).is_err());
        assert!(FeatureSpec::parse_list::<&str>(&[]).is_err());
        assert_eq!(FeatureSpec::defaults()[1].to_string(), "log1p:monetary");
    }

    #[test]
    fn log1p_clips_negative_values() {
        let spec = FeatureSpec::parse("log1p:m").unwrap();
        assert_eq!(spec.apply(-5.0), 0.0);
        assert!((spec.apply(std::f64::consts::E - 1.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn scaler_uses_population_std_and_zeroes_constant_columns() {
        let x =
            Array2::from_shape_vec((4, 2), vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0]).unwrap();
        let scaler = Scaler::fit(&x);
        assert_eq!(scaler.mean, vec![2.5, 5.0]);
        assert!((scaler.std[0] - 1.25f64.sqrt()).abs() < 1e-15);
        assert_eq!(scaler.std[1], 0.0);
        assert_eq!(scaler.constant_columns(), vec![1]);
        let m = scaler.transform(&x);
        let col: Vec<f32> = m.values.column(0).to_vec();
        let expected = [-1.5, -0.5, 0.5, 1.5].map(|v| (v / 1.25f64.sqrt()) as f32);
        assert_eq!(col, expected);
        assert!(m.values.column(1).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn keys_are_one_arena() {
        let mut keys: Keys = ["a", "", "ccc"].into_iter().collect();
        keys.push("dd");
        assert_eq!(keys.len(), 4);
        assert!(!keys.is_empty());
        assert_eq!(keys.text_len(), 6);
        assert_eq!(
            (keys.get(0), &keys[1], &keys[2], &keys[3]),
            ("a", "", "ccc", "dd")
        );
        assert_eq!(
            keys.iter().rev().collect::<Vec<_>>(),
            ["dd", "ccc", "", "a"]
        );
        let mut iter = keys.iter();
        assert_eq!(iter.len(), 4);
        assert_eq!(iter.nth(2), Some("ccc"));
        assert_eq!(iter.len(), 1);
        assert_eq!(iter.nth(5), None);
        let mut more = Keys::new();
        more.append(&keys);
        more.append(&["e"].into_iter().collect());
        assert_eq!(more.to_vec(), ["a", "", "ccc", "dd", "e"]);
        assert_eq!(format!("{keys:?}"), r#"["a", "", "ccc", "dd"]"#);
        assert_eq!(keys.clone(), keys);
        assert_ne!(more, keys);
        assert!(Keys::new().is_empty());
    }

    #[test]
    fn select_rejects_unknown_columns_and_empty_values() {
        let table = NumericTable {
            keys: ["a", "b"].into_iter().collect(),
            columns: vec!["x".into(), "y".into()],
            values: vec![1.0, 2.0, 3.0, f64::NAN],
            source: "t.csv".into(),
        };
        let specs = FeatureSpec::parse_list(&["x"]).unwrap();
        assert_eq!(
            table.select(&specs).unwrap().column(0).to_vec(),
            vec![1.0, 3.0]
        );
        let err = table
            .select(&FeatureSpec::parse_list(&["z"]).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("no column \"z\""), "{err}");
        let err = table
            .select(&FeatureSpec::parse_list(&["y"]).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("user \"b\""), "{err}");
    }
}
