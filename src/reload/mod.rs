//! The snapshot holder's writer side: load a new snapshot off the request path, check it,
//! and install it with one `ArcSwap::store`.
//!
//! Triggers (SIGHUP, the file watch) call [`Reloader::trigger`], which only sets a flag. One
//! reload runs at a time and clears the flag as it starts, so it serves every trigger before
//! it; triggers that arrive during it set the flag again and make exactly one more reload
//! after it, which reads the newest input. Reload starts are at least
//! [`DEFAULT_MIN_INTERVAL`] apart (`--reload-interval-ms`): a trigger after a quiet spell
//! reloads at once, and a burst of triggers, however spread over that interval, becomes at
//! most two reloads ([`trigger::Triggers`] keeps that schedule, on tokio's clock). A reload that fails, or would install data older than what is served
//! (without `--allow-older`), leaves the served snapshot untouched.

pub mod health;
pub mod store;
pub mod trigger;
pub mod watch;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::build::source::Source;
pub use store::{ReloadCounters, Store};
use trigger::Triggers;

/// The least time between the starts of two reloads, unless configured otherwise.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Loads and installs snapshots into one [`Store`].
pub struct Reloader {
    source: Source,
    store: Arc<Store>,
    allow_older: bool,
    /// The pending flag and the minimum interval between reload starts.
    triggers: Triggers,
    /// Held for the whole of a reload: one at a time, whoever calls.
    running: tokio::sync::Mutex<()>,
    /// Called after each install attempt with its outcome (systemd notifications use it).
    hooks: Vec<Box<dyn Fn(ReloadEvent) + Send + Sync>>,
}

/// What a reload hook is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadEvent {
    Started,
    Installed { sequence: u64 },
    Failed,
}

/// Why a reload did not install anything.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Load(#[from] crate::build::source::LoadError),
    #[error("{origin}: data generated at {new} is older than the served data ({current}); refused (use --allow-older to roll back on purpose)")]
    Older {
        origin: String,
        new: u64,
        current: u64,
    },
    #[error("loader thread failed: {0}")]
    Join(String),
}

impl Reloader {
    pub fn new(source: Source, store: Arc<Store>, allow_older: bool) -> Reloader {
        Reloader {
            source,
            store,
            allow_older,
            triggers: Triggers::new(DEFAULT_MIN_INTERVAL),
            running: tokio::sync::Mutex::new(()),
            hooks: Vec::new(),
        }
    }

    /// Sets the least time between the starts of two reloads ([`DEFAULT_MIN_INTERVAL`]).
    pub fn min_interval(mut self, interval: Duration) -> Reloader {
        self.triggers.set_min_interval(interval);
        self
    }

    /// Adds a hook called around every reload.
    pub fn on_event(&mut self, hook: impl Fn(ReloadEvent) + Send + Sync + 'static) {
        self.hooks.push(Box::new(hook));
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Asks for a reload; cheap, never blocks, coalesces with pending requests.
    pub fn trigger(&self) {
        self.triggers.trigger();
    }

    /// Loads once now and installs the result. Used for the first snapshot and by [`run`].
    ///
    /// [`run`]: Reloader::run
    pub async fn reload_now(&self) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.running.lock().await;
        // Triggers from here on ask for the next reload; the ones before are served by this one.
        let triggered = self.triggers.begin();
        let started = tokio::time::Instant::now();
        let waited_ms = triggered.map_or(0, |t| started.duration_since(t).as_millis() as u64);
        tracing::info!(source = %self.source.describe(), waited_ms, "reload started");
        self.emit(ReloadEvent::Started);
        let result = self.load_and_install().await;
        let counters = &self.store.reloads;
        match &result {
            Ok((sequence, load)) => {
                // From the trigger (or the start, for the first load) to installed.
                let took = triggered.unwrap_or(started).elapsed();
                counters.ok.fetch_add(1, Ordering::Relaxed);
                counters
                    .last_ok_at
                    .store(crate::clock::unix_now(), Ordering::Relaxed);
                counters
                    .last_duration_ms
                    .store(took.as_millis() as u64, Ordering::Relaxed);
                tracing::info!(
                    source = %self.source.describe(),
                    sequence,
                    took_ms = took.as_millis() as u64,
                    load_ms = load.as_millis() as u64,
                    "snapshot installed"
                );
                self.emit(ReloadEvent::Installed {
                    sequence: *sequence,
                });
            }
            Err(e) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters
                    .last_failed_at
                    .store(crate::clock::unix_now(), Ordering::Relaxed);
                tracing::error!(
                    source = %self.source.describe(),
                    error = %e,
                    "reload failed; still serving the previous snapshot"
                );
                self.emit(ReloadEvent::Failed);
            }
        }
        result.map(|(sequence, _)| sequence)
    }

    /// Returns the installed sequence and how long reading, checking and indexing took.
    async fn load_and_install(&self) -> Result<(u64, Duration), ReloadError> {
        let source = self.source.clone();
        let current = self.store.load_full();
        // One reload at a time (`running`), so no other install can take this number.
        let sequence = self.store.next_sequence();
        let allow_older = self.allow_older;
        // Everything slow, including dropping a snapshot that is refused, on a blocking thread.
        let (loaded, load) = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            // The new bundle's pages replace the served one's in memory instead of adding to
            // them; the served snapshot maps back (from the page cache) what requests read.
            let served_at = current.map(|current| {
                current.release_resident_pages();
                current.generated_at()
            });
            let loaded = source.load().map_err(ReloadError::from).and_then(|loaded| {
                let new = loaded.0.generated_at();
                match served_at {
                    Some(current) if new < current && !allow_older => Err(ReloadError::Older {
                        origin: source.describe(),
                        new,
                        current,
                    }),
                    _ => Ok(loaded),
                }
            });
            (loaded, started.elapsed())
        })
        .await
        .map_err(|e| ReloadError::Join(e.to_string()))?;
        let (snapshot, warnings) = loaded?;
        if !warnings.is_empty() {
            tracing::warn!(count = warnings.len(), first = %warnings[0], "input lines skipped while loading");
        }
        // The install: one atomic pointer exchange. Requests that loaded the old snapshot
        // keep their `Arc` and finish on it.
        let old = self.store.install(snapshot.numbered(sequence));
        if let Some(old) = old {
            // Freeing a mapped snapshot unmaps it, and when its file was replaced the kernel
            // then drops that file's page cache: tens of milliseconds for a large bundle, not
            // to be spent on a runtime thread that serves requests.
            tokio::task::spawn_blocking(move || release(old));
        }
        Ok((sequence, load))
    }

    /// Serves triggers until `shutdown` completes.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        while self.triggers.next(shutdown.as_mut()).await {
            let _ = self.reload_now().await; // logged and counted inside
        }
    }

    fn emit(&self, event: ReloadEvent) {
        for hook in &self.hooks {
            hook(event);
        }
    }
}

/// Drops the replaced snapshot once the requests still reading it are done (waiting at most
/// [`RELEASE_WAIT`]), so that the last reference, whose drop does the freeing, is this one.
fn release(old: Arc<crate::snapshot::Snapshot>) {
    let until = std::time::Instant::now() + RELEASE_WAIT;
    while Arc::strong_count(&old) > 1 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(old);
}

/// How long [`release`] waits for requests in flight on a replaced snapshot.
const RELEASE_WAIT: Duration = Duration::from_secs(30);
