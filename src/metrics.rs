//! Prometheus metrics (placeholder counters; the admin listener exports them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::request::Mode;
use crate::select::Group;

/// Request counters, updated with relaxed atomics on the request path.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, _mode: Option<Mode>, _status: u16, _group: Option<Group>, _took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}
