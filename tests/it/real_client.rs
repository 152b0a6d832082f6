//! A real metalink client against the real server: aria2c follows a metalink from
//! `mirrorlist serve`, downloads `repodata/repomd.xml` from mirrors this test serves on
//! loopback, and checks the file against the hash and size the metalink gives.
//!
//! The test builds a native source whose hosts point at three tiny HTTP servers it runs itself:
//!
//! | mirror | how the client gets it          | what it serves                                  |
//! |--------|---------------------------------|-------------------------------------------------|
//! | stale  | netblock `127.0.0.1/32` (first) | nothing: 404 for every path                     |
//! | a, b   | global list                     | the good repomd.xml for repo `testrepo`; a      |
//! |        |                                 | same-size corrupted one for repo `tampered`     |
//!
//! - `testrepo`: aria2c tries the stale mirror first (preference 100), falls back to a or b,
//!   verifies the sha256 from the metalink and exits 0 with the exact bytes.
//! - `tampered`: the metalink describes the good file but every mirror serves a corrupted copy
//!   of the same size, so only the hash check can notice; aria2c must exit 32 ("checksum
//!   validation failed"). aria2 does not move on to another mirror after a whole-file hash
//!   mismatch, so this is also what one bad mirror in front of good ones does to it.
//!
//! aria2c must be installed (Debian package `aria2`; `.ci/run` installs it). If it is missing
//! the test fails: it does not skip.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::{arg, try_wait_for, Server, BIN};

pub(crate) const ARIA2_TIMEOUT: Duration = Duration::from_secs(60);
/// aria2c's exit status for "checksum validation failed" (aria2c(1), EXIT STATUS).
pub(crate) const ARIA2_CHECKSUM_FAILED: i32 = 32;

pub(crate) const GOOD_DIR: &str = "releases/1/Everything/x86_64/os";
pub(crate) const TAMPERED_DIR: &str = "releases/2/Everything/x86_64/os";

// ---------------------------------------------------------------------------------------------
// A tiny static file server: one thread, one request per connection, bounded reads.

pub(crate) struct Mirror {
    addr: SocketAddr,
    /// `"GET /path 200"` per request, in order.
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Serves `files` (absolute request path -> bytes) on 127.0.0.1; everything else is 404.
    pub(crate) fn start(files: HashMap<String, Vec<u8>>) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a mirror on 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve_one(stream, &files, &log);
                    }
                }
            })
        };
        Mirror {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request head (at most 16 KiB, 5 s) and answers it. The request is logged before
/// the answer goes out, so a client that has finished has been logged.
fn serve_one(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    log: &Mutex<Vec<String>>,
) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (request_line.next()?, request_line.next()?);
    let path = target.split('?').next().unwrap_or(target);
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());

    let (status, reason, extra, body): (u16, &str, String, &[u8]) = match files.get(path) {
        None => (404, "Not Found", String::new(), b"not found\n"),
        Some(data) => match range.as_deref().and_then(|r| byte_range(r, data.len())) {
            Some((from, to)) => (
                206,
                "Partial Content",
                format!("Content-Range: bytes {from}-{to}/{}\r\n", data.len()),
                &data[from..=to],
            ),
            None => (200, "OK", String::new(), data),
        },
    };
    let response_head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    log.lock()
        .unwrap()
        .push(format!("{method} {path} {status}"));
    let _ = stream.write_all(response_head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    Some(())
}

/// `bytes=FROM-` or `bytes=FROM-TO` within a body of `len` bytes, as inclusive bounds.
fn byte_range(header: &str, len: usize) -> Option<(usize, usize)> {
    let (from, to) = header.strip_prefix("bytes=")?.split_once('-')?;
    let from: usize = from.trim().parse().ok()?;
    let to: usize = match to.trim() {
        "" => len.checked_sub(1)?,
        t => t.parse::<usize>().ok()?.min(len.checked_sub(1)?),
    };
    (from <= to).then_some((from, to))
}

// ---------------------------------------------------------------------------------------------
// aria2c.

/// Checks aria2c is installed; fails the test (never skips) if it is not.
pub(crate) fn require_aria2c() {
    match Command::new("aria2c").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`aria2c --version` failed ({}): install aria2 (Debian/Ubuntu: `apt-get install aria2`; .ci/run does this)",
            out.status
        ),
        Err(e) => panic!(
            "aria2c not found ({e}): this test needs a real metalink client; install aria2 (Debian/Ubuntu: `apt-get install aria2`; .ci/run does this)"
        ),
    }
}

/// Runs aria2c on the metalink at `url` with hash checking on; returns its status and output.
pub(crate) fn aria2c(
    url: &str,
    out_dir: &Path,
    log_dir: &Path,
    name: &str,
) -> (ExitStatus, String) {
    let console = log_dir.join(format!("aria2c-{name}.out"));
    let log = log_dir.join(format!("aria2c-{name}.log"));
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf=true",
        "--check-integrity=true",
        "--follow-metalink=mem",
        "--console-log-level=notice",
        "--summary-interval=0",
        "--log-level=info",
        "--max-tries=1",
        "--connect-timeout=5",
        "--timeout=10",
        "--auto-file-renaming=false",
        "--allow-overwrite=true",
        "--file-allocation=none",
    ])
    .arg(format!("--log={}", log.display()))
    .arg("-d")
    .arg(out_dir)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&console).unwrap())
    .stderr(Stdio::from(
        std::fs::File::options()
            .append(true)
            .open(&console)
            .unwrap(),
    ));
    // Everything is on loopback: no proxy may get in the way.
    for var in [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().expect("start aria2c");
    let Some(status) = try_wait_for(ARIA2_TIMEOUT, || child.try_wait().expect("wait for aria2c"))
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "aria2c ({name}) did not finish within {ARIA2_TIMEOUT:?}; output:\n{}",
            std::fs::read_to_string(&console).unwrap_or_default()
        );
    };
    let output = format!(
        "--- console ---\n{}\n--- log (tail) ---\n{}",
        std::fs::read_to_string(&console).unwrap_or_default(),
        last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 60)
    );
    (status, output)
}

/// The last `lines` lines of `text`.
fn last_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4), so the test computes the digest itself, independently of the server.

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_matches_the_standard_test_vectors() {
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

// ---------------------------------------------------------------------------------------------
// The source and the scenario.

pub(crate) fn repomd(revision: u64) -> Vec<u8> {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{revision}</revision>\n"
    );
    for (kind, n) in [
        ("primary", 1),
        ("filelists", 2),
        ("other", 3),
        ("updateinfo", 4),
    ] {
        let digest = sha256_hex(format!("{kind}-{revision}").as_bytes());
        xml.push_str(&format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{digest}</checksum>\n    <location href=\"repodata/{digest}-{kind}.xml.zst\"/>\n    <timestamp>{}</timestamp>\n    <size>{}</size>\n  </data>\n",
            revision + n,
            1000 * n
        ));
    }
    xml.push_str("</repomd>\n");
    xml.into_bytes()
}

/// The same length as `good`, one byte different: only a hash check can tell.
pub(crate) fn corrupted(good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    let at = bad.len() / 2;
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    assert_ne!(bad, good);
    bad
}

fn version_toml(timestamp: u64, content: &[u8]) -> String {
    format!(
        "  [[file.versions]]\n  timestamp = {timestamp}\n  size = {}\n  sha256 = \"{}\"\n",
        content.len(),
        sha256_hex(content)
    )
}

#[test]
fn aria2c_downloads_repomd_through_our_metalink_and_checks_its_hash() {
    require_aria2c();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    let current = repomd(1_767_200_000);
    let older = repomd(1_767_100_000);
    let tampered = corrupted(&current);
    assert_eq!(tampered.len(), current.len());

    // Mirrors a and b publish the category under different base paths; the stale mirror has
    // nothing.
    let file_path = |prefix: &str, dir: &str| format!("{prefix}/{dir}/repodata/repomd.xml");
    let mirror_files = |prefix: &str| {
        HashMap::from([
            (file_path(prefix, GOOD_DIR), current.clone()),
            (file_path(prefix, TAMPERED_DIR), tampered.clone()),
        ])
    };
    let mirror_a = Mirror::start(mirror_files("/fedora/linux"));
    let mirror_b = Mirror::start(mirror_files("/pub/fedora/linux"));
    let stale = Mirror::start(HashMap::new());

    let source = root.join("source");
    std::fs::create_dir_all(&source).unwrap();
    let mut toml = format!(
        r#"generated_at = 1767225600

[[category]]
name = "Fedora Linux"
topdir = "pub/fedora/linux"
directories = ["{GOOD_DIR}", "{TAMPERED_DIR}"]

[[repo]]
repo = "testrepo"
arch = "x86_64"
category = "Fedora Linux"
directory = "{GOOD_DIR}"

[[repo]]
repo = "tampered"
arch = "x86_64"
category = "Fedora Linux"
directory = "{TAMPERED_DIR}"

[[host]]
name = "stale.example.org"
country = "SE"
bandwidth = 100
netblocks = ["127.0.0.1/32"]
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{stale}/mirror/fedora"]

[[host]]
name = "a.example.org"
country = "DE"
bandwidth = 100
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{a}/fedora/linux/"]

[[host]]
name = "b.example.com"
country = "US"
bandwidth = 100
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{b}/pub/fedora/linux"]
"#,
        stale = stale.base(),
        a = mirror_a.base(),
        b = mirror_b.base(),
    );
    // Both repos describe the good file: `tampered`'s mirrors serve something else.
    for dir in [GOOD_DIR, TAMPERED_DIR] {
        toml.push_str(&format!(
            "\n[[file]]\ndirectory = \"pub/fedora/linux/{dir}/repodata\"\nname = \"repomd.xml\"\n"
        ));
        toml.push_str(&version_toml(1_767_200_000, &current));
        toml.push_str(&version_toml(1_767_100_000, &older));
    }
    std::fs::write(source.join("mirrors.toml"), toml).unwrap();

    let bundle = root.join("bundle");
    let built = Command::new(BIN)
        .arg("build")
        .arg("--source")
        .arg(&source)
        .arg("-o")
        .arg(&bundle)
        .output()
        .expect("run mirrorlist build");
    assert!(
        built.status.success(),
        "mirrorlist build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    let server = Server::start(&["--listen", "127.0.0.1", "--bundle", &arg(&bundle)]);
    let metalink_url =
        |repo: &str| format!("http://{}/metalink?repo={repo}&arch=x86_64", server.addr());

    // What the metalink says, read directly: the hash and size aria2c is going to check, the
    // older version as an alternate, and the stale (netblock) mirror first.
    let r = server.get("/metalink?repo=testrepo&arch=x86_64");
    let doc = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(r.status, 200, "{doc}");
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type
            .to_ascii_lowercase()
            .starts_with("application/metalink+xml"),
        "{:?}",
        r.headers
    );
    let current_hash = format!("<hash type=\"sha256\">{}</hash>", sha256_hex(&current));
    let older_hash = format!("<hash type=\"sha256\">{}</hash>", sha256_hex(&older));
    let at = |needle: &str| {
        doc.find(needle)
            .unwrap_or_else(|| panic!("the metalink lacks {needle:?}:\n{doc}"))
    };
    assert!(at(&current_hash) < at("<mm0:alternates>"), "{doc}");
    assert!(at("<mm0:alternates>") < at(&older_hash), "{doc}");
    assert!(
        doc.contains(&format!("<size>{}</size>", current.len())),
        "{doc}"
    );
    let stale_url = format!(
        "preference=\"100\">{}/mirror/fedora/{GOOD_DIR}/repodata/repomd.xml</url>",
        stale.base()
    );
    assert!(
        doc.contains(&stale_url),
        "{stale_url} should come first:\n{doc}"
    );
    for m in [&mirror_a, &mirror_b] {
        assert!(doc.contains(&m.base()), "{} missing:\n{doc}", m.base());
    }

    // 1. The good repository: a fallback past the stale mirror, then a verified download.
    let out_good = root.join("out-good");
    let (status, output) = aria2c(&metalink_url("testrepo"), &out_good, root, "good");
    assert!(
        status.success(),
        "aria2c failed on a correct metalink ({status}):\n{output}"
    );
    let downloaded = std::fs::read(out_good.join("repomd.xml"))
        .unwrap_or_else(|e| panic!("aria2c wrote no repomd.xml ({e}):\n{output}"));
    assert_eq!(downloaded, current, "aria2c saved other bytes:\n{output}");
    // A GET answered 200 or 206 (aria2c asks for a byte range once it knows the size).
    let fetched = |m: &Mirror, prefix: &str, dir: &str| {
        let wanted = format!("GET {} 20", file_path(prefix, dir));
        m.requests().iter().any(|r| r.starts_with(&wanted))
    };
    assert!(
        stale.requests().contains(&format!(
            "GET /mirror/fedora/{GOOD_DIR}/repodata/repomd.xml 404"
        )),
        "aria2c never tried the preferred (stale) mirror: {:?}\n{output}",
        stale.requests()
    );
    assert!(
        fetched(&mirror_a, "/fedora/linux", GOOD_DIR)
            || fetched(&mirror_b, "/pub/fedora/linux", GOOD_DIR),
        "no good mirror served the file: a {:?}, b {:?}\n{output}",
        mirror_a.requests(),
        mirror_b.requests()
    );

    // 2. The tampered repository: the bytes arrive, the hash does not match, aria2c fails.
    let out_bad = root.join("out-tampered");
    let (status, output) = aria2c(&metalink_url("tampered"), &out_bad, root, "tampered");
    assert_eq!(
        status.code(),
        Some(ARIA2_CHECKSUM_FAILED),
        "aria2c should reject a file whose sha256 differs from the metalink's ({status}):\n{output}"
    );
    let fetched = fetched(&mirror_a, "/fedora/linux", TAMPERED_DIR)
        || fetched(&mirror_b, "/pub/fedora/linux", TAMPERED_DIR);
    assert!(
        fetched,
        "aria2c failed without downloading the tampered file, so the hash was not what failed:\n{output}"
    );

    drop(server);
}
