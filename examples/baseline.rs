//! The ceiling for the load test (issue 6): the smallest hyper 1 server on the same hyper,
//! hyper-util and tokio as `mirrorlist`, on a multi-thread runtime, answering every request
//! with the same fixed 15 KB text body. Built with the same release profile
//! (`cargo build --release --example baseline`).
//!
//! Usage: `baseline [PORT] [BODY_BYTES]` (default 8081 and 15360); listens on 127.0.0.1. The
//! load test also runs it with the size of the metalink answer, as that answer's ceiling.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY_BYTES: usize = 15 * 1024;

fn body(bytes: usize) -> Bytes {
    // Mirrorlist-like lines, cut to exactly `bytes`.
    let line = b"https://mirror.example.org/pub/fedora/linux/updates/42/Everything/x86_64/\n";
    let mut out = Vec::with_capacity(bytes + line.len());
    while out.len() < bytes {
        out.extend_from_slice(line);
    }
    out.truncate(bytes);
    Bytes::from(out)
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("PORT must be a number"))
        .unwrap_or(8081);
    let bytes: usize = std::env::args()
        .nth(2)
        .map(|b| b.parse().expect("BODY_BYTES must be a number"))
        .unwrap_or(BODY_BYTES);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        println!("Listening on http://{}", listener.local_addr()?);
        let body = body(bytes);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(a) => a,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let mut response = Response::new(Full::new(body.clone()));
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
