//! The values a transaction carries, shared by reading logs
//! ([`crate::ingest`]) and aggregating them ([`crate::features`]): exact
//! money amounts ([`amount`]) and times with their calendar arithmetic
//! ([`time`]); and how every CSV the crate writes spells a number or a
//! text cell ([`csv`]). None parses files or knows about users.

pub mod amount;
pub mod csv;
pub mod time;
