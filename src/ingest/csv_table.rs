//! Tables read with the `csv` crate (feature tables, scores files), with
//! line numbers that stay right whatever the line ends.
//!
//! The crate's own reader ends a record at `\r` and counts the `\n` that
//! follows it in the next record, so every line number of a CRLF file
//! comes out one too low. Records here end at `\n` only, so the count is
//! exact, and the `\r` left at the end of a record's last field is taken
//! off by [`cell`]. (A file with bare `\r` line ends is one long line, as
//! for transaction logs.)

use std::io::Read;

/// A reader of `source` with a header row.
pub(crate) fn reader<R: Read>(delimiter: u8, source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(true)
        .from_reader(source)
}

/// Field `i` of `record`, without the `\r` of a CRLF line end.
pub(crate) fn cell(record: &csv::ByteRecord, i: usize) -> &[u8] {
    let field = record.get(i).unwrap_or_default();
    if i + 1 == record.len() {
        field.strip_suffix(b"\r").unwrap_or(field)
    } else {
        field
    }
}

/// The 1-based line a record starts on.
pub(crate) fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}
