//! Mirror health: what `mirrorlist probe` found about each host, as an immutable value the
//! server can consult, and the pure rules for using it in an answer.
//!
//! The probe (`probe.rs`) fetches a few `repomd.xml` files from every public host and writes a
//! health file (`file.rs`, format in docs/health.md). A [`Health`] is that file loaded: one
//! [`HostHealth`] per host *name*, so a file made against one snapshot still applies to the
//! next. [`fit`] reorders or filters a list of hosts by their state, and
//! [`Health::applicable`] says whether a file may be used at all. Both fail open: health data
//! can only ever remove mirrors when enough others remain.
//!
//! This module reads only `crate::snapshot` and `crate::build::source`; it knows nothing of HTTP
//! serving, the command line or reloads.

mod applied;
pub mod file;
mod model;
pub mod probe;

pub use applied::Applied;
pub use file::{FileError, FORMAT_VERSION};
pub use model::*;
pub use probe::probed_host_names;
