//! Live reload (SIGHUP and `--watch`): a burst of signals, swaps under load, refused inputs,
//! and what `--watch` watches. Their shared helpers are in `support::reload`.

mod burst;
mod dropin;
mod load;
mod refusals;
mod watch;
