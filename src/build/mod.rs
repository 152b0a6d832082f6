//! From inputs to a bundle: read the sources, validate and compile, write atomically.

pub mod compile;
pub mod host_marks;
pub mod id_index;
pub mod source;

use std::path::PathBuf;

use crate::inputs::mirrormanager::{self, HostIds, MmPaths};
use crate::inputs::{native, InputError};
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
    let started = std::time::Instant::now();
    let now = crate::clock::unix_now();
    let compiled = match inputs {
        Inputs::Native(dir) => compile(native::read(dir)?, "native", now)?,
        Inputs::MirrorManager(paths) => {
            let raw = mirrormanager::read_with(paths, HostIds::Tables)?;
            match compile(raw, "mirrormanager", now) {
                Err(CompileError::UnknownHost { host, .. }) => {
                    tracing::debug!(
                        host,
                        "a directory names a host the host tables lack; reading again"
                    );
                    compile(mirrormanager::read(paths)?, "mirrormanager", now)?
                }
                compiled => compiled?,
            }
        }
    };
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "inputs read and compiled"
    );
    Ok(compiled)
}
