//! `/metrics`: the request counters ([`super::metrics`]) and the gauges of the served
//! snapshot, reloads, connections and the statistics log, read at scrape time and written in
//! the Prometheus text format.
//!
//! The counters are plain atomics rather than `prometheus-client`'s metric types because the
//! request path must stay cheap: its `Family::get_or_create` takes an `RwLock` and hashes the
//! label set on every call, and its `Histogram::observe` takes a `Mutex`. Every label
//! combination here is known in advance, so the crate is used for what it is good at: the
//! exposition format (names, label escaping, `_total` suffixes, histogram buckets).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::metrics::{Metrics, BUCKETS_NS, ENDPOINTS, STATUSES};
use super::state::AppState;
use crate::answer::select::Group;
use crate::health::State;
use crate::reload::health::HealthStore;
use crate::reload::store::ReloadCounters;

/// The `Content-Type` of `/metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Renders `/metrics` for one [`AppState`]; built once when the admin listener starts.
pub struct Exporter {
    registry: Registry,
}

impl Exporter {
    pub fn new(state: Arc<AppState>) -> Exporter {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(StateCollector { state }));
        Exporter { registry }
    }

    /// The whole exposition, in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail; an encoder error would be a bug in a name above.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Reads everything at scrape time.
struct StateCollector {
    state: Arc<AppState>,
}

impl fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateCollector").finish_non_exhaustive()
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> Result<(), fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

/// A counter family: one series per label set, in the order given.
fn counter_family<'l, const N: usize>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = ([(&'l str, &'l str); N], u64)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
    }
    Ok(())
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let state = &*self.state;
        encode_requests(&mut encoder, &state.metrics)?;
        encode_latency(&mut encoder, &state.metrics)?;
        encode_snapshot(&mut encoder, state)?;
        encode_reloads(&mut encoder, &state.store.reloads)?;
        gauge(
            &mut encoder,
            "mirrorlist_open_connections",
            "Client connections open on the public listener.",
            state.connections.get(),
        )?;
        encode_stats_log(&mut encoder, state)?;
        if let Some(health) = &state.health {
            encode_health(&mut encoder, health)?;
        }
        encoder
            .encode_descriptor(
                "mirrorlist_build",
                "The running version.",
                None,
                MetricType::Info,
            )?
            .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        Ok(())
    }
}

/// The request counters: by endpoint and status, and by the group of the first mirror.
fn encode_requests(encoder: &mut DescriptorEncoder, m: &Metrics) -> Result<(), fmt::Error> {
    let by_status = ENDPOINTS.iter().enumerate().flat_map(|(e, endpoint)| {
        STATUSES.iter().enumerate().filter_map(move |(s, status)| {
            let value = load(&m.requests[e][s]);
            // Always show the series a service can produce, so rates start at zero; other
            // paths get 404, and requests hyper could not parse 400, 414 or 431 (`other`):
            // those series appear once counted.
            if value == 0 && (*endpoint == "other" && *status != "404" || *status == "other") {
                return None;
            }
            Some(([("endpoint", *endpoint), ("status", *status)], value))
        })
    });
    counter_family(
        encoder,
        "mirrorlist_requests",
        "Requests answered, by endpoint and HTTP status.",
        by_status,
    )?;
    counter_family(
        encoder,
        "mirrorlist_first_group",
        "Answers by the group their first mirror came from (netblock, asn, country, geoip, continent, global).",
        Group::ALL
            .iter()
            .enumerate()
            .map(|(g, group)| ([("group", group.as_str())], load(&m.first_group[g]))),
    )
}

/// The request latency histogram.
fn encode_latency(encoder: &mut DescriptorEncoder, m: &Metrics) -> Result<(), fmt::Error> {
    let buckets: Vec<(f64, u64)> = BUCKETS_NS
        .iter()
        .map(|&ns| ns as f64 / 1e9)
        .chain([f64::INFINITY])
        .zip(m.latency_buckets.iter().map(load))
        .collect();
    let count = buckets.iter().map(|(_, n)| n).sum();
    // A scrape racing with requests may see the sum a little ahead of the buckets.
    let sum = load(&m.latency_sum_ns) as f64 / 1e9;
    encoder
        .encode_descriptor(
            "mirrorlist_request_duration_seconds",
            "Time to answer a request, from routing to the response being built.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
}

/// The served snapshot: whether there is one, when its data was generated, its sequence.
fn encode_snapshot(encoder: &mut DescriptorEncoder, state: &AppState) -> Result<(), fmt::Error> {
    let now = crate::clock::unix_now();
    let snapshot = state.store.load();
    let (ready, generated, sequence) = match snapshot.as_deref() {
        Some(s) => (1u64, s.generated_at(), s.sequence()),
        None => (0, 0, 0),
    };
    drop(snapshot);
    gauge(
        encoder,
        "mirrorlist_ready",
        "1 once a snapshot is installed (what /readyz reports), else 0.",
        ready,
    )?;
    gauge(
        encoder,
        "mirrorlist_snapshot_generated_timestamp_seconds",
        "When the served data was generated (Unix seconds; 0: nothing served yet).",
        generated,
    )?;
    gauge(
        encoder,
        "mirrorlist_snapshot_age_seconds",
        "Seconds since the served data was generated (0: nothing served yet).",
        if generated == 0 {
            0
        } else {
            now as i64 - generated as i64
        },
    )?;
    gauge(
        encoder,
        "mirrorlist_snapshot_sequence",
        "Installs since start-up of the snapshot being served (1: the first load).",
        sequence,
    )
}

/// Reload outcomes and the times and duration of the last ones.
fn encode_reloads(encoder: &mut DescriptorEncoder, r: &ReloadCounters) -> Result<(), fmt::Error> {
    counter_family(
        encoder,
        "mirrorlist_reloads",
        "Snapshot loads by outcome, the first load at start-up included.",
        [
            ([("result", "ok")], load(&r.ok)),
            ([("result", "failed")], load(&r.failed)),
        ],
    )?;
    gauge(
        encoder,
        "mirrorlist_reload_last_success_timestamp_seconds",
        "When the last snapshot was installed (Unix seconds; 0: never).",
        load(&r.last_ok_at),
    )?;
    gauge(
        encoder,
        "mirrorlist_reload_last_failure_timestamp_seconds",
        "When a reload last failed (Unix seconds; 0: never).",
        load(&r.last_failed_at),
    )?;
    gauge(
        encoder,
        "mirrorlist_reload_last_duration_seconds",
        "How long the last successful reload took, trigger to installed.",
        load(&r.last_duration_ms) as f64 / 1e3,
    )
}

/// The statistics log's written and dropped lines.
fn encode_stats_log(encoder: &mut DescriptorEncoder, state: &AppState) -> Result<(), fmt::Error> {
    let (written, dropped) = state
        .stats
        .as_ref()
        .map_or((0, 0), |s| (s.written(), s.dropped()));
    counter(
        encoder,
        "mirrorlist_stats_log_lines_written",
        "Statistics-log lines written (0 without -l).",
        written,
    )?;
    counter(
        encoder,
        "mirrorlist_stats_log_lines_dropped",
        "Statistics-log lines dropped because the writer could not keep up.",
        dropped,
    )
}

/// `--health`: hosts per state, the data's age, loads and uses.
fn encode_health(encoder: &mut DescriptorEncoder, health: &HealthStore) -> Result<(), fmt::Error> {
    let counts = health.counts();
    {
        let mut family = encoder.encode_descriptor(
            "mirrorlist_health_hosts",
            "Hosts of the served data in each health state, while health data is applied.",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in counts.unwrap_or(State::ALL.map(|s| (s, 0))) {
            family
                .encode_family(&[("state", state.as_str())])?
                .encode_gauge(&(n as u64))?;
        }
    }
    gauge(
        encoder,
        "mirrorlist_health_applied",
        "1 while health data is applied to answers, else 0 (none, refused, expired, or condemning most hosts).",
        u64::from(counts.is_some()),
    )?;
    let generated = health.current().as_deref().map_or(0, |a| a.generated_at);
    gauge(
        encoder,
        "mirrorlist_health_age_seconds",
        "Seconds since the applied health data was generated (0: none applied).",
        if generated == 0 {
            0
        } else {
            crate::clock::unix_now() as i64 - generated as i64
        },
    )?;
    let c = &health.counters;
    counter_family(
        encoder,
        "mirrorlist_health_loads",
        "Health file loads: ok (parsed) or refused (missing, unreadable, not parsing).",
        [
            ([("result", "ok")], load(&c.loads_ok)),
            ([("result", "refused")], load(&c.loads_refused)),
        ],
    )?;
    counter(
        encoder,
        "mirrorlist_health_not_applied",
        "Times a parsed health file was not applied: expired, or more than half the probed hosts down or missing.",
        load(&c.not_applied),
    )?;
    counter(
        encoder,
        "mirrorlist_health_fail_open_answers",
        "Answers in which health would have left no host, so every host was listed.",
        load(&c.fail_open_answers),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::answer::request::Mode;
    use crate::answer::Settings;

    #[test]
    fn observe_counts_and_renders() {
        let state = Arc::new(AppState::new(Settings::default()));
        let exporter = Exporter::new(state.clone());
        state.metrics.observe(
            Some(Mode::Mirrorlist),
            200,
            Some(Group::Country),
            Duration::from_micros(30),
        );
        state
            .metrics
            .observe(None, 404, None, Duration::from_secs(5));
        assert_eq!(state.metrics.total_requests(), 2);
        let text = exporter.render();
        for line in [
            "mirrorlist_requests_total{endpoint=\"mirrorlist\",status=\"200\"} 1",
            "mirrorlist_requests_total{endpoint=\"other\",status=\"404\"} 1",
            "mirrorlist_requests_total{endpoint=\"metalink\",status=\"503\"} 0",
            "mirrorlist_first_group_total{group=\"country\"} 1",
            "mirrorlist_request_duration_seconds_bucket{le=\"5e-05\"} 1",
            "mirrorlist_request_duration_seconds_bucket{le=\"1\"} 1",
            "mirrorlist_request_duration_seconds_bucket{le=\"+Inf\"} 2",
            "mirrorlist_request_duration_seconds_count 2",
            "mirrorlist_ready 0",
            "mirrorlist_reloads_total{result=\"failed\"} 0",
            "mirrorlist_open_connections 0",
            "mirrorlist_stats_log_lines_dropped_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing from\n{text}"
            );
        }
        assert!(!text.contains("status=\"other\""), "{text}");
    }
}
