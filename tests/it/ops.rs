//! Operating the real binary over loopback: `/metrics` (Prometheus text that moves with
//! traffic and reloads), `/healthz` and `/readyz` (503 until the first snapshot), SIGTERM
//! under load (nothing in flight lost, exit 0), SIGUSR1 (statistics log reopened), systemd
//! notifications over `NOTIFY_SOCKET`, and `--config`.
//!
//! Nothing here sleeps to wait for the server: every wait polls for the observable state with
//! a generous upper bound, so a loaded 2-core machine is slower, not flaky.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{
    data_copy, data_dir, free_port, get, parse_response, send_signal, wait_for,
    without_mirrorlist_env, Response, Server, BIN, LIMIT, METALINK, MIRRORLIST,
};

/// Waits (polling) for the child to exit and returns its status.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    wait_for("the server to exit", LIMIT, || child.try_wait().unwrap())
}

// ---------------------------------------------------------------------------------------
// Prometheus text format

/// One scrape: `name{labels}` (labels as written) -> value, after checking every line.
#[derive(Debug)]
struct Scrape {
    samples: BTreeMap<String, f64>,
    text: String,
}

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in\n{}", self.text))
    }

    /// Sum of every series of metric `name` (any labels).
    fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(k, _)| k.split('{').next() == Some(name))
            .map(|(_, v)| v)
            .sum()
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: `# HELP name text`,
/// `# TYPE name type`, and samples `name{label="value",...} value`, each sample belonging
/// to a family declared by a TYPE line before it.
fn parse_prometheus(text: &str) -> Scrape {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().unwrap_or("");
                    assert!(is_metric_name(name), "bad HELP line {line:?}");
                }
                Some("TYPE") => {
                    let name = parts.next().unwrap_or("");
                    let kind = parts.next().unwrap_or("");
                    assert!(is_metric_name(name), "bad TYPE line {line:?}");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "bad type in {line:?}"
                    );
                    assert!(
                        types.insert(name.to_string(), kind.to_string()).is_none(),
                        "family {name} declared twice"
                    );
                }
                _ => {} // other comments are allowed
            }
            continue;
        }
        // name
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let name = &line[..name_end];
        assert!(is_metric_name(name), "bad metric name in {line:?}");
        let mut rest = &line[name_end..];
        let mut labels = String::new();
        if rest.starts_with('{') {
            // label="value" pairs; values may hold \" \\ \n escapes and commas.
            let bytes = rest.as_bytes();
            let mut i = 1;
            loop {
                if bytes[i] == b'}' {
                    break;
                }
                let eq = rest[i..].find('=').map(|p| p + i).expect("label =");
                assert!(
                    is_metric_name(&rest[i..eq]) && !rest[i..eq].contains(':'),
                    "bad label name in {line:?}"
                );
                assert_eq!(bytes[eq + 1], b'"', "unquoted label value in {line:?}");
                let mut j = eq + 2;
                while bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        assert!(
                            matches!(bytes[j + 1], b'"' | b'\\' | b'n'),
                            "bad escape in {line:?}"
                        );
                        j += 1;
                    }
                    j += 1;
                }
                i = j + 1;
                match bytes[i] {
                    b',' => i += 1,
                    b'}' => {}
                    _ => panic!("bad label list in {line:?}"),
                }
            }
            labels = rest[..=i].to_string();
            rest = &rest[i + 1..];
        }
        let mut fields = rest
            .strip_prefix(' ')
            .expect("space before the value")
            .split(' ');
        let value = fields.next().unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .unwrap_or_else(|_| panic!("bad timestamp in {line:?}"));
        }
        assert!(fields.next().is_none(), "trailing fields in {line:?}");
        // The family: the name itself, or a histogram's/summary's _bucket/_sum/_count.
        let family = types.get(name).map(|_| name).or_else(|| {
            ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                matches!(
                    types.get(base).map(String::as_str),
                    Some("histogram" | "summary")
                )
                .then_some(base)
            })
        });
        assert!(family.is_some(), "sample {name} has no TYPE line before it");
        assert!(
            samples.insert(format!("{name}{labels}"), value).is_none(),
            "duplicate series in {line:?}"
        );
    }
    assert!(!samples.is_empty(), "no samples in\n{text}");
    Scrape {
        samples,
        text: text.to_string(),
    }
}

fn scrape(admin: SocketAddr) -> Scrape {
    let r = get(admin, "/metrics");
    assert_eq!(r.status, 200);
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with("text/plain; version=0.0.4"),
        "content-type {ct:?}"
    );
    parse_prometheus(&r.text())
}

#[test]
fn parser_rejects_what_prometheus_would() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v,\\\"}\"} 1\n";
    assert_eq!(parse_prometheus(ok).get("a_total{k=\"v,\\\"}\"}"), 1.0);
    for bad in [
        "a 1\n",                      // no TYPE
        "# TYPE a gauge\na{k=v} 1\n", // unquoted
        "# TYPE a gauge\na one\n",    // not a number
        "# TYPE a gauge\n1a 1\n",     // bad name
        "# TYPE a gauge\na 1\na 2\n", // duplicate series
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_prometheus(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------

/// `/metrics` parses, and its counters move by exactly the traffic sent; `/healthz` and
/// `/readyz` answer; reload counters move on SIGHUP, failures included.
#[test]
fn metrics_parse_and_move_with_traffic() {
    let dir = data_copy();
    let log = dir.path().join("stats.log");
    let source = dir.path().display().to_string();
    // A separate admin listener, so the scrapes' own connections are not among the public
    // listener's open connections counted below.
    let server = Server::start(&[
        "--source",
        &source,
        "-l",
        log.to_str().unwrap(),
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let admin = server
        .admin_listener()
        .expect("--admin-listen printed its address");
    assert_ne!(admin, server.addr());

    assert_eq!(get(admin, "/healthz").status, 200);
    assert_eq!(get(admin, "/readyz").status, 200);
    assert_eq!(get(admin, "/nothing").status, 404);

    let before = scrape(admin);
    assert_eq!(before.get("mirrorlist_ready"), 1.0);
    assert_eq!(before.get("mirrorlist_snapshot_sequence"), 1.0);
    assert!(before.get("mirrorlist_snapshot_generated_timestamp_seconds") > 1.0e9);
    assert!(before.get("mirrorlist_snapshot_age_seconds") > 0.0);
    assert_eq!(before.get("mirrorlist_reloads_total{result=\"ok\"}"), 1.0);
    assert_eq!(
        before.get("mirrorlist_reloads_total{result=\"failed\"}"),
        0.0
    );
    assert!(before.get("mirrorlist_reload_last_success_timestamp_seconds") > 1.0e9);
    assert_eq!(
        before.get("mirrorlist_reload_last_failure_timestamp_seconds"),
        0.0
    );

    for _ in 0..5 {
        assert_eq!(server.get(MIRRORLIST).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(server.get(METALINK).status, 200);
    }
    for _ in 0..2 {
        assert_eq!(server.get("/nothing/here").status, 404);
    }
    // An unknown repo: MirrorManager's refusal, a 404 on the mirrorlist endpoint.
    assert_eq!(server.get("/mirrorlist?repo=nope&arch=x86_64").status, 404);

    let after = scrape(admin);
    let delta = |series: &str| after.get(series) - before.get(series);
    assert_eq!(
        delta("mirrorlist_requests_total{endpoint=\"mirrorlist\",status=\"200\"}"),
        5.0
    );
    assert_eq!(
        delta("mirrorlist_requests_total{endpoint=\"mirrorlist\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        delta("mirrorlist_requests_total{endpoint=\"metalink\",status=\"200\"}"),
        3.0
    );
    assert_eq!(
        delta("mirrorlist_requests_total{endpoint=\"other\",status=\"404\"}"),
        2.0
    );
    assert_eq!(
        after.sum("mirrorlist_first_group_total") - before.sum("mirrorlist_first_group_total"),
        8.0,
        "the 8 answers with mirrors each have a first group"
    );
    assert_eq!(delta("mirrorlist_request_duration_seconds_count"), 11.0);
    assert_eq!(
        delta("mirrorlist_request_duration_seconds_bucket{le=\"+Inf\"}"),
        11.0
    );
    assert!(delta("mirrorlist_request_duration_seconds_sum") > 0.0);

    // Open connections: a held connection shows up.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    wait_for("3 open connections", LIMIT, || {
        (scrape(admin).get("mirrorlist_open_connections") >= 3.0).then_some(())
    });
    drop(held);
    wait_for("connections to close", LIMIT, || {
        (scrape(admin).get("mirrorlist_open_connections") == 0.0).then_some(())
    });

    // Statistics-log lines: one per answer with a repo (the written count is the writer's).
    wait_for("statistics-log lines written", LIMIT, || {
        (scrape(admin).get("mirrorlist_stats_log_lines_written_total") >= 8.0).then_some(())
    });
    assert_eq!(after.get("mirrorlist_stats_log_lines_dropped_total"), 0.0);

    // Reloads: one that works, then one that fails.
    send_signal(server.pid(), libc::SIGHUP);
    wait_for("a second install", LIMIT, || {
        let s = scrape(admin);
        (s.get("mirrorlist_reloads_total{result=\"ok\"}") == 2.0
            && s.get("mirrorlist_snapshot_sequence") == 2.0)
            .then_some(())
    });
    std::fs::write(dir.path().join("mirrors.toml"), "this is = = not toml\n").unwrap();
    send_signal(server.pid(), libc::SIGHUP);
    let failed = wait_for("a failed reload", LIMIT, || {
        let s = scrape(admin);
        (s.get("mirrorlist_reloads_total{result=\"failed\"}") == 1.0).then_some(s)
    });
    assert!(failed.get("mirrorlist_reload_last_failure_timestamp_seconds") > 1.0e9);
    assert_eq!(
        failed.get("mirrorlist_snapshot_sequence"),
        2.0,
        "still serving"
    );
    assert_eq!(
        get(admin, "/readyz").status,
        200,
        "a failed reload keeps ready"
    );
}

/// `/readyz` is 503 until the first snapshot is installed, then 200.
///
/// Deterministic without timing: the source directory's `mirrors.toml` is a named pipe, so
/// the first load blocks in `open` until the test writes the file into it. While it blocks,
/// the admin listener (started before the load) must already answer; a failed first load
/// would exit instead, so "not loaded yet" has to be a load that has not finished.
#[test]
fn readyz_is_503_until_the_first_snapshot() {
    let dir = data_copy();
    let fifo = dir.path().join("mirrors.toml");
    std::fs::remove_file(&fifo).unwrap();
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());

    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--source"]).arg(dir.path()).args([
        "--port",
        "0",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let mut child = Spawned::new(cmd);
    let admin: SocketAddr = child
        .wait_line("Admin on http://")
        .parse()
        .expect("admin address");

    // The load is blocked on the pipe: not ready, but alive, and the metrics say so.
    let r = get(admin, "/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("no snapshot"), "{}", r.text());
    assert_eq!(get(admin, "/healthz").status, 200);
    assert_eq!(scrape(admin).get("mirrorlist_ready"), 0.0);
    assert!(!child.has_line("Listening on"));

    // Feed the pipe (the open blocks until the server opens its end, which it is doing).
    let (tx, rx) = mpsc::channel();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let text = std::fs::read(data_dir().join("mirrors.toml")).unwrap();
            let result = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .and_then(|mut f| f.write_all(&text));
            let _ = tx.send(result.map_err(|e| e.to_string()));
        })
    };
    rx.recv_timeout(LIMIT)
        .expect("the server opened the pipe")
        .expect("wrote mirrors.toml into the pipe");
    writer.join().unwrap();

    wait_for("/readyz to turn 200", LIMIT, || {
        (get(admin, "/readyz").status == 200).then_some(())
    });
    assert_eq!(scrape(admin).get("mirrorlist_ready"), 1.0);
    let public: SocketAddr = child.wait_line("Listening on http://").parse().unwrap();
    assert_eq!(get(public, MIRRORLIST).status, 200);

    send_signal(child.pid(), libc::SIGTERM);
    assert!(wait_exit(&mut child.child).success());
}

/// SIGTERM under load: every request fully sent before the signal gets a complete answer,
/// requests that were still arriving when the server stopped accepting are answered too, and
/// the process exits 0.
#[test]
fn sigterm_under_load_loses_no_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stats.log");
    let mut server = Server::start(&[
        "--source",
        data_dir().to_str().unwrap(),
        "--drain-timeout",
        "60",
        "--header-read-timeout",
        "60",
        "-l",
        log.to_str().unwrap(),
    ]);
    let addr = server.addr();

    #[derive(Debug)]
    struct Outcome {
        /// When the whole request had been written (None: the write failed).
        sent: Option<Instant>,
        /// Ok: a complete 200 answer; Err: what went wrong, and whether any byte came back.
        result: Result<(), (String, bool)>,
        fresh: bool,
    }
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let stop = Arc::new(AtomicBool::new(false));

    // Reads one response on `stream`: Ok if complete (status 200, the whole body).
    fn read_answer(reader: &mut BufReader<TcpStream>) -> Result<(), (String, bool)> {
        let mut head = String::new();
        let mut got_bytes = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return Err(("EOF in the head".into(), got_bytes)),
                Ok(_) => got_bytes = true,
                Err(e) => return Err((e.to_string(), got_bytes)),
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        if !head.starts_with("HTTP/1.1 200 ") {
            return Err((format!("status: {head}"), true));
        }
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| ("no content-length".to_string(), true))?;
        let mut body = vec![0; len];
        reader
            .read_exact(&mut body)
            .map_err(|e| (format!("body cut short: {e}"), true))?;
        Ok(())
    }

    let request = format!("GET {MIRRORLIST} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut workers = Vec::new();
    // Fresh-connection clients: one request per connection (the strict case).
    for _ in 0..6 {
        let (outcomes, stop, request) = (outcomes.clone(), stop.clone(), request.clone());
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(stream) = TcpStream::connect(addr) else {
                    break; // the listener is closed
                };
                stream.set_read_timeout(Some(LIMIT)).unwrap();
                let sent = (&stream)
                    .write_all(request.as_bytes())
                    .ok()
                    .map(|()| Instant::now());
                let result = read_answer(&mut BufReader::new(stream));
                outcomes.lock().unwrap().push(Outcome {
                    sent,
                    result,
                    fresh: true,
                });
            }
        }));
    }
    // Keep-alive clients: many requests per connection.
    for _ in 0..2 {
        let (outcomes, stop, request) = (outcomes.clone(), stop.clone(), request.clone());
        workers.push(std::thread::spawn(move || {
            'conn: while !stop.load(Ordering::Relaxed) {
                let Ok(stream) = TcpStream::connect(addr) else {
                    break;
                };
                stream.set_read_timeout(Some(LIMIT)).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while !stop.load(Ordering::Relaxed) {
                    let sent = (&stream)
                        .write_all(request.as_bytes())
                        .ok()
                        .map(|()| Instant::now());
                    let result = read_answer(&mut reader);
                    let failed = result.is_err();
                    outcomes.lock().unwrap().push(Outcome {
                        sent,
                        result,
                        fresh: false,
                    });
                    if failed {
                        continue 'conn;
                    }
                }
            }
        }));
    }

    // Requests caught half-sent: the head without its final CRLF.
    let partial: Vec<TcpStream> = (0..4)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(LIMIT)).unwrap();
            (&s).write_all(request.trim_end_matches("\r\n").as_bytes())
                .unwrap();
            (&s).write_all(b"\r\n").unwrap(); // end of the Host line; the blank line is missing
            s
        })
        .collect();

    wait_for("load to build up", LIMIT, || {
        (outcomes.lock().unwrap().len() >= 300).then_some(())
    });
    let signalled = Instant::now();
    send_signal(server.pid(), libc::SIGTERM);

    // Once the server has stopped accepting, finish the half-sent requests.
    wait_for("the listener to close", LIMIT, || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    for s in &partial {
        (&*s).write_all(b"\r\n").unwrap();
    }
    for s in partial {
        let mut bytes = Vec::new();
        (&s).read_to_end(&mut bytes).expect("read the answer");
        let r: Response = parse_response(&bytes, false);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("content-length")
                .map(|l| l.parse::<usize>().unwrap()),
            Some(r.body.len())
        );
        // read_to_end returned: the server closed the connection after the answer.
    }

    let status = wait_exit(server.child_mut());
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        server.stderr()
    );

    let outcomes = outcomes.lock().unwrap();
    let before: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.sent.is_some_and(|t| t < signalled))
        .collect();
    assert!(before.len() >= 300);
    for o in &before {
        match &o.result {
            Ok(()) => {}
            // A server may close an idle keep-alive connection at any time (RFC 9112,
            // section 9.6), and clients retry then; a request it had not started to read is
            // not in flight. What must never happen is an answer cut short.
            Err((_, false)) if !o.fresh => {}
            Err(e) => panic!(
                "a request sent before SIGTERM failed: {e:?} (fresh connection: {})",
                o.fresh
            ),
        }
    }
    for o in outcomes.iter() {
        if let Err((e, true)) = &o.result {
            panic!("an answer was cut short: {e}");
        }
    }
    // Every answer has its statistics-log line, the last ones included: the log is flushed
    // before the process exits. (+ the 4 half-sent requests.)
    let answered = outcomes.iter().filter(|o| o.result.is_ok()).count() + 4;
    let logged = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(logged, answered, "statistics-log lines vs answers");
    let fresh_ok = before
        .iter()
        .filter(|o| o.fresh && o.result.is_ok())
        .count();
    assert!(fresh_ok > 0);
}

/// SIGINT drains like SIGTERM (and `/readyz` turns 503); a second SIGINT exits at once (130)
/// without waiting for the drain, here held open by a half-sent request.
#[test]
fn second_sigint_exits_at_once() {
    let mut server = Server::start(&[
        "--source",
        data_dir().to_str().unwrap(),
        "--drain-timeout",
        "600",
        "--header-read-timeout",
        "600",
        // Without it the public port (closed while draining) is where /readyz would be.
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let addr = server.addr();
    let admin = server.admin_listener().expect("admin listener");
    let held = TcpStream::connect(addr).unwrap();
    (&held).write_all(b"GET /mirrorlist HTTP/1.1\r\n").unwrap();
    assert_eq!(server.get(MIRRORLIST).status, 200);
    send_signal(server.pid(), libc::SIGINT);
    wait_for("the listener to close", LIMIT, || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    assert!(
        server.child_mut().try_wait().unwrap().is_none(),
        "still draining"
    );
    // While draining, the admin listener still answers, and says not ready (load balancers
    // stop sending new clients).
    let r = get(admin, "/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(get(admin, "/healthz").status, 200);
    let signalled = Instant::now();
    send_signal(server.pid(), libc::SIGINT);
    let status = wait_exit(server.child_mut());
    assert_eq!(status.code(), Some(130), "{}", server.stderr());
    assert!(signalled.elapsed() < Duration::from_secs(60));
    drop(held);
}

/// SIGUSR1 reopens the statistics log: after logrotate-style renaming, the next line goes to
/// a new file at the original path and the renamed file keeps the old lines.
#[test]
fn sigusr1_reopens_the_statistics_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mirrorlist.log");
    let rotated = dir.path().join("mirrorlist.log.1");
    let server = Server::start(&[
        "--source",
        data_dir().to_str().unwrap(),
        "-l",
        log.to_str().unwrap(),
    ]);
    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    };

    assert_eq!(server.get(MIRRORLIST).status, 200);
    wait_for("the first line", LIMIT, || {
        (lines(&log).len() == 1).then_some(())
    });
    std::fs::rename(&log, &rotated).unwrap();

    // The writer creates the file again when it reopens; only then does the next line have
    // to go there (a line queued before the signal arrived may still reach the old file).
    send_signal(server.pid(), libc::SIGUSR1);
    wait_for("the reopened file", LIMIT, || log.exists().then_some(()));
    assert_eq!(
        server.get("/mirrorlist?repo=fedora-41&arch=aarch64").status,
        200
    );
    wait_for("the next line in the new file", LIMIT, || {
        (lines(&log).len() == 1).then_some(())
    });
    let old = lines(&rotated);
    let new = lines(&log);
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(old[0].contains("REPO: fedora-42; ARCH: x86_64"), "{old:?}");
    assert!(new[0].contains("REPO: fedora-41; ARCH: aarch64"), "{new:?}");
    assert!(new[0].starts_with("IP: 127.0.0.1;"), "{new:?}");
}

/// READY=1 after the first snapshot, RELOADING=1 with MONOTONIC_USEC then READY=1 around a
/// reload, STOPPING=1 on SIGTERM, over the datagram socket named by NOTIFY_SOCKET.
#[test]
fn notifies_systemd_ready_reloading_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let recv = || -> Vec<String> {
        let mut buf = vec![0u8; 4096];
        let n = sock
            .recv(&mut buf)
            .expect("a notification within the limit");
        String::from_utf8(buf[..n].to_vec())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };

    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--source"])
        .arg(data_dir())
        .args(["--port", "0", "--admin-listen", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path);
    let mut server = Server::spawn(cmd);

    let first = recv();
    assert!(first.contains(&"READY=1".to_string()), "{first:?}");
    assert_eq!(
        get(server.admin_addr(), "/readyz").status,
        200,
        "READY=1 comes after the snapshot is installed"
    );

    let mut last_usec = 0u64;
    for _ in 0..2 {
        send_signal(server.pid(), libc::SIGHUP);
        let reloading = recv();
        assert!(
            reloading.contains(&"RELOADING=1".to_string()),
            "{reloading:?}"
        );
        let usec: u64 = reloading
            .iter()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {reloading:?}"))
            .parse()
            .expect("MONOTONIC_USEC is a number");
        assert!(usec > last_usec, "MONOTONIC_USEC goes forward");
        last_usec = usec;
        let ready = recv();
        assert!(ready.contains(&"READY=1".to_string()), "{ready:?}");
    }

    send_signal(server.pid(), libc::SIGTERM);
    let stopping = recv();
    assert!(stopping.contains(&"STOPPING=1".to_string()), "{stopping:?}");
    assert!(wait_exit(server.child_mut()).success());
}

/// `--config`: the file fills in flags; the command line wins; an unknown key is an error
/// naming the file and the key.
#[test]
fn config_file_sets_flags_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirrorlist.toml");
    let log = dir.path().join("from-config.log");
    std::fs::write(
        &config,
        format!(
            "source = {:?}\nlog = {:?}\nminimum = 1\nport = 1\n",
            data_dir().display().to_string(),
            log.display().to_string()
        ),
    )
    .unwrap();
    // `--port 0` from Server::start beats `port = 1` from the file.
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(server.get(MIRRORLIST).status, 200);
    wait_for("a line in the log named by the file", LIMIT, || {
        std::fs::read_to_string(&log)
            .is_ok_and(|t| !t.is_empty())
            .then_some(())
    });
    drop(server);

    std::fs::write(&config, "port = 0\nno_such_flag = true\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(config.to_str().unwrap()) && err.contains("no_such_flag"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------

/// A child whose stdout is read line by line on a thread (for tests that must talk to the
/// server before it prints `Listening on`, which `support::Server` waits for).
struct Spawned {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    fn new(mut cmd: Command) -> Spawned {
        let mut child = without_mirrorlist_env(&mut cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mirrorlist");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Spawned { child, lines }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn has_line(&self, prefix: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with(prefix))
    }

    /// Waits for a stdout line starting with `prefix` and returns the rest of it.
    fn wait_line(&mut self, prefix: &str) -> String {
        let lines = self.lines.clone();
        let child = &mut self.child;
        wait_for(prefix, LIMIT, || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the server exited ({status}) before printing {prefix:?}");
            }
            lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_string()))
        })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Where the operator's endpoints are (issue 15, item 1)

/// The TCP ports `pid` listens on, read from /proc: its socket inodes matched against the
/// kernel's tables of listening sockets.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the server's descriptors")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address (hex ip:port), state 0A = LISTEN, inode in column 10.
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports.sort();
    ports
}

/// Two instances that differ only in `--port` both start with default flags, and each
/// listens on its own port and nothing else (no admin listener on 9100, node_exporter's port).
#[test]
fn two_instances_differing_only_in_port_both_start() {
    let source = data_dir().display().to_string();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--source", &source, "--port", &port.to_string()]);
        let server = Server::spawn(cmd);
        assert_eq!(server.addr().port(), port);
        assert_eq!(
            server.admin_listener(),
            None,
            "no admin listener by default"
        );
        assert_eq!(listening_ports(server.pid()), vec![port]);
        servers.push(server);
    }
    for server in &servers {
        assert_eq!(server.get(MIRRORLIST).status, 200);
        assert_eq!(get(server.addr(), "/readyz").status, 200);
        assert_eq!(get(server.addr(), "/healthz").status, 200);
        let m = get(server.addr(), "/metrics");
        assert_eq!(m.status, 200);
        assert!(m.text().contains("mirrorlist_ready 1"), "{}", m.text());
    }
}

/// Without `--admin-listen`, `/metrics` on the public port answers a local peer that asks
/// directly, and nobody whose request came through a proxy; with it, only the admin listener
/// has `/metrics`, and the public port keeps `/healthz` and `/readyz`.
#[test]
fn metrics_on_the_public_port_only_for_direct_local_peers() {
    let source = data_dir().display().to_string();
    let server = Server::start(&["--source", &source]);
    let direct = get(server.addr(), "/metrics");
    assert_eq!(direct.status, 200);
    let content_type = direct.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse_prometheus(&direct.text());
    for (header, value) in [
        ("X-Forwarded-For", "203.0.113.9"),
        ("Forwarded", "for=203.0.113.9"),
        ("X-Real-IP", "203.0.113.9"),
    ] {
        let proxied = server.request("GET", "/metrics", &[(header, value)]);
        assert_eq!(
            proxied.status, 404,
            "{header}: metrics leaked through a proxy"
        );
        assert!(!proxied.text().contains("mirrorlist_"), "{header}");
    }
    // Health checks answer proxies too (HAProxy's own check carries no client).
    let proxied = server.request("GET", "/readyz", &[("X-Forwarded-For", "203.0.113.9")]);
    assert_eq!(proxied.status, 200);

    let with_admin = Server::start(&["--source", &source, "--admin-listen", "127.0.0.1:0"]);
    let admin = with_admin.admin_listener().expect("admin listener");
    assert_eq!(get(admin, "/metrics").status, 200);
    assert_eq!(get(with_admin.addr(), "/metrics").status, 404);
    assert_eq!(get(with_admin.addr(), "/readyz").status, 200);
    assert_eq!(get(with_admin.addr(), "/healthz").status, 200);
    let mut ports = vec![with_admin.addr().port(), admin.port()];
    ports.sort();
    assert_eq!(listening_ports(with_admin.pid()), ports);
}

/// The repo and arch a client sends are decoded, and echoed into the statistics log: a `%0A`
/// or `;` must not forge a line or a field (`mirrorlist_statistics.py` splits by position).
#[test]
fn statistics_log_lines_cannot_be_forged_by_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stats.log");
    let server = Server::start(&[
        "--source",
        data_dir().to_str().unwrap(),
        "-l",
        log.to_str().unwrap(),
    ]);
    let path = "pub/fedora/linux/releases/42/Everything/x86_64/os";
    let forged = "evil%20x%0AIP:%201.2.3.4;%20DATE:%202000-01-01";
    let r = server.get(&format!(
        "/mirrorlist?path={path}&repo={forged}&arch=x86%3B64"
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let line = wait_for("the line", LIMIT, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.ends_with('\n').then_some(text)
    });
    assert_eq!(line.lines().count(), 1, "{line:?}");
    let fields: Vec<&str> = line.trim_end().split("; ").collect();
    assert_eq!(fields.len(), 5, "{line:?}");
    assert_eq!(
        fields[3],
        "REPO: evil%20x%0AIP:%201.2.3.4%3B%20DATE:%202000-01-01"
    );
    assert_eq!(fields[4], "ARCH: x86%3B64");
}
