//! Input readers: each turns files of one kind into parts of a [`RawData`].
//!
//! `mirrormanager` reads MirrorManager's protobuf cache and its side files (global netblocks,
//! the country/continent CSV, a GeoIP2 Country mmdb); `native` reads this project's own
//! readable format (see `data/`). Errors name the file, the line or key, and what is wrong.
//!
//! [`RawData`]: crate::inputs::raw::RawData

pub mod continents;
pub mod first_wins;
pub mod geoip;
pub mod lines;
pub mod mirrormanager;
pub mod mm_cache;
pub mod mm_directory;
pub mod native;
pub mod netblocks;
pub mod raw;

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with one input file, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    /// Where in the file: `line 12`, `key "fedora-41+x86_64"`, `byte 4031`; empty if unknown.
    pub at: String,
    pub message: String,
}

impl InputError {
    pub fn new(file: &Path, at: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_path_buf(),
            at: at.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.at, self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Reads a whole input file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    std::fs::read(path).map_err(|e| InputError::new(path, "", format!("cannot read: {e}")))
}
