//! scores.csv: one row per user with its segment and segment name, its
//! distance to the segment centre (scaled space), for a Gaussian mixture
//! its membership probabilities, for deep embedding clustering its soft
//! assignments and latent code, its silhouette when
//! computed exactly, its RFM scores and RFM segment, its churn risk and
//! the reason for it, its overdue ratio, its P(alive), expected
//! transactions and CLV over the horizon when the lifetime models were
//! fitted, and its feature values in original units (README,
//! "Clustering").

use std::io::{self, Write};

use crate::features::matrix::NumericTable;
use rayon::prelude::*;

use crate::insights::segments::UserInsights;
use crate::values::csv::{push_distance, push_f32, push_float, push_text};

/// The per-user results of a fit or a score.
pub struct Scores<'a> {
    /// The users (one row each, in its key order) and their feature
    /// values in original units, the CSV's last columns.
    pub table: &'a NumericTable,
    /// Segment of each user (0 = highest mean of the ordering column).
    pub segments: &'a [u32],
    /// One name per segment.
    pub names: &'a [String],
    /// For a hierarchical model, each segment's parent at a coarser cut:
    /// the `segment_path` column (`parent/segment`); `None` otherwise.
    pub parents: Option<&'a [u32]>,
    /// For a Leiden fit, each user's community (0 the largest; the
    /// `community` column, which tells apart the communities gathered in
    /// "Other"); `None` otherwise.
    pub communities: Option<&'a [u32]>,
    /// For scoring with a Leiden model, how each user was placed: the
    /// `placed_by` column (`member`, `edges` or `features`); `None`
    /// otherwise.
    pub placed_by: Option<&'a [crate::segment::PlacedBy]>,
    /// Euclidean distance to the segment centre, scaled space (computed in
    /// f32 working coordinates, so good to f32 precision; f64 holds
    /// distances past the f32 range, with `--scale none` on huge values).
    pub distances: &'a [f64],
    /// For a Gaussian mixture, each user's membership probability of every
    /// segment, or deep embedding clustering's soft assignment (n x K,
    /// segment 0 first): the `probability` column (of the user's segment)
    /// and `p_0` ... `p_{K-1}`; `None` for other methods.
    pub probabilities: Option<&'a [f32]>,
    /// For deep embedding clustering, each user's latent code (n x
    /// latent): the columns `z_0` ...; `None` for other methods.
    pub latent: Option<&'a [f32]>,
    /// Each user's Euclidean silhouette, in [-1, 1]; `None` unless computed
    /// exactly, which leaves out the `silhouette` column.
    pub silhouettes: Option<&'a [f32]>,
    /// RFM scores and churn risks; `None` when the table lacks the
    /// columns they need, which leaves their cells empty.
    pub insights: Option<&'a UserInsights>,
}

/// The columns between the segment's and the features'.
const INSIGHT_COLUMNS: &[u8] = b",rfm_r,rfm_f,rfm_m,rfm_segment,churn_risk,churn_reason,overdue";

impl Scores<'_> {
    /// The latent code's width: 0 without codes.
    pub fn latent_width(&self) -> usize {
        match self.latent {
            Some(codes) if !self.segments.is_empty() => codes.len() / self.segments.len(),
            _ => 0,
        }
    }

    /// Writes scores.csv: a header, then one row per user in the table's
    /// order; a missing feature value is an empty cell.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"user_id,segment,segment_name");
        if self.parents.is_some() {
            buf.extend_from_slice(b",segment_path");
        }
        if self.communities.is_some() {
            buf.extend_from_slice(b",community");
        }
        if self.placed_by.is_some() {
            buf.extend_from_slice(b",placed_by");
        }
        buf.extend_from_slice(b",distance");
        let k = self.names.len();
        if self.probabilities.is_some() {
            buf.extend_from_slice(b",probability");
            for c in 0..k {
                buf.extend_from_slice(format!(",p_{c}").as_bytes());
            }
        }
        for z in 0..self.latent_width() {
            buf.extend_from_slice(format!(",z_{z}").as_bytes());
        }
        if self.silhouettes.is_some() {
            buf.extend_from_slice(b",silhouette");
        }
        buf.extend_from_slice(INSIGHT_COLUMNS);
        let lifetime = self.insights.and_then(|i| i.lifetime.as_ref());
        if let Some(l) = lifetime {
            let h = l.horizon_days;
            buf.extend_from_slice(format!(",p_alive,expected_tx_{h}d,clv_{h}d").as_bytes());
        }
        for c in &self.table.columns {
            buf.push(b',');
            push_text(&mut buf, c);
        }
        buf.push(b'\n');
        out.write_all(&buf)?;
        // Rows are formatted in parallel, a batch at a time, and written in
        // order: with millions of users, formatting a score row's 20-odd
        // cells on one core took most of `score`'s time.
        const BATCH: usize = 1 << 18;
        const PIECE: usize = 1 << 12;
        let rows = self.table.keys.len();
        for start in (0..rows).step_by(BATCH) {
            let end = (start + BATCH).min(rows);
            let pieces: Vec<Vec<u8>> = (start..end)
                .into_par_iter()
                .step_by(PIECE)
                .map(|first| {
                    let mut buf = Vec::with_capacity(PIECE * 256);
                    let mut ints = itoa::Buffer::new();
                    for i in first..(first + PIECE).min(end) {
                        self.push_row(&mut buf, &mut ints, i, lifetime);
                    }
                    buf
                })
                .collect();
            for piece in &pieces {
                out.write_all(piece)?;
            }
        }
        Ok(())
    }

    /// Row `i` of the CSV, its line end included.
    fn push_row(
        &self,
        buf: &mut Vec<u8>,
        ints: &mut itoa::Buffer,
        i: usize,
        lifetime: Option<&crate::insights::btyd::LifetimeScores>,
    ) {
        let k = self.names.len();
        let key = self.table.keys.get(i);
        let segment = self.segments[i];
        push_text(buf, key);
        buf.push(b',');
        buf.extend_from_slice(ints.format(segment).as_bytes());
        buf.push(b',');
        push_text(buf, &self.names[segment as usize]);
        if let Some(parents) = self.parents {
            buf.push(b',');
            buf.extend_from_slice(ints.format(parents[segment as usize]).as_bytes());
            buf.push(b'/');
            buf.extend_from_slice(ints.format(segment).as_bytes());
        }
        if let Some(communities) = self.communities {
            buf.push(b',');
            buf.extend_from_slice(ints.format(communities[i]).as_bytes());
        }
        if let Some(placed) = self.placed_by {
            buf.push(b',');
            buf.extend_from_slice(placed[i].name().as_bytes());
        }
        buf.push(b',');
        push_distance(buf, self.distances[i]);
        if let Some(p) = self.probabilities {
            let row = &p[i * k..(i + 1) * k];
            buf.push(b',');
            push_f32(buf, row[segment as usize]);
            for &v in row {
                buf.push(b',');
                push_f32(buf, v);
            }
        }
        if let Some(codes) = self.latent {
            let width = self.latent_width();
            for &z in &codes[i * width..(i + 1) * width] {
                buf.push(b',');
                push_f32(buf, z);
            }
        }
        if let Some(s) = self.silhouettes {
            buf.push(b',');
            push_f32(buf, s[i]);
        }
        match self.insights {
            Some(insights) => {
                let rfm = &insights.rfm;
                for score in [rfm.r[i], rfm.f[i], rfm.m[i]] {
                    buf.push(b',');
                    buf.extend_from_slice(ints.format(score).as_bytes());
                }
                buf.push(b',');
                push_text(buf, rfm.segments[i].name());
                buf.push(b',');
                push_text(buf, insights.churn[i].name());
                buf.push(b',');
                push_text(buf, &insights.reasons[i]);
                push_cell(buf, insights.overdue[i]);
            }
            None => buf.extend_from_slice(b",,,,,,,"),
        }
        if let Some(l) = lifetime {
            push_cell(buf, l.p_alive[i]);
            push_cell(buf, l.expected[i]);
            push_cell(buf, l.clv.as_ref().map_or(f64::NAN, |c| c[i]));
        }
        for &v in self.table.row(i) {
            push_cell(buf, v);
        }
        buf.push(b'\n');
    }
}

/// A comma and `v`; NaN is an empty cell.
fn push_cell(buf: &mut Vec<u8>, v: f64) {
    buf.push(b',');
    if !v.is_nan() {
        push_float(buf, v);
    }
}
