//! `mirrorlist inspect`: what a bundle holds, and what a running server serves and how its
//! reloads went, as an operator reads them.

use std::process::Command;

use crate::support::{mm_small, send_signal, try_wait_for, Server, BIN, LIMIT};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run mirrorlist");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn describes_a_bundle_and_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("mm.bundle");
    let (ok, _, err) = run(&[
        "build",
        "-o",
        bundle.to_str().unwrap(),
        "--mm-cache",
        mm_small("mirrorlist_cache.proto").to_str().unwrap(),
        "--global-netblocks",
        mm_small("global_netblocks.txt").to_str().unwrap(),
        "--cccsv",
        mm_small("country_continent.csv").to_str().unwrap(),
        "--geoip",
        mm_small("GeoIP2-Country-Test.mmdb").to_str().unwrap(),
    ]);
    assert!(ok, "build failed: {err}");
    let (ok, out, err) = run(&["inspect", bundle.to_str().unwrap()]);
    assert!(ok, "inspect failed: {err}");
    for expected in [
        "source kind:     mirrormanager",
        "generated at:    1795439232 (Mon, 23 Nov 2026 13:07:12 GMT)",
        "hosts:           14",
        "directories:     15",
        "repo/arch pairs: 7",
        "geo:             mmdb, 19468 bytes",
        "mirrorlist_cache.proto (11809 bytes, blake3:",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn reports_a_servers_generation_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("mirrorlist_cache.proto");
    std::fs::copy(mm_small("mirrorlist_cache.proto"), &cache).unwrap();
    let args = vec![
        "-c".to_string(),
        cache.display().to_string(),
        "-g".to_string(),
        mm_small("global_netblocks.txt").display().to_string(),
        "--cccsv".to_string(),
        mm_small("country_continent.csv").display().to_string(),
        "--geoip".to_string(),
        mm_small("GeoIP2-Country-Test.mmdb").display().to_string(),
    ];
    let server = Server::start(&args);
    let admin = server.admin_addr().to_string();

    let (ok, out, err) = run(&["inspect", "--server", &admin]);
    assert!(ok, "inspect --server failed: {err}");
    assert!(out.contains("ready:           yes"), "{out}");
    assert!(
        out.contains("serving:         generation 1795439232 "),
        "{out}"
    );
    assert!(out.contains("sequence 1"), "{out}");
    assert!(out.contains("reloads:         1 ok, 0 failed"), "{out}");
    assert!(out.contains("last failure:    never"), "{out}");

    // A broken cache arrives by reload: the failure shows, the old data stays.
    std::fs::write(&cache, b"not a protobuf cache").unwrap();
    send_signal(server.pid(), libc::SIGHUP);
    let inspect = || run(&["inspect", "--server", &admin]).1;
    // Past the limit, the last answer is checked below (and shows what it said instead).
    let out = try_wait_for(LIMIT, || {
        let out = inspect();
        out.contains("1 ok, 1 failed").then_some(out)
    })
    .unwrap_or_else(inspect);
    assert!(out.contains("reloads:         1 ok, 1 failed"), "{out}");
    assert!(!out.contains("last failure:    never"), "{out}");
    assert!(out.contains("sequence 1"), "{out}");
}

#[test]
fn says_why_when_the_server_does_not_answer() {
    let (ok, _, err) = run(&["inspect", "--server", "127.0.0.1:1"]);
    assert!(!ok);
    assert!(
        err.contains("cannot read http://127.0.0.1:1/metrics"),
        "{err}"
    );
}
