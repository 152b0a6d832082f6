//! mirrorlist: a MirrorManager-compatible mirrorlist/metalink server.
//!
//! Data flows one way, and each folder is one step of it (ARCHITECTURE.md has the map and the
//! rule of which folder may import which):
//! `inputs` read files into raw data, `build` compiles it into a bundle, `snapshot` loads a
//! bundle into an immutable, indexed [`snapshot::Snapshot`], `answer` turns one request into
//! bytes (request, resolve, select, render), and `server` serves them over HTTP. `reload`
//! swaps in new snapshots beside it, `ops` talks to systemd and writes the statistics log,
//! and `cli` is the command line over all of it.

pub mod answer;
pub mod atomic_file;
pub mod build;
pub mod cli;
pub mod clock;
pub mod health;
pub mod inputs;
pub mod ops;
pub mod reload;
pub mod server;
pub mod snapshot;
