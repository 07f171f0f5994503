//! Writers of results, one per output (SPEC section 6). `-` as a path is
//! standard output; files are written atomically by [`crate::output`].

pub mod charts;
pub mod html;
pub mod scores;
pub mod summary;
pub mod sweep;
