//! The statistics log (docs/protocol.md section 10.1): MirrorManager's line, byte for byte, written by a
//! thread of its own from a bounded queue so a slow disk never holds up a request. When the
//! queue is full the line is dropped and counted. [`StatsLog::reopen`] (SIGUSR1) makes the
//! writer close and reopen the file, for logrotate.
//!
//! The writer drains the queue on a timer ([`DRAIN_INTERVAL`]) instead of sleeping in `recv`:
//! a receiver parked in `recv` has to be woken by a system call for every line, and under
//! load those wake-ups (one per request, a context switch each) cost about a tenth of the
//! server's throughput. A sender never waits, and nothing it does (writing a line, asking for
//! a reopen) can block: the reopen request is a flag the writer looks at on every drain.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Lines waiting for the writer before new ones are dropped.
pub const QUEUE_LINES: usize = 65_536;

/// How often the writer takes what is queued. At 100k lines a second that is 2,000 lines a
/// drain, far below [`QUEUE_LINES`]; a line reaches the file at most this late.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(20);

enum Message {
    Line(String),
    /// Flush, then acknowledge: every line queued before it is on disk (shutdown).
    Flush(SyncSender<()>),
}

/// The sending side; cheap to share.
pub struct StatsLog {
    tx: SyncSender<Message>,
    reopen: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl StatsLog {
    /// Opens (appending, creating) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<StatsLog> {
        StatsLog::with_queue(path, QUEUE_LINES)
    }

    /// [`StatsLog::open`] with a queue of `lines` lines.
    pub fn with_queue(path: &Path, lines: usize) -> std::io::Result<StatsLog> {
        let file = open_append(path)?;
        let (tx, rx) = sync_channel(lines);
        let writer = Writer {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
            rx,
            reopen: Arc::new(AtomicBool::new(false)),
            written: Arc::new(AtomicU64::new(0)),
        };
        let (reopen, written) = (writer.reopen.clone(), writer.written.clone());
        std::thread::Builder::new()
            .name("stats-log".into())
            .spawn(move || writer.run())?;
        Ok(StatsLog {
            tx,
            reopen,
            dropped: Arc::new(AtomicU64::new(0)),
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

    /// Asks the writer to reopen the file (after logrotate moved it) on its next drain.
    /// Never blocks, even when the queue is full or the writer is stuck on a slow disk.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// Waits until every line queued so far is written and flushed, at most `timeout`; for
    /// shutdown, so the answers given last are not missing from the log. False on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let (ack_tx, ack_rx) = sync_channel(1);
        let mut message = Message::Flush(ack_tx);
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(1));
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

/// The writer thread's side.
struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
    rx: Receiver<Message>,
    reopen: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
}

impl Writer {
    /// Drains the queue every [`DRAIN_INTERVAL`] until every sender is gone.
    fn run(mut self) {
        loop {
            let open = self.drain();
            if let Err(e) = self.out.flush() {
                tracing::error!(path = %self.path.display(), error = %e, "statistics log flush failed");
            }
            if self.reopen.swap(false, Ordering::Relaxed) {
                self.reopen_file();
            }
            if !open {
                return;
            }
            std::thread::sleep(DRAIN_INTERVAL);
        }
    }

    /// Writes everything queued now; false once the senders are gone and the queue is empty.
    fn drain(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(Message::Line(line)) => {
                    if let Err(e) = self.out.write_all(line.as_bytes()) {
                        tracing::error!(path = %self.path.display(), error = %e, "statistics log write failed");
                    } else {
                        self.written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Message::Flush(ack)) => {
                    if let Err(e) = self.out.flush() {
                        tracing::error!(path = %self.path.display(), error = %e, "statistics log flush failed");
                    }
                    let _ = ack.send(());
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn reopen_file(&mut self) {
        match open_append(&self.path) {
            Ok(f) => {
                self.out = BufWriter::with_capacity(64 * 1024, f);
                tracing::info!(path = %self.path.display(), "statistics log reopened");
            }
            Err(e) => tracing::error!(path = %self.path.display(), error = %e,
                "statistics log reopen failed; still writing to the old file"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIGUSR1 is handled on a runtime thread: asking for a reopen must return at once even
    /// when the writer is stuck (here on a pipe nobody reads) and the queue is full.
    #[test]
    fn reopen_never_blocks_on_a_stuck_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("stats.fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path and creates a file; nothing else.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        // A reader that never reads: opening the write end needs one, and the pipe fills.
        let reader_path = fifo.clone();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let reader = File::open(reader_path).unwrap();
            opened_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(30));
            drop(reader);
        });
        let log = StatsLog::with_queue(&fifo, 4).unwrap();
        opened_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let big = "x".repeat(256 * 1024); // more than a pipe holds: the writer blocks on it
        for _ in 0..64 {
            log.write(big.clone());
        }
        assert!(log.dropped() > 0, "the queue should be full by now");
        let log = Arc::new(log);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let asker = log.clone();
        std::thread::spawn(move || {
            asker.reopen();
            let _ = done_tx.send(());
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(2)).is_ok(),
            "reopen() blocked behind a full queue"
        );
    }

    #[test]
    fn lines_are_written_in_order_and_reopen_follows_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.log");
        let log = StatsLog::open(&path).unwrap();
        for i in 0..1000 {
            log.write(format!("line {i}\n"));
        }
        assert!(log.flush(Duration::from_secs(5)));
        let rotated = dir.path().join("stats.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen();
        log.write("after\n".into());
        assert!(log.flush(Duration::from_secs(5)));
        // The flush may be taken in the drain before the reopen; a second makes sure.
        assert!(log.flush(Duration::from_secs(5)));
        let before = std::fs::read_to_string(&rotated).unwrap();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert!(before.starts_with(&expected), "order kept");
        let after_rename = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            before.len() + after_rename.len(),
            expected.len() + "after\n".len()
        );
        assert_eq!(log.written(), 1001);
        assert_eq!(log.dropped(), 0);
    }
}
