//! A hostile client against the real binary: over 10,000 malformed, oversized, conflicting
//! and truncated requests over raw TCP, then proof that the server is unharmed: it still
//! answers a normal request exactly as before, on several fresh connections; the process is
//! alive and logged no panic; and its memory stayed bounded.
//!
//! Every connection has a short timeout, so the test is bounded in time whatever the server
//! does; the request mix is generated from a fixed seed, so a failure can be replayed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::support::hostile::{
    assert_answers_normally, assert_no_panic_logged, exchange, rss_kib, tail, try_rss_kib, Outcome,
    NORMAL,
};
use crate::support::{sample_args, Server};

/// How long one hostile connection may take before the client gives up on it.
const PER_CONNECTION: Duration = Duration::from_secs(10);
/// Concurrent hostile clients.
const CLIENTS: usize = 4;

/// The kinds of hostility, one per request in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Method,
    Version,
    HeaderBytes,
    HugeUrl,
    ManyParams,
    Conflicting,
    Percent,
    CountryList,
    ProtocolList,
    Truncated,
    Pipelined,
    RandomBytes,
    Http2Garbage,
    Framing,
}

const KINDS: [Kind; 14] = [
    Kind::Method,
    Kind::Version,
    Kind::HeaderBytes,
    Kind::HugeUrl,
    Kind::ManyParams,
    Kind::Conflicting,
    Kind::Percent,
    Kind::CountryList,
    Kind::ProtocolList,
    Kind::Truncated,
    Kind::Pipelined,
    Kind::RandomBytes,
    Kind::Http2Garbage,
    Kind::Framing,
];

/// One hostile connection: the bytes to send, and whether to half-close after them.
struct Case {
    kind: Kind,
    bytes: Vec<u8>,
    half_close: bool,
}

fn pick<T: Copy>(rng: &mut SmallRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn get(target: &[u8]) -> Vec<u8> {
    let mut out = b"GET ".to_vec();
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: hostile\r\n\r\n");
    out
}

fn query(q: &str) -> Vec<u8> {
    get(format!("/mirrorlist?{q}").as_bytes())
}

const REPOS: [&str; 6] = [
    "fedora-42",
    "epel-9",
    "rawhide",
    "updates-testing-f40",
    "fedora-rawhide",
    "x",
];
const ARCHES: [&str; 4] = ["x86_64", "aarch64", "source", ""];
const BAD_ESCAPES: [&str; 12] = [
    "%",
    "%z",
    "%zz",
    "%f",
    "%ff",
    "%00",
    "%C3%28",
    "%E2%82",
    "%%",
    "%2",
    "%FF%FE%FD",
    "%0d%0a",
];

/// A few bytes that are not allowed, or not UTF-8, in a header.
fn nasty_bytes(rng: &mut SmallRng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| match rng.random_range(0..4) {
            0 => rng.random_range(0u8..0x20),
            1 => rng.random_range(0x80u8..=0xff),
            2 => 0x7f,
            _ => rng.random_range(b'a'..=b'z'),
        })
        .collect()
}

fn case(kind: Kind, rng: &mut SmallRng, index: usize) -> Case {
    let plain = |bytes| Case {
        kind,
        bytes,
        half_close: true,
    };
    match kind {
        Kind::Method => {
            let long = "A".repeat(rng.random_range(100..20_000));
            let methods: [&[u8]; 14] = [
                b"FOO",
                b"G\0T",
                b"GET\x7f",
                b"get",
                b"",
                b"GE T",
                b"\xff\xfe",
                b"CONNECT",
                b"OPTIONS",
                b"DELETE",
                b"TRACE",
                b"HEAD",
                b"PRI",
                long.as_bytes(),
            ];
            let mut bytes = pick(rng, &methods).to_vec();
            bytes.extend_from_slice(
                b" /mirrorlist?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nHost: h\r\n\r\n",
            );
            if rng.random_bool(0.2) {
                bytes = b"POST /metalink?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello".to_vec();
            }
            plain(bytes)
        }
        Kind::Version => {
            let versions: [&[u8]; 12] = [
                b"HTTP/1.2",
                b"HTTP/2.0",
                b"HTTP/0.9",
                b"HTTP/9.9",
                b"HTTP/1.1x",
                b"HTTP/",
                b"",
                b"http/1.1",
                b"HTTP/1.1 extra",
                b"HTTP/1.10",
                b"HTTP/\xff.1",
                b"HTTP/1.1\0",
            ];
            let mut bytes = b"GET /mirrorlist?repo=fedora-42&arch=x86_64 ".to_vec();
            bytes.extend_from_slice(pick(rng, &versions));
            bytes.extend_from_slice(b"\r\nHost: h\r\n\r\n");
            if rng.random_bool(0.1) {
                bytes = b"GET /mirrorlist?repo=fedora-42&arch=x86_64\r\n\r\n".to_vec();
                // HTTP/0.9
            }
            plain(bytes)
        }
        Kind::HeaderBytes => {
            let mut bytes =
                b"GET /mirrorlist?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nHost: h\r\n".to_vec();
            for _ in 0..rng.random_range(1..6) {
                let n = rng.random_range(1..40);
                match rng.random_range(0..6) {
                    0 => {
                        bytes.extend(nasty_bytes(rng, n));
                        bytes.extend_from_slice(b": v\r\n");
                    }
                    1 => {
                        bytes.extend_from_slice(b"X-Forwarded-For: ");
                        bytes.extend(nasty_bytes(rng, n));
                        bytes.extend_from_slice(b"\r\n");
                    }
                    2 => bytes.extend_from_slice(
                        b"X-Forwarded-For: \xc3\xa9t\xc3\xa9, \xff\xfe, 198.51.100.70\r\n",
                    ),
                    3 => bytes.extend_from_slice(b"X-Folded: a\r\n continued\r\n"),
                    4 => {
                        bytes.extend_from_slice(b"Host: ");
                        bytes.extend(nasty_bytes(rng, n));
                        bytes.extend_from_slice(b"\r\n");
                    }
                    _ => bytes.extend_from_slice(b"NoColonHere\r\n"),
                }
            }
            bytes.extend_from_slice(b"\r\n");
            plain(bytes)
        }
        Kind::HugeUrl => {
            // Every 50th is a full megabyte; the others between 5 and 100 KB.
            let len = if index % 50 == 3 {
                1 << 20
            } else {
                rng.random_range(5_000..100_000)
            };
            let filler = "a".repeat(len);
            let target = match rng.random_range(0..3) {
                0 => format!("/{filler}/mirrorlist"),
                1 => format!("/mirrorlist?repo=fedora-42&arch=x86_64&path={filler}"),
                _ => format!("/metalink?x={filler}"),
            };
            plain(get(target.as_bytes()))
        }
        Kind::ManyParams => {
            let n = if rng.random_bool(0.5) {
                10_000
            } else {
                rng.random_range(100..10_000)
            };
            let piece = pick(
                rng,
                &[
                    "a=1&",
                    "repo=fedora-42&",
                    "&",
                    "arch=x&country=DE&",
                    "ip=1.2.3.4&",
                ],
            );
            let q = format!("{}repo=fedora-42&arch=x86_64", piece.repeat(n));
            plain(query(&q))
        }
        Kind::Conflicting => {
            let mut parts = Vec::new();
            for _ in 0..rng.random_range(2..12) {
                let part = match rng.random_range(0..9) {
                    0 => format!("repo={}", pick(rng, &REPOS)),
                    1 => format!("arch={}", pick(rng, &ARCHES)),
                    2 => "path=pub/fedora/linux/releases/42/Everything/x86_64/os".to_string(),
                    3 => format!("country={}", pick(rng, &["DE", "us", "global", "XX", ""])),
                    4 => format!("netblock={}", pick(rng, &["0", "1", "yes", ""])),
                    5 => "redirect=1".to_string(),
                    6 => format!(
                        "protocol={}",
                        pick(rng, &["https", "http,ftp", "rsync", ""])
                    ),
                    7 => format!("ip={}", pick(rng, &["198.51.100.70", "::1", "nope", ""])),
                    _ => "time".to_string(),
                };
                parts.push(part);
            }
            let endpoint = pick(rng, &["mirrorlist", "metalink", "a/b/mirrorlist"]);
            plain(get(format!("/{endpoint}?{}", parts.join("&")).as_bytes()))
        }
        Kind::Percent => {
            let mut q = String::new();
            for key in ["repo", "arch", "path", "country", "ip", "protocol"] {
                if rng.random_bool(0.6) {
                    q.push_str(key);
                    q.push('=');
                    for _ in 0..rng.random_range(1..5) {
                        q.push_str(pick(rng, &BAD_ESCAPES));
                        q.push_str(pick(rng, &["", "fedora", "-42", "x86_64", "/"]));
                    }
                    q.push('&');
                }
            }
            plain(query(&q))
        }
        Kind::CountryList => {
            let n = rng.random_range(1..3_000);
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                let c = match rng.random_range(0..5) {
                    0 => {
                        let a = rng.random_range(b'A'..=b'Z') as char;
                        let b = rng.random_range(b'A'..=b'Z') as char;
                        format!("{a}{b}")
                    }
                    1 => "global".to_string(),
                    2 => String::new(),
                    3 => "%C3%A9%zz".to_string(),
                    _ => "de".to_string(),
                };
                list.push(c);
            }
            plain(query(&format!(
                "repo=fedora-42&arch=x86_64&country={}",
                list.join(",")
            )))
        }
        Kind::ProtocolList => {
            let n = rng.random_range(1..2_000);
            let list: Vec<&str> = (0..n)
                .map(|_| {
                    pick(
                        rng,
                        &[
                            "https", "http", "ftp", "rsync", "", "HTTPS", "%00", "gopher",
                        ],
                    )
                })
                .collect();
            let endpoint = pick(rng, &["mirrorlist", "metalink"]);
            plain(get(format!(
                "/{endpoint}?repo=fedora-42&arch=x86_64&protocol={}",
                list.join(",")
            )
            .as_bytes()))
        }
        Kind::Truncated => {
            let full = query("repo=fedora-42&arch=x86_64&country=DE");
            let cut = rng.random_range(0..full.len());
            Case {
                kind,
                bytes: full[..cut].to_vec(),
                half_close: true,
            }
        }
        Kind::Pipelined => {
            let mut bytes = Vec::new();
            for _ in 0..rng.random_range(1..20) {
                if rng.random_bool(0.7) {
                    bytes.extend(query("repo=fedora-42&arch=x86_64"));
                } else {
                    let n = rng.random_range(1..200);
                    bytes.extend((0..n).map(|_| rng.random::<u8>()));
                }
            }
            plain(bytes)
        }
        Kind::RandomBytes => {
            let n = rng.random_range(1..4_000);
            plain((0..n).map(|_| rng.random::<u8>()).collect())
        }
        Kind::Http2Garbage => {
            let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            if rng.random_bool(0.5) {
                // An empty SETTINGS frame, then garbage frames.
                bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            }
            let n = rng.random_range(0..3_000);
            bytes.extend((0..n).map(|_| rng.random::<u8>()));
            plain(bytes)
        }
        Kind::Framing => {
            let heads: [&[u8]; 7] = [
                b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"Content-Length: -1\r\n\r\n",
                b"Content-Length: 99999999999999999999\r\n\r\nabc",
                b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nab",
                b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n",
            ];
            let mut bytes =
                b"POST /mirrorlist?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nHost: h\r\n".to_vec();
            bytes.extend_from_slice(pick(rng, &heads));
            plain(bytes)
        }
    }
}

/// Statuses the server may send to a hostile request: its own answers (200, 302, 400, 404),
/// the limits' refusals (414, 431), and hyper's replies to broken HTTP (400, 404 for paths
/// that are not ours, 505 for versions it does not speak).
fn allowed(status: u16) -> bool {
    matches!(status, 200 | 302 | 400 | 404 | 414 | 431 | 505)
}

#[derive(Default)]
struct Tally {
    outcomes: std::collections::BTreeMap<String, usize>,
    timeouts: Vec<Kind>,
    bad: Vec<String>,
}

/// Sends `count` hostile requests (kinds in turn, bytes from `seed`) with [`CLIENTS`] threads.
fn barrage(addr: SocketAddr, seed: u64, count: usize, kinds: &[Kind]) -> Tally {
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let mut rng =
                    SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let kind = kinds[i % kinds.len()];
                let c = case(kind, &mut rng, i);
                let (outcome, got) = exchange(addr, &c.bytes, c.half_close, PER_CONNECTION);
                let mut t = tally.lock().unwrap();
                let label = match &outcome {
                    Outcome::Status(s) => format!("{s}"),
                    other => format!("{other:?}"),
                };
                *t.outcomes
                    .entry(format!("{:?} {label}", c.kind))
                    .or_default() += 1;
                match outcome {
                    Outcome::Status(s) if !allowed(s) => t.bad.push(format!(
                        "case {i} ({:?}) got {s}: {}",
                        c.kind,
                        String::from_utf8_lossy(&got[..got.len().min(300)])
                    )),
                    Outcome::TimedOut => t.timeouts.push(c.kind),
                    _ => {}
                }
                // A pipelined batch that starts with a valid request must get it answered.
                if c.kind == Kind::Pipelined
                    && c.bytes.starts_with(b"GET /mirrorlist?repo=fedora-42")
                    && !got.starts_with(b"HTTP/1.1 200")
                {
                    t.bad.push(format!(
                        "case {i}: pipelined valid request not answered first: {:?}",
                        String::from_utf8_lossy(&got[..got.len().min(200)])
                    ));
                }
            });
        }
    });
    tally.into_inner().unwrap()
}

fn report(name: &str, tally: &Tally, count: usize, took: Duration) {
    eprintln!("{name}: {count} hostile requests in {took:.1?}");
    for (what, n) in &tally.outcomes {
        eprintln!("  {what:<24} {n}");
    }
    assert!(
        tally.bad.is_empty(),
        "{name}: unexpected answers:\n{}",
        tally.bad.join("\n")
    );
    // A timeout means the server held a half-closed connection for PER_CONNECTION without a
    // word; allow a handful on a loaded machine, never a pattern.
    assert!(
        tally.timeouts.len() <= count / 200,
        "{name}: {} connections timed out: {:?}",
        tally.timeouts.len(),
        tally.timeouts
    );
}

#[test]
fn ten_thousand_hostile_requests_leave_the_server_unharmed() {
    let mut server = Server::start(&sample_args());
    let pid = server.pid();
    let reference = server.get(NORMAL);
    assert_eq!(reference.status, 200, "{}", reference.text());

    // Warm-up: one round of every kind, so allocator pools and lazily built state settle
    // before the memory baseline is taken.
    let started = Instant::now();
    let warmup = barrage(server.addr(), 1, 1_000, &KINDS);
    report("warm-up", &warmup, 1_000, started.elapsed());
    let baseline = rss_kib(pid);

    let count = 10_500;
    let peak = std::sync::atomic::AtomicU64::new(baseline);
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();
    let tally = std::thread::scope(|scope| {
        // Sample RSS while the barrage runs: the peak is what an operator would see.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = try_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let tally = barrage(server.addr(), 0x5eed, count, &KINDS);
        done.store(true, Ordering::Relaxed);
        tally
    });
    let took = started.elapsed();
    report("barrage", &tally, count, took);

    // Alive, and right: the same answer as before on 20 fresh connections.
    assert_answers_normally(&mut server, &reference, 20, Duration::from_secs(2));
    assert_no_panic_logged(&server);
    // The 414s were logged (and before any parsing: the limit is in the connection layer).
    assert!(
        server.stderr().contains("query string too long"),
        "no 414 log line:\n{}",
        tail(&server.stderr(), 2000)
    );

    // Memory. Per connection the server buffers at most --max-header-bytes (64 KiB) of
    // request head plus one answer (a few KiB), and this client keeps at most CLIENTS
    // connections open at once (plus a few still closing), so what the barrage can hold at
    // any moment is under 2 MiB; the warm-up has already grown the allocator's per-thread
    // arenas to their working size (measured here: the peak stays within 1 MiB of the
    // baseline). The bound, baseline + 16 MiB, leaves room for a loaded machine's timing
    // and still catches anything that grows with the number of requests (a leak, an
    // unbounded queue or cache) from about 1.5 KiB per request: 10,500 requests.
    let after = rss_kib(pid);
    let peak = peak.load(Ordering::Relaxed);
    eprintln!("RSS: baseline {baseline} KiB, peak {peak} KiB, after {after} KiB");
    let bound = baseline + 16 * 1024;
    assert!(
        peak <= bound,
        "peak RSS {peak} KiB > bound {bound} KiB (baseline {baseline})"
    );
    assert!(after <= bound, "RSS after {after} KiB > bound {bound} KiB");
}

#[test]
fn without_the_size_limits_the_parser_still_copes() {
    // The same server with the query and head limits raised, so 10,000 parameters and
    // megabyte lists reach the query parser and the selection instead of a 414 or 431.
    let mut args = sample_args();
    args.extend(
        [
            "--max-query-bytes",
            "2000000",
            "--max-header-bytes",
            "4000000",
        ]
        .map(String::from),
    );
    let mut server = Server::start(&args);
    let reference = server.get(NORMAL);
    let kinds = [
        Kind::ManyParams,
        Kind::CountryList,
        Kind::ProtocolList,
        Kind::Percent,
        Kind::Conflicting,
        Kind::HugeUrl,
    ];
    let count = 1_200;
    let started = Instant::now();
    let tally = barrage(server.addr(), 0xb16, count, &kinds);
    report("no limits", &tally, count, started.elapsed());
    // Ten thousand parameters were parsed and answered, not refused.
    let parsed = tally
        .outcomes
        .iter()
        .filter(|(k, _)| k.starts_with("ManyParams 200"))
        .map(|(_, n)| *n)
        .sum::<usize>();
    assert!(
        parsed > 0,
        "no ManyParams request got through: {:?}",
        tally.outcomes
    );
    assert_answers_normally(&mut server, &reference, 5, Duration::from_secs(2));
    assert_no_panic_logged(&server);
}

#[test]
fn limits_answer_with_their_status() {
    let mut args = sample_args();
    args.extend(["--max-query-bytes", "100"].map(String::from));
    let server = Server::start(&args);
    // Query over the limit: 414, before anything parses it.
    let long = format!("{NORMAL}&country={}", "DE,".repeat(40));
    let (outcome, got) = exchange(server.addr(), &get(long.as_bytes()), true, PER_CONNECTION);
    assert_eq!(
        outcome,
        Outcome::Status(414),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(String::from_utf8_lossy(&got).ends_with("query string too long\n"));
    // At the limit: answered.
    let q = format!("repo=fedora-42&arch=x86_64&x={}", "y".repeat(100 - 29));
    assert_eq!(q.len(), 100);
    let (outcome, _) = exchange(server.addr(), &query(&q), true, PER_CONNECTION);
    assert_eq!(outcome, Outcome::Status(200));
    // A path that is not ours is still a 404, whatever its query.
    let (outcome, _) = exchange(
        server.addr(),
        &get(format!("/other?{}", "a".repeat(500)).as_bytes()),
        true,
        PER_CONNECTION,
    );
    assert_eq!(outcome, Outcome::Status(404));
    // A head over --max-header-bytes (64 KiB by default): 431.
    let mut big = b"GET /mirrorlist?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..2_000 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(40)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let (outcome, _) = exchange(server.addr(), &big, true, PER_CONNECTION);
    assert_eq!(outcome, Outcome::Status(431));
    // hyper answers what it cannot parse before the service sees it; such answers are still
    // logged and counted.
    let (outcome, _) = exchange(
        server.addr(),
        b"GET /mirrorlist?repo=fedora-42&arch=x86_64 HTTP/1.1\r\nno colon here\r\n\r\n",
        true,
        PER_CONNECTION,
    );
    assert_eq!(outcome, Outcome::Status(400));
    assert_refusal_logged(&server, 431, "message head is too large");
    assert_refusal_logged(&server, 400, "invalid HTTP header parsed");
    assert_eq!(
        server.metric(r#"mirrorlist_requests_total{endpoint="other",status="400"}"#),
        1
    );
    // The 431 is counted as an `other` status (the 414 above went to the mirrorlist endpoint).
    assert_eq!(
        server.metric(r#"mirrorlist_requests_total{endpoint="other",status="other"}"#),
        1
    );
    // A URI longer than hyper's 64 KiB limit on a server whose head limit allows it: 414.
    drop(server);
    let mut args = sample_args();
    args.extend(["--max-header-bytes", "1000000"].map(String::from));
    let server = Server::start(&args);
    let (outcome, _) = exchange(
        server.addr(),
        &get(format!("/mirrorlist?path={}", "p".repeat(70_000)).as_bytes()),
        true,
        PER_CONNECTION,
    );
    assert_eq!(outcome, Outcome::Status(414));
    assert_refusal_logged(&server, 414, "URI too long");
    assert!(!server.stderr().contains("panicked"));
}

/// Waits for the log line of a request hyper refused with `status` (it is written when the
/// connection's task ends, a moment after the client has read the answer).
#[track_caller]
fn assert_refusal_logged(server: &Server, status: u16, reason: &str) {
    let wanted = format!("status={status} error={reason}");
    let found = crate::support::wait::try_wait_for(Duration::from_secs(10), || {
        let log = server.stderr();
        log.lines()
            .any(|l| l.contains("unparsable request") && l.contains(&wanted))
            .then_some(())
    });
    assert!(
        found.is_some(),
        "no log line with {wanted:?}:\n{}",
        tail(&server.stderr(), 2000)
    );
}
