//! Command-line arguments (clap derive): what each command takes, with
//! its help text. [`convert`] turns them into the library's types, once.
//! No I/O here.

mod convert;

pub use self::convert::{describe, feature_specs, k_choice, k_list, log_options, segment_names};

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use segmint::backend::{DeviceChoice, LloydAlgorithm};
use segmint::formats::{InputFormat, OutputFormat};
use segmint::ingest::{Delimiter, TimeFormat};

#[derive(Parser, Debug)]
#[command(name = "segmint", version, about = "Customer segmentation from transaction logs", long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bars or summaries on the terminal; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Print on stderr, at the end, the wall time of each stage of the run
    /// (reading, preparing the points, clustering, scoring, writing).
    #[arg(long, global = true)]
    pub timings: bool,

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
    /// Fit a method for every K of a range and compare them.
    Sweep(SweepArgs),
    /// Fit a segmentation (K-Means, mixture, tree or graph communities),
    /// write per-user scores and the model.
    Fit(FitArgs),
    /// Place users in the segments of a fitted model.
    Score(ScoreArgs),
    /// Segment, score and analyse transaction logs into one HTML report.
    Report(ReportArgs),
    /// How users moved between segments from one scores file to another.
    Transitions(TransitionsArgs),
    /// The statistics that rank users against each other in one run (RFM
    /// quintile boundaries, typical gap, base trend), for `score
    /// --population` on pieces of it.
    Population(PopulationArgs),
    /// One Lloyd step of a K-Means model over some users: the per-segment
    /// sums, counts and inertia that `lloyd-merge` adds up (distributed
    /// K-Means, one partition each).
    LloydStep(LloydStepArgs),
    /// Add up `lloyd-step` results into the model's next centres, and say
    /// whether the fit has converged.
    LloydMerge(LloydMergeArgs),
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
    /// Plant B communities: every row gets a peer_id column naming
    /// another user, of the same block with probability --p-in.
    #[arg(long, value_name = "B")]
    pub blocks: Option<u32>,
    /// With --blocks: the probability that a row's peer is in the user's
    /// block.
    #[arg(long, default_value_t = 0.8, value_name = "P")]
    pub p_in: f64,
    /// With --blocks: also write each user's block (user_id,block).
    #[arg(long, value_name = "FILE")]
    pub truth_out: Option<PathBuf>,
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
    /// Transaction logs (CSV, gzip/zstd CSV, Parquet or Arrow), read as one log; - is standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output file (CSV, or Parquet/Arrow by extension or --output-format), or - for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format: csv, parquet or arrow [default: by the output's
    /// extension (.parquet, .arrow, .arrows), else csv]; needed for -
    /// (standard output).
    #[arg(long, value_name = "FORMAT")]
    pub output_format: Option<OutputFormat>,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// The channels of the share_<channel> columns, comma-separated
    /// [default: those of the log]. A channel of the log not in the list is
    /// an error; one of the list not in the log gets a column of zeros. A
    /// job that computes features in pieces passes the whole log's
    /// channels to every piece, so that all pieces have the same columns.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub channels: Option<Vec<String>>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub feature: FeatureArgs,
}

/// How to read transaction logs (README, "Input").
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
    /// Input format: csv (plain, gzip or zstd), parquet or arrow (IPC file
    /// or stream) [default: each file's own, by its first bytes]. Needed
    /// only to insist on one; the extension must agree with the bytes.
    #[arg(long, value_name = "FORMAT", help_heading = "Input")]
    pub input_format: Option<InputFormat>,
    /// Read files with plain reads instead of memory maps.
    #[arg(long, hide = true)]
    pub no_mmap: bool,
    /// Target bytes per parallel chunk.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub chunk_bytes: Option<usize>,
}

/// Feature definitions (README, "Features").
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
    /// Days of the window `cadence_trend` compares with the days before
    /// [default: three typical gaps between a user's active days, in whole
    /// weeks, at least 7, at most half the log's span].
    #[arg(long, value_name = "DAYS", help_heading = "Features")]
    pub trend_days: Option<u32>,
    /// First day of the observation window (a time in the time column's
    /// format; its UTC date counts) [default: the first transaction's
    /// date]. Earlier rows are left out. With --as-of and --trend-days, it
    /// makes the features of a piece of a log (one partition's users) those
    /// of the whole log.
    #[arg(long, value_name = "TIME", help_heading = "Features")]
    pub window_start: Option<String>,
}

/// What to cluster (README, "Clustering"): transaction logs, or a numeric table.
#[derive(Args, Debug, Clone)]
pub struct ClusterInputArgs {
    /// Transaction logs (CSV, gzip/zstd CSV, Parquet or Arrow), read as one log; - is standard input.
    #[arg(
        value_name = "INPUT",
        required_unless_present_any = ["features_input", "edges_input"]
    )]
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Zscore,
    None,
}

/// The segmentation method and its settings, shared by sweep, fit, report
/// and bench.
#[derive(Args, Debug, Clone)]
pub struct KMeansArgs {
    /// kmeans (hard segments), gmm (a Gaussian mixture: each user a
    /// probability of every segment), hierarchical (a tree of segments,
    /// cut at K), leiden (communities of the user graph: give
    /// --peer-col, --edges-input or --knn) or dec (deep embedding
    /// clustering: segments in an autoencoder's latent space).
    #[arg(long, value_enum, default_value_t, help_heading = "Method")]
    pub method: MethodName,
    /// Restarts per K; the lowest inertia (kmeans, and dec's K-Means on
    /// the latent codes) or highest likelihood (gmm) is kept [default: 1;
    /// 10 for dec].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub n_init: Option<usize>,
    /// Most iterations per run [default: 300 Lloyd iterations for kmeans,
    /// 100 EM iterations for gmm, 2 Leiden iterations for leiden (it stops
    /// earlier once one does not raise the quality), 5000 refinement steps
    /// for dec (0: the autoencoder and K-Means alone)].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub max_iter: Option<usize>,
    /// kmeans: stop when the summed squared centre shift is within TOL
    /// times the mean feature variance [default: 1e-4]; gmm: when the mean
    /// log-likelihood per user changes by less than TOL [default: 1e-3;
    /// 0 runs exactly --max-iter iterations]; dec: when fewer than this
    /// share of the users changed segment between two target updates
    /// [default: 1e-3].
    #[arg(long, value_name = "TOL", help_heading = "Method")]
    pub tol: Option<f64>,
    /// kmeans: how each iteration finds the nearest centres: lloyd (every
    /// distance), hamerly (bounds skip the distances that cannot change a
    /// label) or auto (hamerly from K = 64) [default: auto]. All three give
    /// the same segments and centres.
    #[arg(long, value_enum, value_name = "ALGORITHM", help_heading = "Method")]
    pub algorithm: Option<LloydAlgorithm>,
    /// gmm: full, tied, diag or spherical covariances [default: full].
    #[arg(long, value_name = "TYPE", help_heading = "Method")]
    pub covariance: Option<String>,
    /// gmm: added to the diagonal of every covariance, scaled space
    /// [default: 1e-6].
    #[arg(long, value_name = "REG", help_heading = "Method")]
    pub reg_covar: Option<f64>,
    /// gmm: where each run starts: kmeans (a K-Means fit's segments) or
    /// k-means++ (one centre per component) [default: kmeans].
    #[arg(long, value_name = "INIT", help_heading = "Method")]
    pub gmm_init: Option<String>,
    /// hierarchical: ward, average, complete or single [default: ward].
    #[arg(long, value_name = "LINKAGE", help_heading = "Method")]
    pub linkage: Option<String>,
    /// hierarchical: build the tree over M micro-clusters (K-Means) rather
    /// than the users; 0: the exact tree [default: exact up to 20,000
    /// users, else 1000].
    #[arg(long, value_name = "M", help_heading = "Method")]
    pub micro_clusters: Option<usize>,
    /// hierarchical: the coarser cut of scores.csv's segment_path, each
    /// segment's parent [default: half of K, rounded up].
    #[arg(long, value_name = "K", help_heading = "Method")]
    pub parent_k: Option<usize>,
    /// leiden: modularity or cpm (the Constant Potts Model)
    /// [default: modularity].
    #[arg(long, value_name = "OBJECTIVE", help_heading = "Method")]
    pub objective: Option<String>,
    /// leiden: higher finds more, smaller communities (modularity's γ;
    /// CPM's density threshold) [default: 1].
    #[arg(
        long,
        value_name = "R",
        allow_negative_numbers = true,
        help_heading = "Method"
    )]
    pub resolution: Option<f64>,
    /// leiden: communities smaller than this (users, or a share of them
    /// with %) are gathered into one "Other" segment [default: 1%].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub min_community_size: Option<String>,
    /// dec: the encoder's hidden layer widths, input side first; the
    /// decoder mirrors them [default: 64,32].
    #[arg(long, value_name = "W,W", help_heading = "Method")]
    pub hidden: Option<String>,
    /// dec: the latent code's width [default: half the features, rounded
    /// up, from 2 to 10].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub latent: Option<usize>,
    /// dec: pre-training epochs [default: as many as make 10,000
    /// mini-batch steps].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub pretrain_epochs: Option<usize>,
    /// dec: users per mini-batch [default: 256].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub batch_size: Option<usize>,
    /// dec: Adam's learning rate [default: 0.001].
    #[arg(long, value_name = "LR", help_heading = "Method")]
    pub learning_rate: Option<f64>,
    /// dec: refinement steps between two updates of the target
    /// distribution [default: 140].
    #[arg(long, value_name = "N", help_heading = "Method")]
    pub update_interval: Option<usize>,
    /// dec: the reconstruction error's weight beside the KL divergence
    /// (IDEC); 0 is DEC [default: 10, IDEC's clustering weight of 0.1].
    #[arg(long, value_name = "G", help_heading = "Method")]
    pub gamma: Option<f64>,
    /// Random seed: the same seed and input give the same labels.
    #[arg(long, default_value_t = 0, help_heading = "Method")]
    pub seed: u64,
    /// auto (exact up to 50,000 users, else a sample of 20,000), exact,
    /// sample:N or none.
    #[arg(
        long,
        default_value = "auto",
        value_name = "MODE",
        help_heading = "Method"
    )]
    pub silhouette: String,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Where the user graph of `--method leiden` comes from: one of
/// --peer-col, --edges-input and --knn.
#[derive(Args, Debug, Clone, Default)]
pub struct GraphArgs {
    /// The logs' counterparty column (callee, recipient, merchant,
    /// product, device): users linked by the transactions between them,
    /// or by the peers they share.
    #[arg(long, value_name = "COL", help_heading = "Graph")]
    pub peer_col: Option<String>,
    /// An edge list: CSV with a header, src,dst[,weight]; alone (no logs
    /// or table), its ids are the users.
    #[arg(long, value_name = "FILE", help_heading = "Graph")]
    pub edges_input: Option<PathBuf>,
    /// Link each user to its K nearest neighbours in feature space.
    #[arg(long, value_name = "K", help_heading = "Graph")]
    pub knn: Option<usize>,
    /// --peer-col: what weighs an edge between two users: count or amount
    /// [default: count].
    #[arg(long, value_name = "WEIGHT", help_heading = "Graph")]
    pub edge_weight: Option<String>,
    /// --peer-col: users (peers are users), items (things users share,
    /// projected onto users) or auto (users when half the rows' peers
    /// are users) [default: auto].
    #[arg(long, value_name = "KIND", help_heading = "Graph")]
    pub peers: Option<String>,
    /// --peer-col items: peers shared by more users are left out
    /// [default: 100].
    #[arg(long, value_name = "N", help_heading = "Graph")]
    pub max_peer_degree: Option<usize>,
}

/// `--method`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodName {
    /// K-Means.
    #[default]
    Kmeans,
    /// A Gaussian mixture.
    Gmm,
    /// Agglomerative clustering.
    Hierarchical,
    /// Communities of the user graph.
    Leiden,
    /// Deep embedding clustering.
    Dec,
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
    /// silhouette [default: 3; leiden finds its own number].
    #[arg(long, value_name = "K")]
    pub k: Option<String>,
    /// The K that --k auto tries.
    #[arg(long, default_value = "2..10", value_name = "RANGE")]
    pub k_range: String,
    /// kmeans: start Lloyd from these centres instead of k-means++: a CSV
    /// with a header row and K rows of the features in scaled space, or a
    /// K-Means model (its centres, and its scaler scales the users); needs
    /// --k K.
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// hierarchical: cut the tree at this merge height (scaled units)
    /// instead of at --k; its K is fitted with those of --k-range.
    #[arg(long, value_name = "H", conflicts_with = "k")]
    pub height: Option<f64>,
    /// Per-user scores (CSV, or Parquet/Arrow by extension or --output-format); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format: csv, parquet or arrow [default: by the output's
    /// extension (.parquet, .arrow, .arrows), else csv]; needed for -
    /// (standard output).
    #[arg(long, value_name = "FORMAT")]
    pub output_format: Option<OutputFormat>,
    /// Also write the model (JSON), for `segmint score`.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// hierarchical: also write the whole merge tree, SciPy's linkage
    /// matrix as CSV (left,right,height,size; over the micro-clusters in
    /// micro-cluster mode).
    #[arg(long, value_name = "FILE")]
    pub linkage_out: Option<PathBuf>,
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

/// The users of a model: read as `score` reads them.
#[derive(Args, Debug)]
pub struct ModelUsersArgs {
    /// Transaction logs, read with the model's options; - is standard input.
    #[arg(value_name = "INPUT", required_unless_present = "features_input")]
    pub inputs: Vec<PathBuf>,
    /// A numeric feature table, for a model fitted on one; - is standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub features_input: Option<PathBuf>,
    /// The model written by `segmint fit --model` (or `lloyd-merge`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Logs: reference time for recency [default: latest transaction].
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Logs: the first day of the observation window [default: the first
    /// transaction's date].
    #[arg(long, value_name = "TIME")]
    pub window_start: Option<String>,
}

#[derive(Args, Debug)]
pub struct PopulationArgs {
    #[command(flatten)]
    pub users: ModelUsersArgs,
    /// The population (JSON); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct LloydStepArgs {
    #[command(flatten)]
    pub users: ModelUsersArgs,
    /// The step's sums (JSON, one line); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Keep the piece's features in FILE for the next steps: when FILE
    /// exists the users are read from it and the input is not read; else
    /// the input is read and FILE written. A file of another model's
    /// features is an error.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LloydMergeArgs {
    /// `lloyd-step` results over the same model, one per piece of the users.
    #[arg(required = true, value_name = "STEP")]
    pub steps: Vec<PathBuf>,
    /// The K-Means model the steps ran with.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The next model: centres moved to their users' means (see --rescale
    /// and --finish).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The first merge: set the model's scaler from the steps' column
    /// statistics (the whole data's means and standard deviations) and
    /// start from these centres (CSV, K rows of the features in scaled
    /// space, no header) [default: the model's centres, carried into the
    /// new scale].
    #[arg(long)]
    pub rescale: bool,
    /// With --rescale: the initial centres.
    #[arg(long, value_name = "FILE", requires = "rescale")]
    pub init: Option<PathBuf>,
    /// The last merge, of steps run with the converged model: keeps its
    /// centres, numbers the segments by the mean of the ordering column
    /// (highest first, as `fit` does) and records the inertia.
    #[arg(long, conflicts_with = "rescale")]
    pub finish: bool,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Transaction logs (CSV); - is standard input. Read with the model's
    /// column and format options.
    #[arg(
        value_name = "INPUT",
        required_unless_present_any = ["features_input", "edges_input"]
    )]
    pub inputs: Vec<PathBuf>,
    /// A numeric feature table, for a model fitted on one.
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub features_input: Option<PathBuf>,
    /// leiden: the scored users' edge list (CSV src,dst[,weight]), for a
    /// model whose graph was an edge list.
    #[arg(long, value_name = "FILE")]
    pub edges_input: Option<PathBuf>,
    /// The model written by `segmint fit --model`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Per-user scores (CSV, or Parquet/Arrow by extension or --output-format); - is standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format: csv, parquet or arrow [default: by the output's
    /// extension (.parquet, .arrow, .arrows), else csv]; needed for -
    /// (standard output).
    #[arg(long, value_name = "FORMAT")]
    pub output_format: Option<OutputFormat>,
    /// The features to score on; must be the model's (a check).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub features: Option<Vec<String>>,
    /// Reference time for recency [default: latest transaction].
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Logs: the first day of the observation window [default: the first
    /// transaction's date]; earlier rows are left out (see `features`).
    #[arg(long, value_name = "TIME")]
    pub window_start: Option<String>,
    /// The run-level statistics to rank and judge users against (RFM
    /// quintile boundaries, the typical gap, the base trend), from
    /// `segmint population` [default: those of the users scored]. Scoring
    /// in pieces with one population gives the scores of one run.
    #[arg(long, value_name = "FILE")]
    pub population: Option<PathBuf>,
    /// Silhouette of the scored users: none, exact, sample:N or auto.
    #[arg(long, default_value = "none", value_name = "MODE")]
    pub silhouette: String,
    /// Summary style.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Churn early-warning thresholds (README, "Segments and insights"); the dormant
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
    /// Expected gaps between the user's active days that must also have
    /// passed, beyond --dormant-days, for a user to be Dormant.
    #[arg(
        long,
        default_value_t = 3.0,
        value_name = "GAPS",
        help_heading = "Churn"
    )]
    pub dormant_gaps: f64,
    /// P(alive) (BG/NBD) below which a user is High Risk (Lapsing) once
    /// --overdue gaps late, and a top-segment user Critical.
    #[arg(long, default_value_t = 0.5, value_name = "P", help_heading = "Churn")]
    pub p_alive_risk: f64,
    /// Expected gaps late at or beyond which a user with a low P(alive) is
    /// Lapsing.
    #[arg(
        long,
        default_value_t = 2.0,
        value_name = "GAPS",
        help_heading = "Churn"
    )]
    pub overdue: f64,
    /// Standard deviations (of a Poisson count at the user's earlier
    /// rate) the trend window's transactions must fall below that rate's
    /// expectation for a trend rule to fire; 0 judges every trend.
    #[arg(long, default_value_t = 2.0, value_name = "Z", help_heading = "Churn")]
    pub trend_z: f64,
    /// Days ahead the expected transactions and CLV cover (the scores'
    /// columns are named after it: expected_tx_90d, clv_90d).
    #[arg(
        long,
        default_value_t = 90,
        value_name = "DAYS",
        help_heading = "Lifetime value"
    )]
    pub horizon: u32,
    /// Discount rate per 30 days of the CLV (0.01 is 1% a month); 0 is
    /// undiscounted.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "RATE",
        help_heading = "Lifetime value"
    )]
    pub discount_rate: f64,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Transaction logs (CSV, gzip/zstd CSV, Parquet or Arrow), read as one log; - is standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The HTML report.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write every number of the report as JSON; - is standard output.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Number of segments, or auto: the K of --k-range with the highest
    /// silhouette [default: 3; leiden finds its own number].
    #[arg(long, value_name = "K")]
    pub k: Option<String>,
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
    /// A whole K-Means fit to convergence from the centres of --init
    /// (--algorithm, --tol, --max-iter).
    Fit,
    /// The exact Euclidean silhouette of --labels.
    Silhouette,
    /// One EM iteration of a Gaussian mixture (E-step and M-step) from
    /// the means of --init, equal weights and unit covariances
    /// (--covariance, --reg-covar).
    Gmm,
    /// Fitting BG/NBD and Gamma-Gamma on a table with the columns
    /// active_days, active_span_days, age_days and repeat_spend.
    Lifetime,
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
    /// lloyd, assign, gmm: initial centres (means), a CSV with a header
    /// and one row per centre.
    #[arg(long, value_name = "FILE", required_if_eq_any([("stage", "lloyd"), ("stage", "assign"), ("stage", "gmm"), ("stage", "fit")]))]
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
