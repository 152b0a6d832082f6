//! From inputs to a bundle: read the sources, validate and compile, write atomically.

pub mod compile;
pub mod host_marks;
pub mod id_index;
pub mod source;

use std::path::PathBuf;

use crate::inputs::mirrormanager::{self, MmPaths};
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
    let (raw, kind) = match inputs {
        Inputs::MirrorManager(paths) => (mirrormanager::read(paths)?, "mirrormanager"),
        Inputs::Native(dir) => (native::read(dir)?, "native"),
    };
    let read = started.elapsed();
    let compiled = compile(raw, kind, crate::clock::unix_now())?;
    tracing::debug!(
        read_ms = read.as_millis() as u64,
        compile_ms = (started.elapsed() - read).as_millis() as u64,
        "inputs read and compiled"
    );
    Ok(compiled)
}
