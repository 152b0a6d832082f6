//! The integration tests: one test binary (`it`) that runs the real `mirrorlist` binary and
//! the library's public API. One module per area, helpers in [`support`] only; the fixtures
//! stay in `tests/data/` (and the native sample in `data/`).
//!
//! Run everything with `cargo test --test it` (`cargo test --all-targets` and `scripts/test`
//! run it too); one area with a module path filter, e.g. `cargo test --test it reload::`
//! (or `reload::watch::`, `ops::`, `hostile`); one test by its full path with `--exact`, e.g.
//! `cargo test --test it -- --exact ops::second_sigint_exits_at_once`. The test functions
//! keep the names they had as separate binaries (`tests/reload_burst.rs` is `reload::burst`).
//!
//! The tests run on parallel threads of this one process: nothing here may change the
//! process's environment or working directory (pass them to child `Command`s instead).
//! `Cargo.toml` sets `autotests = false`, so a new `tests/*.rs` file is not built: add a
//! module here instead.

mod support;

mod broken_inputs;
mod checklist;
mod fitted;
mod health;
mod hostile;
mod hostile_slow;
mod http_params;
mod inspect;
mod layers;
mod metalink4;
mod ops;
mod ops_systemd;
mod probe;
mod properties;
mod real_client;
mod reference;
mod reload;
mod shuffle;
mod test_command;
mod trusted_proxy;
