//! Shared helpers for the integration tests: run the real `mirrorlist` binary on a free port
//! ([`Server`]) and talk HTTP/1.1 to it over a plain `TcpStream` ([`request`], [`get`]).
//!
//! Use from a test file with `mod common;`. Nothing here sleeps: start-up waits for the
//! server's `Listening on http://ADDR` line on stdout (with a generous upper bound, so a
//! server that never starts fails the test instead of hanging it).
//!
//! ```ignore
//! let server = common::Server::mm_small(&["-m", "5"]);
//! let r = common::get(server.addr(), "/mirrorlist?repo=fedora-41&arch=x86_64");
//! assert_eq!(r.status, 200);
//! assert_eq!(r.header("content-type"), Some("text/plain"));
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mirrorlist");

/// How long a server may take to print its address before the test gives up. Only an upper
/// bound: a healthy server answers in milliseconds and the wait ends as soon as it does.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// How long one HTTP exchange may take before the client gives up (an upper bound, as above).
pub const IO_LIMIT: Duration = Duration::from_secs(30);

/// `tests/data/mm-small/<name>`: the MirrorManager fixture the reference answers came from.
pub fn mm_small(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mm-small")
        .join(name)
}

/// The `serve` flags that load the mm-small fixture (`-c`, `-g`, `--cccsv`, `--geoip`).
pub fn mm_small_args() -> Vec<String> {
    let p = |n: &str| mm_small(n).display().to_string();
    vec![
        "-c".into(),
        p("mirrorlist_cache.proto"),
        "-g".into(),
        p("global_netblocks.txt"),
        "--cccsv".into(),
        p("country_continent.csv"),
        "--geoip".into(),
        p("GeoIP2-Country-Test.mmdb"),
    ]
}

/// A running `mirrorlist serve` child process on `127.0.0.1:<free port>`. Killed (and reaped)
/// when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Runs `mirrorlist serve <args> --port 0` and waits until it prints
    /// `Listening on http://ADDR`. With default flags nothing else listens (the public port
    /// answers `/metrics`, `/healthz` and `/readyz` to loopback peers, see
    /// [`Server::admin_addr`]). `MIRRORLIST_*` variables of the test environment are removed
    /// so only `args` configure it. Panics (showing the server's stderr) if the process exits
    /// or stays silent for [`STARTUP_LIMIT`].
    pub fn start<S: AsRef<str>>(args: &[S]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        cmd.args(args.iter().map(|a| a.as_ref()));
        cmd.args(["--port", "0"]);
        Server::spawn(cmd)
    }

    /// [`Server::start`] on the mm-small fixture, with `extra` flags appended (e.g. `["-m", "1"]`).
    pub fn mm_small<S: AsRef<str>>(extra: &[S]) -> Server {
        let mut args = mm_small_args();
        args.extend(extra.iter().map(|a| a.as_ref().to_string()));
        Server::start(&args)
    }

    /// Spawns a prepared command (its `serve` arguments already set, including a port of 0)
    /// and waits for its address; for tests that need their own working directory or
    /// environment. Stdout and stderr are captured (see [`Server::stdout_lines`],
    /// [`Server::stderr`]).
    pub fn spawn(mut cmd: Command) -> Server {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MIRRORLIST_") {
                cmd.env_remove(&key);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn the mirrorlist binary");

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = {
            let sink = stderr.clone();
            let mut pipe = child.stderr.take().expect("stderr is piped");
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        // Stdout is read to its end on a thread, so the child never blocks on a full pipe;
        // the first `Listening on` line is handed over through the channel.
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let lines = stdout.clone();
            let pipe = child.stdout.take().expect("stdout is piped");
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                let mut admin = None;
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("Admin on http://") {
                        admin = Some(rest.trim().to_string());
                    }
                    if let Some(rest) = line.strip_prefix("Listening on http://") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send((rest.trim().to_string(), admin.clone()));
                        }
                    }
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let (addr, admin) = match rx.recv_timeout(STARTUP_LIMIT) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let _ = stderr_reader.join();
                let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
                panic!("mirrorlist serve did not start (exit: {status:?}); stderr:\n{err}");
            }
        };
        let parse = |a: &str| -> SocketAddr {
            a.parse()
                .unwrap_or_else(|e| panic!("bad address {a:?} on stdout: {e}"))
        };
        Server {
            child,
            addr: parse(&addr),
            admin: admin.as_deref().map(parse),
            stdout,
            stderr,
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics`, `/healthz` and `/readyz` answer: the admin listener, if the server
    /// printed `Admin on http://ADDR` before its `Listening on` line (`--admin-listen`), else
    /// the public listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.unwrap_or(self.addr)
    }

    /// The separate admin listener, if `--admin-listen` started one.
    pub fn admin_listener(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The child's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child process itself (to wait for it, or check whether it exited).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything on stderr so far (diagnostic logs), lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// `GET target` against this server with no extra headers.
    pub fn get(&self, target: &str) -> Response {
        get(self.addr, target)
    }

    /// [`request`] against this server.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, method, target, headers)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Headers in wire order, names lowercased, values with surrounding whitespace trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if the server chunked it; empty for `HEAD`.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` with no extra headers.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target, &[])
}

/// Sends one HTTP/1.1 request (`method target`, `Host`, `Connection: close`, then
/// `extra_headers` as given) and reads the response to EOF. `content-length` bounds the body
/// when present, `transfer-encoding: chunked` is decoded, and a `HEAD` response has no body.
/// Panics on I/O errors or a malformed response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra_headers: &[(&str, &str)],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    request_raw(addr, head.as_bytes(), method.eq_ignore_ascii_case("HEAD"))
}

/// Sends `raw` bytes as they are (a complete request, e.g. with bytes that are not UTF-8 in a
/// header) and parses the response as [`request`] does. `head_request` says whether the
/// response to expect has no body.
pub fn request_raw(addr: SocketAddr, raw: &[u8], head_request: bool) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_LIMIT)).unwrap();
    stream.set_write_timeout(Some(IO_LIMIT)).unwrap();
    stream.write_all(raw).expect("send the request");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .expect("read the response to EOF");
    parse_response(&bytes, head_request)
}

/// Parses a complete HTTP/1.1 response (status line, headers, body).
pub fn parse_response(bytes: &[u8], head_request: bool) -> Response {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no end of headers in response: {:?}",
                String::from_utf8_lossy(bytes)
            )
        });
    let head = std::str::from_utf8(&bytes[..split]).expect("response head is UTF-8");
    let rest = &bytes[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    assert!(
        version.starts_with("HTTP/1."),
        "bad status line {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().expect("numeric content-length");
        assert!(
            rest.len() >= len,
            "body cut short: content-length {len}, got {} bytes",
            rest.len()
        );
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..eol]).expect("chunk size is text");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
