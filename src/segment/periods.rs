//! Two periods of one log (`transitions --split-at`): the new period runs
//! from the split to the latest transaction, the old one has as many
//! calendar days and ends just before the split, so that both periods'
//! volumes (frequency, monetary, active days) compare. A model is fitted
//! on the old period and places the users of both, by the same rule as
//! `score`, so a user whose features did not change cannot seem to move.

use crate::backend::Backend;
use crate::cluster::SilhouetteMode;
use crate::cluster::sweep::EmptyClusters;
use crate::error::Error;
use crate::features::matrix::{FeatureError, NumericTable};
use crate::features::{FeatureOptions, FeatureTable};
#[cfg(doc)]
use crate::ingest::Input;
use crate::ingest::{IngestError, IngestOptions, IngestReport};
use crate::insights::churn::ChurnThresholds;
use crate::values::time::{MS_PER_DAY, day_of, format_iso};

use super::fit::{KChoice, Method, SegmentOptions};
use super::model::{InputSchema, Scaling};
use super::prepare::{Prepared, prepare};

/// The two periods of a log, read.
#[derive(Debug)]
pub struct Periods {
    /// The old period's users and their features, as of the end of the
    /// period (1 ms before the split).
    pub old: FeatureTable,
    /// What reading the old period counted; rows outside it are counted
    /// as left out.
    pub old_report: IngestReport,
    /// The new period's users and their features, as of the new period's
    /// last instant.
    pub new: FeatureTable,
    /// What reading the new period counted; rows before the split are
    /// counted as left out.
    pub new_report: IngestReport,
    /// First and last instant (UTC ms, both included) of the old period:
    /// as many calendar days as the new one, ending 1 ms before the split.
    pub old_range: (i64, i64),
    /// First and last instant (UTC ms, both included) of the new period:
    /// the split, and the reference time of its features (the latest
    /// transaction, unless the options give `as_of`).
    pub new_range: (i64, i64),
    /// The log starts after the old period's first day: it is shorter.
    pub old_is_short: bool,
    /// How the old period was read (its model's schema).
    schema: InputSchema,
}

/// Reads the logs with the options given: a period's table and how it
/// was read.
pub type LoadLogs<'a> =
    dyn FnMut(&IngestOptions, &FeatureOptions) -> Result<(FeatureTable, IngestReport), Error> + 'a;

/// Reads logs as two periods split at `at` (UTC ms): `load` reads the
/// logs (each readable twice: see [`Input::rereadable`]) with the options
/// it is given, the new period first (see [`super::load_logs`]).
pub fn read(
    options: &IngestOptions,
    features: &FeatureOptions,
    at: i64,
    load: &mut LoadLogs<'_>,
) -> Result<Periods, Error> {
    let empty = |period: &'static str, range: String| {
        move |e: Error| match e {
            Error::Ingest(IngestError::NoRows { .. }) => Error::Data(format!(
                "the {period} period ({range}) holds no transactions; choose another --split-at"
            )),
            other => other,
        }
    };
    let new_options = IngestOptions {
        since: Some(at),
        ..options.clone()
    };
    let (new, new_report) =
        load(&new_options, features).map_err(empty("new", format!("from {}", format_iso(at))))?;
    let days = day_of(new.as_of_ms) - day_of(at) + 1;
    let from = at - days * MS_PER_DAY;
    let old_options = IngestOptions {
        since: Some(from),
        as_of: Some(at - 1),
        ..options.clone()
    };
    let old_features = FeatureOptions {
        as_of: Some(at - 1),
        ..*features
    };
    let (old, old_report) = load(&old_options, &old_features).map_err(empty(
        "old",
        format!(
            "{} to {}, {days} days",
            format_iso(from),
            format_iso(at - 1)
        ),
    ))?;
    Ok(Periods {
        old_is_short: old.window_start_day > day_of(from),
        new_range: (at, new.as_of_ms),
        old_range: (from, at - 1),
        schema: InputSchema::transactions(&old_options, &old_features),
        old,
        old_report,
        new,
        new_report,
    })
}

/// Each period's users and their segments under one model.
#[derive(Debug)]
pub struct PeriodSegments {
    /// The old period's users (keys), in its table's order.
    pub old_users: Vec<String>,
    /// The segment of each of `old_users`, in the same order
    /// (0 = the highest-value segment).
    pub old_segments: Vec<u32>,
    /// The new period's users (keys), in its table's order.
    pub new_users: Vec<String>,
    /// The segment of each of `new_users` under the old period's model.
    pub new_segments: Vec<u32>,
    /// The segments' names, segment 0 first.
    pub names: Vec<String>,
    /// Whether the fit left segments empty.
    pub empty: Vec<EmptyClusters>,
}

impl Periods {
    /// The old period's users, their default features scaled to z-scores:
    /// what [`Periods::segment`] fits on.
    pub fn prepare(&self) -> Result<Prepared, FeatureError> {
        prepare(
            NumericTable::from_features(&self.old),
            None,
            Scaling::Zscore,
            self.schema.clone(),
            false,
        )
    }

    /// Fits `method` with `k` segments on the old period (`prepared`, from
    /// [`Periods::prepare`]; default names, no silhouette) and places both
    /// periods' users with that model, on `backend`.
    pub fn segment(
        &self,
        backend: &Backend,
        prepared: &Prepared,
        method: &Method,
        k: usize,
    ) -> Result<PeriodSegments, Error> {
        let options = SegmentOptions {
            names: None,
            churn: ChurnThresholds::default(),
            ..SegmentOptions::default()
        };
        let fitted = super::fit(
            backend,
            prepared,
            method,
            &[k],
            KChoice::Fixed(k),
            &options,
            SilhouetteMode::None,
        )?;
        let model = fitted.segmentation.model;
        let new = NumericTable::from_features(&self.new);
        let new_segments = model.place(backend, &model.points(&new)?)?.segments;
        Ok(PeriodSegments {
            old_users: prepared.table.keys.to_vec(),
            old_segments: fitted.segmentation.placement.segments,
            new_users: new.keys.to_vec(),
            new_segments,
            names: model.segment_names,
            empty: fitted.empty,
        })
    }
}
