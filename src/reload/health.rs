//! `serve --health FILE`: the probe's health file, loaded off the request path and applied to
//! the served snapshot, behind its own atomic pointer.
//!
//! The file is followed like a bundle: a watch on its directory (the probe renames a new file
//! over it) reloads it after each burst of changes, without a SIGHUP and without rebuilding the
//! snapshot. A file that does not parse is refused like a bad bundle: the previous health data
//! stays, the error is logged with the file name and counted. A file that parses but may not be
//! used (past `valid_until`, or condemning more than half the probed hosts) is not applied,
//! logged and counted; answers then go as without health (fail open). Each installed snapshot
//! gets the file applied anew ([`HealthStore::reapply`]), and a timer withdraws it once it
//! expires.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwapOption, Guard};

use super::store::Store;
use super::watch::{watch_files, FileWatch, WatchError, DEBOUNCE};
use crate::health::{Applied, FileError, Health, State};

/// How often the served health data is checked for expiry.
pub const EXPIRY_CHECK: Duration = Duration::from_secs(5);

/// Health loads and uses, for metrics and logs.
#[derive(Debug, Default)]
pub struct HealthCounters {
    /// Files read and parsed.
    pub loads_ok: AtomicU64,
    /// Files refused: missing, unreadable, not parsing, wrong format.
    pub loads_refused: AtomicU64,
    /// Times a parsed file was not applied (expired, or most hosts condemned).
    pub not_applied: AtomicU64,
    /// Answers in which every host would have been left out, so none was.
    pub fail_open_answers: AtomicU64,
}

/// The health data a server applies; shared by the request path (reads), the watch and the
/// reloader (writes).
pub struct HealthStore {
    path: PathBuf,
    /// The served snapshot, which the file is applied to.
    store: Arc<Store>,
    /// The last file that parsed; only the writers touch it.
    file: Mutex<Option<Arc<Health>>>,
    /// What answers read: the file applied to the served snapshot, or nothing.
    applied: ArcSwapOption<Applied>,
    /// Why the file was last not applied, so each new reason is logged once.
    last_refusal: Mutex<Option<String>>,
    pub counters: HealthCounters,
}

impl HealthStore {
    pub fn new(path: &Path, store: Arc<Store>) -> HealthStore {
        HealthStore {
            path: path.to_path_buf(),
            store,
            file: Mutex::new(None),
            applied: ArcSwapOption::empty(),
            last_refusal: Mutex::new(None),
            counters: HealthCounters::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What answers apply now (`None`: no health data in use).
    #[inline]
    pub fn current(&self) -> Guard<Option<Arc<Applied>>> {
        self.applied.load()
    }

    /// The file last loaded, if one parsed.
    pub fn file(&self) -> Option<Arc<Health>> {
        self.file.lock().ok().and_then(|f| f.clone())
    }

    /// Reads the file and, if it parses, applies it to the served snapshot. A file that does
    /// not parse leaves everything as it was. `at_start`: a missing file is then only a
    /// warning (the probe may not have run yet). Slow (file I/O): not on a runtime thread.
    pub fn load(&self, at_start: bool) {
        match Health::load(&self.path) {
            Ok(health) => {
                self.counters.loads_ok.fetch_add(1, Ordering::Relaxed);
                let counts = health.counts();
                tracing::info!(
                    path = %self.path.display(),
                    generated_at = health.generated_at,
                    valid_until = health.valid_until,
                    current = counts[0].1, behind = counts[1].1, stale = counts[2].1,
                    missing = counts[3].1, down = counts[4].1,
                    "health file loaded"
                );
                if let Ok(mut file) = self.file.lock() {
                    *file = Some(Arc::new(health));
                }
                self.reapply();
            }
            Err(FileError::Read { ref source, .. })
                if at_start && source.kind() == std::io::ErrorKind::NotFound =>
            {
                tracing::warn!(path = %self.path.display(), "no health file yet; serving without health data until it appears");
            }
            Err(e) => {
                self.counters.loads_refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "health file refused; keeping the previous health data");
            }
        }
    }

    /// Applies the loaded file to the served snapshot (after a reload installed one, or when
    /// the file changed), or withdraws the health data if the file may not be used now. One
    /// at a time, and always with the newest snapshot, so a slow file load cannot apply
    /// itself to a snapshot a reload has just replaced.
    pub fn reapply(&self) {
        let Ok(file) = self.file.lock() else {
            return;
        };
        let (Some(health), Some(snapshot)) = (file.as_ref(), self.store.load_full()) else {
            return;
        };
        let now = crate::clock::unix_now();
        let refusal = match Applied::new(health, &snapshot, now) {
            Ok(applied) => {
                self.applied.store(Some(Arc::new(applied)));
                None
            }
            Err(why) => {
                self.applied.store(None);
                self.counters.not_applied.fetch_add(1, Ordering::Relaxed);
                Some(why.to_string())
            }
        };
        let Ok(mut last) = self.last_refusal.lock() else {
            return;
        };
        if let Some(reason) = &refusal {
            if last.as_ref() != Some(reason) {
                tracing::warn!(path = %self.path.display(), %reason, "health data not applied; answering as without it");
            }
        }
        *last = refusal;
    }

    /// Hosts of the served snapshot in each state, when health data is applied.
    pub fn counts(&self) -> Option<[(State, usize); 5]> {
        let applied = self.applied.load();
        let applied = applied.as_deref()?;
        Some(std::array::from_fn(|i| (State::ALL[i], applied.counts[i])))
    }

    /// Follows the file: reloads it after each burst of changes in its directory, and checks
    /// every [`EXPIRY_CHECK`] whether the served data has expired. Must be called inside a
    /// Tokio runtime; dropping the returned watch stops both.
    pub fn follow(self: &Arc<Self>) -> Result<HealthWatch, WatchError> {
        let on_change = {
            let health = self.clone();
            move || {
                let health = health.clone();
                // Reading and parsing is file I/O: not on a runtime thread.
                tokio::task::spawn_blocking(move || health.load(false));
            }
        };
        let watch = watch_files(std::slice::from_ref(&self.path), DEBOUNCE, on_change)?;
        let expiry = {
            let health = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(EXPIRY_CHECK);
                loop {
                    tick.tick().await;
                    let expired = health
                        .current()
                        .as_deref()
                        .is_some_and(|a| crate::clock::unix_now() > a.valid_until);
                    if expired {
                        let health = health.clone();
                        let _ = tokio::task::spawn_blocking(move || health.reapply()).await;
                    }
                }
            })
        };
        Ok(HealthWatch {
            _watch: watch,
            expiry,
        })
    }
}

/// A running [`HealthStore::follow`]; dropping it stops following.
pub struct HealthWatch {
    _watch: FileWatch,
    expiry: tokio::task::JoinHandle<()>,
}

impl Drop for HealthWatch {
    fn drop(&mut self) {
        self.expiry.abort();
    }
}
