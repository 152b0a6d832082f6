//! From inputs to a bundle: read the sources, validate and compile, write atomically.

pub mod compile;
pub mod raw;

use std::path::PathBuf;
use std::time::SystemTime;

use crate::sources::mirrormanager::{self, MmPaths};
use crate::sources::{native, InputError};
pub use compile::{compile, CompileError, Compiled};

/// The inputs a build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inputs {
    /// MirrorManager's cache and side files.
    MirrorManager(MmPaths),
    /// A directory in the native readable format.
    Native(PathBuf),
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Reads and compiles `inputs`.
pub fn read_and_compile(inputs: &Inputs) -> Result<Compiled, BuildError> {
    let (raw, kind) = match inputs {
        Inputs::MirrorManager(paths) => (mirrormanager::read(paths)?, "mirrormanager"),
        Inputs::Native(dir) => (native::read(dir)?, "native"),
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(compile(raw, kind, now)?)
}
