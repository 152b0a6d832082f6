//! The snapshot holder's writer side: load a new snapshot off the request path, check it,
//! and install it with one `ArcSwap::store`.
//!
//! Triggers (SIGHUP, the file watch) call [`Reloader::trigger`]. One reload runs at a time;
//! triggers that arrive meanwhile collapse into one more reload after it (a `Notify` holds at
//! most one permit), which reads the newest input. A reload that fails, or would install data
//! older than what is served (without `--allow-older`), leaves the served snapshot untouched.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::http::AppState;
use crate::source::Source;

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

/// Loads and installs snapshots for one [`AppState`].
pub struct Reloader {
    source: Source,
    state: Arc<AppState>,
    allow_older: bool,
    pending: Notify,
    next_sequence: AtomicU64,
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
    #[error("{0}")]
    Load(#[from] crate::source::LoadError),
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
    pub fn new(source: Source, state: Arc<AppState>, allow_older: bool) -> Reloader {
        Reloader {
            source,
            state,
            allow_older,
            pending: Notify::new(),
            next_sequence: AtomicU64::new(1),
            hooks: Vec::new(),
        }
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
        self.pending.notify_one();
    }

    /// Loads once now and installs the result. Used for the first snapshot and by [`run`].
    ///
    /// [`run`]: Reloader::run
    pub async fn reload_now(&self) -> Result<u64, ReloadError> {
        let started = Instant::now();
        self.emit(ReloadEvent::Started);
        let result = self.load_and_install().await;
        let counters = &self.state.reloads;
        match &result {
            Ok(sequence) => {
                let took = started.elapsed();
                counters.ok.fetch_add(1, Ordering::Relaxed);
                counters.last_ok_at.store(unix_now(), Ordering::Relaxed);
                counters
                    .last_duration_ms
                    .store(took.as_millis() as u64, Ordering::Relaxed);
                tracing::info!(source = %self.source.describe(), sequence, took_ms = took.as_millis() as u64, "snapshot installed");
                self.emit(ReloadEvent::Installed {
                    sequence: *sequence,
                });
            }
            Err(e) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters.last_failed_at.store(unix_now(), Ordering::Relaxed);
                tracing::error!(error = %e, "reload failed; still serving the previous snapshot");
                self.emit(ReloadEvent::Failed);
            }
        }
        result
    }

    async fn load_and_install(&self) -> Result<u64, ReloadError> {
        let source = self.source.clone();
        let (mut snapshot, warnings) = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|e| ReloadError::Join(e.to_string()))??;
        if !warnings.is_empty() {
            tracing::warn!(count = warnings.len(), first = %warnings[0], "input lines skipped while loading");
        }
        if let Some(current) = self.state.snapshot.load().as_deref() {
            let (new, now) = (snapshot.generated_at(), current.generated_at());
            if new < now && !self.allow_older {
                return Err(ReloadError::Older {
                    origin: self.source.describe(),
                    new,
                    current: now,
                });
            }
        }
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        snapshot.sequence = sequence;
        self.state.snapshot.store(Some(Arc::new(snapshot)));
        Ok(sequence)
    }

    /// Serves triggers until `shutdown` completes.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = self.pending.notified() => {
                    let _ = self.reload_now().await; // logged and counted inside
                }
                () = &mut shutdown => break,
            }
        }
    }

    fn emit(&self, event: ReloadEvent) {
        for hook in &self.hooks {
            hook(event);
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
