//! Per-user features (README, "Features"): the accumulators filled while
//! reading, and the finished feature table.

pub mod accumulator;
pub mod cadence;
pub mod calendar;
pub mod columnar;
pub mod matrix;
pub mod table;

pub use self::table::{FeatureOptions, FeatureRows, FeatureTable, UserFeatures};
