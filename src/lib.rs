//! mirrorlist: a MirrorManager-compatible mirrorlist/metalink server.
//!
//! Data flows one way: `sources` read inputs into `build::raw`, `build` compiles them into a
//! bundle, `snapshot` loads a bundle into an immutable, indexed [`snapshot::Snapshot`],
//! `select` picks mirrors for one query, `render` writes the bytes, and `http` serves them.
//! See ARCHITECTURE.md for the map and its invariants.

pub mod answer;
pub mod build;
pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod reload;
pub mod render;
pub mod request;
pub mod resolve;
pub mod select;
pub mod snapshot;
pub mod source;
pub mod sources;
pub mod stats;
pub mod watch;
