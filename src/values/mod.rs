//! The values a transaction carries, shared by reading logs
//! ([`crate::ingest`]) and aggregating them ([`crate::features`]): exact
//! money amounts ([`amount`]) and times with their calendar arithmetic
//! ([`time`]). Neither parses files nor knows about users.

pub mod amount;
pub mod time;
