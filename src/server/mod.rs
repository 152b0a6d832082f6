//! The HTTP server: accept loop with a connection limit and graceful drain, and the service
//! that turns a request into [`answer`](crate::answer::answer)'s reply.
//!
//! The library installs no signal handlers: the caller passes a listener and a shutdown
//! future (mini-redis style), so tests can run a server on port 0 and stop it at will.

pub mod admin;
pub mod client_addr;
pub mod exporter;
pub mod metrics;
pub mod service;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use state::AppState;

/// Protocol limits, each with a flag in `serve` (README, "Limits").
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time allowed to receive a request's headers (slowloris), counted from the accept for
    /// the first request of a connection (HTTP/1 and HTTP/2) and from the end of the previous
    /// response for the next one on an HTTP/1 keep-alive connection (hyper's own timer).
    pub header_read_timeout: Duration,
    /// Time a connection may go with no byte moving in either direction after its first
    /// request: idle HTTP/2 connections, and clients that stop reading their answers.
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers) buffered, in bytes; beyond it 431
    /// (HTTP/1 then closes the connection, HTTP/2 resets the stream).
    pub max_header_bytes: usize,
    /// Longest query string answered, in bytes; beyond it 414, before the query is parsed.
    pub max_query_bytes: usize,
    /// HTTP/2 streams per connection.
    pub max_h2_streams: u32,
    /// How long a shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            max_query_bytes: 4096,
            max_h2_streams: 100,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

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
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        // A client may shut down its sending side once its request is out (`nc -N`, some
        // scripts): answer it anyway. Without this hyper drops the answer whenever the FIN
        // arrives before the response is written, which depends on timing.
        .half_close(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    // One builder per protocol, picked by `detect_h2` before hyper sees the connection.
    let h1 = Arc::new(builder.clone().http1_only());
    let h2 = Arc::new(builder.http2_only());
    let spawn_connection = |mut stream: TcpStream,
                            peer: SocketAddr,
                            permit: Option<OwnedSemaphorePermit>| {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let service = Guarded {
            inner: service::MirrorService::new(state.clone(), admin.clone(), metrics_access, peer),
            state: state.clone(),
            activity: activity.clone(),
            max_query_bytes: limits.max_query_bytes,
            peer,
        };
        // Counted by the drain from the accept on, not from when hyper gets the connection.
        let mut stop = stop_rx.clone();
        let (h1, h2, state) = (h1.clone(), h2.clone(), state.clone());
        let (header_timeout, idle_timeout) = (limits.header_read_timeout, limits.idle_timeout);
        state.connections.0.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let serve = async {
                let first = {
                    let detect = read_first_bytes(&mut stream);
                    tokio::pin!(detect);
                    tokio::select! {
                        found = &mut detect => found,
                        () = stopped(&mut stop) => {
                            // Stopping: a client that has sent nothing yet gets a short grace,
                            // not the whole header read timeout.
                            tokio::time::timeout(FIRST_BYTES_GRACE, &mut detect).await.ok().flatten()
                        }
                    }
                };
                let Some(first) = first else {
                    return; // closed, or silent, before sending anything
                };
                let is_h2 = first.is_h2();
                let io = Watched {
                    inner: Prefixed::new(first, stream),
                    activity: activity.clone(),
                };
                let builder = if is_h2 { &h2 } else { &h1 };
                let conn = builder.serve_connection(TokioIo::new(io), service);
                tokio::pin!(conn);
                // Unlike hyper-util's `GracefulShutdown::watch`, poll the connection before
                // looking at the stop signal: hyper closes a connection told to shut down
                // before it has read a byte, and bytes are waiting here (`detect_h2`), so
                // this first poll reads the request that was sent before SIGTERM.
                let stopping = stopped(&mut stop);
                tokio::pin!(stopping);
                let mut asked = false;
                let result = std::future::poll_fn(|cx| {
                    if let Poll::Ready(done) = conn.as_mut().poll(cx) {
                        return Poll::Ready(done);
                    }
                    if !asked && stopping.as_mut().poll(cx).is_ready() {
                        asked = true;
                        conn.as_mut().graceful_shutdown();
                        return conn.as_mut().poll(cx);
                    }
                    Poll::Pending
                })
                .await;
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            };
            tokio::select! {
                () = serve => {}
                why = activity.expired(header_timeout, idle_timeout) => {
                    tracing::debug!(%peer, why, "closing the connection");
                }
            }
            state.connections.0.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            drop(stop); // this connection is done, as far as the drain is concerned
        });
    };
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
        spawn_connection(stream, peer, Some(permit));
    }
    // From here on, each connection finishes the request it has and closes.
    let _ = stop_tx.send(true);
    // Connections the kernel completed before we stopped wait in the accept queue, and their
    // clients may have sent a request already: take them too instead of resetting them
    // (bounded, in case clients keep arriving faster than this loop runs).
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
                    spawn_connection(stream, peer, permits.clone().try_acquire_owned().ok());
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot drain the accept queue"),
    }
    tracing::info!("stopped accepting; draining open connections");
    drop(stop_rx);
    if tokio::time::timeout(limits.drain_timeout, stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?limits.drain_timeout, "drain timed out; closing the rest");
    }
}

/// Most connections taken from the accept queue once a shutdown begins (tokio's default
/// listen backlog is 1024).
const ACCEPT_QUEUE_DRAIN: usize = 4096;

/// Completes once `stop` says `true` (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Once a shutdown begins, how long a connection that has not sent its first byte yet may
/// still take to send it (its request may be on the way).
const FIRST_BYTES_GRACE: Duration = Duration::from_secs(1);

/// HTTP/2's connection preface (RFC 9113, section 3.4); anything else is HTTP/1.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The bytes a connection sent first, read to tell HTTP/2 with prior knowledge from HTTP/1
/// and handed back to hyper ahead of the rest ([`Prefixed`]).
struct FirstBytes {
    buf: [u8; H2_PREFACE.len()],
    len: usize,
}

impl FirstBytes {
    fn is_h2(&self) -> bool {
        self.buf[..self.len] == H2_PREFACE[..]
    }
}

/// Reads a client's first bytes until they either differ from the HTTP/2 preface (HTTP/1) or
/// are the whole preface (HTTP/2); `None` if it closes first. hyper-util's auto builder does
/// this itself, but a graceful shutdown cancels a connection still in that phase, dropping a
/// request that was sent just before SIGTERM unread. Reading here and handing hyper a
/// one-protocol builder closes that gap (with the poll-first drain in `serve`).
///
/// Each read waits for the socket to become readable, so a client that sent a prefix of the
/// preface (`P`) and stopped costs nothing until the watchdog's header timeout closes it
/// (peeking in a loop instead, as before, burned a core on a few thousand such clients).
async fn read_first_bytes(stream: &mut TcpStream) -> Option<FirstBytes> {
    use tokio::io::AsyncReadExt;
    let mut first = FirstBytes {
        buf: [0; H2_PREFACE.len()],
        len: 0,
    };
    loop {
        let n = stream.read(&mut first.buf[first.len..]).await.ok()?;
        if n == 0 {
            return None;
        }
        first.len += n;
        let seen = &first.buf[..first.len];
        if seen != &H2_PREFACE[..first.len] || first.len == H2_PREFACE.len() {
            return Some(first);
        }
    }
}

/// A stream that yields [`FirstBytes`] before reading on from the socket.
struct Prefixed<S> {
    first: FirstBytes,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    fn new(first: FirstBytes, inner: S) -> Self {
        Prefixed {
            first,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.first.len {
            let rest = &this.first.buf[this.pos..this.first.len];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the connection watchdog needs to know: when a byte last moved, and whether a
/// request has been read yet. Shared by the stream wrapper, the service wrapper and the
/// watchdog of one connection.
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write that moved a byte.
    last_ms: AtomicU64,
    requests: AtomicU64,
    /// Wakes the watchdog out of its header-timeout wait when the first request arrives.
    first_request: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            first_request: tokio::sync::Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes when the connection should be closed: no complete request head within
    /// `header_timeout` of the accept (hyper's own header timer does not run while the
    /// HTTP/1-or-2 detection waits for the first bytes, nor at all on HTTP/2), or, after that,
    /// no byte moved for `idle_timeout`.
    async fn expired(&self, header_timeout: Duration, idle_timeout: Duration) -> &'static str {
        loop {
            if self.requests.load(Ordering::Relaxed) == 0 {
                let deadline = self.start + header_timeout;
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = self.first_request.notified() => continue,
                }
                if self.requests.load(Ordering::Relaxed) == 0 {
                    return "no complete request within the header read timeout";
                }
                continue;
            }
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = self.start + last + idle_timeout;
            if Instant::now() >= deadline {
                return "idle timeout";
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A client stream that records in its [`Activity`] when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The per-connection service behind the limits: counts requests for the watchdog and
/// answers 414 to an over-long query string before anything parses it.
#[derive(Clone)]
struct Guarded<S> {
    inner: S,
    state: Arc<AppState>,
    activity: Arc<Activity>,
    max_query_bytes: usize,
    peer: SocketAddr,
}

/// The body of a 414.
pub const QUERY_TOO_LONG: &str = "query string too long\n";

impl<S> hyper::service::Service<Request<Incoming>> for Guarded<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<Full<Bytes>>>,
    S::Future: Unpin,
{
    type Response = Response<Full<Bytes>>;
    type Error = S::Error;
    type Future = GuardedFuture<S::Future>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if self.activity.requests.fetch_add(1, Ordering::Relaxed) == 0 {
            // `notify_one` keeps a permit if the watchdog is not waiting yet.
            self.activity.first_request.notify_one();
        }
        let query_len = req.uri().query().map_or(0, str::len);
        if query_len > self.max_query_bytes {
            if let Some(mode) = crate::answer::request::Mode::from_path(req.uri().path()) {
                tracing::info!(peer = %self.peer, query_len, limit = self.max_query_bytes, "query string too long; answered 414");
                self.state
                    .metrics
                    .observe(Some(mode), 414, None, Duration::ZERO);
                let mut response =
                    Response::new(Full::new(Bytes::from_static(QUERY_TOO_LONG.as_bytes())));
                *response.status_mut() = hyper::StatusCode::URI_TOO_LONG;
                return GuardedFuture::Refused(Some(response));
            }
        }
        GuardedFuture::Inner(self.inner.call(req))
    }
}

/// [`Guarded`]'s future: the inner service's, or a refusal made on the spot.
enum GuardedFuture<F> {
    Inner(F),
    Refused(Option<Response<Full<Bytes>>>),
}

impl<F, E> Future for GuardedFuture<F>
where
    F: Future<Output = Result<Response<Full<Bytes>>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match &mut *self {
            GuardedFuture::Inner(f) => Pin::new(f).poll(cx),
            GuardedFuture::Refused(r) => match r.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending, // polled after completion: never happens with hyper
            },
        }
    }
}

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
