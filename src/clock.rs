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

/// The UTC calendar date of `secs` (Unix seconds): year, month (1-12), day (1-31).
pub fn utc_date_of(secs: u64) -> (i64, u32, u32) {
    civil_from_days((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
