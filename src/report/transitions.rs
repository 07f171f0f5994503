//! How users moved between segments (`transitions`), for people (the
//! matrix and the downgraded users) and as the movement matrix in CSV.

use std::io::Write;

use crate::insights::transitions::{Transitions, matrix_table};

use super::text::thousands;

/// The matrix, the counts of users who stayed, moved, appeared and
/// disappeared, and the first `show` users who moved down.
pub fn describe(t: &Transitions, show: usize) -> String {
    let mut text = matrix_table(t);
    text.push('\n');
    if let (Some(stayed), Some(up), Some(down)) = (t.stayed, t.moved_up, t.moved_down) {
        text.push_str(&format!(
            "stayed {}, moved up {}, moved down {}; ",
            thousands(stayed),
            thousands(up),
            thousands(down),
        ));
    }
    text.push_str(&format!(
        "appeared {}, disappeared {}",
        thousands(t.appeared.len() as u64),
        thousands(t.disappeared.len() as u64),
    ));
    if !t.downgrades.is_empty() {
        text.push_str("\n\nmoved to a lower-value segment:");
        for m in t.downgrades.iter().take(show) {
            text.push_str(&format!(
                "\n  {:<20} {} -> {}",
                m.user, m.from_name, m.to_name
            ));
        }
        if t.downgrades.len() > show {
            text.push_str(&format!(
                "\n  ... and {} more (all of them with --format json)",
                t.downgrades.len() - show
            ));
        }
    }
    text
}

/// The movement matrix as CSV: one row per old segment.
pub fn write_matrix_csv(t: &Transitions, out: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["from \\ to".to_string()];
    header.extend(t.new_names.iter().cloned());
    writer.write_record(&header)?;
    for (i, row) in t.matrix.iter().enumerate() {
        let mut record = vec![t.old_names[i].clone()];
        record.extend(row.iter().map(u64::to_string));
        writer.write_record(&record)?;
    }
    writer.flush()
}
