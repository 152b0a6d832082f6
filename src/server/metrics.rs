//! The request path's counters: requests by endpoint and status, the group of each answer's
//! first host, a latency histogram, and the open-connection gauge, all plain atomics.
//! `exporter` renders them (with the reload and statistics-log counters) for `/metrics`.
//!
//! # Why plain atomics and not `prometheus-client`'s metric types
//!
//! The request path must stay cheap. `prometheus-client`'s `Family::get_or_create` takes an
//! `RwLock` and hashes the label set on every call, and its `Histogram::observe` takes a
//! `Mutex`. Every label combination here is known in advance (3 endpoints x 6 status
//! values, 6 groups, 13 latency buckets), so [`Metrics::observe`] turns its arguments into
//! array indices with a `match` and does four relaxed `fetch_add`s: no lock, no hashing, no
//! allocation. The crate is still used for what it is good at: the exposition format.
//! A [`Collector`] reads the atomics (and [`AppState`]'s reload, connection and
//! statistics-log counters) at scrape time and writes them through `prometheus-client`'s
//! Prometheus text encoder, so names, label escaping, `_total` suffixes and histogram
//! buckets come out the way Prometheus expects.
//!
//! Relaxed ordering is enough: each counter is independent and only ever grows, and a scrape
//! that sees a histogram's buckets a few increments apart from its `_sum` is normal for
//! Prometheus clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::answer::request::Mode;
use crate::answer::select::Group;

/// The `endpoint` label: the two services, and everything else (answered 404).
pub(super) const ENDPOINTS: [&str; 3] = ["mirrorlist", "metalink", "other"];
/// The `status` label: every status the service sends, and a catch-all.
pub(super) const STATUSES: [&str; 6] = ["200", "302", "400", "404", "503", "other"];
/// Upper bounds of the latency buckets, in nanoseconds (25 µs to 1 s; `+Inf` is implicit).
/// A typical answer takes tens of microseconds, so the low end is finely divided.
pub(super) const BUCKETS_NS: [u64; 12] = [
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    100_000_000,
    1_000_000_000,
];

/// Request counters, updated with relaxed atomics on the request path.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `[endpoint][status]`, indexed as [`ENDPOINTS`] and [`STATUSES`].
    pub(super) requests: [[AtomicU64; STATUSES.len()]; ENDPOINTS.len()],
    /// Answers by the group their first mirror came from, indexed as [`Group::ALL`].
    pub(super) first_group: [AtomicU64; Group::ALL.len()],
    /// Per-bucket (not cumulative) latency counts; the last slot is `+Inf`.
    pub(super) latency_buckets: [AtomicU64; BUCKETS_NS.len() + 1],
    /// Sum of all latencies, nanoseconds.
    pub(super) latency_sum_ns: AtomicU64,
}

impl Metrics {
    /// Counts one answered request: `mode` is `None` for a path that is neither service, and
    /// for a request hyper could not parse (its path unknown).
    pub fn observe(&self, mode: Option<Mode>, status: u16, group: Option<Group>, took: Duration) {
        let endpoint = match mode {
            Some(Mode::Mirrorlist) => 0,
            Some(Mode::Metalink) => 1,
            None => 2,
        };
        self.requests[endpoint][status_index(status)].fetch_add(1, Ordering::Relaxed);
        if let Some(group) = group {
            self.first_group[group_index(group)].fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(BUCKETS_NS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Requests counted so far, all endpoints and statuses.
    pub fn total_requests(&self) -> u64 {
        self.requests
            .iter()
            .flatten()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

fn status_index(status: u16) -> usize {
    match status {
        200 => 0,
        302 => 1,
        400 => 2,
        404 => 3,
        503 => 4,
        _ => 5,
    }
}

fn group_index(group: Group) -> usize {
    match group {
        Group::Netblock => 0,
        Group::Asn => 1,
        Group::Country => 2,
        Group::Geoip => 3,
        Group::Continent => 4,
        Group::Global => 5,
    }
}

/// Open-connection gauge.
#[derive(Debug, Default)]
pub struct ConnectionCount(pub(super) AtomicU64);

impl ConnectionCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
