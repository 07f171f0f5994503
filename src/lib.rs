//! segmint: transaction logs to per-user features, behavioural segments,
//! churn warnings and scores. The command-line tool (`src/main.rs`) is a
//! thin layer over this library: everything it computes, a Rust program
//! can compute with the same calls.
//!
//! # Modules
//!
//! From the bottom up; a module uses only those listed before it.
//!
//! - [`values`]: exact money amounts, times and calendar arithmetic, and
//!   how every CSV the crate writes spells a number;
//! - [`output`]: writing outputs safely (planned before any work, never
//!   over an input, whole or not at all);
//! - [`formats`]: which format a file is (CSV plain or compressed,
//!   Parquet, Arrow IPC), streamed decompression, and the Parquet and Arrow
//!   writers of tables;
//! - [`generate`]: synthetic transaction logs for demos and benchmarks;
//! - [`features`]: per-user accumulators, the feature table computed from
//!   them, and the scaled feature matrix clustering works on;
//! - [`ingest`]: reading transaction logs (memory-mapped, parallel) into
//!   those accumulators, and reading feature tables and scores files;
//! - [`backend`]: the clustering kernels (K-Means, silhouette, a Gaussian
//!   mixture's E-step), on the CPU and on a GPU (WGSL through wgpu),
//!   behind one trait;
//! - [`graph`]: the user graph (from a counterparty column of the logs,
//!   an edge list or the features' nearest neighbours) and the
//!   communities Leiden finds in it;
//! - [`cluster`]: K-Means (k-means++, Lloyd), Gaussian mixtures (EM),
//!   hierarchical trees (exact linkages, micro-clusters), sweeps over K
//!   and their quality metrics;
//! - [`insights`]: segments ranked and named, RFM, churn risk, activity,
//!   revenue concentration, transitions between periods;
//! - [`report`]: the scores CSV, the sweep table, the report's numbers and
//!   its HTML page;
//! - [`segment`]: the pipeline every segmentation method plugs into: load,
//!   prepare, fit over a choice of K, make a model, score new users;
//! - [`error`]: every module's error gathered into one [`Error`], with the
//!   command line's exit codes.
//!
//! # Reading a log into per-user features
//!
//! The first step of [`segment`], on its own (see there for the whole
//! pipeline):
//!
//! ```
//! use segmint::features::table::{FeatureOptions, FeatureTable};
//! use segmint::ingest::{IngestOptions, ingest};
//!
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("tx.csv");
//! std::fs::write(
//!     &log,
//!     "user_id,created_at,total_price\n\
//!      u1,2025-03-01 10:00:00,2.50\n\
//!      u1,2025-03-02 11:00:00,-0.50\n\
//!      u2,2025-03-02 12:00:00,1\n",
//! )?;
//! let ingested = ingest(&[log.into()], &IngestOptions::default(), &|_bytes| {})?;
//! let table = FeatureTable::from_aggregate(
//!     ingested.aggregate,
//!     ingested.has_channel,
//!     ingested.has_status,
//!     &FeatureOptions::default(),
//! )
//! .expect("the log has rows");
//! let u1 = &table.users[0];
//! assert_eq!((u1.user_id.as_str(), u1.frequency, u1.active_days), ("u1", 2, 2));
//! assert_eq!(u1.monetary.to_string(), "2");
//! assert_eq!(u1.recency_days, 1.0 / 24.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod backend;
pub mod cluster;
pub mod error;
pub mod features;
pub mod formats;
pub mod generate;
pub mod graph;
pub mod ingest;
pub mod insights;
pub mod output;
pub mod report;
pub mod segment;
pub mod values;

pub use error::Error;
