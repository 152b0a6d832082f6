//! A drop-in server (MirrorManager's files) compiles each load into a temporary bundle in
//! `$TMPDIR` and maps it (decision 21): the file has no name, so loads leave nothing behind;
//! and a load that cannot write it fails like any bad input, naming the directory, while the
//! served snapshot keeps answering.

use std::path::Path;
use std::process::Command;

use crate::support::reload::{log_lines, wait_log};
use crate::support::{mm_small_args, send_signal, tempdir, wait_for, Server, BIN, LIMIT};

const F41: &str = "/mirrorlist?repo=fedora-41&arch=x86_64";

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn reloads(server: &Server, result: &str) -> u64 {
    server.metric(&format!("mirrorlist_reloads_total{{result=\"{result}\"}}"))
}

fn hup_and_wait(server: &Server, result: &str, count: u64) {
    send_signal(server.pid(), libc::SIGHUP);
    wait_for(&format!("{count} {result} reloads"), LIMIT, || {
        (reloads(server, result) == count).then_some(())
    });
}

#[test]
fn the_temporary_bundle_leaves_no_file_and_an_unwritable_tmpdir_keeps_the_snapshot() {
    let work = tempdir();
    let scratch = work.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args(mm_small_args())
        .args(["--port", "0"])
        .env("TMPDIR", &scratch);
    let server = Server::spawn(cmd);
    let first = server.get(F41);
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.text().contains("://"), "{}", first.text());
    assert_eq!(entries(&scratch), Vec::<String>::new(), "after start");

    hup_and_wait(&server, "ok", 2);
    assert_eq!(entries(&scratch), Vec::<String>::new(), "after a reload");

    // Nowhere to write: the load fails, says where, and the old snapshot answers on.
    std::fs::remove_dir(&scratch).unwrap();
    let skip = log_lines(&server).len();
    send_signal(server.pid(), libc::SIGHUP);
    let scratch_arg = scratch.display().to_string();
    wait_log(
        &server,
        skip,
        &[
            "reload failed; still serving the previous snapshot",
            &scratch_arg,
        ],
    );
    assert_eq!(reloads(&server, "failed"), 1);
    let after = server.get(F41);
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(after.sorted_lines(), first.sorted_lines());

    // And with the directory back, the next load installs.
    std::fs::create_dir(&scratch).unwrap();
    hup_and_wait(&server, "ok", 3);
    assert_eq!(
        entries(&scratch),
        Vec::<String>::new(),
        "after the last reload"
    );
}
