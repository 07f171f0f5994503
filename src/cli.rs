//! Command-line arguments (clap derive), turned into the library's types
//! once, here: ingest and feature options, feature specs, the method and
//! its parameters, the choice of K, churn thresholds, segment names. No
//! I/O. The library's errors name its parameters (`n_init`); [`flag`] and
//! [`describe`] give the flags instead.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use segmint::Error;
use segmint::backend::DeviceChoice;
use segmint::cluster::params::parse_k_list;
use segmint::cluster::{KMeansParams, ParamsError, SilhouetteMode};
use segmint::features::FeatureOptions;
use segmint::features::matrix::FeatureSpec;
use segmint::generate::GenerateParams;
use segmint::ingest::{ColumnNames, Delimiter, IngestOptions, TimeFormat};
use segmint::insights::churn::{ChurnError, ChurnThresholds};
use segmint::insights::naming::parse_names;
use segmint::segment::{KChoice, Method, Scaling};
use segmint::values::time::{MS_PER_DAY, day_of};

/// The flag of a library parameter: `n_init` is `--n-init`.
pub fn flag(parameter: &str) -> String {
    format!("--{}", parameter.replace('_', "-"))
}

/// An error as the command line says it: parameters named by their
/// flags.
pub fn describe(error: &Error) -> String {
    match error {
        Error::Params(e) => e.describe(&flag(e.parameter())),
        Error::Naming(e) => e.describe("--segment-names"),
        other => other.to_string(),
    }
}

#[derive(Parser, Debug)]
#[command(name = "segmint", version, about = "Customer segmentation from transaction logs", long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bars or summaries on the terminal; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Where clustering runs: auto (a hardware GPU when there is one,
    /// else the CPU, saying why on stderr), gpu (any GPU adapter, or an
    /// error) or cpu. SEGMINT_ADAPTER=NAME picks the adapter by name or
    /// index (see `segmint devices`).
    #[arg(long, global = true, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline on the bundled sample log, into ./segmint-demo/.
    Demo(DemoArgs),
    /// Write a synthetic transaction log of a messaging platform.
    Generate(GenerateArgs),
    /// Aggregate transaction logs into one row of features per user.
    Features(FeaturesArgs),
    /// Fit K-Means for every K of a range and compare them.
    Sweep(SweepArgs),
    /// Fit K-Means, write per-user scores and the model.
    Fit(FitArgs),
    /// Place users in the segments of a fitted model.
    Score(ScoreArgs),
    /// Segment, score and analyse transaction logs into one HTML report.
    Report(ReportArgs),
    /// How users moved between segments from one scores file to another.
    Transitions(TransitionsArgs),
    /// Time the clustering stages (benchmarks).
    Bench(BenchArgs),
    /// List the GPU adapters and the one --device auto picks.
    Devices(DevicesArgs),
}

impl Command {
    /// Whether the command may look for a GPU (the others never start
    /// one, whatever `--device` says).
    pub fn may_use_gpu(&self) -> bool {
        !matches!(self, Command::Generate(_) | Command::Features(_))
    }
}

#[derive(Args, Debug)]
pub struct DevicesArgs {
    /// Output style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder for the demo's files.
    #[arg(short, long, default_value = "segmint-demo", value_name = "DIR")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of users (business clients).
    #[arg(long, value_name = "N")]
    pub users: u64,
    /// Number of transactions.
    #[arg(long, value_name = "M")]
    pub rows: u64,
    /// Days covered.
    #[arg(long, default_value_t = 91)]
    pub days: u32,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = "2025-04-01", value_name = "DATE")]
    pub start: String,
    /// Output file, or - for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

impl GenerateArgs {
    pub fn params(&self) -> Result<GenerateParams, String> {
        let start_ms = TimeFormat::Iso
            .parse(self.start.as_bytes())
            .ok()
            .filter(|ms| ms % MS_PER_DAY == 0)
            .ok_or_else(|| format!("--start {:?}: expected a date as YYYY-MM-DD", self.start))?;
        let params = GenerateParams {
            users: self.users,
            rows: self.rows,
            days: self.days,
            seed: self.seed,
            start_day: day_of(start_ms),
        };
        params.validate()?;
        Ok(params)
    }
}

/// Output style of summaries.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// For people.
    #[default]
    Table,
    /// One JSON object on standard output.
    Json,
}

#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// Transaction logs (CSV), read as one log; - is standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output CSV, or - for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub feature: FeatureArgs,
}

/// How to read transaction logs (SPEC section 2).
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// User key column: header name, or 1-based position [default: user_id].
    #[arg(long, value_name = "COL", help_heading = "Input")]
    pub user_col: Option<String>,
    /// Transaction time column [default: created_at].
    #[arg(long, value_name = "COL", help_heading = "Input")]
    pub time_col: Option<String>,
    /// Amount column [default: total_price].
    #[arg(long, value_name = "COL", help_heading = "Input")]
    pub amount_col: Option<String>,
    /// Channel column; off when the default `channel` is absent.
    #[arg(long, value_name = "COL", help_heading = "Input")]
    pub channel_col: Option<String>,
    /// Status column; off when the default `status` is absent.
    #[arg(long, value_name = "COL", help_heading = "Input")]
    pub status_col: Option<String>,
    /// The files have no header row: name columns by position.
    #[arg(long, help_heading = "Input")]
    pub no_header: bool,
    /// Field separator: , ; tab | or whitespace.
    #[arg(long, default_value = ",", value_name = "SEP", help_heading = "Input")]
    pub delimiter: Delimiter,
    /// Time format: auto, iso, ymd, unix or unix-ms.
    #[arg(
        long,
        default_value = "auto",
        value_name = "FORMAT",
        help_heading = "Input"
    )]
    pub time_format: TimeFormat,
    /// Statuses that count as successes (comma separated, any case).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "delivered,read,opened,clicked",
        value_name = "LIST",
        help_heading = "Input"
    )]
    pub success_status: Vec<String>,
    /// Skip bad rows (counted and reported) instead of stopping.
    #[arg(long, help_heading = "Input")]
    pub skip_bad_rows: bool,
    /// Read files with plain reads instead of memory maps.
    #[arg(long, hide = true)]
    pub no_mmap: bool,
    /// Target bytes per parallel chunk.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub chunk_bytes: Option<usize>,
}

/// Feature definitions (SPEC section 3).
#[derive(Args, Debug, Clone)]
pub struct FeatureArgs {
    /// Reference time (same formats as the time column) [default: latest
    /// transaction]. Later rows are left out.
    #[arg(long, value_name = "TIME", help_heading = "Features")]
    pub as_of: Option<String>,
    /// Days without a transaction after which a user is dormant.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "DAYS",
        help_heading = "Features"
    )]
    pub dormant_days: f64,
}

/// What to cluster (SPEC section 4): transaction logs, or a numeric table.
#[derive(Args, Debug, Clone)]
pub struct ClusterInputArgs {
    /// Transaction logs (CSV), read as one log; - is standard input.
    #[arg(value_name = "INPUT", required_unless_present = "features_input")]
    pub inputs: Vec<PathBuf>,
    /// Cluster a numeric feature table (CSV with a header and a key column)
    /// instead of transaction logs; - is standard input.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "inputs",
        help_heading = "Features"
    )]
    pub features_input: Option<PathBuf>,
    /// Key column of --features-input [default: user_id, else the first].
    #[arg(long, value_name = "COL", help_heading = "Features")]
    pub key_col: Option<String>,
    /// Feature columns, comma separated; `log1p:NAME` clusters
    /// ln(1 + max(NAME, 0)) [default: log1p:frequency,log1p:monetary,active_days;
    /// for a --features-input table without those columns: all its columns].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        help_heading = "Features"
    )]
    pub features: Option<Vec<String>>,
    /// zscore (population std) or none (values as given).
    #[arg(long, value_enum, default_value_t, help_heading = "Features")]
    pub scale: Scale,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub feature: FeatureArgs,
}

impl ClusterInputArgs {
    /// The features asked for with `--features`.
    pub fn feature_specs(&self) -> Result<Option<Vec<FeatureSpec>>, Error> {
        feature_specs(self.features.as_deref())
    }
}

/// A `--features` list as feature specs.
pub fn feature_specs(list: Option<&[String]>) -> Result<Option<Vec<FeatureSpec>>, Error> {
    list.map(|list| FeatureSpec::parse_list(list).map_err(Error::Usage))
        .transpose()
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Zscore,
    None,
}

impl From<Scale> for Scaling {
    fn from(scale: Scale) -> Scaling {
        match scale {
            Scale::Zscore => Scaling::Zscore,
            Scale::None => Scaling::None,
        }
    }
}

/// K-Means settings shared by sweep, fit and bench.
#[derive(Args, Debug, Clone)]
pub struct KMeansArgs {
    /// k-means++ restarts per K; the lowest inertia is kept.
    #[arg(long, default_value_t = 1, value_name = "N", help_heading = "K-Means")]
    pub n_init: usize,
    /// Most Lloyd iterations per run.
    #[arg(
        long,
        default_value_t = 300,
        value_name = "N",
        help_heading = "K-Means"
    )]
    pub max_iter: usize,
    /// Stop when the summed squared centre shift is within TOL times the
    /// mean feature variance.
    #[arg(
        long,
        default_value_t = 1e-4,
        value_name = "TOL",
        help_heading = "K-Means"
    )]
    pub tol: f64,
    /// Random seed: the same seed and input give the same labels.
    #[arg(long, default_value_t = 0, help_heading = "K-Means")]
    pub seed: u64,
    /// auto (exact up to 50,000 users, else a sample of 20,000), exact,
    /// sample:N or none.
    #[arg(
        long,
        default_value = "auto",
        value_name = "MODE",
        help_heading = "K-Means"
    )]
    pub silhouette: String,
}

impl KMeansArgs {
    /// The K-Means parameters (`k` is 1: a sweep sets each K).
    pub fn params(&self) -> KMeansParams {
        KMeansParams {
            k: 1,
            n_init: self.n_init,
            max_iter: self.max_iter,
            tol: self.tol,
            seed: self.seed,
        }
    }

    /// The method, its parameters checked (restarts, iterations,
    /// tolerance) before any data is read, and the silhouette mode.
    pub fn method(&self) -> Result<(Method, SilhouetteMode), Error> {
        let method = Method::KMeans(self.params());
        method.validate()?;
        Ok((method, SilhouetteMode::parse(&self.silhouette)?))
    }
}

/// A list of K (`3`, `2..10`, `2,4,8`) given with `flag`.
pub fn k_list(text: &str, flag: &str) -> Result<Vec<usize>, Error> {
    let ks = parse_k_list(text).map_err(|e| Error::Usage(e.describe(flag)))?;
    if ks.is_empty() {
        return Err(Error::Usage(
            ParamsError::EmptyRange(text.into()).describe(flag),
        ));
    }
    Ok(ks)
}

/// `--k`: a number, or `auto` (the highest silhouette of `--k-range`).
pub fn k_choice(k: &str) -> Result<KChoice, Error> {
    Ok(match k.trim() {
        "auto" => KChoice::Auto,
        text => KChoice::Fixed(
            text.parse::<usize>()
                .map_err(|_| ParamsError::BadRange(k.to_string()))?,
        ),
    })
}

/// `--segment-names`: checked for a fixed K now, for `auto` once K is
/// chosen (here only each name is checked).
pub fn segment_names(list: Option<&str>, k: KChoice) -> Result<Option<Vec<String>>, Error> {
    let Some(list) = list else {
        return Ok(None);
    };
    let count = match k {
        KChoice::Fixed(k) => k,
        KChoice::Auto => list.split(',').count(),
    };
    Ok(Some(parse_names(list, count)?))
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: ClusterInputArgs,
    /// The K to try: 2..10 (inclusive), 2..=10, or a list 2,4,8.
    #[arg(long, default_value = "2..10", value_name = "RANGE")]
    pub k: String,
    /// Also write the results as CSV (one row per K); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Summary style on standard output.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub data: ClusterInputArgs,
    /// Number of segments, or auto: the K of --k-range with the highest
    /// silhouette.
    #[arg(long, default_value = "3", value_name = "K")]
    pub k: String,
    /// The K that --k auto tries.
    #[arg(long, default_value = "2..10", value_name = "RANGE")]
    pub k_range: String,
    /// Per-user scores (CSV); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the model (JSON), for `segmint score`.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Segment names, highest value first, comma separated [default: see
    /// README, e.g. Power User,Loyal User,Casual User for K = 3].
    #[arg(long, value_name = "LIST")]
    pub segment_names: Option<String>,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
    #[command(flatten)]
    pub churn: ChurnArgs,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Transaction logs (CSV); - is standard input. Read with the model's
    /// column and format options.
    #[arg(value_name = "INPUT", required_unless_present = "features_input")]
    pub inputs: Vec<PathBuf>,
    /// A numeric feature table, for a model fitted on one.
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub features_input: Option<PathBuf>,
    /// The model written by `segmint fit --model`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Per-user scores (CSV); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The features to score on; must be the model's (a check).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub features: Option<Vec<String>>,
    /// Reference time for recency [default: latest transaction].
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Silhouette of the scored users: none, exact, sample:N or auto.
    #[arg(long, default_value = "none", value_name = "MODE")]
    pub silhouette: String,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Churn early-warning thresholds (SPEC section 5); the dormant
/// threshold is `--dormant-days`.
#[derive(Args, Debug, Clone)]
pub struct ChurnArgs {
    /// Usage trend at or below which a user is declining (High Risk).
    #[arg(
        long,
        default_value_t = -0.30,
        value_name = "TREND",
        allow_negative_numbers = true,
        help_heading = "Churn"
    )]
    pub decline: f64,
    /// Failure rate at or above which a declining user is a quality issue.
    #[arg(
        long,
        default_value_t = 0.50,
        value_name = "RATE",
        help_heading = "Churn"
    )]
    pub quality_failure_rate: f64,
    /// Usage trend at or below which a top-segment user is Critical.
    #[arg(
        long,
        default_value_t = -0.20,
        value_name = "TREND",
        allow_negative_numbers = true,
        help_heading = "Churn"
    )]
    pub critical_decline: f64,
    /// Usage trend at or below which a user is a Moderate Risk.
    #[arg(
        long,
        default_value_t = -0.15,
        value_name = "TREND",
        allow_negative_numbers = true,
        help_heading = "Churn"
    )]
    pub moderate_decline: f64,
}

impl ChurnArgs {
    /// The thresholds, checked; errors name the flag.
    pub fn thresholds(&self, feature: &FeatureArgs) -> Result<ChurnThresholds, Error> {
        let thresholds = ChurnThresholds {
            dormant_days: feature.dormant_days,
            decline: self.decline,
            quality_failure_rate: self.quality_failure_rate,
            critical_decline: self.critical_decline,
            moderate_decline: self.moderate_decline,
        };
        thresholds.validate().map_err(|e| {
            let ChurnError::BadThreshold {
                parameter,
                rule,
                value,
            } = e;
            Error::Usage(format!("{} must be {rule}, got {value}", flag(parameter)))
        })?;
        Ok(thresholds)
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Transaction logs (CSV), read as one log; - is standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The HTML report.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write every number of the report as JSON; - is standard output.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Number of segments, or auto: the K of --k-range with the highest
    /// silhouette.
    #[arg(long, default_value = "3", value_name = "K")]
    pub k: String,
    /// The K whose elbow and silhouette the report charts.
    #[arg(long, default_value = "2..10", value_name = "RANGE")]
    pub k_range: String,
    /// Segment names, highest value first, comma separated [default: see
    /// README, e.g. Power User,Loyal User,Casual User for K = 3].
    #[arg(long, value_name = "LIST")]
    pub segment_names: Option<String>,
    /// Feature columns to cluster, comma separated, `log1p:` allowed
    /// [default: log1p:frequency,log1p:monetary,active_days].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        help_heading = "Features"
    )]
    pub features: Option<Vec<String>>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub feature: FeatureArgs,
    #[command(flatten)]
    pub churn: ChurnArgs,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
}

/// Where `transitions` reads the two periods from.
#[derive(Args, Debug)]
pub struct TransitionsArgs {
    /// Two scores files (old, new) written by fit or score; or, with
    /// --split-at, transaction logs to cut into two periods.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Cut the logs at TIME: rows before it are the old period, the rest
    /// the new one; both are segmented with one model fitted on the old.
    #[arg(long, value_name = "TIME")]
    pub split_at: Option<String>,
    /// Number of segments when splitting logs.
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub k: usize,
    /// Write the movement matrix as CSV (or the report as JSON with
    /// --format json); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output style of the summary on standard output.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// How many downgraded users the table lists (all are in the JSON).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub show: usize,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub feature: FeatureArgs,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchStage {
    /// One Lloyd iteration (assignment, centre sums and update) from --init.
    Lloyd,
    /// Nearest centre of every point (labels and distances to the host),
    /// as `score` does, with the centres of --init.
    Assign,
    /// A whole sweep over --k, silhouette excluded.
    Sweep,
    /// The exact Euclidean silhouette of --labels.
    Silhouette,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The stage to time.
    #[arg(value_enum)]
    pub stage: BenchStage,
    /// The points: a numeric table (CSV with a key column).
    #[arg(long, value_name = "FILE")]
    pub features_input: PathBuf,
    /// Key column of --features-input [default: user_id, else the first].
    #[arg(long, value_name = "COL")]
    pub key_col: Option<String>,
    /// zscore or none.
    #[arg(long, value_enum, default_value_t)]
    pub scale: Scale,
    /// lloyd, assign: initial centres, a CSV with a header and one row per
    /// centre.
    #[arg(long, value_name = "FILE", required_if_eq_any([("stage", "lloyd"), ("stage", "assign")]))]
    pub init: Option<PathBuf>,
    /// silhouette: labels, a CSV with a header and one label per point.
    #[arg(long, value_name = "FILE", required_if_eq("stage", "silhouette"))]
    pub labels: Option<PathBuf>,
    /// sweep: the K to fit.
    #[arg(long, default_value = "2..10", value_name = "RANGE")]
    pub k: String,
    /// Timed repetitions (lloyd: iterations).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub repeat: usize,
    /// Output style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
}

/// How to read logs and aggregate them: `--as-of` is read in the time
/// format of `input`.
pub fn log_options(
    input: &InputArgs,
    feature: &FeatureArgs,
) -> Result<(IngestOptions, FeatureOptions), Error> {
    let options = input.options(feature).map_err(Error::Usage)?;
    let features = feature.options(options.as_of).map_err(Error::Usage)?;
    Ok((options, features))
}

impl InputArgs {
    pub fn options(&self, feature: &FeatureArgs) -> Result<IngestOptions, String> {
        let defaults = IngestOptions::default();
        let as_of = match &feature.as_of {
            None => None,
            Some(text) => Some(self.time_format.parse(text.as_bytes()).map_err(|e| {
                format!(
                    "--as-of {text:?}: expected {} ({e})",
                    self.time_format.expected()
                )
            })?),
        };
        let success_statuses: Vec<String> = self
            .success_status
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let options = IngestOptions {
            columns: ColumnNames {
                user: self.user_col.clone(),
                time: self.time_col.clone(),
                amount: self.amount_col.clone(),
                channel: self.channel_col.clone(),
                status: self.status_col.clone(),
            },
            has_header: !self.no_header,
            delimiter: self.delimiter,
            time_format: self.time_format,
            as_of,
            since: None,
            success_statuses,
            skip_bad_rows: self.skip_bad_rows,
            chunk_bytes: self.chunk_bytes.unwrap_or(defaults.chunk_bytes),
            use_mmap: !self.no_mmap,
        };
        options.validate()?;
        Ok(options)
    }
}

impl FeatureArgs {
    pub fn options(&self, as_of: Option<i64>) -> Result<FeatureOptions, String> {
        if !self.dormant_days.is_finite() || self.dormant_days < 0.0 {
            return Err(format!(
                "--dormant-days {}: expected a non-negative number",
                self.dormant_days
            ));
        }
        Ok(FeatureOptions {
            as_of,
            dormant_days: self.dormant_days,
        })
    }
}
