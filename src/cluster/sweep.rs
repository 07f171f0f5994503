//! Multi-K sweeps (`segmint sweep`): every K of a range fitted and scored,
//! the elbow of the inertia curve and the chosen K.
//!
//! Work is shared across K: all (K, restart) runs advance together, one
//! pass over the points per Lloyd iteration ([`super::kmeans::lloyd`]), and
//! one all-pairs silhouette pass serves every K.

use super::ClusterError;
use super::gmm::GaussianMixture;
use super::kmeans::{KMeans, fit_each_k};
use super::metrics::{Metrics, cheap_metrics, silhouettes};
use super::params::{KMeansParams, ParamsError, SilhouetteMode};
use crate::backend::{Backend, Labeling};
use crate::features::matrix::FeatureMatrix;

/// The result of a sweep (K-Means, or Gaussian mixtures: see
/// [`super::gmm::sweep`]), in the scaled space of the features: the
/// points' [`crate::features::matrix::Frame`] is undone on the fits'
/// centres and inertia and on every metric.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// One fit per K, in the order of the K given: the restart with the
    /// lowest inertia.
    pub fits: Vec<KMeans>,
    /// The metrics of each fit, in the same order.
    pub metrics: Vec<Metrics>,
    /// Per-user silhouette values of each fit, when computed exactly.
    pub silhouette_values: Vec<Option<Vec<f32>>>,
    /// The knee of the inertia curve (kneedle), when it has one.
    pub knee: Option<usize>,
    /// The K with the highest silhouette (the knee when no silhouette was
    /// computed, else the smallest K); for Gaussian mixtures, the lowest
    /// BIC.
    pub chosen: usize,
    /// For Gaussian mixtures, each fit's mixture in scaled space, in the
    /// order of `fits` (whose centres are the means and labels each
    /// user's most probable component); empty for K-Means.
    pub mixtures: Vec<GaussianMixture>,
    /// For hierarchical clustering, the tree every K was cut from.
    pub tree: Option<super::hierarchical::Tree>,
    /// For Leiden, its communities and how they became segments.
    pub communities: Option<super::communities::CommunityFit>,
    /// For deep embedding clustering, the autoencoder and each K's
    /// refinement.
    pub dec: Option<super::dec::DecSweep>,
}

impl Sweep {
    /// The fit and metrics of the chosen K.
    pub fn chosen_index(&self) -> usize {
        self.metrics
            .iter()
            .position(|m| m.k == self.chosen)
            .expect("chosen is one of the K")
    }
}

/// Fits every K in `ks` and computes every metric.
pub fn sweep(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    params: &KMeansParams,
    mode: SilhouetteMode,
) -> Result<Sweep, ClusterError> {
    if ks.is_empty() {
        return Err(ParamsError::EmptyRange(String::new()).into());
    }
    let fits = fit_each_k(backend, points, ks, params)?;
    finish(backend, points, ks, fits, mode, params.seed)
}

/// The sweep of fits already made (one per K of `ks`, in the points'
/// working coordinates): every metric, the knee, the K of the highest
/// silhouette, all in scaled space.
pub(crate) fn finish(
    backend: &Backend,
    points: &FeatureMatrix,
    ks: &[usize],
    mut fits: Vec<KMeans>,
    mode: SilhouetteMode,
    seed: u64,
) -> Result<Sweep, ClusterError> {
    let labelings: Vec<Labeling> = fits
        .iter()
        .map(|f| Labeling {
            labels: &f.labels,
            k: f.k(),
        })
        .collect();
    let sil = silhouettes(backend, points, &labelings, mode, seed)?;
    let mut metrics = Vec::with_capacity(fits.len());
    let mut silhouette_values = Vec::with_capacity(fits.len());
    for (fit, s) in fits.iter().zip(sil) {
        let mut m = cheap_metrics(points, &fit.labels, fit.k(), fit.inertia);
        if let Some((s, on)) = s {
            m.silhouette = Some(s.mean);
            m.silhouette_on = Some(on);
            silhouette_values.push((!s.values.is_empty()).then_some(s.values));
        } else {
            silhouette_values.push(None);
        }
        metrics.push(m);
    }
    let frame = &points.frame;
    for (fit, m) in fits.iter_mut().zip(&mut metrics) {
        fit.centres = frame.to_scaled(&fit.centres);
        fit.inertia = frame.squared(fit.inertia);
        m.inertia = fit.inertia;
        if !fit.inertia.is_finite() || fit.centres.iter().any(|v| !v.is_finite()) {
            return Err(ClusterError::Overflow(format!(
                "K = {}: the inertia (the sum of squared distances) is past the largest double-precision number; the features' values are too far apart to cluster as given: scale them (--scale zscore) or divide them",
                fit.k()
            )));
        }
    }
    let inertias: Vec<f64> = fits.iter().map(|f| f.inertia).collect();
    let knee = knee(ks, &inertias);
    let best_silhouette = metrics
        .iter()
        .filter_map(|m| m.silhouette.map(|s| (m.k, s)))
        .fold(None, |best: Option<(usize, f64)>, (k, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((k, s)),
        });
    let chosen = best_silhouette.map(|(k, _)| k).or(knee).unwrap_or(ks[0]);
    Ok(Sweep {
        fits,
        metrics,
        silhouette_values,
        knee,
        chosen,
        mixtures: Vec::new(),
        tree: None,
        communities: None,
        dec: None,
    })
}

/// The fit whose clusters are `labels` (each below `k`): each centre the
/// mean of its points (0 for an empty cluster), in the points' working
/// coordinates, and the inertia about them.
pub(crate) fn centroid_fit(points: &FeatureMatrix, labels: Vec<u32>, k: usize) -> KMeans {
    let d = points.d();
    let mut sums = ndarray::Array2::<f64>::zeros((k, d));
    let mut counts = vec![0.0f64; k];
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        counts[l] += 1.0;
        for (s, &v) in sums.row_mut(l).iter_mut().zip(points.row(i)) {
            *s += f64::from(v);
        }
    }
    for (mut row, &c) in sums.rows_mut().into_iter().zip(&counts) {
        row /= c.max(1.0);
    }
    let inertia = (0..points.n())
        .map(|i| {
            let c = sums.row(labels[i] as usize);
            points
                .row(i)
                .iter()
                .zip(c)
                .map(|(&x, &m)| (f64::from(x) - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    KMeans {
        centres: sums,
        labels,
        inertia,
        n_iter: 0,
        converged: true,
    }
}

/// A fit that left clusters empty (scikit-learn warns of it too): with
/// fewer distinct points than K, some clusters cannot hold anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmptyClusters {
    /// The K of the fit.
    pub k: usize,
    /// Clusters without a point.
    pub empty: usize,
    /// Distinct points among all.
    pub distinct: usize,
}

impl Sweep {
    /// The fits that left clusters empty.
    pub fn empty_clusters(&self, points: &FeatureMatrix) -> Vec<EmptyClusters> {
        let short: Vec<(usize, usize)> = self
            .fits
            .iter()
            .map(|f| (f.k(), f.sizes().iter().filter(|&&s| s == 0).count()))
            .filter(|&(_, empty)| empty > 0)
            .collect();
        if short.is_empty() {
            return Vec::new();
        }
        let distinct: std::collections::HashSet<Vec<u32>> = (0..points.n())
            .map(|i| points.row(i).iter().map(|v| v.to_bits()).collect())
            .collect();
        short
            .into_iter()
            .map(|(k, empty)| EmptyClusters {
                k,
                empty,
                distinct: distinct.len(),
            })
            .collect()
    }
}

/// The knee of a decreasing inertia curve (kneedle, Satopää et al. 2011):
/// with both axes scaled to [0, 1], the K farthest below the straight line
/// from the first point to the last. `None` with fewer than three K or
/// when no point lies below the line.
pub fn knee(ks: &[usize], inertias: &[f64]) -> Option<usize> {
    if ks.len() < 3 {
        return None;
    }
    let (k0, k1) = (ks[0] as f64, ks[ks.len() - 1] as f64);
    let hi = inertias.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = inertias.iter().copied().fold(f64::INFINITY, f64::min);
    if hi <= lo {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for (&k, &inertia) in ks.iter().zip(inertias) {
        let x = (k as f64 - k0) / (k1 - k0);
        let y = (inertia - lo) / (hi - lo);
        let gap = (1.0 - x) - y;
        if gap > 1e-12 && best.is_none_or(|(_, g)| gap > g) {
            best = Some((k, gap));
        }
    }
    best.map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_of_an_elbow() {
        let ks = [1, 2, 3, 4, 5, 6];
        assert_eq!(knee(&ks, &[100.0, 40.0, 12.0, 10.0, 9.0, 8.5]), Some(3));
        assert_eq!(knee(&ks, &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]), None);
        assert_eq!(knee(&ks[..2], &[2.0, 1.0]), None);
    }

    #[test]
    fn sweep_over_three_groups_chooses_three() {
        let data: Vec<f32> = (0..60)
            .map(|i| (i / 20) as f32 * 10.0 + (i % 20) as f32 * 0.05)
            .collect();
        let points = FeatureMatrix::from_rows(60, 1, data);
        let s = sweep(
            &Backend::Cpu,
            &points,
            &[2, 3, 4, 5],
            &KMeansParams::default(),
            SilhouetteMode::Exact,
        )
        .unwrap();
        assert_eq!(s.chosen, 3);
        assert_eq!(s.knee, Some(3));
        assert_eq!(s.metrics.len(), 4);
        assert!(s.silhouette_values.iter().all(Option::is_some));
    }
}
