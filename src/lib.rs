//! mirrorlist: a MirrorManager-compatible mirrorlist/metalink server.
//!
//! Data flows one way: `sources` read inputs into `build::raw`, `build` compiles them into a
//! bundle, `snapshot` loads a bundle into an immutable, indexed [`snapshot::Snapshot`],
//! `select` picks mirrors for one query, `render` writes the bytes, and `http` serves them.
//! See ARCHITECTURE.md for the map and its invariants.

pub mod build;
pub mod snapshot;
pub mod sources;
pub mod request;
pub mod resolve;
pub mod select;
pub mod answer;
pub mod render;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod config;
pub mod stats;
pub mod source;
pub mod reload;
pub mod watch;
pub mod cli;
