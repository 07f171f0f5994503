//! File formats in and out: which one a file is (by its first bytes, its
//! extension or `--input-format`), which one an output gets (by its
//! extension or `--output-format`), and the Arrow record batches that
//! Parquet and Arrow IPC files carry.
//!
//! Inputs:
//!
//! | format | extension | recognised by |
//! |---|---|---|
//! | CSV | `.csv` (any other) | no other format's magic bytes |
//! | CSV, gzip | `.csv.gz` | `1f 8b` (multi-member files too) |
//! | CSV, zstd | `.csv.zst` | `28 b5 2f fd` (multi-frame files too) |
//! | Parquet | `.parquet` | `PAR1` |
//! | Arrow IPC file | `.arrow`, `.feather` | `ARROW1` |
//! | Arrow IPC stream | `.arrows` | `ff ff ff ff` (a continuation marker) |
//!
//! The bytes decide: a `.csv` file that is gzip is read as gzip. A format
//! named by `--input-format` or by the extension that the bytes
//! contradict (`--input-format parquet` on a CSV, a `.parquet` file that
//! is not Parquet) is an error, not a guess.
//!
//! Outputs (features, scores): CSV unless the extension is `.parquet`,
//! `.arrow` or `.arrows`, or `--output-format` says otherwise, which
//! standard output (`-o -`) needs for anything but CSV. Arrow to standard
//! output is the stream format, which a reader can take batch by batch.

pub mod decompress;
pub mod write;

use std::path::Path;

/// What `--input-format` names: the family, compression and the Arrow
/// variant being told by the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Delimited text, plain or compressed.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC, file or stream format.
    Arrow,
}

impl InputFormat {
    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Parquet => "parquet",
            InputFormat::Arrow => "arrow",
        }
    }

    /// The format a file name's extension names, if any (`.csv.gz` and
    /// `.csv.zst` are CSV).
    pub fn from_extension(path: &Path) -> Option<InputFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".zst"))
            .unwrap_or(&name);
        let (_, extension) = name.rsplit_once('.')?;
        match extension {
            "csv" | "tsv" | "txt" => Some(InputFormat::Csv),
            "parquet" | "pq" => Some(InputFormat::Parquet),
            "arrow" | "arrows" | "feather" | "ipc" => Some(InputFormat::Arrow),
            _ => None,
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(InputFormat::Csv),
            "parquet" => Ok(InputFormat::Parquet),
            "arrow" => Ok(InputFormat::Arrow),
            _ => Err(format!(
                "unknown input format {s:?}: expected csv, parquet or arrow"
            )),
        }
    }
}

/// What an input's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// Text (or too short to be anything else).
    Csv,
    /// Gzip: decompressed, then read as CSV.
    Gzip,
    /// Zstandard: decompressed, then read as CSV.
    Zstd,
    /// Parquet (`PAR1`).
    Parquet,
    /// An Arrow IPC file (`ARROW1`).
    ArrowFile,
    /// An Arrow IPC stream: it starts with a message's continuation marker.
    ArrowStream,
}

/// Bytes [`Sniffed::of`] needs to tell every format apart.
pub const SNIFF_BYTES: usize = 8;

impl Sniffed {
    /// The format of a file starting with `head` (its first
    /// [`SNIFF_BYTES`], or all of it when shorter).
    pub fn of(head: &[u8]) -> Sniffed {
        if head.starts_with(b"PAR1") {
            Sniffed::Parquet
        } else if head.starts_with(b"ARROW1") {
            Sniffed::ArrowFile
        } else if head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
            Sniffed::ArrowStream
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Sniffed::Gzip
        } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Sniffed::Zstd
        } else {
            Sniffed::Csv
        }
    }

    /// The family, for comparing with what the user named.
    pub fn family(self) -> InputFormat {
        match self {
            Sniffed::Csv | Sniffed::Gzip | Sniffed::Zstd => InputFormat::Csv,
            Sniffed::Parquet => InputFormat::Parquet,
            Sniffed::ArrowFile | Sniffed::ArrowStream => InputFormat::Arrow,
        }
    }

    /// How the format is described in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Sniffed::Csv => "CSV text",
            Sniffed::Gzip => "gzip-compressed",
            Sniffed::Zstd => "zstd-compressed",
            Sniffed::Parquet => "Parquet",
            Sniffed::ArrowFile => "an Arrow IPC file",
            Sniffed::ArrowStream => "an Arrow IPC stream",
        }
    }

    /// Whether the bytes are Parquet or Arrow (read as record batches).
    pub fn is_columnar(self) -> bool {
        self.family() != InputFormat::Csv
    }
}

/// Checks what the bytes say against what the user named (`--input-format`,
/// else the extension): `Err` with the message when they disagree.
pub fn check_input(
    path: &Path,
    given: Option<InputFormat>,
    sniffed: Sniffed,
) -> Result<(), String> {
    let (named, by) = match given {
        Some(format) => (format, format!("--input-format {}", format.name())),
        None => match InputFormat::from_extension(path) {
            Some(format) => (format, "its extension".to_string()),
            None => return Ok(()),
        },
    };
    if named == sniffed.family() {
        return Ok(());
    }
    let expected = match named {
        InputFormat::Csv => "CSV (plain, gzip or zstd)",
        InputFormat::Parquet => "Parquet (starting with PAR1)",
        InputFormat::Arrow => "Arrow IPC (a file starting with ARROW1, or a stream)",
    };
    let hint = match given {
        Some(_) => format!(
            "; leave out --input-format, or give --input-format {}",
            sniffed.family().name()
        ),
        None => String::new(),
    };
    Err(format!(
        "expected {expected} by {by}, but the file is {}{hint}",
        sniffed.describe()
    ))
}

/// What `--output-format` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Comma-separated text.
    #[default]
    Csv,
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// Arrow IPC: the file format, or the stream format (`.arrows`, and
    /// standard output).
    Arrow,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(OutputFormat::Csv),
            "parquet" => Ok(OutputFormat::Parquet),
            "arrow" => Ok(OutputFormat::Arrow),
            _ => Err(format!(
                "unknown output format {s:?}: expected csv, parquet or arrow"
            )),
        }
    }
}

/// How a table output is written: the format, and for Arrow whether as a
/// stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// CSV text.
    Csv,
    /// Parquet.
    Parquet,
    /// Arrow IPC file format (with a footer, random access).
    ArrowFile,
    /// Arrow IPC stream format (batch after batch, no footer).
    ArrowStream,
}

impl TableFormat {
    /// The format of output `path` (`-` for standard output): `given`
    /// (`--output-format`), else by extension, else CSV.
    pub fn of_output(path: &Path, given: Option<OutputFormat>) -> TableFormat {
        let stdout = path.as_os_str() == "-";
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let by_extension = match extension.as_deref() {
            Some("parquet" | "pq") => Some(OutputFormat::Parquet),
            Some("arrow" | "arrows" | "feather" | "ipc") => Some(OutputFormat::Arrow),
            Some("csv") => Some(OutputFormat::Csv),
            _ => None,
        };
        match given.or(by_extension).unwrap_or_default() {
            OutputFormat::Csv => TableFormat::Csv,
            OutputFormat::Parquet => TableFormat::Parquet,
            OutputFormat::Arrow if stdout || extension.as_deref() == Some("arrows") => {
                TableFormat::ArrowStream
            }
            OutputFormat::Arrow => TableFormat::ArrowFile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_format() {
        assert_eq!(Sniffed::of(b"PAR1\x15\x04"), Sniffed::Parquet);
        assert_eq!(Sniffed::of(b"ARROW1\0\0"), Sniffed::ArrowFile);
        assert_eq!(Sniffed::of(&[0xFF; 8]), Sniffed::ArrowStream);
        assert_eq!(Sniffed::of(&[0x1F, 0x8B, 8, 0]), Sniffed::Gzip);
        assert_eq!(Sniffed::of(&[0x28, 0xB5, 0x2F, 0xFD, 0]), Sniffed::Zstd);
        assert_eq!(Sniffed::of(b"user_id,"), Sniffed::Csv);
        assert_eq!(Sniffed::of(b""), Sniffed::Csv);
        assert_eq!(Sniffed::of(b"PA"), Sniffed::Csv);
    }

    #[test]
    fn named_formats_must_match_the_bytes() {
        let p = Path::new;
        assert!(check_input(p("log.csv"), None, Sniffed::Gzip).is_ok());
        assert!(check_input(p("log.csv.zst"), None, Sniffed::Zstd).is_ok());
        assert!(check_input(p("log"), None, Sniffed::Parquet).is_ok());
        assert!(check_input(p("-"), None, Sniffed::ArrowStream).is_ok());
        let wrong = check_input(p("log.parquet"), None, Sniffed::Csv).unwrap_err();
        assert!(
            wrong.contains("by its extension, but the file is CSV text"),
            "{wrong}"
        );
        let wrong = check_input(p("x"), Some(InputFormat::Csv), Sniffed::Parquet).unwrap_err();
        assert!(wrong.contains("--input-format csv"), "{wrong}");
        assert!(wrong.contains("give --input-format parquet"), "{wrong}");
        assert!(check_input(p("x.csv"), Some(InputFormat::Arrow), Sniffed::ArrowFile).is_ok());
    }

    #[test]
    fn outputs_by_flag_then_extension() {
        let of = |p: &str, f| TableFormat::of_output(Path::new(p), f);
        assert_eq!(of("f.csv", None), TableFormat::Csv);
        assert_eq!(of("f.out", None), TableFormat::Csv);
        assert_eq!(of("-", None), TableFormat::Csv);
        assert_eq!(of("f.parquet", None), TableFormat::Parquet);
        assert_eq!(of("f.arrow", None), TableFormat::ArrowFile);
        assert_eq!(of("f.arrows", None), TableFormat::ArrowStream);
        assert_eq!(of("-", Some(OutputFormat::Arrow)), TableFormat::ArrowStream);
        assert_eq!(
            of("f.csv", Some(OutputFormat::Parquet)),
            TableFormat::Parquet
        );
    }
}
