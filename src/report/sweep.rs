//! The sweep's results: a table for people, JSON, or CSV (one row per K).

use std::io::{self, Write};

use serde::Serialize;

use crate::backend::Backend;
use crate::cluster::sweep::Sweep;
use crate::values::csv::push_float;

/// The JSON form of a sweep.
#[derive(Serialize)]
pub struct SweepSummary<'a> {
    /// Users clustered.
    pub users: usize,
    /// The features clustered on, in column order.
    pub features: &'a [String],
    /// `cpu` or `gpu`.
    pub backend: &'static str,
    /// The device in words (threads, or the adapter's name).
    pub device: String,
    /// Wall-clock seconds from the command's start to the sweep's end
    /// (reading the input included).
    pub seconds: f64,
    /// The K at the knee of the inertia curve; `null` when it has none.
    pub knee: Option<usize>,
    /// The K with the highest silhouette (the knee when no silhouette was
    /// computed, else the smallest K); a mixture's: the lowest BIC.
    pub chosen: usize,
    /// One row per K, ascending.
    pub results: Vec<SweepRow<'a>>,
    /// Whether every K is a cut of one tree (hierarchical): no run
    /// iterated, so the table shows no iterations.
    #[serde(skip)]
    pub tree: bool,
}

/// One K of a sweep: its metrics, and how the K-Means run kept (the
/// lowest inertia of the `--n-init` restarts) ended.
#[derive(Serialize)]
pub struct SweepRow<'a> {
    /// The clustering's metrics, as fields of the row itself in JSON.
    #[serde(flatten)]
    pub metrics: &'a crate::cluster::Metrics,
    /// Iterations (Lloyd, or EM) the run kept took.
    pub n_iter: usize,
    /// Whether the run kept stopped before `--max-iter`.
    pub converged: bool,
}

impl<'a> SweepSummary<'a> {
    /// The summary of `sweep` over `users` users, run on `backend` in
    /// `seconds`.
    pub fn new(
        sweep: &'a Sweep,
        users: usize,
        features: &'a [String],
        backend: &Backend,
        seconds: f64,
    ) -> Self {
        SweepSummary {
            users,
            features,
            backend: backend.name(),
            device: backend.describe(),
            seconds,
            knee: sweep.knee,
            chosen: sweep.chosen,
            results: sweep
                .metrics
                .iter()
                .zip(&sweep.fits)
                .map(|(metrics, fit)| SweepRow {
                    metrics,
                    n_iter: fit.n_iter,
                    converged: fit.converged,
                })
                .collect(),
            tree: sweep.tree.is_some(),
        }
    }

    /// One row per K.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = Vec::new();
        let mixture = self.results.iter().any(|r| r.metrics.bic.is_some());
        buf.extend_from_slice(
            b"k,inertia,silhouette,silhouette_on,silhouette_sqeuclidean,calinski_harabasz,davies_bouldin",
        );
        if mixture {
            buf.extend_from_slice(b",bic,aic");
        }
        buf.extend_from_slice(b",n_iter,converged,knee,chosen\n");
        let opt = |buf: &mut Vec<u8>, v: Option<f64>| {
            buf.push(b',');
            if let Some(v) = v {
                push_float(buf, v);
            }
        };
        for row in &self.results {
            let m = row.metrics;
            buf.extend_from_slice(m.k.to_string().as_bytes());
            opt(&mut buf, Some(m.inertia));
            opt(&mut buf, m.silhouette);
            opt(&mut buf, m.silhouette_on.map(|n| n as f64));
            opt(&mut buf, m.silhouette_sqeuclidean);
            opt(&mut buf, m.calinski_harabasz);
            opt(&mut buf, m.davies_bouldin);
            if mixture {
                opt(&mut buf, m.bic);
                opt(&mut buf, m.aic);
            }
            buf.extend_from_slice(
                format!(
                    ",{},{},{},{}\n",
                    row.n_iter,
                    row.converged,
                    self.knee == Some(m.k),
                    self.chosen == m.k
                )
                .as_bytes(),
            );
        }
        out.write_all(&buf)
    }

    /// A table for people.
    pub fn describe(&self) -> String {
        let cell = |v: Option<f64>, digits: usize| match v {
            Some(v) => format!("{v:.digits$}"),
            None => "-".into(),
        };
        let mut s = format!(
            "{} users, features: {}, on {}, {:.2} s\n",
            self.users,
            self.features.join(", "),
            self.device,
            self.seconds
        );
        let mixture = self.results.iter().any(|r| r.metrics.bic.is_some());
        s.push_str(&format!(
            "{:>4} {:>14} {:>10} {:>12} {:>14} {:>10} {:>6}{}\n",
            "k",
            "inertia",
            "silhouette",
            "sil (sq.)",
            "calinski",
            "davies",
            "iter",
            if mixture {
                format!(" {:>14} {:>14}", "bic", "aic")
            } else {
                String::new()
            }
        ));
        for row in &self.results {
            let m = row.metrics;
            let mark = match (self.chosen == m.k, self.knee == Some(m.k)) {
                (true, true) => "  <- chosen, knee",
                (true, false) => "  <- chosen",
                (false, true) => "  <- knee",
                _ => "",
            };
            s.push_str(&format!(
                "{:>4} {:>14.4} {:>10} {:>12} {:>14} {:>10} {:>6}{}{}\n",
                m.k,
                m.inertia,
                cell(m.silhouette, 4),
                cell(m.silhouette_sqeuclidean, 4),
                cell(m.calinski_harabasz, 1),
                cell(m.davies_bouldin, 4),
                if self.tree {
                    "-".to_string()
                } else {
                    row.n_iter.to_string()
                },
                if mixture {
                    format!(" {:>14} {:>14}", cell(m.bic, 1), cell(m.aic, 1))
                } else {
                    String::new()
                },
                mark
            ));
        }
        if let Some(on) = self.results.iter().find_map(|r| r.metrics.silhouette_on)
            && on < self.users
        {
            s.push_str(&format!(
                "silhouette on a sample of {on} users (--silhouette exact for all)\n"
            ));
        }
        let reason = if mixture {
            "lowest BIC"
        } else if self.results.iter().any(|r| r.metrics.silhouette.is_some()) {
            "highest silhouette"
        } else if self.knee == Some(self.chosen) {
            "the knee; no silhouette computed"
        } else {
            "the smallest K; no silhouette or knee"
        };
        s.push_str(&format!(
            "chosen k = {} ({reason}); knee of inertia: {}",
            self.chosen,
            self.knee.map_or("none".into(), |k| k.to_string())
        ));
        s
    }
}
