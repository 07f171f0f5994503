//! From segments to insights people act on (README, "Segments and insights"): segment
//! names, RFM scores, churn early warning, the certainty of soft
//! memberships, revenue concentration and
//! segment transitions.

pub mod activity;
pub mod btyd;
pub mod certainty;
pub mod churn;
pub mod communities;
pub mod concentration;
pub mod describe;
pub mod latent;
pub mod naming;
pub mod rfm;
pub mod segments;
pub mod transitions;
pub mod tree;
