//! Quality metrics of a clustering (README, "Clustering"): silhouette (exact,
//! sampled, and the squared-Euclidean variant), Calinski-Harabasz and
//! Davies-Bouldin, with scikit-learn's definitions.
//!
//! The Euclidean silhouette needs all pairwise distances and runs in the
//! backend; the others need only per-cluster sums, O(n k d), and are
//! computed here in f64.

use ndarray::Array2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use super::params::SilhouetteMode;
use crate::backend::cpu::point_silhouette;
use crate::backend::{Backend, BackendError, Labeling, Silhouette};
use crate::features::matrix::FeatureMatrix;

/// Points per chunk of the parallel sums; fixed so that results do not
/// depend on the thread count.
const CHUNK: usize = 8192;

/// The metrics of one clustering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Clusters of the clustering (some may be empty).
    pub k: usize,
    /// Sum of squared distances of the points to their centres, as given
    /// to [`cheap_metrics`]; in a [`super::Sweep`], in the scaled space of
    /// the features.
    pub inertia: f64,
    /// Mean Euclidean silhouette (exact or on a sample, see `silhouette_on`).
    pub silhouette: Option<f64>,
    /// Users the silhouette was computed on: all of them, or a sample.
    pub silhouette_on: Option<usize>,
    /// The exact silhouette with squared Euclidean distances (what Spark's
    /// ClusteringEvaluator reports): O(n k d), a different number from the
    /// Euclidean silhouette, never a stand-in for it.
    pub silhouette_sqeuclidean: Option<f64>,
    /// Calinski-Harabasz (higher is better); `None` unless 2 <= non-empty
    /// clusters <= n - 1 (scikit-learn's rule).
    pub calinski_harabasz: Option<f64>,
    /// Davies-Bouldin (lower is better, 0 at best); `None` under the same
    /// rule.
    pub davies_bouldin: Option<f64>,
    /// Bayesian information criterion of a Gaussian mixture on the fitted
    /// users (lower is better); `None` for other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bic: Option<f64>,
    /// Akaike information criterion of a Gaussian mixture; `None` for
    /// other methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aic: Option<f64>,
}

/// Per-cluster means (k x d), sizes and within-cluster structure.
struct ClusterStats {
    sizes: Vec<u64>,
    means: Array2<f64>,
}

fn cluster_stats(points: &FeatureMatrix, labels: &[u32], k: usize) -> ClusterStats {
    let d = points.d();
    let partials: Vec<(Vec<f64>, Vec<u64>)> = points
        .as_slice()
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut sums = vec![0.0f64; k * d];
            let mut sizes = vec![0u64; k];
            for (x, &l) in rows.chunks_exact(d).zip(labels) {
                let l = l as usize;
                sizes[l] += 1;
                for (s, &v) in sums[l * d..(l + 1) * d].iter_mut().zip(x) {
                    *s += f64::from(v);
                }
            }
            (sums, sizes)
        })
        .collect();
    let mut sums = vec![0.0f64; k * d];
    let mut sizes = vec![0u64; k];
    for (s, z) in partials {
        sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        sizes.iter_mut().zip(z).for_each(|(a, b)| *a += b);
    }
    let mut means = Array2::<f64>::zeros((k, d));
    for c in 0..k {
        if sizes[c] > 0 {
            for j in 0..d {
                means[[c, j]] = sums[c * d + j] / sizes[c] as f64;
            }
        }
    }
    ClusterStats { sizes, means }
}

fn squared_distance(x: &[f32], centre: ndarray::ArrayView1<f64>) -> f64 {
    x.iter()
        .zip(centre)
        .map(|(&a, &b)| (f64::from(a) - b).powi(2))
        .sum()
}

/// Sums a per-point quantity in f64, deterministically.
fn sum_points<F>(points: &FeatureMatrix, labels: &[u32], f: F) -> f64
where
    F: Fn(&[f32], usize) -> f64 + Sync,
{
    let d = points.d();
    let partials: Vec<f64> = points
        .as_slice()
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            rows.chunks_exact(d)
                .zip(labels)
                .map(|(x, &l)| f(x, l as usize))
                .sum()
        })
        .collect();
    partials.iter().sum()
}

/// Whether a clustering has metrics at all: scikit-learn's rule,
/// `2 <= non-empty clusters <= n - 1`.
fn has_metrics(sizes: &[u64], n: usize) -> bool {
    let used = sizes.iter().filter(|&&s| s > 0).count();
    used >= 2 && used < n
}

/// Calinski-Harabasz: between- over within-cluster dispersion, scaled by
/// `(n - k) / (k - 1)`; 1 when every point sits on its centre.
pub fn calinski_harabasz(points: &FeatureMatrix, labels: &[u32], k: usize) -> Option<f64> {
    let stats = cluster_stats(points, labels, k);
    calinski_harabasz_from(points, labels, &stats)
}

fn calinski_harabasz_from(
    points: &FeatureMatrix,
    labels: &[u32],
    stats: &ClusterStats,
) -> Option<f64> {
    let n = points.n();
    if !has_metrics(&stats.sizes, n) {
        return None;
    }
    let used = stats.sizes.iter().filter(|&&s| s > 0).count() as f64;
    let total: Vec<f64> = (0..points.d())
        .map(|j| {
            stats
                .means
                .column(j)
                .iter()
                .zip(&stats.sizes)
                .map(|(m, &s)| m * s as f64)
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let between: f64 = stats
        .means
        .rows()
        .into_iter()
        .zip(&stats.sizes)
        .map(|(m, &s)| {
            s as f64
                * m.iter()
                    .zip(&total)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
        })
        .sum();
    let within = sum_points(points, labels, |x, l| {
        squared_distance(x, stats.means.row(l))
    });
    Some(if within == 0.0 {
        1.0
    } else {
        between * (n as f64 - used) / (within * (used - 1.0))
    })
}

/// Davies-Bouldin: the mean over clusters of the worst ratio of summed
/// spreads (mean distance to the centroid) to centroid separation; lower is
/// better.
pub fn davies_bouldin(points: &FeatureMatrix, labels: &[u32], k: usize) -> Option<f64> {
    let stats = cluster_stats(points, labels, k);
    davies_bouldin_from(points, labels, &stats)
}

fn davies_bouldin_from(
    points: &FeatureMatrix,
    labels: &[u32],
    stats: &ClusterStats,
) -> Option<f64> {
    if !has_metrics(&stats.sizes, points.n()) {
        return None;
    }
    let k = stats.sizes.len();
    let d = points.d();
    let partials: Vec<Vec<f64>> = points
        .as_slice()
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut spread = vec![0.0f64; k];
            for (x, &l) in rows.chunks_exact(d).zip(labels) {
                spread[l as usize] += squared_distance(x, stats.means.row(l as usize)).sqrt();
            }
            spread
        })
        .collect();
    let mut spread = vec![0.0f64; k];
    for p in partials {
        spread.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    let used: Vec<usize> = (0..k).filter(|&c| stats.sizes[c] > 0).collect();
    for &c in &used {
        spread[c] /= stats.sizes[c] as f64;
    }
    let separation = |a: usize, b: usize| -> f64 {
        stats
            .means
            .row(a)
            .iter()
            .zip(stats.means.row(b))
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // scikit-learn: 0 when every spread or every separation is (close to)
    // 0, within an absolute 1e-8 in scaled units.
    let close_to_zero = |x: f64| points.frame.distance(x).abs() <= 1e-8;
    if used.iter().all(|&c| close_to_zero(spread[c]))
        || used
            .iter()
            .all(|&a| used.iter().all(|&b| close_to_zero(separation(a, b))))
    {
        return Some(0.0);
    }
    let mut total = 0.0;
    for &a in &used {
        let worst = used
            .iter()
            .filter(|&&b| b != a)
            .map(|&b| {
                let m = separation(a, b);
                if m == 0.0 {
                    0.0
                } else {
                    (spread[a] + spread[b]) / m
                }
            })
            .fold(0.0, f64::max);
        total += worst;
    }
    Some(total / used.len() as f64)
}

/// The exact silhouette with squared Euclidean distances, in O(n k d):
/// the sum of squared distances from a point x to the members of cluster c
/// is `n_c |x - m_c|^2 + W_c` (W_c: the cluster's own sum of squares), a
/// form without the cancellation of `|x|^2 - 2 x.S + Q`.
pub fn silhouette_sqeuclidean(points: &FeatureMatrix, labels: &[u32], k: usize) -> Option<f64> {
    let stats = cluster_stats(points, labels, k);
    silhouette_sqeuclidean_from(points, labels, &stats)
}

fn silhouette_sqeuclidean_from(
    points: &FeatureMatrix,
    labels: &[u32],
    stats: &ClusterStats,
) -> Option<f64> {
    let n = points.n();
    if !has_metrics(&stats.sizes, n) {
        return None;
    }
    let k = stats.sizes.len();
    let d = points.d();
    let partials: Vec<Vec<f64>> = points
        .as_slice()
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut w = vec![0.0f64; k];
            for (x, &l) in rows.chunks_exact(d).zip(labels) {
                w[l as usize] += squared_distance(x, stats.means.row(l as usize));
            }
            w
        })
        .collect();
    let mut within = vec![0.0f64; k];
    for p in partials {
        within.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    let partials: Vec<f64> = points
        .as_slice()
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut sums = vec![0.0f64; k];
            let mut total = 0.0;
            for (x, &own) in rows.chunks_exact(d).zip(labels) {
                for (c, s) in sums.iter_mut().enumerate() {
                    *s =
                        stats.sizes[c] as f64 * squared_distance(x, stats.means.row(c)) + within[c];
                }
                total += point_silhouette(&sums, &stats.sizes, own as usize);
            }
            total
        })
        .collect();
    let total: f64 = partials.iter().sum();
    Some(total / n as f64)
}

/// The silhouette of several labellings, as `mode` asks: exact (per-point
/// values included), on one shared seeded sample (mean only), or none.
/// Labellings without a silhouette (fewer than 2 clusters) get `None`.
pub fn silhouettes(
    backend: &Backend,
    points: &FeatureMatrix,
    labelings: &[Labeling],
    mode: SilhouetteMode,
    seed: u64,
) -> Result<Vec<Option<(Silhouette, usize)>>, BackendError> {
    let n = points.n();
    let defined: Vec<usize> = (0..labelings.len())
        .filter(|&i| {
            let mut sizes = vec![0u64; labelings[i].k];
            labelings[i]
                .labels
                .iter()
                .for_each(|&l| sizes[l as usize] += 1);
            has_metrics(&sizes, n)
        })
        .collect();
    let mut out: Vec<Option<(Silhouette, usize)>> = vec![None; labelings.len()];
    if defined.is_empty() {
        return Ok(out);
    }
    match mode.resolve(n) {
        SilhouetteMode::None => {}
        SilhouetteMode::Exact | SilhouetteMode::Auto => {
            let chosen: Vec<Labeling> = defined.iter().map(|&i| labelings[i]).collect();
            for (i, s) in defined.iter().zip(backend.silhouette(points, &chosen)?) {
                out[*i] = Some((s, n));
            }
        }
        SilhouetteMode::Sample(size) => {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED_5111);
            let mut sample = rand::seq::index::sample(&mut rng, n, size).into_vec();
            sample.sort_unstable();
            let subset = points.subset(&sample);
            let sub_labels: Vec<Vec<u32>> = defined
                .iter()
                .map(|&i| sample.iter().map(|&p| labelings[i].labels[p]).collect())
                .collect();
            let chosen: Vec<Labeling> = defined
                .iter()
                .zip(&sub_labels)
                .map(|(&i, labels)| Labeling {
                    labels,
                    k: labelings[i].k,
                })
                .collect();
            for (i, s) in defined.iter().zip(backend.silhouette(&subset, &chosen)?) {
                // Per-point values of a sample do not belong to the users.
                out[*i] = Some((
                    Silhouette {
                        mean: s.mean,
                        values: Vec::new(),
                    },
                    size,
                ));
            }
        }
    }
    Ok(out)
}

/// Every metric of one clustering except the Euclidean silhouette, which
/// the caller computes for all clusterings at once with [`silhouettes`].
pub fn cheap_metrics(points: &FeatureMatrix, labels: &[u32], k: usize, inertia: f64) -> Metrics {
    let stats = cluster_stats(points, labels, k);
    Metrics {
        k,
        inertia,
        silhouette: None,
        silhouette_on: None,
        silhouette_sqeuclidean: silhouette_sqeuclidean_from(points, labels, &stats),
        calinski_harabasz: calinski_harabasz_from(points, labels, &stats),
        davies_bouldin: davies_bouldin_from(points, labels, &stats),
        bic: None,
        aic: None,
    }
}

/// The adjusted Rand index of two labellings of the same points (Hubert
/// & Arabie 1985), from their contingency table, in f64: 1 for the same
/// partition, about 0 for unrelated ones.
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> f64 {
    use std::collections::HashMap;
    assert_eq!(a.len(), b.len(), "two labellings of the same points");
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let mut table: HashMap<(u32, u32), f64> = HashMap::new();
    let (mut rows, mut cols): (HashMap<u32, f64>, HashMap<u32, f64>) = Default::default();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&v| pairs(v)).sum();
    let (sa, sb): (f64, f64) = (
        rows.values().map(|&v| pairs(v)).sum(),
        cols.values().map(|&v| pairs(v)).sum(),
    );
    let expected = sa * sb / pairs(a.len() as f64);
    (index - expected) / ((sa + sb) / 2.0 - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_two_clusters() {
        // Points 0, 1 | 4, 6 in one dimension.
        let points = FeatureMatrix::from_rows(4, 1, vec![0.0, 1.0, 4.0, 6.0]);
        let labels = [0, 0, 1, 1];
        // Means 0.5 and 5, overall 2.75; within = 0.25*2 + 1*2 = 2.5;
        // between = 2 * 2.25^2 * 2 = 20.25; CH = 20.25 * (4-2) / (2.5 * 1).
        let ch = calinski_harabasz(&points, &labels, 2).unwrap();
        assert!((ch - 16.2).abs() < 1e-12, "{ch}");
        // Spreads 0.5 and 1, separation 4.5: DB = (1.5 / 4.5) for both.
        let db = davies_bouldin(&points, &labels, 2).unwrap();
        assert!((db - 1.0 / 3.0).abs() < 1e-12, "{db}");
        // Squared silhouette of point 0: a = 1, b = (16 + 36) / 2 = 26.
        let s = silhouette_sqeuclidean(&points, &labels, 2).unwrap();
        let expected = [
            (26.0 - 1.0) / 26.0,
            (17.0 - 1.0) / 17.0,
            (12.5 - 4.0) / 12.5,
            (30.5 - 4.0) / 30.5,
        ]
        .iter()
        .sum::<f64>()
            / 4.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
    }

    #[test]
    fn undefined_for_one_cluster() {
        let points = FeatureMatrix::from_rows(3, 1, vec![0.0, 1.0, 2.0]);
        assert_eq!(calinski_harabasz(&points, &[0, 0, 0], 1), None);
        assert_eq!(davies_bouldin(&points, &[0, 0, 0], 2), None);
        let out = silhouettes(
            &Backend::Cpu,
            &points,
            &[Labeling {
                labels: &[0, 0, 0],
                k: 1,
            }],
            SilhouetteMode::Exact,
            0,
        )
        .unwrap();
        assert_eq!(out, vec![None]);
    }
}
