//! The served snapshot and the record of how it came to be served: the one value the request
//! path reads (one `ArcSwap` load, no lock), the reloader writes (one atomic swap), and the
//! metrics report. Everything else about a process (limits, counters of requests) lives with
//! the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwapOption, Guard};

use crate::snapshot::Snapshot;

/// What is served, shared by every request, the reloader and the metrics.
#[derive(Default)]
pub struct Store {
    /// Empty until the first snapshot is installed.
    snapshot: ArcSwapOption<Snapshot>,
    /// How reloads went.
    pub reloads: ReloadCounters,
}

/// Reload outcomes, for metrics and logs.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// Unix seconds of the last successful install (0: none yet).
    pub last_ok_at: AtomicU64,
    /// Unix seconds of the last failure (0: none yet).
    pub last_failed_at: AtomicU64,
    /// Milliseconds the last successful reload took, trigger to installed.
    pub last_duration_ms: AtomicU64,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// The served snapshot, for the length of one request: a guard, not a reference count,
    /// so the request path does one atomic load and no read-modify-write.
    #[inline]
    pub fn load(&self) -> Guard<Option<Arc<Snapshot>>> {
        self.snapshot.load()
    }

    /// The served snapshot, to keep beyond a request (a reload compares against it).
    pub fn load_full(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Whether a snapshot has been installed.
    pub fn is_loaded(&self) -> bool {
        self.snapshot.load().is_some()
    }

    /// Serves `snapshot` from now on; returns the one it replaces. Requests that loaded the
    /// old one keep their reference and finish on it.
    pub fn install(&self, snapshot: Snapshot) -> Option<Arc<Snapshot>> {
        self.snapshot.swap(Some(Arc::new(snapshot)))
    }

    /// The sequence the next installed snapshot gets: one more than the installs so far.
    pub fn next_sequence(&self) -> u64 {
        self.reloads.ok.load(Ordering::Relaxed) + 1
    }
}
