//! One HTTP request: route on the path, work out the client, answer from the current snapshot
//! (one `ArcSwap` load, no lock), and write the reply with its headers.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use hyper::{Request, Response, StatusCode};

use super::admin::{Admin, MetricsAccess};
use super::client_addr::client_address;
use super::negotiate;
use super::state::AppState;
use crate::answer::request::{Mode, Params};
use crate::answer::resolve::Refusal;
use crate::answer::{answer_with, Extras, Reply};

/// The per-connection service: the operator's endpoints ([`Admin`]), then the mirror ones.
#[derive(Clone)]
pub struct MirrorService {
    state: Arc<AppState>,
    admin: Arc<Admin>,
    metrics_access: MetricsAccess,
    peer: SocketAddr,
}

impl MirrorService {
    pub fn new(
        state: Arc<AppState>,
        admin: Arc<Admin>,
        metrics_access: MetricsAccess,
        peer: SocketAddr,
    ) -> Self {
        MirrorService {
            state,
            admin,
            metrics_access,
            peer,
        }
    }
}

pub const NOT_OURS: &str = "We don't serve their kind here!";
pub const GENERATION_HEADER: &str = "x-mirrorlist-generation";

impl hyper::service::Service<Request<Incoming>> for MirrorService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let response = self
            .admin
            .handle(&req, self.peer.ip(), self.metrics_access)
            .unwrap_or_else(|| handle(&self.state, self.peer, &req));
        ready(Ok(response))
    }
}

thread_local! {
    /// The shuffles' random source, one per thread: Xoshiro256++ seeded from the thread's
    /// OS-seeded generator. A draw costs a few instructions instead of ChaCha's block
    /// refills; the order of mirrors needs to be random, not unpredictable.
    static SHUFFLE_RNG: std::cell::RefCell<rand::rngs::SmallRng> =
        std::cell::RefCell::new(rand::SeedableRng::from_rng(&mut rand::rng()));
}

/// Answers one request; the body, if any, is ignored (as the production server does).
pub fn handle<B>(state: &AppState, peer: SocketAddr, req: &Request<B>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let path = req.uri().path();
    let explain = path.ends_with("/explain");
    let Some(mode) = Mode::from_path(path).or(explain.then_some(Mode::Mirrorlist)) else {
        state.metrics.observe(None, 404, None, started.elapsed());
        return respond(404, None, NOT_OURS.into(), None, None);
    };
    let guard = state.store.load();
    let Some(snapshot) = guard.as_deref() else {
        state
            .metrics
            .observe(Some(mode), 503, None, started.elapsed());
        return respond(503, None, "no mirror data loaded yet\n".into(), None, None);
    };
    let params = Params::parse(req.uri().query().unwrap_or(""));
    // `/explain` explains `/mirrorlist`, or `/metalink` with `mode=metalink` (decision 17).
    let mode = match (explain, params.mode.as_deref()) {
        (false, _) | (true, None | Some("mirrorlist")) => mode,
        (true, Some("metalink")) => Mode::Metalink,
        (true, Some(_)) => {
            state.metrics.observe(None, 400, None, started.elapsed());
            let body = Refusal::BadParam("mode").message().as_bytes();
            return respond(400, None, Bytes::from_static(body), None, None);
        }
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(HeaderValue::as_bytes);
    let resolved = client_address(
        peer.ip(),
        forwarded,
        params.ip.as_deref(),
        &state.trusted,
        state.ip_param,
    );
    if let Some(bad) = &resolved.bad_forwarded {
        tracing::info!(peer = %peer, entry = %bad, "unparsable X-Forwarded-For entry; using the last trusted hop");
    }
    // The health data's own pointer: one more atomic load, only with `--health`.
    let health = state.health.as_ref().map(|h| h.current());
    let extras = Extras {
        stats_line: state.stats.is_some(),
        trace: false,
        health: health.as_ref().and_then(|g| g.as_deref()),
        // Issue 13: Accept picks the metalink version (read only for /metalink).
        metalink: match mode {
            Mode::Metalink => negotiate::metalink_version(
                req.headers()
                    .get_all(ACCEPT)
                    .iter()
                    .map(HeaderValue::as_bytes),
            ),
            Mode::Mirrorlist => Default::default(),
        },
        link_headers: state.link_headers,
        explain: explain.then_some(resolved.source),
    };
    let mut reply = SHUFFLE_RNG.with_borrow_mut(|rng| {
        answer_with(
            snapshot,
            mode,
            &params,
            resolved.client,
            &state.settings,
            rng,
            SystemTime::now(),
            extras,
        )
    });
    if let (Some(log), Some(line)) = (&state.stats, reply.stats_line.take()) {
        log.write(line);
    }
    if reply.failed_open {
        if let Some(h) = &state.health {
            h.counters.fail_open_answers.fetch_add(1, Ordering::Relaxed);
        }
    }
    state.metrics.observe(
        Some(mode),
        reply.status,
        reply.first_group,
        started.elapsed(),
    );
    // Made once per snapshot; from_maybe_shared keeps the shared bytes (no copy).
    let generation = HeaderValue::from_maybe_shared(snapshot.label()).ok();
    let Reply {
        status,
        content_type,
        location,
        body,
        links,
        ..
    } = reply;
    let mut response = respond(status, content_type, body.into(), location, generation);
    if response.status() == status_code(status) {
        let uri = req.uri();
        let headers = response.headers_mut();
        negotiate::add_headers(
            headers,
            mode,
            links.as_deref(),
            uri.path(),
            uri.query().unwrap_or(""),
        );
    }
    response
}

fn respond(
    status: u16,
    content_type: Option<&'static str>,
    body: Bytes,
    location: Option<String>,
    generation: Option<HeaderValue>,
) -> Response<Full<Bytes>> {
    let location = match location.map(HeaderValue::try_from) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            // `build` refuses base URLs that cannot be a header and `resolve` encodes what a
            // client adds, so this is our bug: say so rather than send a 302 to nowhere.
            tracing::error!("redirect target is not a valid Location value; answered 500");
            return internal_error();
        }
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status_code(status);
    let headers = response.headers_mut();
    if let Some(location) = location {
        headers.insert(LOCATION, location);
    }
    if let Some(ct) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if let Some(g) = generation {
        headers.insert(GENERATION_HEADER, g);
    }
    response
}

/// `status` as a status code; one that is not (a bug in the code that chose it) becomes 500
/// and an error line, never a silent 200.
pub fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::error!(
            status,
            "answer carries an invalid status code; answered 500"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

fn internal_error() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"internal error\n")));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_status_is_a_500_not_a_200() {
        assert_eq!(status_code(302), StatusCode::FOUND);
        assert_eq!(status_code(1000), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_code(0), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_location_that_cannot_be_a_header_is_a_500() {
        let r = respond(
            302,
            None,
            Bytes::new(),
            Some("https://m.example/a\r\nSet-Cookie: x".into()),
            None,
        );
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers().get(LOCATION).is_none());
        let r = respond(
            302,
            None,
            Bytes::new(),
            Some("https://m.example/a".into()),
            None,
        );
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()[LOCATION], "https://m.example/a");
    }
}
