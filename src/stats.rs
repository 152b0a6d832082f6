//! The statistics log (spec section 10.1): MirrorManager's line, byte for byte, written by a
//! thread of its own from a bounded queue so a slow disk never holds up a request. When the
//! queue is full the line is dropped and counted. [`StatsLog::reopen`] (SIGUSR1) makes the
//! writer close and reopen the file, for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Lines waiting for the writer before new ones are dropped.
pub const QUEUE_LINES: usize = 65_536;

enum Message {
    Line(String),
    Reopen,
    /// Flush, then acknowledge: every line queued before it is on disk (shutdown).
    Flush(SyncSender<()>),
}

/// The sending side; cheap to share.
pub struct StatsLog {
    tx: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl StatsLog {
    /// Opens (appending, creating) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<StatsLog> {
        let file = open_append(path)?;
        let (tx, rx) = sync_channel(QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let path = path.to_path_buf();
        let counter = written.clone();
        std::thread::Builder::new()
            .name("stats-log".into())
            .spawn(move || writer(path, file, rx, counter))?;
        Ok(StatsLog {
            tx,
            dropped,
            written,
        })
    }

    /// Queues a line; never blocks.
    pub fn write(&self, line: String) {
        match self.tx.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Asks the writer to reopen the file (after logrotate moved it).
    pub fn reopen(&self) {
        // A full queue still gets the request: blocking here is on the signal task, not a
        // request, and the writer is draining.
        let _ = self.tx.send(Message::Reopen);
    }

    /// Waits until every line queued so far is written and flushed, at most `timeout`; for
    /// shutdown, so the answers given last are not missing from the log. False on timeout.
    pub fn flush(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let (ack_tx, ack_rx) = sync_channel(1);
        let mut message = Message::Flush(ack_tx);
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(_) => return false,
            }
        }
        ack_rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .is_ok()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn writer(path: PathBuf, file: File, rx: Receiver<Message>, written: Arc<AtomicU64>) {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Write everything already queued, then flush once.
        while let Some(message) = next {
            match message {
                Message::Line(line) => {
                    if let Err(e) = out.write_all(line.as_bytes()) {
                        tracing::error!(path = %path.display(), error = %e, "statistics log write failed");
                    } else {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Message::Flush(ack) => {
                    if let Err(e) = out.flush() {
                        tracing::error!(path = %path.display(), error = %e, "statistics log flush failed");
                    }
                    let _ = ack.send(());
                }
                Message::Reopen => {
                    let _ = out.flush();
                    match open_append(&path) {
                        Ok(f) => {
                            out = BufWriter::with_capacity(64 * 1024, f);
                            tracing::info!(path = %path.display(), "statistics log reopened");
                        }
                        Err(e) => tracing::error!(path = %path.display(), error = %e,
                            "statistics log reopen failed; still writing to the old file"),
                    }
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            tracing::error!(path = %path.display(), error = %e, "statistics log flush failed");
        }
    }
    let _ = out.flush();
}
