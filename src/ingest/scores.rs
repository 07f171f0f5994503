//! Reading a scores file written by `segmint fit` or `segmint score`:
//! each user's segment number and (when the file has the column) the
//! segment's name, for comparing two periods. Other columns are ignored.

use std::fs::File;
use std::io;
use std::path::Path;

use super::csv_table;
use super::error::{IngestError, RowError, RowErrorKind, excerpt, excerpt_list};

/// Segments a scores file may number: a K x K movement matrix is built of
/// them, and `fit` writes far fewer.
pub const MAX_SEGMENTS: usize = 1000;

/// The users of a scores file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoresFile {
    /// The user keys, one per row.
    pub users: Vec<String>,
    /// Each user's segment number, below [`MAX_SEGMENTS`], at the user's
    /// index in `users`.
    pub segments: Vec<u32>,
    /// One per segment number up to the highest one used; `None` where
    /// the file has no `segment_name` column or no user of that segment.
    pub names: Vec<Option<String>>,
}

/// Reads user_id, segment and (when present) segment_name of `path`.
pub fn read_scores(path: &Path) -> Result<ScoresFile, IngestError> {
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut reader = csv_table::reader(b',', io::BufReader::with_capacity(1 << 20, file));
    let header_error = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        message,
    };
    let headers = reader
        .byte_headers()
        .map_err(|e| header_error(format!("cannot read the header: {e}")))?
        .clone();
    let names: Vec<String> = (0..headers.len())
        .map(|i| {
            let cell = csv_table::cell(&headers, i);
            let cell = if i == 0 {
                cell.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(cell)
            } else {
                cell
            };
            String::from_utf8_lossy(cell).trim().to_string()
        })
        .collect();
    let find = |name: &str| -> Result<Option<usize>, IngestError> {
        let mut at = names.iter().enumerate().filter(|(_, n)| *n == name);
        match (at.next(), at.next()) {
            (Some((i, _)), None) => Ok(Some(i)),
            (Some((i, _)), Some((j, _))) => Err(header_error(format!(
                "the header names column {name:?} twice (columns {} and {})",
                i + 1,
                j + 1
            ))),
            (None, _) => Ok(None),
        }
    };
    let (Some(user_col), Some(segment_col)) = (find("user_id")?, find("segment")?) else {
        return Err(header_error(format!(
            "expected a scores file with user_id and segment columns (as fit and score write); the header has {}",
            excerpt_list(&names)
        )));
    };
    let name_col = find("segment_name")?;
    let row_error = |line: u64, column: usize, kind: RowErrorKind| {
        IngestError::Row(Box::new(RowError {
            unit: super::error::Unit::Line,
            path: path.to_path_buf(),
            line,
            column: Some((column + 1, names[column].clone())),
            kind,
        }))
    };
    let mut scores = ScoresFile {
        users: Vec::new(),
        segments: Vec::new(),
        names: Vec::new(),
    };
    // The line each segment's name was first seen on.
    let mut named_on: Vec<u64> = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(source) => io_error(source),
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
                    other => header_error(format!("line {line}: {other:?}")),
                });
            }
        }
        let line = csv_table::line_of(&record);
        let text = |column: usize| -> Result<&str, IngestError> {
            std::str::from_utf8(csv_table::cell(&record, column))
                .map_err(|_| row_error(line, column, RowErrorKind::InvalidUtf8))
        };
        let segment_text = text(segment_col)?;
        let segment: u32 = segment_text
            .trim()
            .parse()
            .ok()
            .filter(|&s| (s as usize) < MAX_SEGMENTS)
            .ok_or_else(|| {
                row_error(
                    line,
                    segment_col,
                    RowErrorKind::SegmentNumber {
                        value: excerpt(segment_text.as_bytes()),
                        limit: MAX_SEGMENTS,
                    },
                )
            })?;
        let user = text(user_col)?;
        if user.is_empty() {
            return Err(row_error(line, user_col, RowErrorKind::EmptyKey));
        }
        let s = segment as usize;
        if s >= scores.names.len() {
            scores.names.resize(s + 1, None);
            named_on.resize(s + 1, 0);
        }
        if let Some(c) = name_col {
            let name = text(c)?;
            match &scores.names[s] {
                Some(known) if known != name => {
                    return Err(row_error(
                        line,
                        c,
                        RowErrorKind::SegmentName {
                            segment,
                            name: excerpt(name.as_bytes()),
                            earlier: excerpt(known.as_bytes()),
                            earlier_line: named_on[s],
                        },
                    ));
                }
                Some(_) => {}
                None => {
                    scores.names[s] = Some(name.to_string());
                    named_on[s] = line;
                }
            }
        }
        scores.users.push(user.to_string());
        scores.segments.push(segment);
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ScoresFile, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, text).unwrap();
        read_scores(&path)
    }

    #[test]
    fn reads_users_segments_and_names() {
        let s = read("user_id,segment,distance,segment_name\nb,1,0.5,Low\na,0,0.1,High\n").unwrap();
        assert_eq!(s.users, ["b", "a"]);
        assert_eq!(s.segments, [1, 0]);
        assert_eq!(s.names, [Some("High".into()), Some("Low".into())]);
        let s = read("segment,user_id\n2,a\n").unwrap();
        assert_eq!(s.names, [None, None, None]);
    }

    #[test]
    fn line_numbers_hold_with_crlf_line_ends() {
        for end in ["\n", "\r\n"] {
            let text = ["user_id,segment,segment_name", "u1,0,A", "u2,x,B", ""].join(end);
            let err = read(&text).unwrap_err().to_string();
            assert!(err.contains("line 3, column 2 (segment)"), "{end:?}: {err}");
            let text = ["user_id,segment,segment_name", "u1,0,A", "u2,0,B", ""].join(end);
            let err = read(&text).unwrap_err().to_string();
            assert!(
                err.contains("line 3, column 3 (segment_name)") && err.contains("line 2"),
                "{end:?}: {err}"
            );
        }
        // A quoted field over two lines counts both.
        let err = read("user_id,segment\r\n\"u\r\n1\",0\r\nu2,-1\r\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4, column 2"), "{err}");
    }

    #[test]
    fn refuses_what_fit_and_score_never_write() {
        let err = read("user,segment\na,0\n").unwrap_err().to_string();
        assert!(err.contains("user_id and segment columns"), "{err}");
        let err = read("user_id,segment,segment\na,0,1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice"), "{err}");
        let err = read("user_id,segment\na,1000\n").unwrap_err().to_string();
        assert!(err.contains("from 0 to 999"), "{err}");
        let err = read("user_id,segment\n,1\n").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
