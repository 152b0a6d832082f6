//! The systemd side: `systemd-analyze verify` is clean on the units in `systemd/`, and the
//! server serves on a listening socket passed the way systemd passes it (socket activation).
//!
//! Both need Debian's `systemd` package (`systemd-analyze`, `systemd-socket-activate`), which
//! `.ci/run` installs; without it these tests fail and say what to install.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::support::{data_dir, free_port, get, without_mirrorlist_env, BIN, LIMIT};

/// Where the units run the server from (their `ExecStart=`).
const INSTALLED: &str = "/usr/bin/mirrorlist";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` is missing: apt-get install systemd (the CI script .ci/run does)"
    );
}

/// The unit files `systemd-analyze verify` is run on, as the shell would expand
/// `systemd/*.service systemd/*.socket systemd/*.path`.
fn unit_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("service" | "socket" | "path")
            )
        })
        .collect();
    files.sort();
    files
}

/// Makes `/usr/bin/mirrorlist` executable for `verify`, which checks that every `ExecStart=`
/// binary exists. An existing file is left alone; otherwise a symlink to the binary under
/// test is made (root only, as in CI) and left in place, so that concurrent test runs never
/// remove it from under each other. Returns false if that was not possible.
fn ensure_installed() -> bool {
    let target = Path::new(INSTALLED);
    if target.exists() {
        return true;
    }
    // A dangling symlink from an earlier run whose target directory is gone.
    if target.symlink_metadata().is_ok() {
        let _ = std::fs::remove_file(target);
    }
    match std::os::unix::fs::symlink(BIN, target) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => target.exists(),
        Err(_) => false,
    }
}

/// `systemd-analyze verify systemd/*.service systemd/*.socket systemd/*.path` prints
/// nothing and exits 0.
///
/// verify fails on an `ExecStart=` binary that does not exist, and the units name the
/// installed path, /usr/bin/mirrorlist. As root (CI), the test links the built binary there
/// and runs the command on the files in `systemd/` exactly. Without root, it runs verify on
/// copies of the units whose /usr/bin/mirrorlist is replaced by the built binary's path:
/// every other line is checked the same way.
#[test]
fn systemd_analyze_verify_is_clean() {
    require("systemd-analyze");
    let dir = repo().join("systemd");
    let (files, how) = if ensure_installed() {
        (unit_files(&dir), "the units in systemd/")
    } else {
        let copy = tempfile::tempdir().unwrap().keep();
        for file in unit_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(
                copy.join(file.file_name().unwrap()),
                text.replace(INSTALLED, BIN),
            )
            .unwrap();
        }
        (
            unit_files(&copy),
            "copies with ExecStart= pointing at the built binary",
        )
    };
    assert!(
        files.iter().any(|f| f.ends_with("mirrorlist.service"))
            && files.iter().any(|f| f.ends_with("mirrorlist.socket"))
            && files.iter().any(|f| f.ends_with("mirrorlist-build.path"))
            && files
                .iter()
                .any(|f| f.ends_with("mirrorlist-probe.service")),
        "{files:?}"
    );
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .current_dir(repo())
        .output()
        .expect("run systemd-analyze");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "systemd-analyze verify on {how}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// Socket activation: `systemd-socket-activate` binds the port, waits for the first
/// connection, and execs the server with the socket as descriptor 3 (`LISTEN_FDS=1`,
/// `LISTEN_PID`), exactly as a `.socket` unit does. The server must answer on that socket,
/// which it did not bind itself, and say so on stdout.
#[test]
fn serves_on_a_socket_passed_by_systemd() {
    require("systemd-socket-activate");
    // A free port for the activator (released just before it binds it again).
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &addr.to_string(), BIN, "serve", "--source"])
        .arg(data_dir())
        .args(["--port", "1", "--admin-listen", "none"]) // port 1: proves it is not used
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = without_mirrorlist_env(&mut cmd)
        .spawn()
        .expect("spawn systemd-socket-activate");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // The activator says when it listens (stderr); the server, once exec'd, on stdout.
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_line = |prefix: &str| -> String {
        loop {
            let line = rx
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    };
    wait_line(&format!("Listening on {addr}")); // the activator is listening
                                                // The first connection makes the activator exec the server; it waits in the queue.
    let r = get(addr, "/mirrorlist?repo=fedora-42&arch=x86_64");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        wait_line("Listening on http://"),
        format!("Listening on http://{addr}")
    );
    let r = get(addr, "/metalink?repo=fedora-42&arch=x86_64");
    assert_eq!(r.status, 200);
    drop(child);
}
