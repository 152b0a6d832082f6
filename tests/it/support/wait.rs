//! The one way the tests wait for something: poll a check until it holds or a deadline
//! passes. Waits end as soon as the condition holds; the limit is only an upper bound, so a
//! loaded machine makes a test slower, not flaky.

use std::time::{Duration, Instant};

/// Upper bound for anything the tests wait for on the server (a reload, a log line, an exit).
pub const LIMIT: Duration = Duration::from_secs(60);

/// The longest pause between two checks (pauses start at 1 ms and double up to this).
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Some`, for at most `limit` (it is checked once more when
/// the limit has passed); `None` if it never did. For callers that fail with their own
/// message (the server's stderr, say) or must clean up first; others use [`wait_for`].
pub fn try_wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// [`try_wait_for`], panicking with `what` if `check` never returned `Some` within `limit`.
#[track_caller]
pub fn wait_for<T>(what: &str, limit: Duration, check: impl FnMut() -> Option<T>) -> T {
    match try_wait_for(limit, check) {
        Some(v) => v,
        None => panic!("timed out after {limit:?} waiting for {what}"),
    }
}
