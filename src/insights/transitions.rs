//! Segment transitions (README, "Segments and insights"): given each user's segment at two
//! times (two scores files, or two periods of one log), the old x new
//! movement matrix, how many users stayed, moved up or moved down, who
//! appeared or disappeared, and the users who moved down. Reading scores
//! files and clustering the periods are the command's job.
//!
//! Segments are numbered by value on both sides (0 = highest value), so a
//! user moved down when its new segment number is greater than its old
//! one. That holds only between segmentations with as many segments: with
//! a different K on each side (segment 1 of 3 is not segment 1 of 5) the
//! matrix cross-tabulates the two, and no user is said to have moved up
//! or down.

use std::cmp::Ordering;
use std::fmt;

use rayon::prelude::*;
use serde::Serialize;

/// One user's segment on one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment<'a> {
    /// The user's key.
    pub user: &'a str,
    /// The user's segment on this side (0 = the highest-value segment).
    pub segment: u32,
}

/// A user who changed segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Move {
    /// The user's key.
    pub user: String,
    /// The old segment's number.
    pub from: u32,
    /// The new segment's number.
    pub to: u32,
    /// The old segment's name.
    pub from_name: String,
    /// The new segment's name.
    pub to_name: String,
}

/// How users moved between the old and the new segments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transitions {
    /// The old side's segment names, segment 0 first: one per row of
    /// `matrix`.
    pub old_names: Vec<String>,
    /// The new side's segment names, segment 0 first: one per column of
    /// `matrix`.
    pub new_names: Vec<String>,
    /// `matrix[old][new]`: users in both sides, by old and new segment.
    pub matrix: Vec<Vec<u64>>,
    /// Whether both sides have as many segments, so that a change of
    /// segment number is a move up or down; the three counts below and
    /// the downgrades are given only then.
    pub ranked: bool,
    /// Users on both sides whose segment number did not change.
    pub stayed: Option<u64>,
    /// To a segment of higher value (smaller number).
    pub moved_up: Option<u64>,
    /// To a segment of lower value (greater number).
    pub moved_down: Option<u64>,
    /// Users only on the new side, sorted by user (byte order).
    pub appeared: Vec<String>,
    /// Users only on the old side, sorted by user (byte order).
    pub disappeared: Vec<String>,
    /// The users who moved down, sorted by (from, to, user); none when
    /// the sides are not `ranked`.
    pub downgrades: Vec<Move>,
}

/// Which of the two inputs an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The old assignments (the first scores file, or the earlier
    /// period).
    Old,
    /// The new assignments (the second scores file, or the later period).
    New,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Old => "old",
            Side::New => "new",
        })
    }
}

/// Assignments that cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// A user's segment number is not below its side's number of
    /// segments (names).
    #[error(
        "user {user:?} has segment {segment} in the {side} scores, but the {side} side has {segments} segments (numbered 0 to K - 1)"
    )]
    SegmentOutOfRange {
        /// The side the assignment is on.
        side: Side,
        /// The user's key.
        user: String,
        /// The segment number given.
        segment: u32,
        /// The side's number of segments.
        segments: usize,
    },
    /// A user is listed twice on one side.
    #[error(
        "user {user:?} is listed twice in the {side} scores: each user needs exactly one segment"
    )]
    DuplicateUser {
        /// The side listing it twice.
        side: Side,
        /// The user's key.
        user: String,
    },
}

/// Compares the `old` and `new` assignments; `old_names[s]` names old
/// segment `s`, and likewise for new. The input order does not matter.
///
/// Errors when a segment number is not below its side's number of names
/// (the first such assignment in input order, old side first), or when a
/// user is listed twice on one side (the smallest such user).
///
/// O(n log n): both sides are sorted by user and merged.
pub fn transitions(
    old: &[Assignment<'_>],
    new: &[Assignment<'_>],
    old_names: &[String],
    new_names: &[String],
) -> Result<Transitions, TransitionError> {
    let old_sorted = sorted_side(old, old_names.len(), Side::Old)?;
    let new_sorted = sorted_side(new, new_names.len(), Side::New)?;
    let ranked = old_names.len() == new_names.len();

    let mut matrix = vec![vec![0u64; new_names.len()]; old_names.len()];
    let (mut stayed, mut moved_up, mut moved_down) = (0, 0, 0);
    let (mut appeared, mut disappeared, mut downgrades) = (Vec::new(), Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old_sorted.len() || j < new_sorted.len() {
        let order = match (old_sorted.get(i), new_sorted.get(j)) {
            (Some(o), Some(n)) => o.user.cmp(n.user),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                disappeared.push(old_sorted[i].user.to_string());
                i += 1;
            }
            Ordering::Greater => {
                appeared.push(new_sorted[j].user.to_string());
                j += 1;
            }
            Ordering::Equal => {
                let (from, to) = (old_sorted[i].segment, new_sorted[j].segment);
                matrix[from as usize][to as usize] += 1;
                match to.cmp(&from) {
                    _ if !ranked => {}
                    Ordering::Equal => stayed += 1,
                    Ordering::Less => moved_up += 1,
                    Ordering::Greater => {
                        moved_down += 1;
                        downgrades.push(Move {
                            user: old_sorted[i].user.to_string(),
                            from,
                            to,
                            from_name: old_names[from as usize].clone(),
                            to_name: new_names[to as usize].clone(),
                        });
                    }
                }
                i += 1;
                j += 1;
            }
        }
    }
    // Already in user order: a stable sort on (from, to) gives
    // (from, to, user).
    downgrades.sort_by_key(|m| (m.from, m.to));

    let counted = |n: u64| ranked.then_some(n);
    Ok(Transitions {
        old_names: old_names.to_vec(),
        new_names: new_names.to_vec(),
        matrix,
        ranked,
        stayed: counted(stayed),
        moved_up: counted(moved_up),
        moved_down: counted(moved_down),
        appeared,
        disappeared,
        downgrades,
    })
}

/// One side checked and sorted by user.
fn sorted_side<'a>(
    assignments: &[Assignment<'a>],
    segments: usize,
    side: Side,
) -> Result<Vec<Assignment<'a>>, TransitionError> {
    if let Some(bad) = assignments.iter().find(|a| a.segment as usize >= segments) {
        return Err(TransitionError::SegmentOutOfRange {
            side,
            user: bad.user.to_string(),
            segment: bad.segment,
            segments,
        });
    }
    let mut sorted = assignments.to_vec();
    sorted.par_sort_unstable_by(|a, b| a.user.cmp(b.user));
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].user == pair[1].user) {
        return Err(TransitionError::DuplicateUser {
            side,
            user: pair[0].user.to_string(),
        });
    }
    Ok(sorted)
}

/// The movement matrix as a plain-text table: one row per old segment,
/// one column per new segment, then a `total` column and a `total` row.
/// Names are left-aligned, counts right-aligned, columns two spaces apart;
/// no trailing newline.
pub fn matrix_table(t: &Transitions) -> String {
    let row_totals: Vec<u64> = t.matrix.iter().map(|row| row.iter().sum()).collect();
    let column_totals: Vec<u64> = (0..t.new_names.len())
        .map(|c| t.matrix.iter().map(|row| row[c]).sum())
        .collect();
    let grand: u64 = row_totals.iter().sum();

    let mut rows: Vec<Vec<String>> = Vec::with_capacity(t.old_names.len() + 2);
    let mut header = vec!["from \\ to".to_string()];
    header.extend(t.new_names.iter().cloned());
    header.push("total".into());
    rows.push(header);
    for ((name, counts), total) in t.old_names.iter().zip(&t.matrix).zip(&row_totals) {
        let mut row = vec![name.clone()];
        row.extend(counts.iter().map(u64::to_string));
        row.push(total.to_string());
        rows.push(row);
    }
    let mut footer = vec!["total".to_string()];
    footer.extend(column_totals.iter().map(u64::to_string));
    footer.push(grand.to_string());
    rows.push(footer);

    // Widths in chars: `{:>w$}` pads by chars too, so names with accents
    // line up.
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut line = format!("{:<w$}", row[0], w = widths[0]);
            for (cell, &w) in row.iter().zip(&widths).skip(1) {
                line.push_str(&format!("  {cell:>w$}"));
            }
            line
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn assign<'a>(pairs: &[(&'a str, u32)]) -> Vec<Assignment<'a>> {
        pairs
            .iter()
            .map(|&(user, segment)| Assignment { user, segment })
            .collect()
    }

    const TIERS: [&str; 3] = ["Power User", "Loyal User", "Casual User"];

    /// Ten users on both sides, two only old, two only new, in no order.
    fn example() -> Transitions {
        let old = assign(&[
            ("hank", 1),  // disappears
            ("bob", 0),   // down 0 -> 1
            ("alice", 0), // stays
            ("zed", 0),   // down 0 -> 1
            ("erin", 2),  // stays
            ("carol", 1), // up 1 -> 0
            ("dave", 1),  // down 1 -> 2
            ("frank", 2), // up 2 -> 0
            ("gina", 0),  // disappears
            ("amy", 0),   // down 0 -> 2
        ]);
        let new = assign(&[
            ("jack", 0), // appears
            ("zed", 1),
            ("frank", 0),
            ("erin", 2),
            ("dave", 2),
            ("ivan", 2), // appears
            ("carol", 0),
            ("bob", 1),
            ("amy", 2),
            ("alice", 0),
        ]);
        transitions(&old, &new, &names(&TIERS), &names(&TIERS)).unwrap()
    }

    #[test]
    fn counts_moves_and_membership() {
        let t = example();
        // Old 0: alice -> 0, bob -> 1, zed -> 1, amy -> 2.
        // Old 1: carol -> 0, dave -> 2.  Old 2: frank -> 0, erin -> 2.
        assert_eq!(t.matrix, [vec![1, 2, 1], vec![1, 0, 1], vec![1, 0, 1]]);
        assert_eq!(
            (t.stayed, t.moved_up, t.moved_down),
            (Some(2), Some(2), Some(4))
        );
        assert_eq!(t.appeared, ["ivan", "jack"]);
        assert_eq!(t.disappeared, ["gina", "hank"]);
        assert_eq!(t.old_names, TIERS);
        let moves: Vec<(&str, u32, u32)> = t
            .downgrades
            .iter()
            .map(|m| (m.user.as_str(), m.from, m.to))
            .collect();
        // Sorted by (from, to, user).
        assert_eq!(
            moves,
            [("bob", 0, 1), ("zed", 0, 1), ("amy", 0, 2), ("dave", 1, 2)]
        );
        assert_eq!(
            t.downgrades[2],
            Move {
                user: "amy".into(),
                from: 0,
                to: 2,
                from_name: "Power User".into(),
                to_name: "Casual User".into(),
            }
        );
    }

    #[test]
    fn matrix_table_for_people() {
        // Widths: first column 11 ("Casual User"), then 10, 10, 11, 5.
        let expected = "\
from \\ to    Power User  Loyal User  Casual User  total
Power User            1           2            1      4
Loyal User            1           0            1      2
Casual User           1           0            1      2
total                 3           2            3      8";
        assert_eq!(matrix_table(&example()), expected);
    }

    #[test]
    fn different_k_gives_the_matrix_only() {
        let old = assign(&[("a", 0), ("b", 1), ("c", 1), ("d", 0)]);
        let new = assign(&[("a", 2), ("b", 0), ("c", 1), ("d", 1)]);
        let t = transitions(
            &old,
            &new,
            &names(&["High", "Low"]),
            &names(&["Top", "Middle", "Bottom"]),
        )
        .unwrap();
        assert_eq!(t.matrix, [vec![0, 1, 1], vec![1, 1, 0]]);
        // Segment 1 of 2 is not segment 1 of 3: no move is up or down.
        assert!(!t.ranked);
        assert_eq!((t.stayed, t.moved_up, t.moved_down), (None, None, None));
        assert!(t.downgrades.is_empty());
        assert_eq!(
            matrix_table(&t),
            "\
from \\ to  Top  Middle  Bottom  total
High         0       1       1      2
Low          1       1       0      2
total        1       2       1      4"
        );
    }

    #[test]
    fn empty_sides() {
        let one = names(&["All Users"]);
        let t = transitions(&[], &[], &one, &one).unwrap();
        assert_eq!(t.matrix, [vec![0]]);
        assert_eq!(
            (t.stayed, t.moved_up, t.moved_down),
            (Some(0), Some(0), Some(0))
        );
        assert!(t.appeared.is_empty() && t.disappeared.is_empty());
        let t = transitions(&[], &assign(&[("x", 0)]), &one, &one).unwrap();
        assert_eq!(t.appeared, ["x"]);
        assert_eq!(t.matrix, [vec![0]]);
    }

    #[test]
    fn user_keys_sort_by_bytes() {
        let one = names(&["All"]);
        let new = assign(&[("b", 0), ("B", 0), ("é", 0), ("a", 0), ("10", 0), ("9", 0)]);
        let t = transitions(&[], &new, &one, &one).unwrap();
        assert_eq!(t.appeared, ["10", "9", "B", "a", "b", "é"]);
    }

    #[test]
    fn segment_out_of_range_names_user_and_side() {
        let tiers = names(&TIERS);
        let err = transitions(
            &assign(&[("a", 0), ("b", 3), ("c", 9)]),
            &[],
            &tiers,
            &tiers,
        )
        .unwrap_err();
        assert_eq!(
            err,
            TransitionError::SegmentOutOfRange {
                side: Side::Old,
                user: "b".into(),
                segment: 3,
                segments: 3,
            }
        );
        assert_eq!(
            err.to_string(),
            "user \"b\" has segment 3 in the old scores, but the old side has 3 segments (numbered 0 to K - 1)"
        );
        let err = transitions(
            &assign(&[("a", 2)]),
            &assign(&[("a", 2)]),
            &tiers,
            &tiers[..2],
        )
        .unwrap_err();
        assert_eq!(
            err,
            TransitionError::SegmentOutOfRange {
                side: Side::New,
                user: "a".into(),
                segment: 2,
                segments: 2,
            }
        );
    }

    #[test]
    fn duplicate_user_names_user_and_side() {
        let tiers = names(&TIERS);
        // Listed twice even with the same segment.
        let err = transitions(
            &assign(&[("u", 0), ("v", 1), ("u", 0)]),
            &[],
            &tiers,
            &tiers,
        )
        .unwrap_err();
        assert_eq!(
            err,
            TransitionError::DuplicateUser {
                side: Side::Old,
                user: "u".into()
            }
        );
        let err = transitions(
            &assign(&[("u", 0)]),
            &assign(&[("w", 0), ("v", 1), ("w", 2), ("v", 0)]),
            &tiers,
            &tiers,
        )
        .unwrap_err();
        // The smallest duplicated user is reported.
        assert_eq!(
            err.to_string(),
            "user \"v\" is listed twice in the new scores: each user needs exactly one segment"
        );
    }
}
