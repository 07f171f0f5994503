//! RFM scores (README, "Segments and insights"): recency, frequency and monetary quintile
//! scores 1..=5 per user, and the ten named RFM segments of the R x F
//! grid. It owns the scoring rule and the grid; the per-user feature
//! values come from the feature table, and writing scores is the report's
//! job.

use std::cmp::Ordering;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::matrix::Keys;

/// Quintile scores 1..=5 by rank; 5 is the best fifth.
///
/// Users are ordered worst first: by value ascending when
/// `higher_is_better` (frequency, monetary), descending otherwise
/// (recency, so that the smallest `recency_days` gets 5). The user at
/// 0-based rank `r` of `n` scores `1 + floor(5 r / n)`, so the five scores
/// hold `n / 5` users each, the top scores taking one fewer when `n` is not
/// a multiple of 5 (n = 7 gives 1, 1, 2, 3, 3, 4, 5).
///
/// Ties: equal values are ranked by their position in `values`, the
/// earlier user first, so the earlier user gets the lower (or equal)
/// score; the ranks are those of pandas `rank(method="first")`. `-0.0`
/// equals `0.0`. NaN is the worst value: NaNs rank before every number
/// (score 1 unless more than a fifth of the users are NaN), ties among
/// them again by position.
///
/// O(n log n), sorted in parallel; `n = 0` gives an empty vec.
pub fn quintile_scores(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let n = values.len();
    // Adding 0.0 turns -0.0 into 0.0, so `total_cmp` treats them as equal.
    let mut order: Vec<(f64, usize)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (v + 0.0, i))
        .collect();
    // The index breaks every tie, so an unstable sort gives the order of a
    // stable one.
    order.par_sort_unstable_by(|a, b| worst_first(a.0, b.0, higher_is_better).then(a.1.cmp(&b.1)));
    let mut scores = vec![0u8; n];
    for (rank, &(_, user)) in order.iter().enumerate() {
        scores[user] = quintile(rank, n);
    }
    scores
}

/// One boundary between quintile scores: the value and key of the user
/// at a given rank of a whole run (see [`quintile_boundaries`]). The value
/// is `None` for NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuintileBoundary {
    /// The user's value; `None` is NaN.
    pub value: Option<f64>,
    /// The user's key.
    pub user: String,
}

/// The boundaries that give [`quintile_scores`] users scored apart
/// (pieces of one run, a partition each): entry `s - 1` is the user at
/// 0-based rank `ceil(s n / 5)` (worst first), for each `s` in 1..=4 whose
/// rank is below `n`. A user scores 1 plus the number of boundaries it
/// does not rank before.
///
/// Ties are ranked by key (byte order) instead of position, so the scores
/// are [`quintile_scores`]' for users in key order, as `features` writes
/// them, whatever order the pieces come in.
pub fn quintile_boundaries(
    values: &[f64],
    keys: &Keys,
    higher_is_better: bool,
) -> Vec<QuintileBoundary> {
    let n = values.len();
    let mut order: Vec<(f64, usize)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (v + 0.0, i))
        .collect();
    order.par_sort_unstable_by(|a, b| {
        worst_first(a.0, b.0, higher_is_better).then_with(|| keys.get(a.1).cmp(keys.get(b.1)))
    });
    (1..=4u128)
        .map(|s| (s * n as u128).div_ceil(5) as usize)
        .take_while(|&rank| rank < n)
        .map(|rank| {
            let (value, user) = order[rank];
            QuintileBoundary {
                value: Some(value).filter(|v| !v.is_nan()),
                user: keys.get(user).to_string(),
            }
        })
        .collect()
}

/// Quintile scores 1..=5 against a run's `boundaries` (from
/// [`quintile_boundaries`]): the scores the users get in that run.
pub fn quintile_scores_against(
    values: &[f64],
    keys: &Keys,
    higher_is_better: bool,
    boundaries: &[QuintileBoundary],
) -> Vec<u8> {
    values
        .par_iter()
        .enumerate()
        .map(|(i, &v)| {
            let passed = boundaries
                .iter()
                .filter(|b| {
                    let at = b.value.unwrap_or(f64::NAN);
                    worst_first(v + 0.0, at + 0.0, higher_is_better)
                        .then_with(|| keys.get(i).cmp(&b.user))
                        .is_ge()
                })
                .count();
            1 + passed as u8
        })
        .collect()
}

/// `1 + floor(5 rank / n)` for `rank < n`, without overflow.
fn quintile(rank: usize, n: usize) -> u8 {
    1 + (5 * rank as u128 / n as u128) as u8
}

/// Orders two values worst first: NaN before every number, then ascending
/// (`higher_is_better`) or descending.
fn worst_first(a: f64, b: f64, higher_is_better: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) if higher_is_better => a.total_cmp(&b),
        (false, false) => b.total_cmp(&a),
    }
}

/// The named RFM segments of the R x F grid (README, "Segments and insights").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RfmSegment {
    /// R 5, F 4 or 5: among the most recent fifth of the users and the
    /// most frequent two fifths.
    Champions,
    /// R 3 or 4, F 4 or 5: frequent, and fairly recent.
    Loyal,
    /// R 4 or 5, F 2 or 3: recent, of middling frequency.
    PotentialLoyalist,
    /// R 5, F 1: among the most recent, and the least frequent fifth.
    New,
    /// R 4, F 1: fairly recent, among the least frequent.
    Promising,
    /// R 3, F 3: the middle fifth on both.
    NeedAttention,
    /// R 3, F 1 or 2: middling recency, infrequent.
    AboutToSleep,
    /// R 1 or 2, F 3 or 4: fairly frequent, but among the least recent
    /// two fifths.
    AtRisk,
    /// R 1 or 2, F 5: the most frequent fifth, but among the least recent
    /// two fifths.
    CannotLoseThem,
    /// R 1 or 2, F 1 or 2: neither recent nor frequent.
    Hibernating,
}

impl RfmSegment {
    /// Every segment, best first (the order of the README's "Segments and insights").
    pub const ALL: [RfmSegment; 10] = [
        RfmSegment::Champions,
        RfmSegment::Loyal,
        RfmSegment::PotentialLoyalist,
        RfmSegment::New,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::AtRisk,
        RfmSegment::CannotLoseThem,
        RfmSegment::Hibernating,
    ];

    /// The name people read.
    pub fn name(self) -> &'static str {
        match self {
            RfmSegment::Champions => "Champions",
            RfmSegment::Loyal => "Loyal",
            RfmSegment::PotentialLoyalist => "Potential Loyalist",
            RfmSegment::New => "New",
            RfmSegment::Promising => "Promising",
            RfmSegment::NeedAttention => "Need Attention",
            RfmSegment::AboutToSleep => "About to Sleep",
            RfmSegment::AtRisk => "At Risk",
            RfmSegment::CannotLoseThem => "Cannot Lose Them",
            RfmSegment::Hibernating => "Hibernating",
        }
    }
}

/// The segment of the R x F grid cell (`r`, `f`), both quintile scores.
///
/// # Panics
///
/// When a score is outside 1..=5; [`quintile_scores`] never gives one.
pub fn rfm_segment(r: u8, f: u8) -> RfmSegment {
    use RfmSegment::*;
    match (r, f) {
        (5, 4..=5) => Champions,
        (3..=4, 4..=5) => Loyal,
        (4..=5, 2..=3) => PotentialLoyalist,
        (5, 1) => New,
        (4, 1) => Promising,
        (3, 3) => NeedAttention,
        (3, 1..=2) => AboutToSleep,
        (1..=2, 3..=4) => AtRisk,
        (1..=2, 5) => CannotLoseThem,
        (1..=2, 1..=2) => Hibernating,
        _ => panic!("RFM scores must be in 1..=5, got R {r}, F {f}"),
    }
}

/// Per-user R, F, M scores and the R x F segment, in input order.
#[derive(Clone, Debug, PartialEq)]
pub struct RfmScores {
    /// Recency scores 1..=5, one per user; 5: the most recent fifth
    /// (lowest `recency_days`).
    pub r: Vec<u8>,
    /// Frequency scores 1..=5; 5: the fifth with the most transactions.
    pub f: Vec<u8>,
    /// Monetary scores 1..=5; 5: the fifth with the highest net spend.
    pub m: Vec<u8>,
    /// The named segment of each user's (R, F) cell.
    pub segments: Vec<RfmSegment>,
}

/// Scores every user: R from `recency_days` (lower is better), F from
/// `frequency`, M from `monetary`, each by [`quintile_scores`].
///
/// # Panics
///
/// When the three slices differ in length (one entry per user).
pub fn rfm_scores(recency_days: &[f64], frequency: &[f64], monetary: &[f64]) -> RfmScores {
    assert!(
        recency_days.len() == frequency.len() && frequency.len() == monetary.len(),
        "one recency, frequency and monetary value per user: got {}, {} and {}",
        recency_days.len(),
        frequency.len(),
        monetary.len()
    );
    let (r, (f, m)) = rayon::join(
        || quintile_scores(recency_days, false),
        || {
            rayon::join(
                || quintile_scores(frequency, true),
                || quintile_scores(monetary, true),
            )
        },
    );
    let segments = r.iter().zip(&f).map(|(&r, &f)| rfm_segment(r, f)).collect();
    RfmScores { r, f, m, segments }
}

/// The quintile boundaries of a run's R, F and M (see
/// [`quintile_boundaries`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfmBoundaries {
    /// `recency_days`, lower is better.
    pub recency: Vec<QuintileBoundary>,
    /// `frequency`.
    pub frequency: Vec<QuintileBoundary>,
    /// `monetary`.
    pub monetary: Vec<QuintileBoundary>,
}

impl RfmBoundaries {
    /// The boundaries of the run of these users (`keys`, one per value).
    pub fn of(recency_days: &[f64], frequency: &[f64], monetary: &[f64], keys: &Keys) -> Self {
        RfmBoundaries {
            recency: quintile_boundaries(recency_days, keys, false),
            frequency: quintile_boundaries(frequency, keys, true),
            monetary: quintile_boundaries(monetary, keys, true),
        }
    }

    /// [`rfm_scores`] of users scored against these boundaries.
    pub fn scores(
        &self,
        recency_days: &[f64],
        frequency: &[f64],
        monetary: &[f64],
        keys: &Keys,
    ) -> RfmScores {
        let r = quintile_scores_against(recency_days, keys, false, &self.recency);
        let f = quintile_scores_against(frequency, keys, true, &self.frequency);
        let m = quintile_scores_against(monetary, keys, true, &self.monetary);
        let segments = r.iter().zip(&f).map(|(&r, &f)| rfm_segment(r, f)).collect();
        RfmScores { r, f, m, segments }
    }
}

/// The R x F grid as a markdown table: rows R 5 down to 1, columns F 1 to 5.
pub fn grid_markdown() -> String {
    let mut out = String::from("| R \\ F | 1 | 2 | 3 | 4 | 5 |\n|---|---|---|---|---|---|\n");
    for r in (1..=5).rev() {
        out.push_str(&format!("| **{r}** |"));
        for f in 1..=5 {
            out.push_str(&format!(" {} |", rfm_segment(r, f).name()));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users scored in pieces against the whole run's boundaries get the
    /// whole run's scores: every n up to 40, ties, NaN and -0.0 among the
    /// values, keys in byte order, pieces of every size.
    #[test]
    fn boundaries_give_pieces_the_scores_of_the_whole_run() {
        let pool = [
            3.0,
            -1.0,
            0.0,
            -0.0,
            3.0,
            f64::NAN,
            7.5,
            3.0,
            2.0,
            f64::NAN,
            1e9,
            -1e9,
        ];
        for n in 0..=40usize {
            // Keys in byte order ("u10" before "u2" would not be): padded.
            let keys: Keys = (0..n).map(|i| format!("u{i:03}")).collect();
            let values: Vec<f64> = (0..n).map(|i| pool[(i * 7 + n) % pool.len()]).collect();
            for higher_is_better in [true, false] {
                let whole = quintile_scores(&values, higher_is_better);
                let bounds = quintile_boundaries(&values, &keys, higher_is_better);
                assert!(bounds.len() <= 4);
                for piece in 1..=n.max(1) {
                    let mut scores = Vec::with_capacity(n);
                    for start in (0..n).step_by(piece) {
                        let end = (start + piece).min(n);
                        let part: Keys = (start..end).map(|i| keys.get(i)).collect();
                        scores.extend(quintile_scores_against(
                            &values[start..end],
                            &part,
                            higher_is_better,
                            &bounds,
                        ));
                    }
                    assert_eq!(scores, whole, "n {n}, pieces of {piece}");
                }
            }
        }
    }

    #[test]
    fn boundaries_rank_ties_by_key_not_by_position() {
        // The same users in another order: the same boundaries.
        let keys: Keys = ["b", "a", "c", "e", "d"].into_iter().collect();
        let values = [1.0, 1.0, 2.0, 1.0, 2.0];
        let sorted: Keys = ["a", "b", "c", "d", "e"].into_iter().collect();
        let sorted_values = [1.0, 1.0, 2.0, 2.0, 1.0];
        assert_eq!(
            quintile_boundaries(&values, &keys, true),
            quintile_boundaries(&sorted_values, &sorted, true)
        );
        // Ranks 1..4 of a, b, e, c, d.
        let users: Vec<String> = quintile_boundaries(&values, &keys, true)
            .into_iter()
            .map(|b| b.user)
            .collect();
        assert_eq!(users, ["b", "e", "c", "d"]);
    }

    #[test]
    fn quintiles_of_ten_distinct_values() {
        // Ranks 0..9; 1 + floor(5r/10) = 1,1,2,2,3,3,4,4,5,5.
        let values = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0];
        assert_eq!(
            quintile_scores(&values, true),
            [5, 1, 5, 1, 4, 2, 4, 2, 3, 3]
        );
        // Lower is better: the order reverses.
        assert_eq!(
            quintile_scores(&values, false),
            [1, 5, 1, 5, 2, 4, 2, 4, 3, 3]
        );
    }

    #[test]
    fn quintiles_when_n_is_not_a_multiple_of_five() {
        // n = 7: floor(5r/7) for r = 0..6 is 0,0,1,2,2,3,4.
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        assert_eq!(quintile_scores(&values, true), [1, 1, 2, 3, 3, 4, 5]);
        // n = 3: floor(5r/3) = 0,1,3 -> scores 1, 2, 4.
        assert_eq!(quintile_scores(&[3.0, 1.0, 2.0], true), [4, 1, 2]);
        // One user is the worst fifth.
        assert_eq!(quintile_scores(&[42.0], true), [1]);
        assert_eq!(quintile_scores(&[42.0], false), [1]);
        assert!(quintile_scores(&[], true).is_empty());
    }

    #[test]
    fn ties_are_ranked_by_position() {
        // All equal: ranks follow input order, 1 + floor(5r/5) = r + 1.
        assert_eq!(quintile_scores(&[7.0; 5], true), [1, 2, 3, 4, 5]);
        assert_eq!(quintile_scores(&[7.0; 5], false), [1, 2, 3, 4, 5]);
        // 0.0 and -0.0 are the same value.
        assert_eq!(
            quintile_scores(&[0.0, -0.0, 0.0, -0.0, 0.0], true),
            [1, 2, 3, 4, 5]
        );
        // Ascending: 1(i1) 2(i3) 2(i4) 5(i0) 5(i2) -> ranks i1:0 i3:1 i4:2 i0:3 i2:4.
        assert_eq!(
            quintile_scores(&[5.0, 1.0, 5.0, 2.0, 2.0], true),
            [4, 1, 5, 2, 3]
        );
        // Descending: 5(i0) 5(i2) 2(i3) 2(i4) 1(i1) -> i0:0 i2:1 i3:2 i4:3 i1:4.
        assert_eq!(
            quintile_scores(&[5.0, 1.0, 5.0, 2.0, 2.0], false),
            [1, 5, 2, 3, 4]
        );
    }

    #[test]
    fn nan_is_the_worst_value() {
        let nan = f64::NAN;
        // Ascending with NaN first: NaN(i1) NaN(i3) -inf(i4) 1(i0) 2(i2)...
        let values = [1.0, nan, 2.0, nan, f64::NEG_INFINITY];
        assert_eq!(quintile_scores(&values, true), [4, 1, 5, 2, 3]);
        // ...and descending with NaN still first: NaN(i1) NaN(i3) 2(i2) 1(i0) -inf(i4).
        assert_eq!(quintile_scores(&values, false), [4, 1, 3, 2, 5]);
        // A recency of NaN is not "most recent".
        assert_eq!(quintile_scores(&[nan, 0.0, 0.0, 0.0, 0.0], false)[0], 1);
    }

    #[test]
    fn each_score_holds_a_fifth() {
        for n in [1usize, 4, 5, 6, 99, 100, 1001] {
            let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64).collect();
            let scores = quintile_scores(&values, true);
            let mut counts = [0usize; 5];
            for &s in &scores {
                counts[s as usize - 1] += 1;
            }
            // floor(5r/n) = q for r in [ceil(qn/5), ceil((q+1)n/5)).
            for (q, &count) in counts.iter().enumerate() {
                let expected = ((q + 1) * n).div_ceil(5) - (q * n).div_ceil(5);
                assert_eq!(count, expected, "n = {n}, score {}", q + 1);
            }
            // Scores never decrease with the value.
            let mut by_value: Vec<(f64, u8)> = values.iter().copied().zip(scores).collect();
            by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(by_value.windows(2).all(|w| w[0].1 <= w[1].1));
        }
    }

    /// the README's "Segments and insights", written out cell by cell: rows R 5..1, columns F 1..5.
    const GRID: [[RfmSegment; 5]; 5] = {
        use RfmSegment::*;
        [
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
            [
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Loyal,
                Loyal,
            ],
            [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            [Hibernating, Hibernating, AtRisk, AtRisk, CannotLoseThem],
            [Hibernating, Hibernating, AtRisk, AtRisk, CannotLoseThem],
        ]
    };

    #[test]
    fn grid_matches_the_spec_cell_by_cell() {
        for (row, r) in (1..=5u8).rev().enumerate() {
            for f in 1..=5u8 {
                assert_eq!(rfm_segment(r, f), GRID[row][f as usize - 1], "R {r}, F {f}");
            }
        }
    }

    #[test]
    fn every_cell_maps_to_exactly_one_of_the_ten() {
        let mut cells = [0usize; 10];
        for r in 1..=5 {
            for f in 1..=5 {
                let segment = rfm_segment(r, f);
                let matches = RfmSegment::ALL.iter().filter(|&&s| s == segment).count();
                assert_eq!(matches, 1);
                cells[RfmSegment::ALL.iter().position(|&s| s == segment).unwrap()] += 1;
            }
        }
        // Champions 2, Loyal 4, Potential Loyalist 4, New 1, Promising 1,
        // Need Attention 1, About to Sleep 2, At Risk 4, Cannot Lose Them 2,
        // Hibernating 4: 25 cells, every segment used.
        assert_eq!(cells, [2, 4, 4, 1, 1, 1, 2, 4, 2, 4]);
        assert_eq!(cells.iter().sum::<usize>(), 25);
    }

    #[test]
    #[should_panic(expected = "RFM scores must be in 1..=5")]
    fn scores_outside_one_to_five_panic() {
        rfm_segment(0, 3);
    }

    #[test]
    #[should_panic(expected = "RFM scores must be in 1..=5")]
    fn frequency_score_six_panics() {
        rfm_segment(3, 6);
    }

    #[test]
    fn names_are_distinct() {
        let names: Vec<&str> = RfmSegment::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names[2], "Potential Loyalist");
        assert_eq!(names[6], "About to Sleep");
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name));
        }
    }

    #[test]
    fn rfm_scores_of_five_users() {
        // Five users, so rank r scores r + 1.
        let recency = [1.0, 40.0, 3.0, 100.0, 10.0]; // lower is better
        let frequency = [50.0, 2.0, 20.0, 30.0, 1.0];
        let monetary = [5.0, 4.0, 3.0, 2.0, 1.0];
        let scores = rfm_scores(&recency, &frequency, &monetary);
        assert_eq!(scores.r, [5, 2, 4, 1, 3]);
        assert_eq!(scores.f, [5, 2, 3, 4, 1]);
        assert_eq!(scores.m, [5, 4, 3, 2, 1]);
        use RfmSegment::*;
        // (5,5) (2,2) (4,3) (1,4) (3,1)
        assert_eq!(
            scores.segments,
            [
                Champions,
                Hibernating,
                PotentialLoyalist,
                AtRisk,
                AboutToSleep
            ]
        );
        let empty = rfm_scores(&[], &[], &[]);
        assert!(empty.r.is_empty() && empty.segments.is_empty());
    }

    #[test]
    #[should_panic(expected = "one recency, frequency and monetary value per user")]
    fn rfm_scores_need_equal_lengths() {
        rfm_scores(&[1.0], &[1.0, 2.0], &[1.0]);
    }

    #[test]
    fn grid_markdown_lists_every_segment() {
        let table = grid_markdown();
        for segment in RfmSegment::ALL {
            assert!(table.contains(segment.name()), "{}", segment.name());
        }
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0], "| R \\ F | 1 | 2 | 3 | 4 | 5 |");
        assert_eq!(
            lines[2],
            "| **5** | New | Potential Loyalist | Potential Loyalist | Champions | Champions |"
        );
        assert_eq!(
            lines[6],
            "| **1** | Hibernating | Hibernating | At Risk | At Risk | Cannot Lose Them |"
        );
    }
}
