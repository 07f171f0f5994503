//! What a transaction log is read from: a file by name, standard input, or
//! a copy of a stream kept in an unnamed temporary file for commands that
//! read their logs more than once.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::display_path;

/// One transaction log to read.
#[derive(Clone, Debug)]
pub struct Input {
    /// As the user gave it: a path, or `-` for standard input.
    name: PathBuf,
    /// The stream's bytes, copied once, when it must be read again.
    copy: Option<Arc<File>>,
}

impl Input {
    /// The input the user named `name`: a path, or `-` for standard input.
    /// Nothing is opened yet.
    pub fn new(name: impl Into<PathBuf>) -> Self {
        Input {
            name: name.into(),
            copy: None,
        }
    }

    /// The name the user gave (`-` for standard input).
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The name for messages: `<stdin>` for standard input.
    pub fn display(&self) -> String {
        display_path(&self.name)
    }

    /// Whether this is standard input (named `-`), which can be read only
    /// once unless [`Input::rereadable`] copied it.
    pub fn is_stdin(&self) -> bool {
        self.name.as_os_str() == "-"
    }

    /// The copy made by [`Input::rereadable`], if any.
    pub(crate) fn copy(&self) -> Option<&File> {
        self.copy.as_deref()
    }

    /// The same input, readable more than once: standard input, a named
    /// pipe (`<(zcat log.gz)`) or a device are copied into an unnamed
    /// temporary file (no name, so nothing is left behind however the
    /// process ends); a regular file is read again where it is.
    pub fn rereadable(self) -> io::Result<Input> {
        if self.copy.is_some() {
            return Ok(self);
        }
        if !self.is_stdin() {
            match std::fs::metadata(&self.name) {
                Ok(m) if m.is_file() || m.is_dir() => return Ok(self),
                // Missing or unreadable: reading it says why.
                Err(_) => return Ok(self),
                Ok(_) => {}
            }
        }
        let mut copy = tempfile::tempfile()?;
        if self.is_stdin() {
            io::copy(&mut io::stdin().lock(), &mut copy)?;
        } else {
            io::copy(&mut File::open(&self.name)?, &mut copy)?;
        }
        Ok(Input {
            name: self.name,
            copy: Some(Arc::new(copy)),
        })
    }
}

impl From<PathBuf> for Input {
    fn from(name: PathBuf) -> Self {
        Input::new(name)
    }
}

impl From<&Path> for Input {
    fn from(name: &Path) -> Self {
        Input::new(name)
    }
}

impl From<&PathBuf> for Input {
    fn from(name: &PathBuf) -> Self {
        Input::new(name.clone())
    }
}

/// Inputs from the paths the user gave.
pub fn inputs(paths: &[PathBuf]) -> Vec<Input> {
    paths.iter().map(Input::from).collect()
}
