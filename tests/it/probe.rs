//! `mirrorlist probe` against fake mirrors on loopback: one HTTP server per behaviour (current,
//! behind, stale, 404, 500, refused, never answers, too slow, https with a test CA), a native
//! source directory naming them, and the health file the probe writes.
//!
//! The fake mirrors run on a tokio runtime owned by the test; the probe is the real binary.
//! Nothing sleeps to wait: waits poll a condition with a deadline.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::{send_signal, try_wait_for, BIN};

/// Whether `done` comes to hold within `limit`.
fn held_within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    try_wait_for(limit, || done().then_some(())).is_some()
}

/// The generation time written into the test source.
const GENERATED_AT: u64 = 1_746_835_200;

/// The two repository directories of the test source, under the category's `pub/test`.
const DIRS: [&str; 2] = ["a/x86_64", "b/x86_64"];

/// The published repomd.xml of directory `dir`: `new` is the newest version.
fn repomd(dir: &str, new: bool) -> Vec<u8> {
    let age = if new { "new" } else { "old" };
    format!("<repomd><revision>{dir}-{age}</revision></repomd>\n").into_bytes()
}

fn sha256(body: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    d.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What a fake mirror answers for a request path.
#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    Status(u16),
    /// The body, after a delay longer than the probe's timeout.
    Late(Duration, Vec<u8>),
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A mirror carrying the newest (or older) repomd.xml of every test directory, anything else 404.
fn serving(new: bool) -> Handler {
    Arc::new(move |path: &str| {
        DIRS.iter()
            .find(|d| path == format!("/test/{d}/repodata/repomd.xml"))
            .map_or(Reply::Status(404), |d| Reply::Body(repomd(d, new)))
    })
}

/// A mirror that serves the newest files while its switch is 0 and answers 500 otherwise;
/// the switch starts at `mode`.
fn flaky(mode: u8) -> (Handler, Arc<AtomicU8>) {
    let switch = Arc::new(AtomicU8::new(mode));
    let current = serving(true);
    let read = switch.clone();
    let handler: Handler = Arc::new(move |path: &str| match read.load(Ordering::SeqCst) {
        0 => current(path),
        _ => Reply::Status(500),
    });
    (handler, switch)
}

fn always(reply: Reply) -> Handler {
    Arc::new(move |_: &str| reply.clone())
}

/// The fake mirrors, on a runtime of their own that lives as long as this value.
struct Mirrors {
    rt: tokio::runtime::Runtime,
}

impl Mirrors {
    fn new() -> Mirrors {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        Mirrors { rt }
    }

    fn bind(&self) -> TcpListener {
        self.rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0")
    }

    /// An HTTP (or, with `tls`, HTTPS) mirror; its base URL.
    fn http(&self, handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> String {
        let listener = self.bind();
        let addr = listener.local_addr().expect("local addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        self.rt.spawn(accept_http(listener, handler, tls));
        format!("{scheme}://{addr}/test")
    }

    /// A listener that accepts and never answers, counting connections; its address.
    fn silent(&self) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = self.bind();
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        self.rt.spawn(accept_silent(listener, accepted.clone()));
        (addr, accepted)
    }
}

async fn accept_http(
    listener: TcpListener,
    handler: Handler,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let (handler, tls) = (handler.clone(), tls.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let reply = handler(req.uri().path());
                async move { Ok::<_, Infallible>(respond(reply).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    // A client that rejects the certificate ends the handshake: nothing to serve.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

async fn respond(reply: Reply) -> Response<Full<Bytes>> {
    let (status, body) = match reply {
        Reply::Body(b) => (200, b),
        Reply::Status(s) => (s, format!("status {s}\n").into_bytes()),
        Reply::Late(delay, b) => {
            tokio::time::sleep(delay).await;
            (200, b)
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("valid status");
    response
}

/// Holds every connection open without a byte of answer until the client closes it.
async fn accept_silent(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        });
    }
}

/// A port nothing listens on: bound, then closed.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/test")
}

/// A CA made for this test, and a TLS acceptor for 127.0.0.1 whose certificate it signed.
struct TestCa {
    pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

fn test_ca(name: &str) -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("leaf");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    let key =
        tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server config");
    TestCa {
        pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

/// A host of the test source.
struct Host {
    name: String,
    url: String,
    private: bool,
}

fn host(name: &str, url: &str) -> Host {
    Host {
        name: name.into(),
        url: url.into(),
        private: false,
    }
}

/// Writes a native source directory (data/README.md) naming `hosts`, each carrying both test
/// directories under its one URL; the repodata of each has a newest and an older repomd.xml.
fn write_source(dir: &Path, hosts: &[Host]) {
    let mut t = format!(
        "generated_at = {GENERATED_AT}\n\n[[category]]\nname = \"Test\"\ntopdir = \"pub/test\"\n\
         directories = [\"{}\", \"{}\"]\n",
        DIRS[0], DIRS[1]
    );
    for (i, d) in DIRS.iter().enumerate() {
        let _ = write!(
            t,
            "\n[[repo]]\nrepo = \"test-{i}\"\narch = \"x86_64\"\ncategory = \"Test\"\ndirectory = \"{d}\"\n"
        );
        let _ = write!(
            t,
            "\n[[file]]\ndirectory = \"pub/test/{d}/repodata\"\nname = \"repomd.xml\"\n"
        );
        for (ts, new) in [(200, true), (100, false)] {
            let body = repomd(d, new);
            let _ = write!(
                t,
                "  [[file.versions]]\n  timestamp = {ts}\n  size = {}\n  sha256 = \"{}\"\n",
                body.len(),
                sha256(&body)
            );
        }
    }
    for h in hosts {
        let private = if h.private {
            "private = true\nnetblocks = [\"198.51.100.0/26\"]\n"
        } else {
            ""
        };
        let _ = write!(
            t,
            "\n[[host]]\nname = \"{}\"\ncountry = \"DE\"\nbandwidth = 100\n{private}  [[host.category]]\n  name = \"Test\"\n  urls = [\"{}\"]\n",
            h.name, h.url
        );
    }
    std::fs::write(dir.join("mirrors.toml"), t).expect("write mirrors.toml");
}

/// `mirrorlist probe --source DIR --out OUT --once ARGS`, with MIRRORLIST_* variables removed.
fn probe_once(source: &Path, out: &Path, args: &[&str]) -> Output {
    probe_command(source, out, args)
        .arg("--once")
        .stdin(Stdio::null())
        .output()
        .expect("run mirrorlist probe")
}

fn probe_command(source: &Path, out: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("probe")
        .arg("--source")
        .arg(source)
        .arg("--out")
        .arg(out)
        .args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MIRRORLIST_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "probe failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each host's (state, reason) in a health file.
fn states(health: &Value) -> BTreeMap<String, (String, String)> {
    let hosts = health["hosts"].as_object().expect("hosts is an object");
    hosts
        .iter()
        .map(|(name, h)| {
            let s = h["state"].as_str().expect("state").to_string();
            let r = h["reason"].as_str().expect("reason").to_string();
            (name.clone(), (s, r))
        })
        .collect()
}

fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source");
    std::fs::create_dir(&source).expect("mkdir source");
    let out = dir.path().join("health.json");
    (dir, source, out)
}

#[test]
fn every_behaviour_gets_its_state_and_reason() {
    let mirrors = Mirrors::new();
    let ca = test_ca("mirrorlist probe test CA");
    let other_ca = test_ca("a CA the probe is not told to trust");
    let (silent, _) = mirrors.silent();
    let late = Reply::Late(Duration::from_secs(6), repomd(DIRS[0], true));
    let hosts = vec![
        host("current.test", &mirrors.http(serving(true), None)),
        host("behind.test", &mirrors.http(serving(false), None)),
        host(
            "stale.test",
            &mirrors.http(always(Reply::Body(b"<repomd>?</repomd>\n".to_vec())), None),
        ),
        host(
            "missing.test",
            &mirrors.http(always(Reply::Status(404)), None),
        ),
        host(
            "error.test",
            &mirrors.http(always(Reply::Status(500)), None),
        ),
        host("refused.test", &refused_url()),
        host("silent.test", &format!("http://{silent}/test")),
        host("slow.test", &mirrors.http(always(late), None)),
        host(
            "tls.test",
            &mirrors.http(serving(true), Some(ca.acceptor.clone())),
        ),
        host(
            "untrusted.test",
            &mirrors.http(serving(true), Some(other_ca.acceptor.clone())),
        ),
        Host {
            private: true,
            ..host("private.test", &mirrors.http(serving(true), None))
        },
        host("ftp-only.test", "ftp://127.0.0.1:1/test"),
    ];
    let (dir, source, out) = scratch();
    write_source(&source, &hosts);
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write CA");

    let started = Instant::now();
    let run = probe_once(
        &source,
        &out,
        &[
            "--fail-after",
            "1",
            "--timeout",
            "2",
            "--ca-file",
            ca_file.to_str().expect("utf-8 path"),
        ],
    );
    assert_ok(&run);
    let took = started.elapsed();
    // Every request is bounded by the 2 s timeout and the hosts are probed at once.
    assert!(took < Duration::from_secs(5), "round took {took:?}");

    let health = read_json(&out);
    let got = states(&health);
    let want: &[(&str, &str, &[&str])] = &[
        (
            "current.test",
            "current",
            &["2 of 2 sampled files match the newest version"],
        ),
        (
            "behind.test",
            "behind",
            &[
                "/repodata/repomd.xml matches an older version",
                "timestamp 100",
            ],
        ),
        (
            "stale.test",
            "stale",
            &["matches no published version", "19 bytes"],
        ),
        (
            "missing.test",
            "missing",
            &["/test/a/x86_64/repodata/repomd.xml answered 404"],
        ),
        ("error.test", "down", &["answered HTTP 500"]),
        ("refused.test", "down", &["cannot connect", "refused"]),
        ("silent.test", "down", &["no complete answer within 2 s"]),
        ("slow.test", "down", &["no complete answer within 2 s"]),
        (
            "tls.test",
            "current",
            &["2 of 2 sampled files match the newest version"],
        ),
        ("untrusted.test", "down", &["certificate"]),
    ];
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    let mut want_names: Vec<&str> = want.iter().map(|w| w.0).collect();
    want_names.sort();
    assert_eq!(
        names, want_names,
        "private and ftp-only hosts are not probed"
    );
    for (name, state, reasons) in want {
        let (s, r) = &got[*name];
        assert_eq!(s, state, "{name}: {r}");
        for part in *reasons {
            assert!(
                r.to_lowercase().contains(&part.to_lowercase()),
                "{name}: reason {r:?} lacks {part:?}"
            );
        }
    }

    // The file's header, and the per-host fields.
    assert_eq!(health["format"], 1);
    assert_eq!(health["round"], 1);
    assert_eq!(health["snapshot_generated_at"], GENERATED_AT);
    let generated = health["generated_at"].as_u64().expect("generated_at");
    assert_eq!(health["valid_until"].as_u64(), Some(generated + 3 * 300));
    let current = &health["hosts"]["current.test"];
    assert_eq!(current["failures"], 0);
    assert_eq!(current["families"], serde_json::json!(["ipv4"]));
    assert!(current["since"].as_u64() <= current["checked_at"].as_u64());
    assert_eq!(health["hosts"]["refused.test"]["failures"], 1);
    assert!(health["hosts"]["refused.test"].get("families").is_none());

    let stdout = text(&run.stdout);
    for line in ["current 2", "behind 1", "stale 1", "missing 1", "down 5"] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} not in:\n{stdout}"
        );
    }
}

#[test]
fn failures_take_fail_after_rounds_and_one_good_round_clears_them() {
    let mirrors = Mirrors::new();
    let (handler, mode) = flaky(0);
    let url = mirrors.http(handler, None);
    let (_dir, source, out) = scratch();
    write_source(&source, &[host("flaky.test", &url)]);
    let round = |want_state: &str, want_failures: u64| -> Value {
        let run = probe_once(&source, &out, &["--fail-after", "2", "--timeout", "2"]);
        assert_ok(&run);
        let health = read_json(&out);
        let h = &health["hosts"]["flaky.test"];
        assert_eq!(h["state"], want_state, "{h}");
        assert_eq!(h["failures"], want_failures, "{h}");
        h.clone()
    };
    let first = round("current", 0);
    mode.store(1, Ordering::SeqCst);
    let damped = round("current", 1);
    let reason = damped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("answered HTTP 500") && reason.contains("failing round 1 of 2 before down"),
        "{reason}"
    );
    assert_eq!(damped["since"], first["since"], "still the same state");
    let down = round("down", 2);
    assert!(
        down["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{down}"
    );
    mode.store(0, Ordering::SeqCst);
    let back = round("current", 0);
    assert_eq!(
        back["reason"],
        "2 of 2 sampled files match the newest version"
    );
    assert_eq!(read_json(&out)["round"], 4);
}

#[test]
fn a_thousand_hung_hosts_take_a_timeout_per_concurrency_slot() {
    let mirrors = Mirrors::new();
    let good = mirrors.http(serving(true), None);
    // A few silent listeners shared by the hung hosts (each host has its own name).
    let silent: Vec<String> = (0..4)
        .map(|_| format!("http://{}/test", mirrors.silent().0))
        .collect();
    let total = 1000;
    let hosts: Vec<Host> = (0..total)
        .map(|i| {
            if i % 20 == 0 {
                host(&format!("good-{i}.test"), &good)
            } else {
                host(&format!("hung-{i}.test"), &silent[i % silent.len()])
            }
        })
        .collect();
    let (_dir, source, out) = scratch();
    write_source(&source, &hosts);
    let (timeout, concurrency) = (1u64, 200usize);
    let started = Instant::now();
    let run = probe_once(
        &source,
        &out,
        &[
            "--fail-after",
            "1",
            "--timeout",
            &timeout.to_string(),
            "--concurrency",
            &concurrency.to_string(),
        ],
    );
    let took = started.elapsed();
    assert_ok(&run);
    let bound = Duration::from_secs(timeout * total.div_ceil(concurrency) as u64);
    let margin = Duration::from_secs(4); // process start, loading 1,000 hosts, writing
    assert!(
        took < bound + margin,
        "round took {took:?}, bound {bound:?} + {margin:?}"
    );
    let got = states(&read_json(&out));
    assert_eq!(got.len(), total);
    let down = got.values().filter(|(s, _)| s == "down").count();
    let current = got.values().filter(|(s, _)| s == "current").count();
    assert_eq!((current, down), (total / 20, total - total / 20));
}

#[test]
fn sigterm_during_a_round_leaves_the_previous_file() {
    let mirrors = Mirrors::new();
    let (silent, accepted) = mirrors.silent();
    let (_dir, source, out) = scratch();
    write_source(
        &source,
        &[host("good.test", &mirrors.http(serving(true), None))],
    );
    assert_ok(&probe_once(&source, &out, &[]));
    let before = std::fs::read(&out).expect("first file");

    write_source(
        &source,
        &[
            host("good.test", &mirrors.http(serving(true), None)),
            host("silent.test", &format!("http://{silent}/test")),
        ],
    );
    let mut child = probe_command(&source, &out, &["--timeout", "60", "--interval", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let in_round = held_within(Duration::from_secs(30), || {
        accepted.load(Ordering::SeqCst) > 0
    });
    assert!(in_round, "the probe never reached the silent mirror");
    let sent = Instant::now();
    send_signal(child.id(), libc::SIGTERM);
    let mut status = None;
    let exited = held_within(Duration::from_secs(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "probe still running 10 s after SIGTERM");
    assert!(sent.elapsed() < Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let after = std::fs::read(&out).expect("file still there");
    assert_eq!(text(&after), text(&before), "the previous file changed");
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().expect("parent"))
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_input_exits_non_zero_naming_the_file() {
    let (dir, source, out) = scratch();
    std::fs::write(
        source.join("mirrors.toml"),
        "generated_at = 1\n\n[[category]]\nname = \n",
    )
    .expect("write");
    let run = probe_once(&source, &out, &[]);
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("mirrors.toml") && stderr.contains("line 4"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");

    write_source(&source, &[host("a.test", "http://127.0.0.1:1/test")]);
    let missing_ca = dir.path().join("no-such-ca.pem");
    let run = probe_once(
        &source,
        &out,
        &["--ca-file", missing_ca.to_str().expect("utf-8")],
    );
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(stderr.contains("no-such-ca.pem"), "{stderr}");

    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let run = probe_once(
        &source,
        &out,
        &["--ca-file", not_pem.to_str().expect("utf-8")],
    );
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(stderr.contains("not.pem"), "{stderr}");

    let run = Command::new(BIN)
        .args(["probe", "--once"])
        .output()
        .expect("run");
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("--out"), "{}", text(&run.stderr));
}

#[test]
fn help_explains_every_flag() {
    let run = Command::new(BIN)
        .args(["probe", "--help"])
        .output()
        .expect("run");
    assert_ok(&run);
    let help = text(&run.stdout);
    for flag in [
        "--bundle",
        "--source",
        "--out",
        "--once",
        "--interval",
        "--concurrency",
        "--timeout",
        "--sample",
        "--fail-after",
        "--ca-file",
        "SIGTERM",
        "docs/health.md",
    ] {
        assert!(help.contains(flag), "{flag} not in:\n{help}");
    }
}

#[test]
fn each_round_samples_the_next_directories() {
    let mirrors = Mirrors::new();
    // Directory a is current, b serves a file nobody published.
    let newest = serving(true);
    let handler: Handler = Arc::new(move |path: &str| {
        if path.starts_with("/test/b/") {
            Reply::Body(b"unpublished\n".to_vec())
        } else {
            newest(path)
        }
    });
    let url = mirrors.http(handler, None);
    let (_dir, source, out) = scratch();
    write_source(&source, &[host("half.test", &url)]);
    let mut seen = Vec::new();
    for _ in 0..4 {
        assert_ok(&probe_once(&source, &out, &["--sample", "1"]));
        let (state, reason) = states(&read_json(&out)).remove("half.test").expect("host");
        seen.push(state);
        if seen.len() == 2 {
            assert!(
                reason.contains("/test/b/x86_64/repodata/repomd.xml"),
                "{reason}"
            );
        }
    }
    assert_eq!(seen, ["current", "stale", "current", "stale"]);
}

#[test]
fn probes_a_bundle_and_keeps_probing_at_the_interval() {
    let mirrors = Mirrors::new();
    let (dir, source, out) = scratch();
    write_source(
        &source,
        &[host("good.test", &mirrors.http(serving(true), None))],
    );
    let bundle = dir.path().join("mirrors.bundle");
    let build = Command::new(BIN)
        .args(["build", "--source"])
        .arg(&source)
        .arg("-o")
        .arg(&bundle)
        .output()
        .expect("run build");
    assert_ok(&build);
    let mut cmd = Command::new(BIN);
    cmd.args(["probe", "--interval", "1", "--bundle"])
        .arg(&bundle)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MIRRORLIST_") {
            cmd.env_remove(&key);
        }
    }
    let mut child = cmd.spawn().expect("spawn probe");
    let round_of = |out: &Path| -> u64 {
        std::fs::read(out)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["round"].as_u64())
            .unwrap_or(0)
    };
    let third = held_within(Duration::from_secs(30), || round_of(&out) >= 3);
    send_signal(child.id(), libc::SIGTERM);
    let mut status = None;
    let exited = held_within(Duration::from_secs(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        third,
        "no third round within 30 s (round {})",
        round_of(&out)
    );
    assert!(exited, "still running 10 s after SIGTERM");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let health = read_json(&out);
    let source = health["source"].as_str().unwrap_or_default();
    assert!(source.starts_with("bundle "), "{source}");
    assert_eq!(
        health["valid_until"].as_u64(),
        health["generated_at"].as_u64().map(|g| g + 3)
    );
    assert_eq!(health["hosts"]["good.test"]["state"], "current");
}

/// The probe and the server together: the probe's file, from fake mirrors one of which answers
/// 500, makes the server leave that mirror out of every answer, list the stale one last, and
/// list it again once a later round finds it back (without a restart).
#[test]
fn the_server_applies_what_the_probe_wrote() {
    let mirrors = Mirrors::new();
    let (flaky_mirror, broken) = flaky(1);
    let hosts = [
        host("good-a.test", &mirrors.http(serving(true), None)),
        host("good-b.test", &mirrors.http(serving(true), None)),
        host(
            "stale.test",
            &mirrors.http(always(Reply::Body(b"not it".to_vec())), None),
        ),
        host("flaky.test", &mirrors.http(flaky_mirror, None)),
    ];
    let (_dir, source, out) = scratch();
    write_source(&source, &hosts);
    assert_ok(&probe_once(
        &source,
        &out,
        &["--fail-after", "1", "--timeout", "2"],
    ));
    let states = states(&read_json(&out));
    assert_eq!(states["flaky.test"].0, "down", "{states:?}");
    assert_eq!(states["stale.test"].0, "stale", "{states:?}");

    let server = crate::support::Server::start(&[
        "--source",
        &source.display().to_string(),
        "--health",
        &out.display().to_string(),
    ]);
    let target = "/mirrorlist?repo=test-0&arch=x86_64";
    // Every fake mirror is 127.0.0.1 on its own port: a URL's authority names its mirror.
    let authority = |url: &str| -> String {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest.split('/').next().unwrap_or(rest).to_string()
    };
    let names = |body: String| -> Vec<String> {
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(authority)
            .collect()
    };
    let (stale, flaky) = (authority(&hosts[2].url), authority(&hosts[3].url));
    let first = server.get(target);
    assert_eq!(first.status, 200, "{}", first.text());
    for _ in 0..100 {
        let listed = names(server.get(target).text());
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert_eq!(listed.last(), Some(&stale), "stale last: {listed:?}");
        assert!(!listed.contains(&flaky), "down listed: {listed:?}");
    }
    broken.store(0, Ordering::SeqCst);
    assert_ok(&probe_once(
        &source,
        &out,
        &["--fail-after", "1", "--timeout", "2"],
    ));
    crate::support::wait_for(
        "the revived mirror in an answer",
        crate::support::LIMIT,
        || {
            names(server.get(target).text())
                .contains(&flaky)
                .then_some(())
        },
    );
}
