//! [`Server`]: the real `mirrorlist serve` as a child process on `127.0.0.1:<free port>`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{self, Response};
use super::BIN;

/// How long a server may take to print its address before the test gives up. Only an upper
/// bound: a healthy server answers in milliseconds and the wait ends as soon as it does.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// Removes the test environment's `MIRRORLIST_*` variables from `cmd`'s environment, so only
/// its arguments configure the server. (The test process's own environment is left alone.)
pub fn without_mirrorlist_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MIRRORLIST_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// A running `mirrorlist serve` child process. Killed (and reaped) when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Runs `mirrorlist serve <args> --port 0` and waits until it prints
    /// `Listening on http://ADDR`. With default flags nothing else listens (the public port
    /// answers `/metrics`, `/healthz` and `/readyz` to loopback peers, see
    /// [`Server::admin_addr`]). `MIRRORLIST_*` variables of the test environment are removed
    /// so only `args` configure it. Panics (showing the server's stderr) if the process exits
    /// or stays silent for [`STARTUP_LIMIT`].
    pub fn start<S: AsRef<str>>(args: &[S]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        cmd.args(args.iter().map(|a| a.as_ref()));
        cmd.args(["--port", "0"]);
        Server::spawn(cmd)
    }

    /// [`Server::start`] on the mm-small fixture, with `extra` flags appended (e.g. `["-m", "1"]`).
    pub fn mm_small<S: AsRef<str>>(extra: &[S]) -> Server {
        let mut args = super::fixtures::mm_small_args();
        args.extend(extra.iter().map(|a| a.as_ref().to_string()));
        Server::start(&args)
    }

    /// Spawns a prepared command (its `serve` arguments already set, including a port) and
    /// waits for its address; for tests that need their own flags before `serve`, limits or
    /// environment. Stdout is read to its end, stderr captured (see [`Server::stderr`]).
    pub fn spawn(mut cmd: Command) -> Server {
        without_mirrorlist_env(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn the mirrorlist binary");

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = {
            let sink = stderr.clone();
            let mut pipe = child.stderr.take().expect("stderr is piped");
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        // Stdout is read to its end on a thread, so the child never blocks on a full pipe;
        // the first `Listening on` line is handed over through the channel.
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stdout.take().expect("stdout is piped");
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                let mut admin = None;
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("Admin on http://") {
                        admin = Some(rest.trim().to_string());
                    }
                    if let Some(rest) = line.strip_prefix("Listening on http://") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send((rest.trim().to_string(), admin.clone()));
                        }
                    }
                }
            });
        }
        let (addr, admin) = match rx.recv_timeout(STARTUP_LIMIT) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let _ = stderr_reader.join();
                let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
                panic!("mirrorlist serve did not start (exit: {status:?}); stderr:\n{err}");
            }
        };
        let parse = |a: &str| -> SocketAddr {
            a.parse()
                .unwrap_or_else(|e| panic!("bad address {a:?} on stdout: {e}"))
        };
        Server {
            child,
            addr: parse(&addr),
            admin: admin.as_deref().map(parse),
            stderr,
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics`, `/healthz` and `/readyz` answer: the admin listener, if the server
    /// printed `Admin on http://ADDR` before its `Listening on` line (`--admin-listen`), else
    /// the public listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.unwrap_or(self.addr)
    }

    /// The separate admin listener, if `--admin-listen` started one.
    pub fn admin_listener(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The child's process id (to send it signals, see [`super::send_signal`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child process itself (to wait for it, or check whether it exited).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Everything on stderr so far (diagnostic logs), lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// `GET target` against this server with no extra headers.
    pub fn get(&self, target: &str) -> Response {
        http::get(self.addr, target)
    }

    /// [`http::request`] against this server.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        http::request(self.addr, method, target, headers)
    }

    /// The value of the integer series `series` (a metric name with its labels as written,
    /// e.g. `mirrorlist_reloads_total{result="ok"}`) in one scrape of `/metrics` on
    /// [`Server::admin_addr`]. A scrape without it fails the test: a renamed metric must not
    /// turn the checks that use it into no-ops.
    pub fn metric(&self, series: &str) -> u64 {
        let metrics = http::get(self.admin_addr(), "/metrics").text();
        let prefix = format!("{series} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series:?} in /metrics:\n{metrics}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
