//! What the live-reload tests (`reload::*`) share: source directories and bundles with
//! distinguishable content, a server with JSON logs, its log lines, and its generation header.

use std::path::Path;
use std::process::Command;

use super::{copy_data, data_dir, wait_for, Response, Server, BIN, LIMIT, MIRRORLIST};

/// `generated_at` of `data/mirrors.toml`.
pub const SAMPLE_GENERATED_AT: u64 = 1_746_835_200;

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
    copy_data(dir);
    let toml = std::fs::read_to_string(data_dir().join("mirrors.toml")).unwrap();
    let line = format!("generated_at = {SAMPLE_GENERATED_AT}\n");
    assert!(toml.contains(&line), "data/mirrors.toml has no {line:?}");
    let mut toml = toml.replacen(&line, &format!("generated_at = {generated_at}\n"), 1);
    if hosts == Hosts::Renamed {
        toml = toml.replace("example.", "exampleb.");
    }
    std::fs::write(dir.join("mirrors.toml"), toml).unwrap();
}

/// `mirrorlist build --source src -o out`.
fn build_bundle(src: &Path, out: &Path) {
    let output = Command::new(BIN)
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

/// Starts `mirrorlist serve <args>` with JSON logs at info level on stderr, and no admin
/// listener (its fixed default port would collide between tests running at once).
pub fn serve(args: &[&str]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["--log-format", "json", "serve"])
        .args(args)
        .args(["--port", "0", "--admin-listen", "none"])
        .env("RUST_LOG", "info");
    Server::spawn(cmd)
}

/// The server's stderr as lines (one JSON object each).
pub fn log_lines(server: &Server) -> Vec<String> {
    server.stderr().lines().map(str::to_string).collect()
}

/// Waits for a log line after the first `skip` lines that contains every one of `needles`;
/// returns it and its index.
pub fn wait_log(server: &Server, skip: usize, needles: &[&str]) -> (usize, String) {
    wait_for(&format!("a log line with {needles:?}"), LIMIT, || {
        log_lines(server)
            .into_iter()
            .enumerate()
            .skip(skip)
            .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
    })
}

/// Counts log lines after the first `skip` whose message is `message`.
pub fn count_messages(server: &Server, skip: usize, message: &str) -> usize {
    let needle = format!("\"message\":\"{message}\"");
    log_lines(server)
        .iter()
        .skip(skip)
        .filter(|l| l.contains(&needle))
        .count()
}

/// `X-Mirrorlist-Generation` as `(generated_at, sequence)`.
pub fn generation(r: &Response) -> Option<(u64, u64)> {
    let (g, s) = r.header("x-mirrorlist-generation")?.split_once('/')?;
    Some((g.parse().ok()?, s.parse().ok()?))
}

/// Waits until the server answers from data generated at `generated_at` with a sequence
/// above `after`; returns the sequence.
pub fn wait_generation(server: &Server, generated_at: u64, after: u64) -> u64 {
    wait_generation_of(server, MIRRORLIST, generated_at, after)
}

/// [`wait_generation`], asking `target`.
pub fn wait_generation_of(server: &Server, target: &str, generated_at: u64, after: u64) -> u64 {
    wait_for(
        &format!("generation {generated_at} with a sequence above {after}"),
        LIMIT,
        || match generation(&server.get(target)) {
            Some((g, s)) if g == generated_at && s > after => Some(s),
            _ => None,
        },
    )
}
