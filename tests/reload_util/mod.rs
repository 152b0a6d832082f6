//! Helpers shared by the `reload_*` tests: source directories and bundles with distinguishable
//! content, atomic file replacement, signals, polling, the server's JSON log, and a keep-alive
//! HTTP client for load (one connection per request would pile up TIME_WAIT sockets).
//!
//! Use with `mod common; mod reload_util;` (this builds on `tests/common`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

/// `generated_at` of `data/mirrors.toml`.
pub const SAMPLE_GENERATED_AT: u64 = 1_746_835_200;

/// The request the tests ask: DE client (127.0.0.1), a repository every variant has.
pub const MIRRORLIST: &str = "/mirrorlist?repo=fedora-42&arch=x86_64";
pub const METALINK: &str = "/metalink?repo=fedora-42&arch=x86_64";

/// What a variant's host names look like: the sample's own (`*.example.org`) or renamed
/// (`*.exampleb.org`), so a body shows which data it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    Sample,
    Renamed,
}

impl Hosts {
    /// Whether `body` lists hosts of this variant and none of the other.
    pub fn matches(self, body: &str) -> bool {
        let (ours, theirs) = match self {
            Hosts::Sample => (".example.", ".exampleb."),
            Hosts::Renamed => (".exampleb.", ".example."),
        };
        body.contains(ours) && !body.contains(theirs)
    }
}

/// Writes a native source directory at `dir`: the `data/` sample with `generated_at` set and,
/// for [`Hosts::Renamed`], every `example.` domain renamed to `exampleb.`.
pub fn write_source(dir: &Path, generated_at: u64, hosts: Hosts) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "mirrors.toml" || !entry.file_type().unwrap().is_file() {
            continue;
        }
        std::fs::copy(entry.path(), dir.join(&name)).unwrap();
    }
    let toml = std::fs::read_to_string(data.join("mirrors.toml")).unwrap();
    let line = format!("generated_at = {SAMPLE_GENERATED_AT}\n");
    assert!(toml.contains(&line), "data/mirrors.toml has no {line:?}");
    let mut toml = toml.replacen(&line, &format!("generated_at = {generated_at}\n"), 1);
    if hosts == Hosts::Renamed {
        toml = toml.replace("example.", "exampleb.");
    }
    std::fs::write(dir.join("mirrors.toml"), toml).unwrap();
}

/// `mirrorlist build --source src -o out`.
pub fn build_bundle(src: &Path, out: &Path) {
    let output = Command::new(common::BIN)
        .args(["build", "--source"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run mirrorlist build");
    assert!(
        output.status.success(),
        "mirrorlist build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A bundle of the sample with `generated_at` and `hosts`, built under `work`; returns its bytes.
pub fn bundle_bytes(work: &Path, generated_at: u64, hosts: Hosts) -> Vec<u8> {
    let src = work.join(format!("src-{generated_at}-{hosts:?}"));
    write_source(&src, generated_at, hosts);
    let out = work.join(format!("{generated_at}-{hosts:?}.bundle"));
    build_bundle(&src, &out);
    std::fs::read(&out).unwrap()
}

/// Replaces `path` the way an operator's deploy should: write a temporary file in the same
/// directory, then rename it over `path` (readers see the old file or the new one).
pub fn replace_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().unwrap();
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Starts `mirrorlist serve <args>` with JSON logs at info level on stderr, and no admin
/// listener (its fixed default port would collide between tests running at once).
pub fn serve(args: &[&str]) -> common::Server {
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--log-format", "json", "serve"])
        .args(args)
        .args(["--port", "0", "--admin-listen", "none"])
        .env("RUST_LOG", "info");
    common::Server::spawn(cmd)
}

/// Sends `signal` to the server process.
pub fn signal(server: &common::Server, signal: libc::c_int) {
    let rc = unsafe { libc::kill(server.pid() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

pub fn hup(server: &common::Server) {
    signal(server, libc::SIGHUP);
}

/// Upper bound for anything the tests wait for; waits end as soon as the condition holds.
pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Polls `f` every few milliseconds until it returns `Some`, for at most [`WAIT_LIMIT`].
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + WAIT_LIMIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The server's stderr as lines (one JSON object each).
pub fn log_lines(server: &common::Server) -> Vec<String> {
    server.stderr().lines().map(str::to_string).collect()
}

/// Waits for a log line after the first `skip` lines that contains every one of `needles`;
/// returns it and its index.
pub fn wait_log(server: &common::Server, skip: usize, needles: &[&str]) -> (usize, String) {
    wait_for(&format!("a log line with {needles:?}"), || {
        log_lines(server)
            .into_iter()
            .enumerate()
            .skip(skip)
            .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
    })
    .clone()
}

/// Counts log lines after the first `skip` whose message is `message`.
pub fn count_messages(server: &common::Server, skip: usize, message: &str) -> usize {
    let needle = format!("\"message\":\"{message}\"");
    log_lines(server)
        .iter()
        .skip(skip)
        .filter(|l| l.contains(&needle))
        .count()
}

/// `X-Mirrorlist-Generation` as `(generated_at, sequence)`.
pub fn generation(r: &common::Response) -> Option<(u64, u64)> {
    let (g, s) = r.header("x-mirrorlist-generation")?.split_once('/')?;
    Some((g.parse().ok()?, s.parse().ok()?))
}

/// Waits until the server answers from data generated at `generated_at` with a sequence
/// above `after`; returns the sequence.
pub fn wait_generation(server: &common::Server, generated_at: u64, after: u64) -> u64 {
    wait_for(
        &format!("generation {generated_at} with a sequence above {after}"),
        || match generation(&server.get(MIRRORLIST)) {
            Some((g, s)) if g == generated_at && s > after => Some(s),
            _ => None,
        },
    )
}

/// One HTTP/1.1 connection reused for many requests.
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(common::IO_LIMIT))?;
        stream.set_write_timeout(Some(common::IO_LIMIT))?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            addr,
            stream,
            buf: Vec::new(),
        })
    }

    /// `GET target`; the response must carry a `content-length` (the server's always do).
    pub fn get(&mut self, target: &str) -> std::io::Result<common::Response> {
        let head = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.stream.write_all(head.as_bytes())?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let end_of_head = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..end_of_head]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("response without content-length"))?;
        while self.buf.len() < end_of_head + len {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if self.buf.len() != end_of_head + len {
            return Err(std::io::Error::other("bytes after the response"));
        }
        Ok(common::parse_response(&self.buf, false))
    }
}

/// A fresh temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `path` as a `&str` for command lines.
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// `dir/name`.
pub fn at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
