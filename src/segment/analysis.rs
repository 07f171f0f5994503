//! The whole analysis of transaction logs behind `report` and `demo`: the
//! users' features, a sweep over K with the fit reported, the activity
//! pass over the logs (channels, statuses, hours) and every number of the
//! report gathered into one [`Summary`].

use crate::error::Error;
use crate::features::FeatureTable;
use crate::ingest::{IngestOptions, IngestReport, Input};
use crate::insights::activity::activity;
use crate::insights::segments::profiles;
use crate::report::summary::{LeftOut, Parts, Summary};

use super::Fitted;
use super::prepare::Prepared;

/// Logs read, segmented and ready to report.
#[derive(Debug)]
pub struct Analysis {
    /// The users' features as `features` writes them, one row per user,
    /// sorted by user key.
    pub table: FeatureTable,
    /// What reading the logs counted: files, bytes, rows accepted, rows
    /// skipped and rows left out.
    pub ingest: IngestReport,
    /// How the logs were read (the activity pass reads them again so).
    pub options: IngestOptions,
    /// The features of `table` picked (`--features`) and scaled: what the
    /// sweep and the fit ran on.
    pub prepared: Prepared,
    /// The sweep over K and the fit reported: model, segments, names and
    /// per-user insights.
    pub fitted: Fitted,
}

impl Analysis {
    /// The segments reported.
    pub fn k(&self) -> usize {
        self.fitted.segmentation.model.k
    }

    /// Reads the logs once more for the activity analytics and gathers
    /// every number of the report.
    pub fn summary(&self, inputs: &[Input]) -> Result<Summary, Error> {
        let seg = &self.fitted.segmentation;
        let placement = &seg.placement;
        let insights = placement
            .insights
            .as_ref()
            .ok_or_else(|| Error::Internal("a log's users have no RFM".into()))?;
        let activity = activity(
            inputs,
            &self.options,
            &self.table,
            &placement.segments,
            self.k(),
        )?;
        let names = &seg.model.segment_names;
        let profiles = profiles(
            &self.prepared.table,
            &placement.segments,
            names,
            Some(&insights.churn),
        );
        Ok(Summary::new(Parts {
            inputs: self.ingest.files.clone(),
            left_out: LeftOut::of(&self.ingest),
            table: &self.table,
            activity,
            sweep: &self.fitted.reported_sweep(),
            k: self.k(),
            features: self.prepared.feature_names(),
            inertia: seg.metrics.inertia,
            silhouette: seg.metrics.silhouette,
            names: names.clone(),
            segments: &placement.segments,
            profiles,
            insights,
            thresholds: seg.model.churn,
            mixture: seg.mixture_summary(),
            tree: self.fitted.tree_summary(),
            communities: self.fitted.community_summary(&self.prepared),
            latent: seg.latent_summary(),
            lifetime: seg.lifetime.as_ref(),
        }))
    }
}
