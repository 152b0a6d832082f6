//! One client connection, from accept to close: the HTTP/1-or-2 detection on its first bytes,
//! hyper serving it with the poll-first graceful drain, and the per-connection watchdog
//! (request-head and idle timeouts) with the stream and service wrappers that feed it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::limits::Limits;
use super::state::AppState;
use super::{admin, service};

/// What every connection of one server shares; [`Connections::spawn`] starts one
/// connection's task.
///
/// It holds a receiver of the drain's stop channel, cloned into every connection task: the
/// drain waits until all of them are dropped, so the accept loop must drop this value (not
/// just stop spawning) before it waits.
pub(super) struct Connections {
    state: Arc<AppState>,
    admin: Arc<admin::Admin>,
    metrics_access: admin::MetricsAccess,
    protocols: Arc<Protocols>,
    max_query_bytes: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
    stop: watch::Receiver<bool>,
}

/// One hyper builder per protocol, picked by [`FirstBytes::is_h2`] before hyper sees the
/// connection.
struct Protocols {
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

impl Connections {
    pub(super) fn new(
        state: Arc<AppState>,
        admin: Arc<admin::Admin>,
        metrics_access: admin::MetricsAccess,
        limits: &Limits,
        stop: watch::Receiver<bool>,
    ) -> Connections {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // The watchdog times every request head ([`Activity::expired`]): hyper's own
            // timer is armed and dropped once a request, which cost 1.5k-1.7k instructions
            // and about 4 % of an EU mirrorlist's req/s (loadtest/RESULTS.md, eleventh round).
            .header_read_timeout(None::<Duration>)
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
        let protocols = Arc::new(Protocols {
            h1: builder.clone().http1_only(),
            h2: builder.http2_only(),
        });
        Connections {
            state,
            admin,
            metrics_access,
            protocols,
            max_query_bytes: limits.max_query_bytes,
            header_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            stop,
        }
    }

    /// Starts serving one accepted connection on its own task, which holds `permit` (a slot
    /// of the connection limit, if one was free) until the connection closes.
    pub(super) fn spawn(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let service = Guarded {
            inner: service::MirrorService::new(
                self.state.clone(),
                self.admin.clone(),
                self.metrics_access,
                peer,
            ),
            state: self.state.clone(),
            activity: activity.clone(),
            max_query_bytes: self.max_query_bytes,
            peer,
        };
        // Counted by the drain from the accept on, not from when hyper gets the connection.
        let mut stop = self.stop.clone();
        let (protocols, state) = (self.protocols.clone(), self.state.clone());
        let (header_timeout, idle_timeout) = (self.header_timeout, self.idle_timeout);
        state.connections.0.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let io = (stream, activity.clone());
            tokio::select! {
                () = serve_one(io, (peer, &state), service, &protocols, &mut stop) => {}
                why = activity.expired(header_timeout, idle_timeout) => {
                    tracing::debug!(%peer, why, "closing the connection");
                }
            }
            state.connections.0.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            drop(stop); // this connection is done, as far as the drain is concerned
        });
    }
}

/// One connection until hyper is done with it: tells HTTP/2 from HTTP/1 by the first bytes,
/// then serves it with the matching builder, asking it to finish gracefully once `stop`
/// says so.
async fn serve_one(
    (mut stream, activity): (TcpStream, Arc<Activity>),
    (peer, state): (SocketAddr, &AppState),
    service: Guarded<service::MirrorService>,
    protocols: &Protocols,
    stop: &mut watch::Receiver<bool>,
) {
    let Some(first) = first_bytes(&mut stream, stop).await else {
        return; // closed, or silent, before sending anything
    };
    let is_h2 = first.is_h2();
    activity.http1.store(!is_h2, Ordering::Relaxed);
    let io = Watched {
        inner: Prefixed::new(first, stream),
        activity,
    };
    let builder = if is_h2 { &protocols.h2 } else { &protocols.h1 };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    // Unlike hyper-util's `GracefulShutdown::watch`, poll the connection before
    // looking at the stop signal: hyper closes a connection told to shut down
    // before it has read a byte, and bytes are waiting here (`detect_h2`), so
    // this first poll reads the request that was sent before SIGTERM.
    let stopping = stopped(stop);
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
        report_connection_error(state, peer, &*e);
    }
}

/// hyper answers a request it cannot parse itself (400; 431 for a head past
/// `--max-header-bytes`; 414 for a URI past its own 64 KiB) and closes the connection, so
/// the service never sees it: the answer is logged and counted here, as the service's own
/// refusals are. Any other error (a peer that reset or went away mid-request) is the
/// client's business and stays at debug.
fn report_connection_error(
    state: &AppState,
    peer: SocketAddr,
    error: &(dyn std::error::Error + 'static),
) {
    let refused = error
        .downcast_ref::<hyper::Error>()
        .and_then(|e| Some((e, refusal_status(e)?)));
    let Some((refused, status)) = refused else {
        tracing::debug!(%peer, %error, "connection ended with an error");
        return;
    };
    tracing::info!(%peer, status, error = %refused, "unparsable request; hyper answered it and closed the connection");
    state.metrics.observe(None, status, None, Duration::ZERO);
}

/// The status hyper's HTTP/1 server answered `e` with (its `on_error`), if it answered.
fn refusal_status(e: &hyper::Error) -> Option<u16> {
    // An HTTP/2 preface on an HTTP/1 connection gets no answer; no other parse error does.
    if !e.is_parse() || e.is_parse_version_h2() {
        return None;
    }
    if !e.is_parse_too_large() {
        return Some(400);
    }
    // hyper tells a URI past its length limit from a head past the buffer only in the message.
    Some(if e.to_string().starts_with("URI too long") {
        414
    } else {
        431
    })
}

/// [`read_first_bytes`], cut short once `stop` says so: a client that has sent nothing yet
/// then gets a short grace, not the whole header read timeout.
async fn first_bytes(
    stream: &mut TcpStream,
    stop: &mut watch::Receiver<bool>,
) -> Option<FirstBytes> {
    let detect = read_first_bytes(stream);
    tokio::pin!(detect);
    tokio::select! {
        found = &mut detect => found,
        () = stopped(stop) => {
            tokio::time::timeout(FIRST_BYTES_GRACE, &mut detect).await.ok().flatten()
        }
    }
}

/// Completes once `stop` says `true` (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
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

/// What the connection watchdog needs to know: when a byte last moved, and how many requests
/// have been read and when the last one was. Shared by the stream wrapper, the service
/// wrapper and the watchdog of one connection.
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write that moved a byte.
    last_ms: AtomicU64,
    /// Milliseconds from `start` to the last complete request head.
    last_request_ms: AtomicU64,
    requests: AtomicU64,
    /// HTTP/1: every request head is timed, not only the first (HTTP/2 multiplexes, so
    /// there is no "next head" to wait for).
    http1: AtomicBool,
    /// Wakes the watchdog out of its header-timeout wait when the first request arrives.
    first_request: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            last_request_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            http1: AtomicBool::new(false),
            first_request: tokio::sync::Notify::new(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// Records a complete request head; true for the connection's first.
    fn request_read(&self) -> bool {
        self.last_request_ms
            .store(self.elapsed_ms(), Ordering::Relaxed);
        // Release: a watchdog that sees the new count sees the new time too.
        self.requests.fetch_add(1, Ordering::Release) == 0
    }

    /// `ms` milliseconds after `start`.
    fn at(&self, ms: &AtomicU64) -> Instant {
        self.start + Duration::from_millis(ms.load(Ordering::Relaxed))
    }

    /// Completes when the connection should be closed: a request head not complete within
    /// `header_timeout` of the last one (of the accept, for the first: hyper's header timer
    /// would not run while the HTTP/1-or-2 detection waits for the first bytes), timed for
    /// every head on HTTP/1 and for the first on HTTP/2, which multiplexes; or, after the
    /// first request, no byte moved for `idle_timeout`. It sleeps until the nearest deadline
    /// and looks again, so requests arm no timer: a connection that keeps sending heads
    /// wakes it once per `header_timeout`.
    async fn expired(&self, header_timeout: Duration, idle_timeout: Duration) -> &'static str {
        loop {
            let requests = self.requests.load(Ordering::Acquire);
            let now = Instant::now();
            let idle_counts = requests > 0;
            let idle_deadline = self.at(&self.last_ms) + idle_timeout;
            if idle_counts && now >= idle_deadline {
                return "idle timeout";
            }
            // `last_request_ms` is 0 until the first request: its head is timed from the accept.
            let head_counts = requests == 0 || self.http1.load(Ordering::Relaxed);
            let head_deadline = self.at(&self.last_request_ms) + header_timeout;
            if head_counts && now >= head_deadline {
                if self.requests.load(Ordering::Acquire) != requests {
                    continue; // a head arrived meanwhile
                }
                return if requests == 0 {
                    "no complete request within the header read timeout"
                } else {
                    "no complete request head within the header read timeout of the previous request"
                };
            }
            // At least one counts: the head's before the first request, the idle one after.
            let deadline = match (head_counts, idle_counts) {
                (true, true) => head_deadline.min(idle_deadline),
                (true, false) => head_deadline,
                (false, _) => idle_deadline,
            };
            if requests == 0 {
                // Woken by the first request too: from then on the idle deadline counts, and
                // it may be the nearer one.
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = self.first_request.notified() => {}
                }
            } else {
                tokio::time::sleep_until(deadline).await;
            }
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
        if self.activity.request_read() {
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
