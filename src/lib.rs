//! segmint: transaction logs to per-user features, behavioural segments,
//! churn warnings and scores.
//!
//! The pipeline, one module per stage: [`ingest`] reads transaction logs
//! (memory-mapped, parallel), [`features`] turns per-user accumulators into
//! the feature table, [`generate`] writes synthetic logs for demos and
//! benchmarks, and [`output`] writes results atomically.
//!
//! Reading a log into per-user features:
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

pub mod backend;
pub mod cluster;
pub mod error;
pub mod features;
pub mod generate;
pub mod ingest;
pub mod insights;
pub mod output;
pub mod report;
pub mod segment;
pub mod values;

pub use error::Error;
