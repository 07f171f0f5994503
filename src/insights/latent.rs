//! Deep embedding clustering's latent space as the report shows it: the
//! network and how its training went, and a sample of users projected on
//! the two principal axes of their latent codes, each with its segment.

use serde::Serialize;

/// Users drawn in the latent-space scatter, at most.
pub const DRAWN: usize = 3_000;

/// The latent space of a deep embedding clustering fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatentSummary {
    /// The encoder's hidden widths, input side first.
    pub hidden: Vec<usize>,
    /// The code's width.
    pub latent: usize,
    /// Pre-training epochs run.
    pub pretrain_epochs: usize,
    /// Refinement steps run.
    pub steps: usize,
    /// Whether the refinement stopped on its tolerance.
    pub converged: bool,
    /// The reconstruction error's weight beside the KL divergence.
    pub gamma: f64,
    /// Mean squared reconstruction error per feature after pre-training
    /// (scaled units squared).
    pub pretrained_error: f64,
    /// The same after refinement.
    pub reconstruction_error: f64,
    /// KL(P ‖ Q) per user at the end.
    pub kl: f64,
    /// The share of the codes' variance along each drawn axis.
    pub explained: [f64; 2],
    /// The drawn users: every `n / DRAWN`-th one (rounded up).
    pub points: Vec<LatentPoint>,
}

/// One drawn user.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatentPoint {
    /// Along the first principal axis.
    pub x: f32,
    /// Along the second.
    pub y: f32,
    /// Its segment.
    pub segment: u32,
}

/// The two principal axes of `codes` (n x `width`, row-major) and the
/// share of the variance each carries: the covariance's leading
/// eigenvectors, by power iteration with deflation. With one dimension,
/// the second axis is zero.
pub fn principal_axes(codes: &[f32], width: usize) -> ([Vec<f64>; 2], [f64; 2]) {
    let n = codes.len() / width.max(1);
    let mut mean = vec![0.0f64; width];
    for row in codes.chunks(width) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut cov = vec![0.0f64; width * width];
    for row in codes.chunks(width) {
        for a in 0..width {
            let da = f64::from(row[a]) - mean[a];
            for b in 0..width {
                cov[a * width + b] += da * (f64::from(row[b]) - mean[b]);
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= n.max(1) as f64);
    let total: f64 = (0..width).map(|a| cov[a * width + a]).sum();
    let mut axes = [vec![0.0; width], vec![0.0; width]];
    let mut shares = [0.0; 2];
    for (axis, share) in axes.iter_mut().zip(&mut shares) {
        // A start with a part along every direction but no symmetry.
        let mut v: Vec<f64> = (0..width).map(|i| 1.0 + i as f64 * 0.1).collect();
        let mut value = 0.0;
        for _ in 0..500 {
            let w: Vec<f64> = (0..width)
                .map(|a| (0..width).map(|b| cov[a * width + b] * v[b]).sum())
                .collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                value = 0.0;
                break;
            }
            let next: Vec<f64> = w.iter().map(|x| x / norm).collect();
            let moved: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = next;
            value = norm;
            if moved < 1e-12 {
                break;
            }
        }
        if value > 0.0 {
            *axis = v.clone();
            *share = if total > 0.0 { value / total } else { 0.0 };
            for a in 0..width {
                for b in 0..width {
                    cov[a * width + b] -= value * v[a] * v[b];
                }
            }
        }
    }
    (axes, shares)
}

impl LatentSummary {
    /// The drawn sample of `codes` (n x latent) with their `segments`,
    /// projected on the codes' principal axes; the other fields are the
    /// model's record, given as they are.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        hidden: Vec<usize>,
        pretrain_epochs: usize,
        steps: usize,
        converged: bool,
        gamma: f64,
        errors: (f64, f64),
        kl: f64,
        codes: &[f32],
        segments: &[u32],
    ) -> LatentSummary {
        let n = segments.len();
        let latent = codes.len() / n.max(1);
        let (axes, explained) = principal_axes(codes, latent);
        let every = n.div_ceil(DRAWN).max(1);
        let points = (0..n)
            .step_by(every)
            .map(|i| {
                let row = &codes[i * latent..(i + 1) * latent];
                let along = |axis: &[f64]| -> f32 {
                    row.iter()
                        .zip(axis)
                        .map(|(&v, &a)| f64::from(v) * a)
                        .sum::<f64>() as f32
                };
                LatentPoint {
                    x: along(&axes[0]),
                    y: along(&axes[1]),
                    segment: segments[i],
                }
            })
            .collect();
        LatentSummary {
            hidden,
            latent,
            pretrain_epochs,
            steps,
            converged,
            gamma,
            pretrained_error: errors.0,
            reconstruction_error: errors.1,
            kl,
            explained,
            points,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_axes_of_a_stretched_cloud() {
        // Variance 9 along (1, 1) / √2, 1 along (1, -1) / √2, none on z.
        let mut codes = Vec::new();
        for (s, t) in [(3.0f32, 1.0f32), (-3.0, -1.0), (3.0, -1.0), (-3.0, 1.0)] {
            let h = std::f32::consts::FRAC_1_SQRT_2;
            codes.extend([h * (s + t), h * (s - t), 0.0]);
        }
        let (axes, shares) = principal_axes(&codes, 3);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((axes[0][0].abs() - h).abs() < 1e-6, "{axes:?}");
        assert!((axes[0][0] - axes[0][1]).abs() < 1e-6, "{axes:?}");
        assert!((axes[1][0] + axes[1][1]).abs() < 1e-6, "{axes:?}");
        assert!((shares[0] - 0.9).abs() < 1e-9 && (shares[1] - 0.1).abs() < 1e-9);
        let summary = LatentSummary::new(
            vec![4],
            1,
            0,
            true,
            0.0,
            (0.0, 0.0),
            0.0,
            &codes,
            &[0, 0, 1, 1],
        );
        assert_eq!(summary.points.len(), 4);
        assert!((summary.points[0].x.abs() - 3.0).abs() < 1e-5);
        assert!((summary.points[0].y.abs() - 1.0).abs() < 1e-5);
    }
}
