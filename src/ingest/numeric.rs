//! Reading a numeric feature table (`--features-input FILE`): a CSV with a
//! header, one row per user, a key column and numeric columns. Used to
//! cluster features computed elsewhere, or a `segmint features` output.
//!
//! Only the columns asked for are parsed, so a table may carry text
//! columns (first_seen, labels) beside the numeric ones. Errors carry the
//! file, line and column like the transaction reader's.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use hashbrown::HashMap;

use super::csv_table;
use super::error::{excerpt, excerpt_list};
use super::schema::Delimiter;
use super::{IngestError, RowError, RowErrorKind};
use crate::features::matrix::NumericTable;

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
    /// The field separator: a single byte, as whitespace is refused.
    pub delimiter: Delimiter,
}

/// Reads `path` (`-` is standard input) into a [`NumericTable`], in file
/// order. Empty cells become NaN (rejected later if clustered on).
pub fn read_numeric_table(
    path: &Path,
    options: &NumericOptions,
) -> Result<NumericTable, IngestError> {
    let io_error = |source: io::Error| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let delimiter = match options.delimiter {
        Delimiter::Byte(b) => b,
        Delimiter::Whitespace => {
            return Err(IngestError::Header {
                path: path.to_path_buf(),
                message: "a feature table must use a single-byte delimiter, not whitespace".into(),
            });
        }
    };
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(io_error)?)
    };
    let mut csv = csv_table::reader(delimiter, io::BufReader::with_capacity(1 << 20, reader));

    let header_error = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        message,
    };
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
                excerpt_list(&names)
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

    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let row_error = |line: u64, column: Option<usize>, kind: RowErrorKind| {
        IngestError::Row(Box::new(RowError {
            unit: super::error::Unit::Line,
            path: path.to_path_buf(),
            line,
            column: column.map(|c| (c + 1, names[c].clone())),
            kind,
        }))
    };
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = csv_table::line_of(&record);
        let key_bytes = csv_table::cell(&record, key);
        let Ok(user) = std::str::from_utf8(key_bytes) else {
            return Err(row_error(line, Some(key), RowErrorKind::InvalidUtf8));
        };
        let user = user.trim();
        if user.is_empty() {
            return Err(row_error(line, Some(key), RowErrorKind::EmptyKey));
        }
        if let Some(&first_line) = seen.get(user) {
            return Err(row_error(
                line,
                Some(key),
                RowErrorKind::DuplicateKey {
                    key: user.to_string(),
                    first_line,
                },
            ));
        }
        seen.insert(user.to_string(), line);
        for &c in &wanted {
            let cell = csv_table::cell(&record, c).trim_ascii();
            let value = if cell.is_empty() {
                f64::NAN
            } else {
                parse_number(cell).ok_or_else(|| {
                    row_error(
                        line,
                        Some(c),
                        RowErrorKind::Number {
                            value: excerpt(cell),
                        },
                    )
                })?
            };
            values.push(value);
        }
        keys.push(user.to_string());
    }
    if keys.is_empty() {
        return Err(IngestError::NoRows {
            detail: format!(" ({} has a header and no rows)", path.display()),
        });
    }
    Ok(NumericTable {
        keys,
        columns: wanted.iter().map(|&c| names[c].clone()).collect(),
        values,
        source: super::error::display_path(path),
    })
}

/// A decimal number; `nan` and `inf` spellings parse (and are rejected
/// later as non-finite, with the user named).
fn parse_number(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell).ok()?.parse::<f64>().ok()
}

fn csv_error(path: &Path, error: csv::Error) -> IngestError {
    let line = error.position().map_or(0, |p| p.line());
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => IngestError::Row(Box::new(RowError {
            unit: super::error::Unit::Line,
            path: path.to_path_buf(),
            line,
            column: None,
            kind: RowErrorKind::FieldCount {
                expected: expected_len as usize,
                found: len as usize,
            },
        })),
        _ => IngestError::Header {
            path: path.to_path_buf(),
            message: format!("line {line}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, options: &NumericOptions) -> Result<NumericTable, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).unwrap();
        read_numeric_table(&path, options)
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
        assert_eq!(t.keys, vec!["b", "a"]);
        assert_eq!(t.columns, vec!["y", "x"]);
        assert_eq!(t.values[..2], [-2.0, 1.5]);
        assert!(t.values[2].is_nan());
        assert_eq!(t.values[3], 3.0);
    }

    #[test]
    fn positions_bad_cells_and_duplicates() {
        let err = read("id,x\na,1\nb,oops\n", &NumericOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("line 3, column 2 (x): expected a number, found \"oops\""),
            "{err}"
        );
        let err = read("id,x\na,1\na,2\n", &NumericOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3, column 1 (id)"), "{err}");
        assert!(err.contains("first on line 2"), "{err}");
        let err = read("id,x\na,1,2\n", &NumericOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 2 fields, found 3"), "{err}");
        let err = read("id,x\n", &NumericOptions::default()).unwrap_err();
        assert!(matches!(err, IngestError::NoRows { .. }));
        let err = read(
            "id,x\na,1\n",
            &NumericOptions {
                key_column: Some("user".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no column \"user\""), "{err}");
    }
}
