//! The admin listener (`--admin-listen`, default 127.0.0.1:9100), separate from the public
//! one so that metrics and health checks are never exposed by accident and never queue behind
//! client traffic:
//!
//! | path       | answer                                                                  |
//! |------------|-------------------------------------------------------------------------|
//! | `/metrics` | Prometheus text format ([`crate::metrics`])                             |
//! | `/healthz` | 200 while the process runs (liveness)                                   |
//! | `/readyz`  | 200 once a snapshot is installed; 503 before that and while draining    |
//!
//! It starts before the first snapshot loads, so a load balancer sees 503 on `/readyz` until
//! the instance can answer, and 503 again from the moment a shutdown begins.

use std::convert::Infallible;
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

use super::AppState;
use crate::metrics::{self, Exporter};

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

    /// Starts serving `listener` on the current runtime; runs until the process ends.
    pub fn start(listener: TcpListener, state: Arc<AppState>) -> Arc<Admin> {
        let admin = Arc::new(Admin::new(state));
        tokio::spawn(serve(listener, admin.clone()));
        admin
    }

    /// From now on `/readyz` answers 503, so load balancers stop sending new clients.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Answers one admin request.
    pub fn handle<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        match req.uri().path() {
            "/metrics" => reply(200, metrics::CONTENT_TYPE, self.exporter.render()),
            "/healthz" => reply(200, TEXT, "ok\n".into()),
            "/readyz" => {
                if self.draining.load(Ordering::Relaxed) {
                    reply(503, TEXT, "not ready: shutting down\n".into())
                } else if self.state.snapshot.load().is_none() {
                    reply(503, TEXT, "not ready: no snapshot installed yet\n".into())
                } else {
                    reply(200, TEXT, "ready\n".into())
                }
            }
            _ => reply(
                404,
                TEXT,
                "not found; try /metrics, /healthz or /readyz\n".into(),
            ),
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn reply(status: u16, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
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
            let response = admin.handle(&req);
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
