//! What the hostile-client tests (`hostile`, `hostile_slow`) share: the request every "is it
//! still right?" check sends, the process's memory, liveness and log, raw connections that
//! never hang (every socket gets a short timeout), and the open-file limit.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Response, Server, IO_LIMIT, MIRRORLIST};

/// The request every "is it still right?" check sends, and what it must say first: the
/// sample's answer for 127.0.0.1, which the sample's geo table puts in DE.
pub const NORMAL: &str = MIRRORLIST;
pub const NORMAL_HEADER: &str = "# repo = fedora-42 arch = x86_64 country = DE";

/// Resident set size of `pid` in KiB (`VmRSS` in /proc/PID/status), if it can be read.
pub fn try_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// [`try_rss_kib`] for a process that must be there.
pub fn rss_kib(pid: u32) -> u64 {
    try_rss_kib(pid).expect("a VmRSS line in /proc/PID/status")
}

/// Checks that `server` is alive and answers [`NORMAL`] correctly on `connections` fresh
/// connections, each within `latency`: status 200, the expected header, the same mirrors as
/// `reference` and the same generation header.
pub fn assert_answers_normally(
    server: &mut Server,
    reference: &Response,
    connections: usize,
    latency: Duration,
) {
    if let Some(status) = server.child_mut().try_wait().expect("try_wait") {
        panic!("the server exited ({status}); stderr:\n{}", server.stderr());
    }
    for i in 0..connections {
        let started = Instant::now();
        let r = server.get(NORMAL);
        let took = started.elapsed();
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        assert!(
            r.text().starts_with(NORMAL_HEADER),
            "request {i}: unexpected answer:\n{}",
            r.text()
        );
        assert_eq!(
            r.sorted_lines(),
            reference.sorted_lines(),
            "request {i}: other mirrors"
        );
        assert_eq!(
            r.header("x-mirrorlist-generation"),
            reference.header("x-mirrorlist-generation")
        );
        assert!(
            took <= latency,
            "request {i} took {took:?} (bound {latency:?})"
        );
    }
}

/// Panics if the server's log shows a panic anywhere (a task that died, even if the process
/// lived on).
pub fn assert_no_panic_logged(server: &Server) {
    let log = server.stderr();
    assert!(
        !log.contains("panicked"),
        "a task panicked; stderr:\n{}",
        tail(&log, 4000)
    );
}

/// The last `n` bytes of `text`, on a character boundary.
pub fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// What came back on one hostile connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The status of the first response.
    Status(u16),
    /// The server closed without a response (or reset the connection).
    Closed,
    /// Nothing came back before the client's timeout.
    TimedOut,
    /// The first bytes back were not an HTTP/1 status line (an HTTP/2 frame, say).
    Other,
}

/// Sends `bytes` on a new connection, optionally half-closes, and reads what comes back until
/// EOF, the timeout, or `cap` bytes. Write errors (the server may close early, e.g. on a
/// 1 MB URL after its 431) are not failures: what matters is what the server said.
pub fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    half_close: bool,
    timeout: Duration,
) -> (Outcome, Vec<u8>) {
    let mut stream = match TcpStream::connect_timeout(&addr, IO_LIMIT) {
        Ok(s) => s,
        Err(e) => panic!("connect {addr}: {e}"),
    };
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let _ = stream.set_nodelay(true);
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let cap = 4 << 20;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut timed_out = false;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= cap {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                timed_out = true;
                break;
            }
            Err(_) => break, // reset: the server closed on us
        }
    }
    let outcome = if got.starts_with(b"HTTP/1.") {
        std::str::from_utf8(&got[9..got.len().min(12)])
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(Outcome::Other, Outcome::Status)
    } else if got.is_empty() {
        if timed_out {
            Outcome::TimedOut
        } else {
            Outcome::Closed
        }
    } else {
        Outcome::Other
    };
    (outcome, got)
}

/// Raises this process's soft open-file limit to at least `want` (up to the hard limit) and
/// returns the soft limit in force. Process-wide, and only ever raised, so harmless to the
/// other tests of the binary running at the same time; servers started afterwards inherit it.
pub fn raise_nofile(want: libc::rlim_t) -> libc::rlim_t {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            let target = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &target) == 0 {
                lim = target;
            }
        }
        lim.rlim_cur
    }
}
