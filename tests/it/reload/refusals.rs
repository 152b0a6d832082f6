//! A reload never replaces a good snapshot with a bad input. Each bad input below is put in
//! place of the served bundle and a reload is triggered (SIGHUP, or the `--watch` event); each
//! must be refused with an error log line on stderr that names the file and the reason, and
//! the old generation must keep answering (same `X-Mirrorlist-Generation`, a body of the old
//! data). Afterwards a good newer bundle still installs, so refusals leave the reloader working.
//!
//! The corrupt bundles are made from a bundle *newer* than the one served, so nothing but the
//! corruption can be the reason for the refusal (an older bundle is refused for its age: that
//! is its own case).
//!
//! "Unreadable": the tests run as root, for whom `chmod 000` does not stop a read, so a
//! directory is put in the bundle's place (opening it works, reading it as a bundle cannot).
//! When not root, a `chmod 000` file is tried as well.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mirrorlist::snapshot::bundle::{self, FORMAT_VERSION, HEADER_LEN};
use mirrorlist::snapshot::model::{Directory, Host, Meta, RepoArch, SnapshotData};

use crate::support::reload::{
    bundle_bytes, count_messages, generation, log_lines, serve, wait_generation, wait_log, Hosts,
    SAMPLE_GENERATED_AT,
};
use crate::support::{arg, replace_atomically, send_signal, tempdir, Server, METALINK, MIRRORLIST};

const GEN_SERVED: u64 = SAMPLE_GENERATED_AT + 100;
const GEN_NEWER: u64 = SAMPLE_GENERATED_AT + 200;
const GEN_OLDER: u64 = SAMPLE_GENERATED_AT;

const FAILED: &str = "reload failed; still serving the previous snapshot";

/// A bundle whose archive is well formed but whose data is not: a directory lists host #5
/// when there is one host (`bad_host`), or a repo/arch points to directory #3 when there is
/// one. Only `snapshot/validate.rs` can refuse it.
fn inconsistent_bundle(path: &Path, bad_host: bool) {
    let mut data = SnapshotData {
        meta: Meta {
            generated_at: GEN_NEWER + 1,
            source_kind: "native".into(),
            ..Meta::default()
        },
        hosts: vec![Host {
            name: "one.example.org".into(),
            weight: 1,
            ..Host::default()
        }],
        directories: vec![Directory {
            name: "pub/fedora".into(),
            global: vec![if bad_host { 5 } else { 0 }],
            ..Directory::default()
        }],
        ..SnapshotData::default()
    };
    if !bad_host {
        data.repo_arch = vec![RepoArch {
            key: "fedora-42+x86_64".into(),
            directory: 3,
            repodata: None,
        }];
    }
    bundle::write(path, &data).expect("write the inconsistent bundle");
}

/// `bytes` with the header checksum recomputed for the (modified) body.
fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let hash = *blake3::hash(&bytes[HEADER_LEN..]).as_bytes();
    bytes[32..64].copy_from_slice(&hash);
    bytes
}

/// The old generation still answers: header unchanged and a body of the old data.
fn assert_still_served(server: &Server, served: (u64, u64), case: &str) {
    for target in [MIRRORLIST, METALINK] {
        let r = server.get(target);
        assert_eq!(r.status, 200, "{case}: {target}: {}", r.text());
        assert_eq!(generation(&r), Some(served), "{case}: {target}: generation");
        assert!(
            Hosts::Sample.matches(&r.text()),
            "{case}: {target}: body is not the old data:\n{}",
            r.text()
        );
    }
}

/// Triggers a reload by SIGHUP and waits for its failure line naming `path` and `reason`.
fn refused_on_hup(server: &Server, path: &Path, reason: &str) -> String {
    let skip = log_lines(server).len();
    send_signal(server.pid(), libc::SIGHUP);
    let (_, line) = wait_log(server, skip, &[FAILED, &arg(path), reason]);
    line
}

#[test]
fn bad_bundles_are_refused_and_the_old_generation_keeps_answering() {
    let work = tempdir();
    let served = bundle_bytes(work.path(), GEN_SERVED, Hosts::Sample);
    let newer = bundle_bytes(work.path(), GEN_NEWER, Hosts::Renamed);
    let older = bundle_bytes(work.path(), GEN_OLDER, Hosts::Renamed);
    let bad_data = work.path().join("inconsistent.bundle");
    inconsistent_bundle(&bad_data, true);
    let bad_host = std::fs::read(&bad_data).unwrap();
    inconsistent_bundle(&bad_data, false);
    let bad_dir = std::fs::read(&bad_data).unwrap();

    let live = work.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let path = live.join("current.bundle");
    std::fs::write(&path, &served).unwrap();
    let server = serve(&["--bundle", &arg(&path)]);
    let sequence = wait_generation(&server, GEN_SERVED, 0);
    let served_gen = (GEN_SERVED, sequence);
    assert_still_served(&server, served_gen, "start");

    let mut truncated = newer.clone();
    truncated.truncate(newer.len() / 2);
    let mut flipped = newer.clone();
    let i = HEADER_LEN + (newer.len() - HEADER_LEN) / 3;
    flipped[i] ^= 0x10;
    let mut magic = newer.clone();
    magic[0] ^= 0xFF;
    let mut version = newer.clone();
    version[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    // Checksum right, archive wrong: the root pointer at the end of the body points nowhere.
    let mut archive = newer.clone();
    let n = archive.len();
    archive[n - 16..].fill(0x7F);
    let archive = with_checksum(archive);
    let newer_version = format!("bundle format version {}", FORMAT_VERSION + 1);

    let cases: [(&str, &[u8], &str); 8] = [
        ("truncated", &truncated, "truncated or padded"),
        ("bit-flipped", &flipped, "checksum mismatch"),
        ("wrong magic", &magic, "bad magic"),
        ("newer format version", &version, &newer_version),
        (
            "archive invalid, checksum right",
            &archive,
            "archive does not validate",
        ),
        (
            "inconsistent: unknown host",
            &bad_host,
            "names host #5, but there are 1 hosts",
        ),
        (
            "inconsistent: unknown directory",
            &bad_dir,
            "points to a directory that does not exist",
        ),
        ("older generation", &older, "is older than the served data"),
    ];
    let mut refused = 0;
    for (case, bytes, reason) in cases {
        replace_atomically(&path, bytes);
        let line = refused_on_hup(&server, &path, reason);
        assert!(line.contains("\"level\":\"ERROR\""), "{case}: {line}");
        eprintln!("{case}: {line}");
        refused += 1;
        assert_still_served(&server, served_gen, case);
    }

    // Unreadable: a directory where the bundle should be.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    refused_on_hup(&server, &path, "a directory, not a bundle file");
    refused += 1;
    assert_still_served(&server, served_gen, "directory in place of the bundle");
    std::fs::remove_dir(&path).unwrap();

    // Missing.
    refused_on_hup(&server, &path, "No such file or directory");
    refused += 1;
    assert_still_served(&server, served_gen, "missing bundle");

    // Unreadable by permissions, where that means something (not as root).
    if unsafe { libc::geteuid() } != 0 {
        std::fs::write(&path, &newer).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        refused_on_hup(&server, &path, "Permission denied");
        refused += 1;
        assert_still_served(&server, served_gen, "chmod 000");
        std::fs::remove_file(&path).unwrap();
    }

    assert_eq!(count_messages(&server, 0, FAILED), refused);
    // Refusals changed nothing: a good newer bundle installs as the next sequence.
    replace_atomically(&path, &newer);
    send_signal(server.pid(), libc::SIGHUP);
    let next = wait_generation(&server, GEN_NEWER, sequence);
    assert_eq!(
        next,
        sequence + 1,
        "refused reloads must not use up sequence numbers"
    );
    let r = server.get(MIRRORLIST);
    assert!(Hosts::Renamed.matches(&r.text()), "{}", r.text());
}

#[test]
fn a_bundle_deleted_mid_watch_is_refused_then_reloaded_when_it_returns() {
    let work = tempdir();
    let served = bundle_bytes(work.path(), GEN_SERVED, Hosts::Sample);
    let newer = bundle_bytes(work.path(), GEN_NEWER, Hosts::Renamed);
    let live = work.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let path = live.join("current.bundle");
    std::fs::write(&path, &served).unwrap();
    let server = serve(&["--bundle", &arg(&path), "--watch"]);
    let sequence = wait_generation(&server, GEN_SERVED, 0);
    let served_gen = (GEN_SERVED, sequence);
    wait_log(&server, 0, &["watching the input files for changes"]);

    // Deleted: the watch sees it, the reload fails and says so, the old data stays.
    let skip = log_lines(&server).len();
    std::fs::remove_file(&path).unwrap();
    wait_log(
        &server,
        skip,
        &[FAILED, &arg(&path), "No such file or directory"],
    );
    assert_still_served(&server, served_gen, "deleted");

    // A half-written file appears (a copy, not a rename): refused too, perhaps more than once
    // while it grows; the old data stays.
    let skip = log_lines(&server).len();
    let mut truncated = newer.clone();
    truncated.truncate(newer.len() / 2);
    std::fs::write(&path, &truncated).unwrap();
    wait_log(&server, skip, &[FAILED, &arg(&path), "truncated or padded"]);
    assert_still_served(&server, served_gen, "truncated under --watch");

    // It comes back whole: the next event reloads it.
    replace_atomically(&path, &newer);
    wait_generation(&server, GEN_NEWER, sequence);
    let r = server.get(METALINK);
    assert_eq!(r.status, 200);
    assert!(Hosts::Renamed.matches(&r.text()), "{}", r.text());
}
