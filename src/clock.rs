//! Wall-clock time in the unit the data uses: Unix seconds.

use std::time::{Duration, SystemTime};

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    unix_seconds(SystemTime::now())
}

/// `t` in Unix seconds (0 before 1970).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
