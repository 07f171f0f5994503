//! segmint: transaction logs to per-user features, behavioural segments,
//! churn warnings and scores.
//!
//! The pipeline, one module per stage: [`ingest`] reads transaction logs
//! (memory-mapped, parallel), [`features`] turns per-user accumulators into
//! the feature table, [`generate`] writes synthetic logs for demos and
//! benchmarks, and [`output`] writes results atomically.

pub mod error;
pub mod features;
pub mod generate;
pub mod ingest;
pub mod output;

pub use error::Error;
