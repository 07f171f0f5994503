//! Writers of results, one per output (SPEC section 6). `-` as a path is
//! standard output; files are written atomically by [`crate::output`].

pub mod scores;
pub mod sweep;
