//! Feature tables in Parquet or Arrow IPC (see [`super`]): the same
//! columns are chosen by the same rules from the file's schema, and the
//! same errors are positioned by data row (1-based, across the file)
//! instead of line.
//!
//! - keys: strings (plain, large, view, or a dictionary of them), or
//!   integers written in decimal; trimmed as in CSV, and a null or empty
//!   key is an error;
//! - values: integers, floats, decimals and booleans (0 or 1); a null is
//!   NaN, as an empty cell is. Float32 values go through their shortest
//!   decimal text, the one a CSV writer prints, so a table gives the same
//!   values in either format; decimals are read as their decimal text
//!   would be.
//!
//! Batches are converted in parallel, a wave at a time, and appended in
//! file order.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, Float16Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use rayon::prelude::*;

use super::{Hashed, NumericOptions, POW10, first_duplicate, key_tag, row_error, select_columns};
use crate::features::matrix::{Keys, NumericTable};
use crate::ingest::columnar::Batches;
use crate::ingest::error::{IngestError, RowErrorKind, Unit, display_path};

/// Reads the table of a Parquet or Arrow input.
pub(super) fn read(
    batches: Batches,
    options: &NumericOptions,
) -> Result<NumericTable, IngestError> {
    let path = batches.path.clone();
    let names = batches.names();
    let (key, wanted) = select_columns(&path, &names, options)?;
    let schema = batches.schema.clone();
    let wrong_type = |column: usize, what: &str| IngestError::Format {
        path: path.clone(),
        message: format!(
            "column {} ({}) is of type {}, which cannot hold {what}",
            column + 1,
            names[column],
            schema.field(column).data_type()
        ),
    };
    if !is_key_type(schema.field(key).data_type()) {
        return Err(wrong_type(key, "the user key (text or integers)"));
    }
    if let Some(&c) = wanted
        .iter()
        .find(|&&c| !is_number_type(schema.field(c).data_type()))
    {
        return Err(wrong_type(
            c,
            "numbers (integers, floats, decimals or booleans)",
        ));
    }
    let mut columns: Vec<usize> = wanted.iter().copied().chain([key]).collect();
    columns.sort_unstable();
    columns.dedup();
    // Where each column is in a batch, which holds `columns` in order.
    let at = |c: usize| columns.partition_point(|&x| x < c);
    let key_at = at(key);
    let wanted_at: Vec<usize> = wanted.iter().map(|&c| at(c)).collect();

    let mut keys = Keys::new();
    let mut values: Vec<f64> = Vec::new();
    // Per batch: its first table row, its first data row (0-based) and its
    // keys' tags.
    let mut parts: Vec<(usize, u64, Hashed)> = Vec::new();
    let read = batches.read(&columns, &mut |wave| {
        let converted: Vec<Result<Converted, String>> = wave
            .par_iter()
            .map(|(_, batch)| convert(batch, key_at, &wanted_at))
            .collect();
        for ((first, _), converted) in wave.iter().zip(converted) {
            let converted = converted.map_err(|message| IngestError::Format {
                path: path.clone(),
                message,
            })?;
            parts.push((keys.len(), *first, converted.hashed));
            keys.append(&converted.keys);
            values.extend_from_slice(&converted.values);
            if let Some(row) = converted.empty_key {
                return Err(row_error(
                    &path,
                    &names,
                    Unit::Row,
                    first + row as u64 + 1,
                    Some(key),
                    RowErrorKind::EmptyKey,
                ));
            }
        }
        Ok(())
    });
    if keys.len() > u32::MAX as usize {
        return Err(IngestError::Header {
            path: path.clone(),
            message: format!(
                "{} rows: a feature table holds at most {} users",
                keys.len(),
                u32::MAX
            ),
        });
    }
    // A key repeated before the row where reading stopped comes first.
    let hashed: Vec<(usize, &Hashed)> = parts.iter().map(|(t, _, h)| (*t, h)).collect();
    if let Some((row, first)) = first_duplicate(&keys, &hashed) {
        let data_row = |row: usize| {
            let part = parts.partition_point(|p| p.0 <= row) - 1;
            let (table_first, data_first, _) = &parts[part];
            data_first + (row - table_first) as u64 + 1
        };
        return Err(row_error(
            &path,
            &names,
            Unit::Row,
            data_row(row),
            Some(key),
            RowErrorKind::DuplicateKey {
                key: keys[row].to_string(),
                first_line: data_row(first),
            },
        ));
    }
    read?;
    if keys.is_empty() {
        return Err(IngestError::NoRows {
            detail: format!(" ({} has no rows)", display_path(&path)),
        });
    }
    Ok(NumericTable {
        keys,
        columns: wanted.iter().map(|&c| names[c].clone()).collect(),
        values,
        source: display_path(&path),
    })
}

/// Whether a column of type `t` can hold user keys.
fn is_key_type(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, values) => is_key_type(values),
        t => {
            matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) || is_integer(t)
        }
    }
}

fn is_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Whether a column of type `t` can be read as numbers.
fn is_number_type(t: &DataType) -> bool {
    is_integer(t)
        || matches!(
            t,
            DataType::Null
                | DataType::Boolean
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal32(_, _)
                | DataType::Decimal64(_, _)
                | DataType::Decimal128(_, _)
                | DataType::Decimal256(_, _)
        )
}

/// One batch's rows.
struct Converted {
    keys: Keys,
    /// Row after row, the wanted columns' values.
    values: Vec<f64>,
    hashed: Hashed,
    /// The batch's first row with a null or empty key, where its rows
    /// stop.
    empty_key: Option<usize>,
}

/// The rows of `batch`: the key of column `key_at`, the values of
/// `wanted_at` (positions in the batch). `Err` names a column whose type
/// changed from the schema's.
fn convert(batch: &RecordBatch, key_at: usize, wanted_at: &[usize]) -> Result<Converted, String> {
    let n = batch.num_rows();
    let mut keys = Keys::with_capacity(n, 0);
    let mut tags = Vec::with_capacity(n);
    let mut empty_key = None;
    each_key(batch.column(key_at).as_ref(), &mut |key| match key
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        Some(key) => {
            tags.push(key_tag(key));
            keys.push(key);
            true
        }
        None => {
            empty_key = Some(keys.len());
            false
        }
    })?;
    let d = wanted_at.len();
    let mut values = vec![0.0f64; keys.len() * d];
    for (slot, &at) in wanted_at.iter().enumerate() {
        fill_values(batch.column(at).as_ref(), slot, d, &mut values)?;
    }
    Ok(Converted {
        hashed: Hashed::of(&tags),
        keys,
        values,
        empty_key,
    })
}

fn changed_type(array: &dyn Array) -> String {
    format!(
        "a batch's column is of type {}, not of the schema's",
        array.data_type()
    )
}

/// Calls `each` with every key of `array` in order (`None` for a null),
/// until it returns false.
fn each_key(array: &dyn Array, each: &mut dyn FnMut(Option<&str>) -> bool) -> Result<(), String> {
    fn texts<'a>(
        n: usize,
        valid: impl Fn(usize) -> bool,
        value: impl Fn(usize) -> &'a str,
        each: &mut dyn FnMut(Option<&str>) -> bool,
    ) {
        for i in 0..n {
            if !each(valid(i).then(|| value(i))) {
                return;
            }
        }
    }
    fn integers<T: ArrowPrimitiveType>(
        array: &dyn Array,
        each: &mut dyn FnMut(Option<&str>) -> bool,
    ) -> Result<(), String>
    where
        T::Native: itoa::Integer,
    {
        let a = array
            .as_primitive_opt::<T>()
            .ok_or_else(|| changed_type(array))?;
        let mut text = itoa::Buffer::new();
        for i in 0..a.len() {
            if !each(a.is_valid(i).then(|| text.format(a.value(i)))) {
                break;
            }
        }
        Ok(())
    }
    let n = array.len();
    match array.data_type() {
        DataType::Utf8 => {
            let a = array
                .as_string_opt::<i32>()
                .ok_or_else(|| changed_type(array))?;
            texts(n, |i| a.is_valid(i), |i| a.value(i), each);
        }
        DataType::LargeUtf8 => {
            let a = array
                .as_string_opt::<i64>()
                .ok_or_else(|| changed_type(array))?;
            texts(n, |i| a.is_valid(i), |i| a.value(i), each);
        }
        DataType::Utf8View => {
            let a = array
                .as_string_view_opt()
                .ok_or_else(|| changed_type(array))?;
            texts(n, |i| a.is_valid(i), |i| a.value(i), each);
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array
                .as_any_dictionary_opt()
                .ok_or_else(|| changed_type(array))?;
            // The dictionary's values once, then each row's.
            let mut words = Keys::new();
            let mut present = Vec::new();
            each_key(dictionary.values().as_ref(), &mut |word| {
                present.push(word.is_some());
                words.push(word.unwrap_or_default());
                true
            })?;
            let indices = dictionary.normalized_keys();
            texts(
                n,
                |i| array.is_valid(i) && present[indices[i]],
                |i| &words[indices[i]],
                each,
            );
        }
        DataType::Int8 => integers::<Int8Type>(array, each)?,
        DataType::Int16 => integers::<Int16Type>(array, each)?,
        DataType::Int32 => integers::<Int32Type>(array, each)?,
        DataType::Int64 => integers::<Int64Type>(array, each)?,
        DataType::UInt8 => integers::<UInt8Type>(array, each)?,
        DataType::UInt16 => integers::<UInt16Type>(array, each)?,
        DataType::UInt32 => integers::<UInt32Type>(array, each)?,
        DataType::UInt64 => integers::<UInt64Type>(array, each)?,
        _ => return Err(changed_type(array)),
    }
    Ok(())
}

/// Writes the values of `array` to column `slot` of `out` (rows of `d`
/// values; the array's first rows, as many as `out` has). Nulls are NaN.
fn fill_values(array: &dyn Array, slot: usize, d: usize, out: &mut [f64]) -> Result<(), String> {
    fn fill<T: ArrowPrimitiveType>(
        array: &dyn Array,
        slot: usize,
        d: usize,
        out: &mut [f64],
        mut value: impl FnMut(T::Native) -> f64,
    ) -> Result<(), String> {
        let a = array
            .as_primitive_opt::<T>()
            .ok_or_else(|| changed_type(array))?;
        for (i, row) in out.chunks_exact_mut(d).enumerate() {
            row[slot] = if a.is_null(i) {
                f64::NAN
            } else {
                value(a.value(i))
            };
        }
        Ok(())
    }
    let mut text = String::new();
    let mut shortest = ryu::Buffer::new();
    match array.data_type() {
        DataType::Null => out.chunks_exact_mut(d).for_each(|row| row[slot] = f64::NAN),
        DataType::Boolean => {
            let a = array.as_boolean_opt().ok_or_else(|| changed_type(array))?;
            for (i, row) in out.chunks_exact_mut(d).enumerate() {
                row[slot] = if a.is_null(i) {
                    f64::NAN
                } else {
                    f64::from(u8::from(a.value(i)))
                };
            }
        }
        DataType::Int8 => fill::<Int8Type>(array, slot, d, out, f64::from)?,
        DataType::Int16 => fill::<Int16Type>(array, slot, d, out, f64::from)?,
        DataType::Int32 => fill::<Int32Type>(array, slot, d, out, f64::from)?,
        DataType::Int64 => fill::<Int64Type>(array, slot, d, out, |v| v as f64)?,
        DataType::UInt8 => fill::<UInt8Type>(array, slot, d, out, f64::from)?,
        DataType::UInt16 => fill::<UInt16Type>(array, slot, d, out, f64::from)?,
        DataType::UInt32 => fill::<UInt32Type>(array, slot, d, out, f64::from)?,
        DataType::UInt64 => fill::<UInt64Type>(array, slot, d, out, |v| v as f64)?,
        DataType::Float16 => fill::<Float16Type>(array, slot, d, out, |v| v.to_f64())?,
        DataType::Float32 => fill::<Float32Type>(array, slot, d, out, |v| {
            if v.is_finite() {
                shortest
                    .format_finite(v)
                    .parse::<f64>()
                    .unwrap_or(f64::from(v))
            } else {
                f64::from(v)
            }
        })?,
        DataType::Float64 => fill::<Float64Type>(array, slot, d, out, |v| v)?,
        &DataType::Decimal32(_, scale) => fill::<Decimal32Type>(array, slot, d, out, |v| {
            decimal(i128::from(v), scale, &mut text)
        })?,
        &DataType::Decimal64(_, scale) => fill::<Decimal64Type>(array, slot, d, out, |v| {
            decimal(i128::from(v), scale, &mut text)
        })?,
        &DataType::Decimal128(_, scale) => {
            fill::<Decimal128Type>(array, slot, d, out, |v| decimal(v, scale, &mut text))?
        }
        &DataType::Decimal256(_, scale) => fill::<Decimal256Type>(array, slot, d, out, |v| {
            match v.to_i128() {
                Some(v) => decimal(v, scale, &mut text),
                None => {
                    text.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(text, "{v}e{}", -i32::from(scale));
                    text.parse().unwrap_or(f64::NAN)
                }
            }
        })?,
        _ => return Err(changed_type(array)),
    }
    Ok(())
}

/// The decimal `units` x 10^-`scale` as its decimal text would be read:
/// exactly (one correctly rounded operation on exact operands) when the
/// units and the power of ten are exact in an f64, else through the text.
fn decimal(units: i128, scale: i8, text: &mut String) -> f64 {
    const EXACT: u128 = 1 << 53;
    let power = usize::from(scale.unsigned_abs());
    if units.unsigned_abs() <= EXACT && power < POW10.len() {
        return if scale >= 0 {
            units as f64 / POW10[power]
        } else {
            units as f64 * POW10[power]
        };
    }
    text.clear();
    // Writing to a String cannot fail.
    let _ = write!(text, "{units}e{}", -i32::from(scale));
    text.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_their_text() {
        let mut text = String::new();
        for (units, scale) in [
            (12345i128, 2i8),
            (-5, 1),
            (7, -3),
            (123_456_789_012_345_678_901_234_567, 10),
            (1, 30),
            (-99_999_999_999_999_999, 0),
        ] {
            let written = if scale >= 0 {
                format!("{units}e-{scale}")
            } else {
                format!("{units}e{}", -scale)
            };
            assert_eq!(
                decimal(units, scale, &mut text),
                written.parse::<f64>().unwrap(),
                "{units} {scale}"
            );
        }
    }

    #[test]
    fn key_and_number_types() {
        assert!(is_key_type(&DataType::Utf8View));
        assert!(is_key_type(&DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::LargeUtf8)
        )));
        assert!(is_key_type(&DataType::UInt64));
        assert!(!is_key_type(&DataType::Float64));
        assert!(is_number_type(&DataType::Decimal128(10, 2)));
        assert!(!is_number_type(&DataType::Utf8));
    }
}
