//! The helpers every area of the integration tests shares, in one tree:
//!
//! - [`server`]: run the real `mirrorlist serve` on a free port ([`Server`]);
//! - [`http`]: talk HTTP/1.1 to it over a plain `TcpStream` ([`get`], [`request`],
//!   [`request_raw`], [`parse_response`], a keep-alive [`KeepAlive`] client);
//! - [`wait`]: the one way to wait for a condition with a deadline ([`wait_for`],
//!   [`try_wait_for`]);
//! - [`signal`]: the one way to send a signal to a process ([`send_signal`]);
//! - [`fixtures`]: the data the tests run on (`data/`, `tests/data/mm-small`) and temporary
//!   copies of it;
//! - [`hostile`] and [`reload`]: what the hostile-client and the live-reload tests share.
//!
//! Nothing here sleeps to wait for the server: start-up waits for the server's
//! `Listening on http://ADDR` line, every other wait polls for the observable state with a
//! generous upper bound, so a loaded 2-core machine is slower, not flaky.
//!
//! Every test of the binary runs on a thread of one process: nothing here changes the
//! process's environment or working directory (children get theirs through their `Command`).
//!
//! ```ignore
//! let server = Server::mm_small(&["-m", "5"]);
//! let r = get(server.addr(), "/mirrorlist?repo=fedora-41&arch=x86_64");
//! assert_eq!(r.status, 200);
//! assert_eq!(r.header("content-type"), Some("text/plain"));
//! ```

pub mod fixtures;
pub mod hostile;
pub mod http;
pub mod reload;
pub mod server;
pub mod signal;
pub mod wait;

pub use fixtures::{
    arg, copy_data, data_copy, data_dir, free_port, mm_small, mm_small_args, replace_atomically,
    sample_args, tempdir, METALINK, MIRRORLIST,
};
pub use http::{get, parse_response, request_raw, KeepAlive, Response, IO_LIMIT};
pub use server::{without_mirrorlist_env, Server};
pub use signal::send_signal;
pub use wait::{try_wait_for, wait_for, LIMIT};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mirrorlist");
