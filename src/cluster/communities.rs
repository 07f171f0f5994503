//! Communities of the user graph as segments (README, "Communities"):
//! Leiden ([`crate::graph::leiden()`]) on the graph of the users, the
//! communities of at least `min_size` users each a segment, the rest
//! gathered into one "Other" segment, every segment profiled by its
//! centroid in feature space like a K-Means segment.

use std::time::Instant;

use super::sweep::{Sweep, centroid_fit, finish};
use super::{ClusterError, SilhouetteMode};
use crate::backend::Backend;
use crate::features::matrix::FeatureMatrix;
use crate::graph::build::{GraphError, knn_graph};
use crate::graph::{Communities, GraphSource, GraphStats, LeidenParams, UserGraph, leiden};

/// The smallest community that is a segment of its own
/// (`--min-community-size`): a number of users, or a share of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinCommunitySize {
    /// At least this many users.
    Users(usize),
    /// At least this fraction of the users (0 to 1), rounded up.
    Share(f64),
}

/// The default: communities of at least 1% of the users are segments, so
/// a report has at most 100 of them.
pub const DEFAULT_MIN_COMMUNITY_SIZE: MinCommunitySize = MinCommunitySize::Share(0.01);

impl MinCommunitySize {
    /// The threshold in users, for `n` users (at least 1).
    pub fn users(self, n: usize) -> usize {
        match self {
            MinCommunitySize::Users(u) => u.max(1),
            MinCommunitySize::Share(s) => ((s * n as f64).ceil() as usize).max(1),
        }
    }
}

impl std::fmt::Display for MinCommunitySize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinCommunitySize::Users(u) => write!(f, "{u}"),
            MinCommunitySize::Share(s) => write!(f, "{}%", s * 100.0),
        }
    }
}

impl std::str::FromStr for MinCommunitySize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("{text:?}: expected a number of users (50) or a share of them (1%)");
        match text.strip_suffix('%') {
            Some(share) => match share.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => {
                    Ok(MinCommunitySize::Share(p / 100.0))
                }
                _ => Err(bad()),
            },
            None => text
                .parse::<usize>()
                .map(MinCommunitySize::Users)
                .map_err(|_| bad()),
        }
    }
}

/// Segments at most: past this many communities (smallest last) the rest
/// join "Other" whatever their size, so that the segments' metrics, the
/// report's matrix and scoring stay small.
pub const MAX_SEGMENTS: usize = 1_000;

/// What a Leiden fit needs besides the points.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityParams {
    /// Leiden's objective, resolution, seed and iterations.
    pub leiden: LeidenParams,
    /// The smallest community kept as a segment.
    pub min_size: MinCommunitySize,
    /// Where the graph comes from.
    pub source: GraphSource,
}

/// A Leiden fit: the communities, and how they became segments.
#[derive(Debug, Clone)]
pub struct CommunityFit {
    /// Leiden's communities, largest first.
    pub communities: Communities,
    /// The communities that are segments of their own: the first `kept`.
    pub kept: usize,
    /// Whether the last segment gathers the smaller communities.
    pub other: bool,
    /// The smallest community kept, in users.
    pub min_users: usize,
    /// How the graph was built.
    pub graph: GraphStats,
    /// Seconds in Leiden.
    pub seconds_leiden: f64,
}

impl CommunityFit {
    /// Each user's segment before ranking: its community when kept, else
    /// the "Other" label `kept`.
    pub fn labels(&self) -> Vec<u32> {
        let kept = self.kept as u32;
        self.communities
            .membership
            .iter()
            .map(|&c| c.min(kept))
            .collect()
    }

    /// Users in the "Other" segment.
    pub fn other_users(&self) -> usize {
        self.communities
            .sizes
            .get(self.kept..)
            .map_or(0, |rest| rest.iter().sum())
    }
}

/// Finds the communities of `graph` (the kNN graph of `points` when
/// `None`) and makes them one fit: a segment per community of at least
/// the minimum size, the rest one "Other" segment, with every metric of
/// a sweep (on the CPU: the graph's work is).
pub fn sweep(
    points: &FeatureMatrix,
    graph: Option<&UserGraph>,
    params: &CommunityParams,
    mode: SilhouetteMode,
) -> Result<Sweep, ClusterError> {
    let built;
    let graph = match (graph, &params.source) {
        (Some(g), _) => g,
        (None, GraphSource::Knn(k)) => {
            built = knn_graph(points, *k).map_err(|e| match e {
                GraphError::Usage(m) => ClusterError::TooLarge(m),
                other => ClusterError::TooLarge(other.to_string()),
            })?;
            &built
        }
        (None, _) => {
            return Err(ClusterError::TooLarge(
                "no user graph was built for --method leiden: give --peer-col, --edges-input or --knn"
                    .into(),
            ));
        }
    };
    let n = points.n();
    let started = Instant::now();
    let communities = leiden(&graph.graph, &params.leiden);
    let seconds_leiden = started.elapsed().as_secs_f64();
    let min_users = params.min_size.users(n);
    let kept = communities
        .sizes
        .iter()
        .take_while(|&&s| s >= min_users)
        .count();
    let fit = CommunityFit {
        other: kept < communities.count,
        kept,
        min_users,
        communities,
        graph: graph.stats.clone(),
        seconds_leiden,
    };
    let labels = fit.labels();
    let k = fit.kept + usize::from(fit.other);
    let fits = vec![centroid_fit(points, labels, k)];
    let mut sweep = finish(&Backend::Cpu, points, &[k], fits, mode, params.leiden.seed)?;
    sweep.chosen = k;
    sweep.communities = Some(fit);
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_sizes_read_as_users_or_shares() {
        assert_eq!("50".parse(), Ok(MinCommunitySize::Users(50)));
        assert_eq!("1%".parse(), Ok(MinCommunitySize::Share(0.01)));
        assert!("x".parse::<MinCommunitySize>().is_err());
        assert!("150%".parse::<MinCommunitySize>().is_err());
        assert_eq!(MinCommunitySize::Share(0.01).users(150), 2);
        assert_eq!(MinCommunitySize::Share(0.0).users(150), 1);
        assert_eq!(MinCommunitySize::Users(0).users(10), 1);
        assert_eq!(DEFAULT_MIN_COMMUNITY_SIZE.to_string(), "1%");
    }
}
