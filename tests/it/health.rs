//! `serve --health FILE` over HTTP: down and missing hosts left out of every answer, stale ones
//! last, over many answers (the shuffle must not hide an error); the minimum counted without
//! the hosts left out; revival without a restart; fail open for an expired file, a file that
//! condemns most hosts, and an answer that would be empty; a garbage file refused while the
//! previous health data keeps applying; a missing file at start a warning, then followed.
//!
//! The health files are written here in the probe's format (docs/health.md); the probe itself
//! is tested in `probe.rs`.

use std::path::Path;

use serde_json::json;

use crate::support::{data_dir, replace_atomically, tempdir, wait_for, Server, LIMIT};

/// Every host of the answer to the global list, in the sample (29 hosts carry fedora-42).
const GLOBAL: &str = "/mirrorlist?repo=fedora-42&arch=x86_64&country=global";
/// The three US hosts, in country-only mode: the answer is only these.
const US: &str = "/mirrorlist?repo=fedora-42&arch=x86_64&country=US";
const US_HOSTS: [&str; 3] = [
    "mirrors.us-east.example.org",
    "fedora.us-west.example.com",
    "mirror.us-central.example.net",
];

/// Answers asked for per rule: with 29 hosts shuffled by weight, a host that slipped through
/// would show up within a few dozen.
const ROUNDS: usize = 200;

/// The host name of each URL line of a mirrorlist, in order.
fn hosts_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let rest = l.split_once("://").map_or(l, |(_, r)| r);
            rest.split('/').next().unwrap_or(rest).to_string()
        })
        .collect()
}

/// A health file naming `hosts` with their states, generated now and valid for `valid_for`
/// seconds (negative: already expired).
fn health_file(hosts: &[(&str, &str)], valid_for: i64) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let entries: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|(name, state)| {
            (
                name.to_string(),
                json!({
                    "state": state,
                    "reason": format!("test says {state}"),
                    "since": (now - 60).min(now + valid_for - 400),
                    "checked_at": (now - 1).min(now + valid_for - 300),
                    "failures": 0,
                }),
            )
        })
        .collect();
    let doc = json!({
        "format": 1,
        // An expired file was written well before it expired.
        "generated_at": (now - 1).min(now + valid_for - 300),
        "valid_until": now + valid_for,
        "snapshot_generated_at": 1746835200,
        "source": "test",
        "round": 1,
        "hosts": entries,
    });
    serde_json::to_vec_pretty(&doc).unwrap()
}

fn serve_with(file: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--source".to_string(),
        data_dir().display().to_string(),
        "--health".to_string(),
        file.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::start(&args)
}

/// Waits until `check` holds for one answer to `target`.
fn wait_answer(server: &Server, target: &str, what: &str, check: impl Fn(&[String]) -> bool) {
    wait_for(what, LIMIT, || {
        let r = server.get(target);
        (r.status == 200 && check(&hosts_of(&r.text()))).then_some(())
    });
}

#[test]
fn down_and_missing_are_left_out_and_stale_is_last_in_every_answer() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    std::fs::write(
        &file,
        health_file(
            &[
                (US_HOSTS[0], "down"),
                (US_HOSTS[1], "missing"),
                ("mirror.de-hosting.example.com", "stale"),
                ("ftp.uni-a.example.org", "behind"),
                ("mirror.uk.example.org", "current"),
            ],
            600,
        ),
    )
    .unwrap();
    let server = serve_with(&file, &[]);
    let mut stale_seen = 0;
    for _ in 0..ROUNDS {
        let r = server.get(GLOBAL);
        assert_eq!(r.status, 200, "{}", r.text());
        let hosts = hosts_of(&r.text());
        assert!(hosts.len() >= 20, "{hosts:?}");
        for gone in &US_HOSTS[..2] {
            assert!(!hosts.iter().any(|h| h == gone), "{gone} listed: {hosts:?}");
        }
        // behind and current hosts are listed as usual
        assert!(
            hosts.iter().any(|h| h == "ftp.uni-a.example.org"),
            "{hosts:?}"
        );
        if let Some(at) = hosts
            .iter()
            .position(|h| h == "mirror.de-hosting.example.com")
        {
            stale_seen += 1;
            assert_eq!(at, hosts.len() - 1, "stale host not last: {hosts:?}");
        }
    }
    assert_eq!(stale_seen, ROUNDS, "the stale host is still listed, last");
    assert_eq!(server.metric("mirrorlist_health_applied"), 1);
    assert_eq!(server.metric("mirrorlist_health_hosts{state=\"down\"}"), 1);
    assert_eq!(
        server.metric("mirrorlist_health_hosts{state=\"missing\"}"),
        1
    );
    assert_eq!(server.metric("mirrorlist_health_hosts{state=\"stale\"}"), 1);
    assert_eq!(
        server.metric("mirrorlist_health_loads_total{result=\"ok\"}"),
        1
    );
}

/// A client in JP (192.0.2.121 in the sample) gets its country's two hosts and three of its
/// continent's: exactly the minimum of 5, so no global list. With one of them down, four are
/// left and the global list fills the answer.
#[test]
fn hosts_left_out_do_not_count_towards_the_minimum() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    let request = "/mirrorlist?repo=fedora-42&arch=x86_64&ip=192.0.2.121";
    let without = Server::start(&["--source", &data_dir().display().to_string()]);
    let base = hosts_of(&without.get(request).text());
    assert_eq!(base.len(), 5, "JP and its continent alone: {base:?}");
    let gone = "mirror.kr.example.net";
    assert!(base.iter().any(|h| h == gone), "{base:?}");
    std::fs::write(&file, health_file(&[(gone, "down")], 600)).unwrap();
    let server = serve_with(&file, &[]);
    for _ in 0..ROUNDS / 4 {
        let hosts = hosts_of(&server.get(request).text());
        assert!(!hosts.iter().any(|h| h == gone), "{hosts:?}");
        assert!(
            hosts.len() > 5,
            "the global list fills the answer: {hosts:?}"
        );
    }
}

#[test]
fn an_answer_that_would_be_empty_lists_its_hosts() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    let all_us: Vec<(&str, &str)> = US_HOSTS.iter().map(|h| (*h, "down")).collect();
    std::fs::write(&file, health_file(&all_us, 600)).unwrap();
    let server = serve_with(&file, &[]);
    // Three of 29 down is not "most": the data applies to other answers ...
    assert_eq!(server.metric("mirrorlist_health_applied"), 1);
    let global = hosts_of(&server.get(GLOBAL).text());
    assert!(
        !global.iter().any(|h| US_HOSTS.contains(&h.as_str())),
        "{global:?}"
    );
    // ... but the US-only answer would be empty, so it lists its hosts as without health.
    for _ in 0..ROUNDS / 4 {
        let mut hosts = hosts_of(&server.get(US).text());
        hosts.sort();
        let mut want: Vec<String> = US_HOSTS.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(hosts, want);
    }
    assert!(server.metric("mirrorlist_health_fail_open_answers_total") >= (ROUNDS / 4) as u64);
}

#[test]
fn a_host_revives_without_a_restart_and_a_garbage_file_is_refused() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    std::fs::write(&file, health_file(&[(US_HOSTS[0], "down")], 600)).unwrap();
    let server = serve_with(&file, &[]);
    let listed = |hosts: &[String]| hosts.iter().any(|h| h == US_HOSTS[0]);
    for _ in 0..ROUNDS / 4 {
        assert!(!listed(&hosts_of(&server.get(GLOBAL).text())));
    }

    // Garbage, then a truncated file: refused, the previous health data still applies, and
    // every answer is still a 200.
    let good = health_file(&[(US_HOSTS[0], "down")], 600);
    for (n, bad) in [
        b"{ this is not json".to_vec(),
        good[..good.len() / 2].to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        replace_atomically(&file, &bad);
        wait_for("the bad file to be refused", LIMIT, || {
            (server.metric("mirrorlist_health_loads_total{result=\"refused\"}") > n as u64)
                .then_some(())
        });
        for _ in 0..ROUNDS / 4 {
            let r = server.get(GLOBAL);
            assert_eq!(r.status, 200);
            assert!(
                !listed(&hosts_of(&r.text())),
                "previous health data dropped"
            );
        }
    }
    assert!(
        server.stderr().contains("health file refused"),
        "{}",
        server.stderr()
    );

    // The probe finds it back: listed again, without SIGHUP or restart.
    replace_atomically(&file, &health_file(&[(US_HOSTS[0], "current")], 600));
    wait_answer(&server, GLOBAL, "the host to come back", |h| listed(h));
    assert_eq!(server.metric("mirrorlist_health_hosts{state=\"down\"}"), 0);
}

#[test]
fn an_expired_file_or_one_condemning_most_hosts_is_not_applied() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    std::fs::write(&file, health_file(&[(US_HOSTS[0], "down")], -10)).unwrap();
    let server = serve_with(&file, &[]);
    assert_eq!(server.metric("mirrorlist_health_applied"), 0);
    assert!(server.metric("mirrorlist_health_not_applied_total") >= 1);
    wait_answer(&server, GLOBAL, "the host of an expired file", |h| {
        h.iter().any(|n| n == US_HOSTS[0])
    });

    // Every host down: the probe's own network is the likelier fault.
    let names = std::fs::read_to_string(data_dir().join("mirrors.toml")).unwrap();
    let all: Vec<&str> = names
        .split("[[host]]")
        .skip(1)
        .filter_map(|h| h.lines().find_map(|l| l.strip_prefix("name = \"")))
        .map(|n| n.trim_end_matches('"'))
        .collect();
    assert!(all.len() > 30, "{all:?}");
    let condemned: Vec<(&str, &str)> = all.iter().map(|n| (*n, "down")).collect();
    replace_atomically(&file, &health_file(&condemned, 600));
    wait_for("the new file to load", LIMIT, || {
        (server.metric("mirrorlist_health_loads_total{result=\"ok\"}") >= 2).then_some(())
    });
    assert_eq!(server.metric("mirrorlist_health_applied"), 0);
    let hosts = hosts_of(&server.get(GLOBAL).text());
    assert!(hosts.len() >= 20, "answers as without health: {hosts:?}");
    assert!(
        server.stderr().contains("not applied"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_missing_file_at_start_is_a_warning_and_is_followed() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    let server = serve_with(&file, &[]);
    assert_eq!(server.get(GLOBAL).status, 200);
    assert_eq!(server.metric("mirrorlist_health_applied"), 0);
    assert!(
        server.stderr().contains("no health file yet"),
        "{}",
        server.stderr()
    );
    replace_atomically(&file, &health_file(&[(US_HOSTS[0], "missing")], 600));
    wait_for("the new file to apply", LIMIT, || {
        (server.metric("mirrorlist_health_applied") == 1).then_some(())
    });
    for _ in 0..ROUNDS / 4 {
        assert!(!hosts_of(&server.get(GLOBAL).text()).contains(&US_HOSTS[0].to_string()));
    }
}

/// `query --health` shows each listed host's state and reason; `inspect --health` every host's,
/// and whether the file applies.
#[test]
fn query_and_inspect_show_each_hosts_state_and_reason() {
    let dir = tempdir();
    let file = dir.path().join("health.json");
    std::fs::write(
        &file,
        health_file(&[(US_HOSTS[0], "stale"), (US_HOSTS[1], "down")], 600),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::support::BIN)
            .args(args)
            .output()
            .expect("run mirrorlist");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let source = data_dir().display().to_string();
    let health = file.display().to_string();
    let out = run(&["query", US, "--source", &source, "--health", &health]);
    assert!(
        out.lines()
            .any(|l| l.contains(US_HOSTS[0]) && l.contains("(stale: test says stale)")),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("http") && l.contains(US_HOSTS[1])),
        "{out}"
    );

    let bundle = dir.path().join("b.bundle");
    let bundle_arg = bundle.display().to_string();
    run(&["build", "--source", &source, "-o", &bundle_arg]);
    let out = run(&["inspect", &bundle_arg, "--health", &health]);
    assert!(out.contains("applied:         yes"), "{out}");
    assert!(
        out.contains(&format!("  {}: down (test says down)", US_HOSTS[1])),
        "{out}"
    );
    assert!(out.contains("  mirror.uk.example.org: not probed"), "{out}");
}
