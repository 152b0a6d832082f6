//! The HTTP server: accept loop with a connection limit and graceful drain, and the service
//! that turns a request into [`answer`](crate::answer::answer)'s reply.
//!
//! The library installs no signal handlers: the caller passes a listener and a shutdown
//! future (mini-redis style), so tests can run a server on port 0 and stop it at will.

pub mod admin;
pub mod client_addr;
mod connection;
pub mod exporter;
mod limits;
pub mod metrics;
pub mod negotiate;
pub mod service;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use connection::QUERY_TOO_LONG;
pub use limits::Limits;
pub use state::AppState;

use connection::Connections;

/// Serves `listener` until `shutdown` completes, then stops accepting and waits up to
/// `limits.drain_timeout` for open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    admin: Arc<admin::Admin>,
    metrics_access: admin::MetricsAccess,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // The drain: `true` asks every connection to finish; the sender's `closed()` completes
    // when the last connection task has dropped its receiver.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let connections = Connections::new(state, admin, metrics_access, &limits, stop_rx);
    let (mut failures, mut last_warning) = (0u64, None);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning. The connection stays
                    // in the kernel's accept queue and is taken once a descriptor is free.
                    // One warning per 10 s, not one per retry.
                    failures += 1;
                    let quiet = Duration::from_secs(10);
                    if last_warning.is_none_or(|at: Instant| at.elapsed() >= quiet) {
                        tracing::warn!(error = %e, failures, "accept failed; retrying every 50 ms");
                        last_warning = Some(Instant::now());
                        failures = 0;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        connections.spawn(stream, peer, Some(permit));
    }
    // From here on, each connection finishes the request it has and closes.
    let _ = stop_tx.send(true);
    take_accept_queue(listener, &connections, &permits);
    tracing::info!("stopped accepting; draining open connections");
    drop(connections); // its receiver of the stop channel too
    if tokio::time::timeout(limits.drain_timeout, stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?limits.drain_timeout, "drain timed out; closing the rest");
    }
}

/// Connections the kernel completed before we stopped wait in the accept queue, and their
/// clients may have sent a request already: takes them too instead of resetting them
/// (bounded, in case clients keep arriving faster than this loop runs). Runs after the stop
/// was sent, so each of them finishes the request it has and closes.
fn take_accept_queue(listener: TcpListener, connections: &Connections, permits: &Arc<Semaphore>) {
    match listener.into_std() {
        Ok(queue) => {
            for _ in 0..ACCEPT_QUEUE_DRAIN {
                let Ok((stream, peer)) = queue.accept() else {
                    break; // WouldBlock: the queue is empty
                };
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                if let Ok(stream) = stream {
                    connections.spawn(stream, peer, permits.clone().try_acquire_owned().ok());
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot drain the accept queue"),
    }
}

/// Most connections taken from the accept queue once a shutdown begins (tokio's default
/// listen backlog is 1024).
const ACCEPT_QUEUE_DRAIN: usize = 4096;

/// Raises the soft open-file limit to the hard one (as Go's runtime does), so the default
/// `--max-connections` fits, and warns when `max_connections` still does not: beyond the
/// limit, `accept` fails with EMFILE and the accept loop backs off and retries, so new
/// connections wait in the kernel's queue; the process itself is unaffected.
pub fn raise_fd_limit(max_connections: usize) {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        // A few descriptors for the listener, the inputs, the logs and the watch.
        let wanted = (max_connections as libc::rlim_t).saturating_add(64);
        if lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < wanted {
            tracing::warn!(
                open_file_limit = lim.rlim_cur,
                max_connections,
                "the open-file limit is below --max-connections; connections beyond it wait in the accept queue"
            );
        }
    }
}

/// Binds a listener, naming the address in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}
