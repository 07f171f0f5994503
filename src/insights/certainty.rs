//! How certain soft memberships are (README, "Gaussian mixtures"): for a
//! segmentation that gives each user a probability of every segment, the
//! distribution of the probability of each user's own segment, the users
//! below a threshold per segment, and the pairs of segments those users
//! sit between (their segment and the runner-up).

use serde::Serialize;

/// Below this membership probability a user is "uncertain".
pub const UNCERTAIN_BELOW: f64 = 0.8;

/// Bins of the probability histogram, each 0.1 wide.
pub const BINS: usize = 10;

/// What a Gaussian mixture's fit adds to its summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MixtureSummary {
    /// `full`, `tied`, `diag` or `spherical`.
    pub covariance_type: &'static str,
    /// The mean log-likelihood per fitted user.
    pub log_likelihood: f64,
    /// Bayesian information criterion (lower is better).
    pub bic: f64,
    /// Akaike information criterion (lower is better).
    pub aic: f64,
    /// The segments whose covariance needed more regularisation than
    /// `--reg-covar` to stay positive definite, and how much they got.
    pub regularisation_raised: Vec<RaisedSegment>,
    /// How certain the users' memberships are.
    pub certainty: Certainty,
}

/// A segment whose regularisation was raised.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RaisedSegment {
    /// The segment (0 = the highest value).
    pub segment: usize,
    /// Its name.
    pub name: String,
    /// The regularisation its covariance got.
    pub reg_covar: f64,
}

/// How certain the memberships of one segmentation are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Certainty {
    /// The threshold below which a user counts as uncertain.
    pub threshold: f64,
    /// Users by the probability of their own segment, in bins of 0.1
    /// from [0, 0.1) to [0.9, 1].
    pub histogram: Vec<u64>,
    /// The mean probability of each user's own segment.
    pub mean_probability: f64,
    /// Users below the threshold, all segments together.
    pub uncertain: u64,
    /// Per segment (segment 0 first), its users below the threshold.
    pub uncertain_by_segment: Vec<u64>,
    /// The pairs of segments uncertain users sit between, most users
    /// first (ties: lower segments first).
    pub pairs: Vec<SegmentPair>,
}

/// Uncertain users of one segment whose next most probable segment is
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentPair {
    /// The users' segment.
    pub segment: usize,
    /// Their next most probable segment.
    pub runner_up: usize,
    /// How many users.
    pub users: u64,
}

/// The certainty of `segments` given each user's `probabilities` (n x
/// `k`, segment 0 first).
pub fn certainty(probabilities: &[f32], segments: &[u32], k: usize) -> Certainty {
    let mut histogram = vec![0u64; BINS];
    let mut uncertain_by_segment = vec![0u64; k];
    let mut pair_counts = vec![0u64; k * k];
    let mut total = 0.0f64;
    for (row, &s) in probabilities.chunks_exact(k).zip(segments) {
        let s = s as usize;
        let p = f64::from(row[s]);
        total += p;
        histogram[((p * BINS as f64) as usize).min(BINS - 1)] += 1;
        if p < UNCERTAIN_BELOW {
            uncertain_by_segment[s] += 1;
            let runner_up = (0..k)
                .filter(|&c| c != s)
                .fold(None, |best: Option<usize>, c| match best {
                    Some(b) if row[b] >= row[c] => Some(b),
                    _ => Some(c),
                });
            if let Some(r) = runner_up {
                pair_counts[s * k + r] += 1;
            }
        }
    }
    let mut pairs: Vec<SegmentPair> = pair_counts
        .iter()
        .enumerate()
        .filter(|&(_, &users)| users > 0)
        .map(|(i, &users)| SegmentPair {
            segment: i / k,
            runner_up: i % k,
            users,
        })
        .collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.users));
    Certainty {
        threshold: UNCERTAIN_BELOW,
        histogram,
        mean_probability: if segments.is_empty() {
            0.0
        } else {
            total / segments.len() as f64
        },
        uncertain: uncertain_by_segment.iter().sum(),
        uncertain_by_segment,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_uncertain_users_and_their_runner_up() {
        let probabilities = [
            0.95, 0.05, 0.0, // certain, segment 0
            0.65, 0.1, 0.25, // uncertain, 0 next to 2
            0.2, 0.75, 0.05, // uncertain, 1 next to 0
            0.5, 0.0, 0.5, // uncertain, a tie: 0 next to 2
        ];
        let c = certainty(&probabilities, &[0, 0, 1, 0], 3);
        assert_eq!(c.uncertain, 3);
        assert_eq!(c.uncertain_by_segment, vec![2, 1, 0]);
        assert_eq!(
            c.pairs,
            vec![
                SegmentPair {
                    segment: 0,
                    runner_up: 2,
                    users: 2
                },
                SegmentPair {
                    segment: 1,
                    runner_up: 0,
                    users: 1
                },
            ]
        );
        assert_eq!(c.histogram, vec![0, 0, 0, 0, 0, 1, 1, 1, 0, 1]);
        assert!((c.mean_probability - (0.95 + 0.65 + 0.75 + 0.5) / 4.0).abs() < 1e-6);
    }
}
