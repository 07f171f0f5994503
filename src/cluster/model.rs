//! The model file (SPEC section 6): everything `score` needs to place new
//! users in the segments of a fit without refitting. Versioned; a model of
//! another version or feature set is refused.

use serde::{Deserialize, Serialize};

use crate::features::matrix::{FeatureSpec, Scaler};
use crate::insights::churn::ChurnThresholds;

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "segmint-model";
/// The version this build writes and reads. Version 2 added the segment
/// names and the churn thresholds.
pub const MODEL_VERSION: u32 = 2;

/// How the fitted users were read, so `score` reads new ones alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputSchema {
    /// Transaction logs (SPEC section 2), aggregated into features.
    Transactions {
        user_col: Option<String>,
        time_col: Option<String>,
        amount_col: Option<String>,
        channel_col: Option<String>,
        status_col: Option<String>,
        no_header: bool,
        delimiter: String,
        time_format: String,
        success_statuses: Vec<String>,
        dormant_days: f64,
    },
    /// A numeric feature table (`--features-input`).
    FeatureTable {
        key_col: Option<String>,
        delimiter: String,
    },
}

/// How the features were scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// z-scores with the population std (SPEC section 4).
    #[default]
    Zscore,
    /// Values clustered as given.
    None,
}

/// A fitted segmentation model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    /// The program that wrote it.
    pub created_by: String,
    pub input: InputSchema,
    /// Feature columns and transforms, as `--features` spells them.
    pub features: Vec<String>,
    pub scaling: Scaling,
    pub scaler: Scaler,
    /// Segment centres in scaled space, segment 0 first.
    pub centres: Vec<Vec<f64>>,
    /// The column whose mean (in original units) orders the segments,
    /// highest first.
    pub segment_order_by: String,
    /// One name per segment, segment 0 first.
    pub segment_names: Vec<String>,
    /// The churn early-warning thresholds `score` applies.
    pub churn: ChurnThresholds,
    pub k: usize,
    pub seed: u64,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    /// Fit statistics, for the record.
    pub users: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
}

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: not a segmint model ({reason})")]
    Unreadable { path: String, reason: String },
    #[error(
        "{path}: model version {found}, but this segmint reads version {MODEL_VERSION}; refit it with this version"
    )]
    Version { path: String, found: u32 },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error(
        "{path}: the model was fitted on features [{model}], not [{asked}]; score with the model's features or refit"
    )]
    FeatureSet {
        path: String,
        model: String,
        asked: String,
    },
}

impl Model {
    /// Reads and checks a model file's bytes (UTF-8, a byte-order mark
    /// allowed).
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Model, ModelError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| ModelError::Unreadable {
            path: path.into(),
            reason: format!("not UTF-8 text (invalid bytes at byte {})", e.valid_up_to()),
        })?;
        Self::from_json(text, path)
    }

    /// Reads and checks a model file's text.
    pub fn from_json(text: &str, path: &str) -> Result<Model, ModelError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Unreadable {
                path: path.into(),
                reason: e.to_string(),
            })?;
        if value.get("format").and_then(|v| v.as_str()) != Some(MODEL_FORMAT) {
            return Err(ModelError::Unreadable {
                path: path.into(),
                reason: format!("no \"format\": \"{MODEL_FORMAT}\" field"),
            });
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(MODEL_VERSION) => {}
            Some(v) => {
                return Err(ModelError::Version {
                    path: path.into(),
                    found: v.min(u64::from(u32::MAX)) as u32,
                });
            }
            None => {
                return Err(ModelError::Unreadable {
                    path: path.into(),
                    reason: "no \"version\" field".into(),
                });
            }
        }
        let model: Model = serde_json::from_value(value).map_err(|e| ModelError::Unreadable {
            path: path.into(),
            reason: e.to_string(),
        })?;
        model.check().map_err(|reason| ModelError::Invalid {
            path: path.into(),
            reason,
        })?;
        Ok(model)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a model serialises")
    }

    /// Everything `fit` guarantees of a model it writes, so that a damaged
    /// or edited file is refused rather than scoring users wrongly: shapes
    /// agree, numbers are finite, scales are positive (0 only for a
    /// constant column, which a fit leaves at 0 in every centre), names
    /// are distinct, thresholds are in range.
    fn check(&self) -> Result<(), String> {
        let d = self.features.len();
        FeatureSpec::parse_list(&self.features)?;
        if self.scaler.mean.len() != d || self.scaler.std.len() != d {
            return Err(format!(
                "the scaler has not {d} columns like the feature list"
            ));
        }
        if self.k == 0 {
            return Err("k must be at least 1, found 0".into());
        }
        if self.centres.len() != self.k {
            return Err(format!(
                "k is {} but there are {} centres",
                self.k,
                self.centres.len()
            ));
        }
        if self.segment_names.len() != self.k {
            return Err(format!(
                "expected {} segment names (k), found {}",
                self.k,
                self.segment_names.len()
            ));
        }
        for (i, name) in self.segment_names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(format!("segment {i} has an empty name"));
            }
            if let Some(j) = self.segment_names[..i].iter().position(|n| n == name) {
                return Err(format!(
                    "segments {j} and {i} are both named {name:?}: each segment needs its own name"
                ));
            }
        }
        self.churn.validate().map_err(|e| match e {
            crate::insights::churn::ChurnError::BadThreshold { flag, rule, value } => format!(
                "churn.{} must be {rule}, found {value}",
                flag.replace('-', "_")
            ),
        })?;
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if self.centres.iter().any(|c| c.len() != d || !finite(c)) {
            return Err(format!("every centre must hold {d} finite numbers"));
        }
        if !finite(&self.scaler.mean) || !finite(&self.scaler.std) {
            return Err("the scaler holds a non-finite number".into());
        }
        for (j, &std) in self.scaler.std.iter().enumerate() {
            let feature = &self.features[j];
            if std < 0.0 {
                return Err(format!(
                    "the scale (std) of feature {feature} is {std}: a scale must be positive"
                ));
            }
            if std == 0.0 && self.centres.iter().any(|c| c[j] != 0.0) {
                return Err(format!(
                    "the scale (std) of feature {feature} is 0 (a constant column) but a centre is not 0 there"
                ));
            }
        }
        if self.scaling == Scaling::None
            && (self.scaler.mean.iter().any(|&m| m != 0.0)
                || self.scaler.std.iter().any(|&s| s != 1.0))
        {
            return Err(
                "scaling is none but the scaler is not the identity (means 0, stds 1)".into(),
            );
        }
        match &self.input {
            InputSchema::Transactions {
                delimiter,
                time_format,
                dormant_days,
                ..
            } => {
                delimiter
                    .parse::<crate::ingest::Delimiter>()
                    .map_err(|e| format!("input.delimiter: {e}"))?;
                time_format
                    .parse::<crate::ingest::TimeFormat>()
                    .map_err(|e| format!("input.time_format: {e}"))?;
                if !(dormant_days.is_finite() && *dormant_days >= 0.0) {
                    return Err(format!(
                        "input.dormant_days must be a finite number of days >= 0, found {dormant_days}"
                    ));
                }
            }
            InputSchema::FeatureTable { delimiter, .. } => {
                delimiter
                    .parse::<crate::ingest::Delimiter>()
                    .map_err(|e| format!("input.delimiter: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn feature_specs(&self) -> Vec<FeatureSpec> {
        FeatureSpec::parse_list(&self.features).expect("checked on load")
    }

    /// Refuses a feature list other than the model's.
    pub fn check_features(&self, asked: &[FeatureSpec], path: &str) -> Result<(), ModelError> {
        let asked: Vec<String> = asked.iter().map(ToString::to_string).collect();
        if asked != self.features {
            return Err(ModelError::FeatureSet {
                path: path.into(),
                model: self.features.join(", "),
                asked: asked.join(", "),
            });
        }
        Ok(())
    }
}

/// Reorders clusters so that segment 0 has the highest mean of `order_by`
/// (values in original units, one per point): returns `rank[cluster] =
/// segment`. Clusters whose means are equal (all amounts 0, say) are
/// ordered by their centres, feature by feature, highest first (so with
/// the default features the more frequent users rank higher), then the
/// larger first; empty clusters come last. The order never depends on how
/// k-means++ happened to number the clusters, unless two clusters share
/// their mean, centre and size.
pub fn segment_ranks(
    labels: &[u32],
    k: usize,
    order_by: &[f64],
    centres: &ndarray::Array2<f64>,
) -> Vec<u32> {
    let mut sums = vec![0.0f64; k];
    let mut counts = vec![0u64; k];
    for (&l, &v) in labels.iter().zip(order_by) {
        sums[l as usize] += v;
        counts[l as usize] += 1;
    }
    let means: Vec<f64> = (0..k)
        .map(|c| {
            if counts[c] == 0 {
                f64::NEG_INFINITY
            } else {
                sums[c] / counts[c] as f64
            }
        })
        .collect();
    let by_centre = |a: usize, b: usize| {
        centres
            .row(b)
            .iter()
            .zip(centres.row(a))
            .map(|(y, x)| y.total_cmp(x))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        means[b]
            .total_cmp(&means[a])
            .then_with(|| (counts[a] == 0).cmp(&(counts[b] == 0)))
            .then_with(|| by_centre(a, b))
            .then(counts[b].cmp(&counts[a]))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0u32; k];
    for (segment, &cluster) in order.iter().enumerate() {
        rank[cluster] = segment as u32;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            created_by: "test".into(),
            input: InputSchema::FeatureTable {
                key_col: None,
                delimiter: ",".into(),
            },
            features: vec!["log1p:x".into(), "y".into()],
            scaling: Scaling::Zscore,
            scaler: Scaler {
                mean: vec![1.0, 2.0],
                std: vec![0.5, 2.0],
            },
            centres: vec![vec![0.0, 1.0], vec![1.0, 0.0]],
            segment_order_by: "x".into(),
            segment_names: vec!["High".into(), "Low".into()],
            churn: ChurnThresholds::default(),
            k: 2,
            seed: 7,
            n_init: 1,
            max_iter: 300,
            tol: 1e-4,
            users: 10,
            inertia: 3.5,
            silhouette: Some(0.5),
        }
    }

    #[test]
    fn round_trips_and_refuses_other_versions() {
        let m = model();
        let text = m.to_json();
        assert_eq!(Model::from_json(&text, "m.json").unwrap(), m);
        let older = text.replace("\"version\": 2", "\"version\": 1");
        let err = Model::from_json(&older, "m.json").unwrap_err();
        assert!(matches!(err, ModelError::Version { found: 1, .. }), "{err}");
        let mut unnamed = m.clone();
        unnamed.segment_names.pop();
        assert!(matches!(
            Model::from_json(&unnamed.to_json(), "m.json"),
            Err(ModelError::Invalid { .. })
        ));
        assert!(Model::from_json("{}", "m.json").is_err());
        let broken = text.replace("\"k\": 2", "\"k\": 3");
        assert!(matches!(
            Model::from_json(&broken, "m.json"),
            Err(ModelError::Invalid { .. })
        ));
        let asked = FeatureSpec::parse_list(&["x", "y"]).unwrap();
        assert!(m.check_features(&asked, "m.json").is_err());
        assert!(m.check_features(&m.feature_specs(), "m.json").is_ok());
    }

    #[test]
    fn refuses_what_fit_never_writes() {
        let refused = |edit: fn(&mut Model)| {
            let mut m = model();
            edit(&mut m);
            match Model::from_json(&m.to_json(), "m.json") {
                Err(ModelError::Invalid { reason, .. }) => reason,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(|m| m.scaler.std[0] = -1.0).contains("must be positive"));
        assert!(refused(|m| m.scaler.std[1] = 0.0).contains("constant column"));
        assert!(refused(|m| m.segment_names[1] = "High".into()).contains("both named"));
        assert!(refused(|m| m.segment_names[1] = " ".into()).contains("empty name"));
        assert_eq!(
            refused(|m| {
                m.k = 0;
                m.centres.clear();
                m.segment_names.clear();
            }),
            "k must be at least 1, found 0"
        );
        assert!(refused(|m| m.churn.dormant_days = -5.0).starts_with("churn.dormant_days"));
        assert!(
            refused(|m| {
                m.input = InputSchema::Transactions {
                    user_col: None,
                    time_col: None,
                    amount_col: None,
                    channel_col: None,
                    status_col: None,
                    no_header: false,
                    delimiter: ",".into(),
                    time_format: "auto".into(),
                    success_statuses: vec![],
                    dormant_days: -5.0,
                }
            })
            .starts_with("input.dormant_days")
        );
        assert!(refused(|m| m.scaling = Scaling::None).contains("identity"));
        // A constant column is 0 in every centre: a fit writes that.
        let mut constant = model();
        constant.scaler.std[1] = 0.0;
        constant.centres = vec![vec![0.0, 0.0], vec![1.0, 0.0]];
        assert!(Model::from_json(&constant.to_json(), "m.json").is_ok());
    }

    #[test]
    fn reads_a_byte_order_mark_and_refuses_other_bytes() {
        let text = model().to_json();
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(Model::from_bytes(&with_bom, "m.json").unwrap(), model());
        let mut broken = text.into_bytes();
        broken[5] = 0xFF;
        let err = Model::from_bytes(&broken, "m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn ranks_segments_by_mean_highest_first() {
        let labels = [0, 1, 2, 1, 0];
        let monetary = [1.0, 10.0, 5.0, 20.0, 3.0];
        let centres = ndarray::Array2::zeros((3, 2));
        assert_eq!(
            segment_ranks(&labels, 3, &monetary, &centres),
            vec![2, 0, 1]
        );
    }

    #[test]
    fn equal_means_are_ranked_by_centre_then_size() {
        // All amounts 0: the centre decides, feature by feature, however
        // the clusters are numbered.
        let labels = [0, 1, 2, 2, 3];
        let zero = [0.0; 5];
        let centres = ndarray::array![[1.0, 5.0], [3.0, 0.0], [1.0, 7.0], [0.5, 9.0]];
        assert_eq!(segment_ranks(&labels, 4, &zero, &centres), vec![2, 0, 1, 3]);
        let swapped = [1, 0, 2, 2, 3];
        let centres = ndarray::array![[3.0, 0.0], [1.0, 5.0], [1.0, 7.0], [0.5, 9.0]];
        assert_eq!(
            segment_ranks(&swapped, 4, &zero, &centres),
            vec![0, 2, 1, 3]
        );
        // Same centre: the larger first; an empty cluster last.
        let centres = ndarray::Array2::zeros((3, 1));
        assert_eq!(
            segment_ranks(&[1, 0, 0], 3, &[0.0; 3], &centres),
            vec![0, 1, 2]
        );
        assert_eq!(
            segment_ranks(&[1, 2, 2], 3, &[0.0; 3], &centres),
            vec![2, 1, 0]
        );
    }
}
