//! scores.csv: one row per user with its segment, its distance to the
//! segment centre (scaled space), its silhouette when computed exactly, and
//! its feature values in original units (SPEC section 6).

use std::io::{self, Write};

use crate::features::matrix::NumericTable;
use crate::features::table::{push_float, push_text};

/// The per-user results of a fit or a score.
pub struct Scores<'a> {
    pub table: &'a NumericTable,
    /// Segment of each user (0 = highest mean of the ordering column).
    pub segments: &'a [u32],
    /// Euclidean distance to the segment centre, scaled space.
    pub distances: &'a [f32],
    pub silhouettes: Option<&'a [f32]>,
}

/// The shortest text that reads back to the same f32 (values computed in
/// f32 have no more digits worth printing).
fn push_f32(buf: &mut Vec<u8>, x: f32) {
    if x == 0.0 {
        buf.push(b'0');
        return;
    }
    let mut ryu = ryu::Buffer::new();
    let s = ryu.format(x);
    buf.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

impl Scores<'_> {
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"user_id,segment,distance");
        if self.silhouettes.is_some() {
            buf.extend_from_slice(b",silhouette");
        }
        for c in &self.table.columns {
            buf.push(b',');
            push_text(&mut buf, c);
        }
        buf.push(b'\n');
        let mut ints = itoa::Buffer::new();
        for (i, key) in self.table.keys.iter().enumerate() {
            push_text(&mut buf, key);
            buf.push(b',');
            buf.extend_from_slice(ints.format(self.segments[i]).as_bytes());
            buf.push(b',');
            push_f32(&mut buf, self.distances[i]);
            if let Some(s) = self.silhouettes {
                buf.push(b',');
                push_f32(&mut buf, s[i]);
            }
            for &v in self.table.row(i) {
                buf.push(b',');
                if !v.is_nan() {
                    push_float(&mut buf, v);
                }
            }
            buf.push(b'\n');
            if buf.len() >= 1 << 20 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }
}
