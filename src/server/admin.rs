//! The operator's endpoints, and the optional admin listener that serves only them:
//!
//! | path       | answer                                                                  |
//! |------------|-------------------------------------------------------------------------|
//! | `/metrics` | Prometheus text format ([`crate::server::metrics`])                             |
//! | `/healthz` | 200 while the process runs (liveness)                                   |
//! | `/readyz`  | 200 once a snapshot is installed; 503 before that and while draining    |
//!
//! Where they are answered ([`MetricsAccess`]): with no `--admin-listen` (the default) the
//! public listener answers all three, `/metrics` only to a peer on this host (loopback) whose
//! request came straight in, not through a proxy (no `X-Forwarded-For`, `Forwarded` or
//! `X-Real-IP` header): everyone else gets the ordinary 404. So instances that differ only in
//! `--port` share a host, Prometheus on the host scrapes each on its own port, HAProxy checks
//! `/readyz` on the port it sends traffic to, and metrics never reach the internet through a
//! proxy by accident. `--admin-listen ADDR` adds a listener that answers all three to anyone
//! who can reach it (for a scraper on another host: give it a private address); the public
//! listener then keeps `/healthz` and `/readyz` and no longer answers `/metrics`.
//!
//! The public listener starts accepting once the first snapshot is installed (connections wait
//! in the kernel's queue until then, so a client is answered, not refused) and stops when a
//! shutdown begins; a separate admin listener starts before the first load, so its `/readyz`
//! says 503 until the instance can answer, and 503 again from the moment a shutdown begins.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::exporter::{self, Exporter};
use super::state::AppState;

/// Admin connections served at once (scrapers and health checkers, not clients).
const MAX_CONNECTIONS: usize = 64;

/// The admin endpoints' shared state.
pub struct Admin {
    state: Arc<AppState>,
    exporter: Exporter,
    draining: AtomicBool,
}

impl Admin {
    pub fn new(state: Arc<AppState>) -> Admin {
        Admin {
            exporter: Exporter::new(state.clone()),
            state,
            draining: AtomicBool::new(false),
        }
    }

    /// Starts a separate admin listener on `listener` (`--admin-listen`) on the current
    /// runtime; it runs until the process ends.
    pub fn listen(self: &Arc<Self>, listener: TcpListener) {
        tokio::spawn(serve(listener, self.clone()));
    }

    /// From now on `/readyz` answers 503, so load balancers stop sending new clients.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Answers `req` if its path is one of the admin endpoints and `access` lets this peer
    /// read it; `None` otherwise (the caller answers as for any other path).
    pub fn handle<B>(
        &self,
        req: &Request<B>,
        peer: IpAddr,
        access: MetricsAccess,
    ) -> Option<Response<Full<Bytes>>> {
        match req.uri().path() {
            "/metrics" if access.allows(peer, req.headers()) => Some(reply(
                StatusCode::OK,
                exporter::CONTENT_TYPE,
                self.exporter.render(),
            )),
            "/healthz" => Some(reply(StatusCode::OK, TEXT, "ok\n".into())),
            "/readyz" => Some(self.readiness()),
            _ => None,
        }
    }

    fn readiness(&self) -> Response<Full<Bytes>> {
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        if self.draining.load(Ordering::Relaxed) {
            reply(unavailable, TEXT, "not ready: shutting down\n".into())
        } else if !self.state.store.is_loaded() {
            reply(
                unavailable,
                TEXT,
                "not ready: no snapshot installed yet\n".into(),
            )
        } else {
            reply(StatusCode::OK, TEXT, "ready\n".into())
        }
    }
}

/// Who may read `/metrics` on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// The admin listener: whoever can connect (its address is the operator's choice).
    Anyone,
    /// The public listener when there is no admin listener: a loopback peer whose request
    /// names no client behind it.
    LocalDirect,
    /// The public listener beside an admin listener: nobody.
    Nobody,
}

/// Headers a reverse proxy adds to say whom it forwards for.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

impl MetricsAccess {
    fn allows(self, peer: IpAddr, headers: &hyper::HeaderMap) -> bool {
        match self {
            MetricsAccess::Anyone => true,
            MetricsAccess::Nobody => false,
            MetricsAccess::LocalDirect => {
                peer.to_canonical().is_loopback()
                    && !FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h))
            }
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admin = admin.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = admin
                .handle(&req, peer.ip(), MetricsAccess::Anyone)
                .unwrap_or_else(|| {
                    reply(
                        StatusCode::NOT_FOUND,
                        TEXT,
                        "not found; try /metrics, /healthz or /readyz\n".into(),
                    )
                });
            async move { Ok::<_, Infallible>(response) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "admin connection ended with an error");
            }
            drop(permit);
        });
    }
}
