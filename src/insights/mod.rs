//! From segments to insights people act on (SPEC section 5): segment
//! names, RFM scores, churn early warning, revenue concentration and
//! segment transitions.

pub mod activity;
pub mod churn;
pub mod concentration;
pub mod naming;
pub mod rfm;
pub mod segments;
pub mod transitions;
