//! `serve --watch`: reload when an input file changes, by watching the directories that hold them.
//!
//! A bundle is replaced by renaming a new file over it (`build` does that), which gives the name a
//! new inode: a watch on the file itself would keep following the old inode and never fire again.
//! So the watch is on each input's directory, and events are filtered to the input file names.
//! Events come in bursts (create, write, close, rename); a burst becomes one
//! [`Reloader::trigger`] once the directory has been quiet for [`DEBOUNCE`] (or at most
//! [`MAX_DELAY`] after the first event, so a file rewritten without pause still reloads).
//!
//! A deleted input is an event like any other: the reload it triggers fails (and says why, with
//! the file name), the served snapshot stays, and the event that brings the file back reloads.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::build::source::Source;
use crate::build::Inputs;
use crate::inputs::native;
use crate::reload::Reloader;

/// How long the watched directories must be quiet before a burst of events becomes a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);
/// The longest a reload waits after the first event of a burst that does not stop.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Why the watch could not start.
#[derive(Debug, thiserror::Error)]
#[error("{dir}: cannot watch: {source}")]
pub struct WatchError {
    pub dir: PathBuf,
    #[source]
    pub source: notify::Error,
}

/// The files a reload of `source` reads, so the files whose change calls for one.
pub fn input_files(source: &Source) -> Vec<PathBuf> {
    match source {
        Source::Bundle(path) => vec![path.clone()],
        Source::Inputs(Inputs::Native(dir)) => [
            native::MIRRORS_FILE,
            native::ASN_FILE,
            native::CONTINENTS_FILE,
            native::GEO_FILE,
        ]
        .iter()
        .map(|name| dir.join(name))
        .collect(),
        Source::Inputs(Inputs::MirrorManager(paths)) => vec![
            paths.cache.clone(),
            paths.global_netblocks.clone(),
            paths.cccsv.clone(),
            paths.geoip.clone(),
        ],
    }
}

/// The directories to watch and, in each, the file names that matter. Directories are made
/// absolute (not canonical: a symlinked bundle name is watched as the name it is given).
fn watch_set(files: &[PathBuf]) -> BTreeMap<PathBuf, BTreeSet<OsString>> {
    let mut set: BTreeMap<PathBuf, BTreeSet<OsString>> = BTreeMap::new();
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        set.entry(dir).or_default().insert(name.to_os_string());
    }
    set
}

/// Whether an event kind can mean new content. Opening and reading (the reload itself opens the
/// bundle) are not; closing a file written to is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

/// The watched input an event is about, if any.
fn matching_path<'e>(
    set: &BTreeMap<PathBuf, BTreeSet<OsString>>,
    event: &'e Event,
) -> Option<&'e Path> {
    event
        .paths
        .iter()
        .map(PathBuf::as_path)
        .find(|p| match (p.parent(), p.file_name()) {
            (Some(dir), Some(name)) => set.get(dir).is_some_and(|names| names.contains(name)),
            _ => false,
        })
}

/// A running watch; dropping it stops watching.
pub struct FileWatch {
    _watcher: RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
    dirs: Vec<PathBuf>,
}

impl FileWatch {
    /// The directories being watched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the inputs of `reloader`'s source and triggers it after each burst of changes.
/// Must be called inside a Tokio runtime.
pub fn spawn(reloader: Arc<Reloader>) -> Result<FileWatch, WatchError> {
    let files = input_files(reloader.source());
    watch_files(&files, DEBOUNCE, move || reloader.trigger())
}

/// Watches `files` (through their directories) and calls `on_change` once per burst of changes,
/// after `debounce` of quiet. Must be called inside a Tokio runtime.
pub fn watch_files(
    files: &[PathBuf],
    debounce: Duration,
    on_change: impl Fn() + Send + 'static,
) -> Result<FileWatch, WatchError> {
    let set = Arc::new(watch_set(files));
    let (tx, rx) = mpsc::unbounded_channel::<PathBuf>();
    let filter = set.clone();
    let handler = move |event: notify::Result<Event>| match event {
        Ok(event) if event.need_rescan() => {
            // The kernel queue overflowed: something may have changed; look again.
            let _ = tx.send(PathBuf::from("(event queue overflow)"));
        }
        Ok(event) if is_change(&event.kind) => {
            if let Some(path) = matching_path(&filter, &event) {
                let _ = tx.send(path.to_path_buf());
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "file watch error"),
    };
    let first_dir = || set.keys().next().cloned().unwrap_or_default();
    let mut watcher = notify::recommended_watcher(handler).map_err(|source| WatchError {
        dir: first_dir(),
        source,
    })?;
    for dir in set.keys() {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                dir: dir.clone(),
                source,
            })?;
    }
    let dirs: Vec<PathBuf> = set.keys().cloned().collect();
    tracing::info!(dirs = ?dirs, debounce_ms = debounce.as_millis() as u64, "watching the input files for changes");
    let task = tokio::spawn(debounce_loop(rx, debounce, on_change));
    Ok(FileWatch {
        _watcher: watcher,
        task,
        dirs,
    })
}

/// Turns each burst of events into one call of `on_change`.
async fn debounce_loop(
    mut rx: mpsc::UnboundedReceiver<PathBuf>,
    debounce: Duration,
    on_change: impl Fn(),
) {
    while let Some(mut last) = rx.recv().await {
        let first = Instant::now();
        let mut events = 1u64;
        loop {
            let deadline = (Instant::now() + debounce).min(first + MAX_DELAY);
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(path)) => {
                    last = path;
                    events += 1;
                }
                Ok(None) => return,
                Err(_) => break,
            }
        }
        tracing::info!(file = %last.display(), events, "input changed: reload requested");
        on_change();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    fn event(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn only_the_input_names_in_their_directories_match() {
        let set = watch_set(&[PathBuf::from("/srv/ml/current.bundle")]);
        let renamed = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/srv/ml/.current.bundle.tmp42", "/srv/ml/current.bundle"],
        );
        assert_eq!(
            matching_path(&set, &renamed),
            Some(Path::new("/srv/ml/current.bundle"))
        );
        let temp = event(EventKind::Create(CreateKind::File), &["/srv/ml/.x.tmp"]);
        assert_eq!(matching_path(&set, &temp), None);
        let elsewhere = event(
            EventKind::Remove(RemoveKind::File),
            &["/srv/other/current.bundle"],
        );
        assert_eq!(matching_path(&set, &elsewhere), None);
    }

    #[test]
    fn opening_and_reading_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            notify::event::AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
    }

    #[test]
    fn drop_in_inputs_are_watched_in_each_directory() {
        let source = Source::Inputs(Inputs::MirrorManager(
            crate::inputs::mirrormanager::MmPaths {
                cache: "/var/lib/mm/cache.proto".into(),
                global_netblocks: "/var/lib/mm/nb.txt".into(),
                cccsv: "/etc/mm/cc.csv".into(),
                geoip: "/usr/share/GeoIP/C.mmdb".into(),
            },
        ));
        let set = watch_set(&input_files(&source));
        assert_eq!(set.len(), 3);
        assert_eq!(set[Path::new("/var/lib/mm")].len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_becomes_one_call() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        // tokio's paused clock: the sleeps below take no wall-clock time, and a slow machine
        // cannot split the burst.
        let debounce = Duration::from_millis(500);
        let (tx, rx) = mpsc::unbounded_channel();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let task = tokio::spawn(debounce_loop(rx, debounce, move || {
            counted.fetch_add(1, SeqCst);
        }));
        let wait_for = |n: usize| {
            let calls = calls.clone();
            async move {
                let until = Instant::now() + Duration::from_secs(10);
                while calls.load(SeqCst) < n && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        for _ in 0..10 {
            tx.send(PathBuf::from("/x")).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        wait_for(1).await;
        tokio::time::sleep(debounce * 2).await;
        assert_eq!(calls.load(SeqCst), 1);
        tx.send(PathBuf::from("/x")).unwrap();
        wait_for(2).await;
        assert_eq!(calls.load(SeqCst), 2);
        drop(tx);
        task.await.unwrap();
    }

    /// Runs `debounce_loop` with [`DEBOUNCE`] and records when it calls back.
    fn recorded_loop() -> (
        mpsc::UnboundedSender<PathBuf>,
        Arc<std::sync::Mutex<Vec<Instant>>>,
        tokio::task::JoinHandle<()>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let task = tokio::spawn(debounce_loop(rx, DEBOUNCE, move || {
            recorded.lock().unwrap().push(Instant::now());
        }));
        (tx, calls, task)
    }

    #[tokio::test(start_paused = true)]
    async fn the_call_comes_one_debounce_after_the_last_event() {
        let (tx, calls, task) = recorded_loop();
        let mut last = Instant::now();
        for _ in 0..5 {
            tx.send(PathBuf::from("/x")).unwrap();
            last = Instant::now();
            tokio::time::sleep(DEBOUNCE / 2).await;
        }
        tokio::time::sleep(DEBOUNCE * 10).await;
        assert_eq!(*calls.lock().unwrap(), vec![last + DEBOUNCE]);
        drop(tx);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn events_without_pause_still_call_within_max_delay() {
        let (tx, calls, task) = recorded_loop();
        let first = Instant::now();
        // Never quiet for a whole debounce, for a little over two MAX_DELAYs.
        while Instant::now() < first + MAX_DELAY * 2 + DEBOUNCE {
            tx.send(PathBuf::from("/x")).unwrap();
            tokio::time::sleep(DEBOUNCE / 4).await;
        }
        let calls_so_far = calls.lock().unwrap().clone();
        assert_eq!(calls_so_far.len(), 2, "{calls_so_far:?}");
        assert_eq!(calls_so_far[0], first + MAX_DELAY);
        assert!(calls_so_far[1] - calls_so_far[0] <= MAX_DELAY + DEBOUNCE);
        drop(tx);
        task.await.unwrap();
    }
}
