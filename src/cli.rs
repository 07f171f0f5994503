//! Command-line arguments (clap derive). No I/O here: `into_*` methods
//! validate and turn arguments into library parameters.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use segmint::features::table::FeatureOptions;
use segmint::generate::GenerateParams;
use segmint::ingest::time::{MS_PER_DAY, day_of};
use segmint::ingest::{ColumnNames, Delimiter, IngestOptions, TimeFormat};

#[derive(Parser, Debug)]
#[command(name = "segmint", version, about = "Customer segmentation from transaction logs", long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bars or summaries on the terminal; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,

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
