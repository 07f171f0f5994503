//! The whole analysis of transaction logs, shared by `report` and `demo`:
//! features, a sweep over K, the fit reported, segment names, per-user
//! insights, the activity pass and the summary.

use crate::cli::{ChurnArgs, FeatureArgs, InputArgs, KMeansArgs, Scale};
use segmint::Error;
use segmint::backend::Backend;
use segmint::cluster::ParamsError;
use segmint::cluster::params::parse_k_list;
use segmint::cluster::sweep::Sweep;
use segmint::features::FeatureTable;
use segmint::features::matrix::NumericTable;
use segmint::ingest::{IngestOptions, IngestReport, Input};
use segmint::insights::activity::activity;
use segmint::insights::naming::{default_names, parse_names};
use segmint::insights::segments::profiles;
use segmint::report::summary::{LeftOut, Parts, Summary};

use super::cluster::{Prepared, cluster, prepare_table, transactions_schema};
use super::fit::Fitted;
use super::{Session, load_features, spinner};

/// What to analyse and how.
pub struct AnalysisArgs<'a> {
    pub inputs: &'a [Input],
    pub input: &'a InputArgs,
    pub feature: &'a FeatureArgs,
    pub features: &'a Option<Vec<String>>,
    pub kmeans: &'a KMeansArgs,
    /// A number, or `auto` (the best silhouette of `k_range`).
    pub k: &'a str,
    pub k_range: &'a str,
    pub segment_names: Option<&'a str>,
    pub churn: &'a ChurnArgs,
}

pub struct Analysis {
    pub table: FeatureTable,
    pub ingest: IngestReport,
    pub options: IngestOptions,
    pub prepared: Prepared,
    pub sweep: Sweep,
    /// Index in the sweep of the fit reported.
    pub chosen: usize,
    /// Where the clustering ran.
    pub backend: Backend,
    /// The model, segments (0 = highest mean monetary), names and
    /// per-user insights of that fit.
    pub fitted: Fitted,
}

impl Analysis {
    pub fn k(&self) -> usize {
        self.sweep.fits[self.chosen].k()
    }

    /// Reads the logs once more for the activity analytics and gathers
    /// every number of the report.
    pub fn summary(&self, inputs: &[Input], quiet: bool) -> Result<Summary, Error> {
        let fitted = &self.fitted;
        let insights = fitted
            .insights
            .as_ref()
            .expect("a transactions feature table has the RFM columns");
        let bar = spinner(quiet, "analysing");
        let activity = activity(
            inputs,
            &self.options,
            &self.table,
            &fitted.segments,
            self.k(),
        );
        bar.finish_and_clear();
        let activity = activity?;
        let names = &fitted.model.segment_names;
        let profiles = profiles(
            &self.prepared.table,
            &fitted.segments,
            names,
            Some(&insights.churn),
        );
        Ok(Summary::new(Parts {
            inputs: self.ingest.files.clone(),
            left_out: LeftOut::of(&self.ingest),
            table: &self.table,
            activity,
            sweep: &self.sweep,
            k: self.k(),
            features: self.prepared.feature_names(),
            inertia: fitted.metrics.inertia,
            silhouette: fitted.metrics.silhouette,
            names: names.clone(),
            segments: &fitted.segments,
            profiles,
            insights,
            thresholds: fitted.model.churn,
        }))
    }
}

/// The K to sweep: the range, clamped to what the users allow, plus the K
/// asked for.
pub fn sweep_ks(
    k: &str,
    k_range: &str,
    users: usize,
) -> Result<(Vec<usize>, Option<usize>), Error> {
    let fixed = match k.trim() {
        "auto" => None,
        text => Some(
            text.parse::<usize>()
                .ok()
                .filter(|&k| k >= 1)
                .ok_or_else(|| ParamsError::BadRange(k.to_string()))?,
        ),
    };
    if let Some(k) = fixed
        && k > users
    {
        return Err(Error::Usage(format!(
            "--k {k}: the input has only {users} users"
        )));
    }
    // A silhouette needs 2 <= K <= users - 1.
    let mut ks: Vec<usize> = parse_k_list(k_range)?
        .into_iter()
        .filter(|&k| k >= 2 && k < users)
        .collect();
    if let Some(k) = fixed
        && !ks.contains(&k)
    {
        ks.push(k);
        ks.sort_unstable();
    }
    if ks.is_empty() {
        return Err(Error::Usage(format!(
            "--k-range {k_range}: no K in it between 2 and {} (the users less one)",
            users.saturating_sub(1)
        )));
    }
    Ok((ks, fixed))
}

pub fn analyse(args: &AnalysisArgs<'_>, session: &Session) -> Result<Analysis, Error> {
    let quiet = session.quiet;
    let options = args.input.options(args.feature).map_err(Error::Usage)?;
    let thresholds = args.churn.thresholds(args.feature).map_err(Error::Usage)?;
    let mode = args.kmeans.validate()?;
    let (table, ingest) = load_features(args.inputs, args.input, args.feature, quiet)?;
    let numeric = NumericTable::from_features(&table);
    let prepared = prepare_table(
        numeric,
        args.features,
        Scale::Zscore,
        transactions_schema(args.input, args.feature),
        false,
        quiet,
    )?;
    let users = prepared.points.n();
    let (ks, fixed) = sweep_ks(args.k, args.k_range, users)?;
    let names_asked = args
        .segment_names
        .map(|list| {
            let k = fixed.unwrap_or(0);
            // With --k auto the count is checked once K is known.
            parse_names(list, if k == 0 { list.split(',').count() } else { k })
        })
        .transpose()
        .map_err(|e| Error::Usage(e.to_string()))?;

    let (backend, mut result) = cluster(session, &prepared.points, &ks, args.kmeans, mode)?;
    let chosen = match fixed {
        Some(k) => result
            .metrics
            .iter()
            .position(|m| m.k == k)
            .expect("the sweep has the K asked for"),
        None => result.chosen_index(),
    };
    let k = result.fits[chosen].k();
    let names = match names_asked {
        Some(names) if names.len() == k => names,
        Some(names) => {
            return Err(Error::Usage(format!(
                "--segment-names gives {} names but K = {k}: give one name per segment, highest value first",
                names.len()
            )));
        }
        None => default_names(k),
    };
    let fitted = Fitted::new(
        &backend,
        &prepared,
        &result,
        chosen,
        names,
        thresholds,
        args.kmeans,
    )?;
    // The sweep's row of that K shows the labels written (they differ
    // from the fit's only for users tied between two centres).
    result.metrics[chosen] = fitted.metrics.clone();
    result.silhouette_values[chosen] = fitted.silhouettes.clone();
    Ok(Analysis {
        table,
        ingest,
        options,
        prepared,
        sweep: result,
        chosen,
        fitted,
        backend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_the_range_the_users_allow_and_the_k_asked_for() {
        assert_eq!(
            sweep_ks("3", "2..10", 100).unwrap(),
            ((2..=10).collect(), Some(3))
        );
        assert_eq!(
            sweep_ks("12", "2..4", 100).unwrap(),
            (vec![2, 3, 4, 12], Some(12))
        );
        assert_eq!(sweep_ks("auto", "2..10", 5).unwrap(), (vec![2, 3, 4], None));
        assert!(sweep_ks("3", "2..10", 2).is_err());
        assert!(sweep_ks("0", "2..10", 20).is_err());
        assert!(sweep_ks("auto", "2..3", 2).is_err());
    }
}
