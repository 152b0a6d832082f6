//! Where a serving process gets its snapshot: a bundle file, or inputs it compiles in memory
//! (MirrorManager's files with the production server's flags, or a native source directory).

use std::path::PathBuf;

use crate::build::{read_and_compile, BuildError, Inputs};
use crate::snapshot::bundle::{self, BundleError};
use crate::snapshot::Snapshot;

/// What `serve` (and `query`) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Bundle(PathBuf),
    Inputs(Inputs),
}

/// Why a snapshot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl Source {
    /// Loads, validates and indexes a new snapshot. Slow (file I/O, compilation): callers on
    /// the async runtime run it on a blocking thread.
    pub fn load(&self) -> Result<(Snapshot, Vec<String>), LoadError> {
        match self {
            Source::Bundle(path) => Ok((Snapshot::load(path)?, Vec::new())),
            Source::Inputs(inputs) => {
                let compiled = read_and_compile(inputs)?;
                // Written to a file and mapped like a bundle, not kept on the heap: the
                // archive is then file pages that a reload can let go of before it builds the
                // next one, and the heap form is freed before the archive is read
                // (decision 21; loadtest/RESULTS.md, "Load path").
                let started = std::time::Instant::now();
                let dir = std::env::temp_dir();
                let file = bundle::write_temporary(&dir, &compiled.data)?;
                let written = started.elapsed();
                let warnings = compiled.warnings;
                drop(compiled.data);
                release_freed_memory();
                let label = dir.join("(compiled inputs)");
                let snapshot = Snapshot::load_file(&label, &file)?;
                tracing::debug!(
                    dir = %dir.display(),
                    write_ms = written.as_millis() as u64,
                    load_ms = (started.elapsed() - written).as_millis() as u64,
                    "compiled inputs written and mapped"
                );
                Ok((snapshot, warnings))
            }
        }
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Bundle(p) => format!("bundle {}", p.display()),
            Source::Inputs(Inputs::Native(d)) => format!("source directory {}", d.display()),
            Source::Inputs(Inputs::MirrorManager(p)) => {
                format!("MirrorManager cache {}", p.cache.display())
            }
        }
    }
}

/// Compiling MirrorManager's XL cache leaves tens of megabytes of small heap allocations
/// freed once the compiled data is written; glibc keeps those pages (fragmented arenas) unless
/// asked, so a server fed the inputs directly would stay near its peak. Hands the free pages
/// back to the kernel.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; no pointer changes.
    unsafe {
        libc::malloc_trim(0);
    }
}
