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

use super::metrics::{BUCKETS_NS, ENDPOINTS, STATUSES};
use super::state::AppState;
use crate::answer::select::Group;

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

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let state = &*self.state;
        let m = &state.metrics;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);

        {
            let mut family = encoder.encode_descriptor(
                "mirrorlist_requests",
                "Requests answered, by endpoint and HTTP status.",
                None,
                MetricType::Counter,
            )?;
            for (e, endpoint) in ENDPOINTS.iter().enumerate() {
                for (s, status) in STATUSES.iter().enumerate() {
                    let value = load(&m.requests[e][s]);
                    // Always show the series a service can produce, so rates start at zero;
                    // other paths only ever get 404.
                    if value == 0
                        && (*endpoint == "other" && *status != "404" || *status == "other")
                    {
                        continue;
                    }
                    family
                        .encode_family(&[("endpoint", *endpoint), ("status", *status)])?
                        .encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "mirrorlist_first_group",
                "Answers by the group their first mirror came from (netblock, asn, country, geoip, continent, global).",
                None,
                MetricType::Counter,
            )?;
            for (g, group) in Group::ALL.iter().enumerate() {
                family
                    .encode_family(&[("group", group.as_str())])?
                    .encode_counter::<NoLabelSet, u64, u64>(&load(&m.first_group[g]), None)?;
            }
        }
        {
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
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }

        let now = crate::clock::unix_now();
        let snapshot = state.store.load();
        let (ready, generated, sequence) = match snapshot.as_deref() {
            Some(s) => (1u64, s.generated_at(), s.sequence()),
            None => (0, 0, 0),
        };
        drop(snapshot);
        gauge(
            &mut encoder,
            "mirrorlist_ready",
            "1 once a snapshot is installed (what /readyz reports), else 0.",
            ready,
        )?;
        gauge(
            &mut encoder,
            "mirrorlist_snapshot_generated_timestamp_seconds",
            "When the served data was generated (Unix seconds; 0: nothing served yet).",
            generated,
        )?;
        gauge(
            &mut encoder,
            "mirrorlist_snapshot_age_seconds",
            "Seconds since the served data was generated (0: nothing served yet).",
            if generated == 0 {
                0
            } else {
                now as i64 - generated as i64
            },
        )?;
        gauge(
            &mut encoder,
            "mirrorlist_snapshot_sequence",
            "Installs since start-up of the snapshot being served (1: the first load).",
            sequence,
        )?;

        let r = &state.store.reloads;
        {
            let mut family = encoder.encode_descriptor(
                "mirrorlist_reloads",
                "Snapshot loads by outcome, the first load at start-up included.",
                None,
                MetricType::Counter,
            )?;
            for (result, value) in [("ok", load(&r.ok)), ("failed", load(&r.failed))] {
                family
                    .encode_family(&[("result", result)])?
                    .encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
            }
        }
        gauge(
            &mut encoder,
            "mirrorlist_reload_last_success_timestamp_seconds",
            "When the last snapshot was installed (Unix seconds; 0: never).",
            load(&r.last_ok_at),
        )?;
        gauge(
            &mut encoder,
            "mirrorlist_reload_last_failure_timestamp_seconds",
            "When a reload last failed (Unix seconds; 0: never).",
            load(&r.last_failed_at),
        )?;
        gauge(
            &mut encoder,
            "mirrorlist_reload_last_duration_seconds",
            "How long the last successful reload took, trigger to installed.",
            load(&r.last_duration_ms) as f64 / 1e3,
        )?;

        gauge(
            &mut encoder,
            "mirrorlist_open_connections",
            "Client connections open on the public listener.",
            state.connections.get(),
        )?;

        let (written, dropped) = state
            .stats
            .as_ref()
            .map_or((0, 0), |s| (s.written(), s.dropped()));
        counter(
            &mut encoder,
            "mirrorlist_stats_log_lines_written",
            "Statistics-log lines written (0 without -l).",
            written,
        )?;
        counter(
            &mut encoder,
            "mirrorlist_stats_log_lines_dropped",
            "Statistics-log lines dropped because the writer could not keep up.",
            dropped,
        )?;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::answer::request::Mode;
    use crate::answer::Settings;

    #[test]
    fn observe_counts_and_renders() {
        let state = Arc::new(AppState::new(Settings { minimum: 5 }));
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
