//! Segments in business terms (README, "Report"): the two or three
//! features that set a segment apart, each with its ratio to the mean of
//! all users, as a phrase: "spends 4.1x the average", "comes back every
//! 12 days (average 30)", "71% Email (average 40%)".
//!
//! A feature sets a segment apart by how far its segment mean is from the
//! overall mean: the absolute log of their ratio for amounts, counts and
//! days, the difference for shares and trends (so 71% against 40% weighs
//! 0.31, as a ratio of 1.36 does). Features within [`LEAST_DISTANCE`] of
//! the mean say nothing and are left out.

use serde::Serialize;

use crate::features::matrix::NumericTable;

/// Most phrases per segment.
pub const MAX_TRAITS: usize = 3;

/// The least distance (see the module docs) a trait needs: a ratio of
/// 1.2, or 18 percentage points.
pub const LEAST_DISTANCE: f64 = 0.18;

/// One feature that sets a segment apart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trait {
    /// The feature's column.
    pub feature: String,
    /// Its mean over the segment's users with a value.
    pub segment_mean: f64,
    /// Its mean over all users with a value.
    pub overall_mean: f64,
    /// How far apart they are (see the module docs).
    pub distance: f64,
    /// The phrase people read.
    pub text: String,
}

/// How a feature is compared and said.
#[derive(Clone, Copy)]
enum Kind {
    /// Positive amounts and counts: compared by ratio.
    Ratio(fn(f64, f64) -> String),
    /// Fractions in [0, 1] or trends: compared by difference.
    Difference(fn(&str, f64, f64) -> String),
}

fn times(ratio: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.1}x the average")
    } else {
        format!("{:.0}% less than the average", (1.0 - ratio) * 100.0)
    }
}

fn days(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn kind(feature: &str) -> Option<Kind> {
    Some(match feature {
        "monetary" => Kind::Ratio(|s, o| format!("spends {}", times(s / o))),
        "frequency" => Kind::Ratio(|s, o| {
            let r = s / o;
            if r >= 1.0 {
                format!("{r:.1}x the average transactions")
            } else {
                format!(
                    "{:.0}% fewer transactions than the average",
                    (1.0 - r) * 100.0
                )
            }
        }),
        "gap_days" => {
            Kind::Ratio(|s, o| format!("comes back every {} days (average {})", days(s), days(o)))
        }
        "recency_days" => {
            Kind::Ratio(|s, o| format!("last seen {} days ago (average {})", days(s), days(o)))
        }
        "active_days" => {
            Kind::Ratio(|s, o| format!("active on {} days (average {})", days(s), days(o)))
        }
        "success_rate" => Kind::Difference(|_, s, o| {
            format!("{:.0}% successful (average {:.0}%)", s * 100.0, o * 100.0)
        }),
        "cadence_trend" => Kind::Difference(|_, s, o| {
            format!("usage {:+.0}% (average {:+.0}%)", s * 100.0, o * 100.0)
        }),
        name if name.starts_with("share_") => Kind::Difference(|name, s, o| {
            format!(
                "{:.0}% {} (average {:.0}%)",
                s * 100.0,
                &name["share_".len()..],
                o * 100.0
            )
        }),
        _ => return None,
    })
}

/// The traits of segments `0..k` of `table`'s users (`segments[i]` is
/// user i's), most distinctive first.
pub fn describe(table: &NumericTable, segments: &[u32], k: usize) -> Vec<Vec<Trait>> {
    let columns: Vec<(usize, &str, Kind)> = table
        .columns
        .iter()
        .enumerate()
        .filter_map(|(j, c)| Some((j, c.as_str(), kind(c)?)))
        .collect();
    let d = columns.len();
    // (sum, count) per segment and column; the last row is everyone.
    let mut sums = vec![(0.0f64, 0u64); (k + 1) * d];
    for (i, &s) in segments.iter().enumerate() {
        let row = table.row(i);
        for (c, &(j, _, _)) in columns.iter().enumerate() {
            let v = row[j];
            if v.is_finite() {
                for at in [s as usize * d + c, k * d + c] {
                    sums[at].0 += v;
                    sums[at].1 += 1;
                }
            }
        }
    }
    let mean = |at: usize| (sums[at].1 > 0).then(|| sums[at].0 / sums[at].1 as f64);
    (0..k)
        .map(|s| {
            let mut traits: Vec<Trait> = columns
                .iter()
                .enumerate()
                .filter_map(|(c, &(_, name, kind))| {
                    let (seg, all) = (mean(s * d + c)?, mean(k * d + c)?);
                    let (distance, text) = match kind {
                        Kind::Ratio(say) => {
                            if !(seg > 0.0 && all > 0.0) {
                                return None;
                            }
                            ((seg / all).ln().abs(), say(seg, all))
                        }
                        Kind::Difference(say) => ((seg - all).abs(), say(name, seg, all)),
                    };
                    (distance >= LEAST_DISTANCE).then(|| Trait {
                        feature: name.to_string(),
                        segment_mean: seg,
                        overall_mean: all,
                        distance,
                        text,
                    })
                })
                .collect();
            traits.sort_by(|a, b| b.distance.total_cmp(&a.distance));
            traits.truncate(MAX_TRAITS);
            traits
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: &[&[f64]]) -> NumericTable {
        NumericTable {
            keys: (0..rows.len()).map(|i| format!("u{i}")).collect(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            values: rows.iter().flat_map(|r| r.iter().copied()).collect(),
            source: "test".into(),
        }
    }

    #[test]
    fn the_features_that_set_a_segment_apart() {
        let t = table(
            &["monetary", "gap_days", "share_Email", "frequency"],
            &[
                &[400.0, 12.0, 0.8, 10.0],
                &[420.0, 12.0, 0.62, 10.0],
                &[20.0, 40.0, 0.3, 10.0],
                &[20.0, f64::NAN, 0.3, 10.0],
                &[20.0, 50.0, 0.3, 10.0],
            ],
        );
        let d = describe(&t, &[0, 0, 1, 1, 1], 2);
        // Mean spend 176: segment 0 spends 410 (2.3x), segment 1 20.
        let texts: Vec<&str> = d[0].iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "comes back every 12 days (average 28)",
                "spends 2.3x the average",
                "71% Email (average 46%)",
            ]
        );
        assert_eq!(d[1][0].text, "spends 89% less than the average");
        // Frequency is the same everywhere: never a trait.
        assert!(d.iter().flatten().all(|t| t.feature != "frequency"));
    }
}
