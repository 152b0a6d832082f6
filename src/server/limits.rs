//! The protocol limits of the public listener.

use std::time::Duration;

/// Protocol limits, each with a flag in `serve` (README, "Limits").
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time allowed to receive a request's headers (slowloris), counted from the accept for
    /// the first request of a connection (HTTP/1 and HTTP/2) and from the previous request
    /// (answered at once) for the next one on an HTTP/1 keep-alive connection; the
    /// connection's watchdog times both.
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
