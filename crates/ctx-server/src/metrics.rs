//! Prometheus metrics for `GET /metrics`: request counts and latencies by route, store
//! size, revision, connected clients, and how long group commits take.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    keys: Gauge,
    revision: Gauge,
    clients: Gauge,
    commit_seconds: Histogram,
    commit_writes: Histogram,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ctx");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = HistogramFamily::<RouteLabels>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let keys = Gauge::default();
        let revision = Gauge::default();
        let clients = Gauge::default();
        let commit_seconds = latency_histogram();
        let commit_writes = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("keys", "Keys in the context", keys.clone());
        registry.register("revision", "Current global revision", revision.clone());
        registry.register(
            "connected_clients",
            "Live WebSocket and Socket.IO clients",
            clients.clone(),
        );
        registry.register(
            "store_commit_duration_seconds",
            "Time per durable group commit (fsync included)",
            commit_seconds.clone(),
        );
        registry.register(
            "store_commit_writes",
            "Writes answered per group commit",
            commit_writes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            keys,
            revision,
            clients,
            commit_seconds,
            commit_writes,
        }
    }

    pub fn observe_commit(&self, stats: ctx_store::CommitStats) {
        self.commit_seconds.observe(stats.duration.as_secs_f64());
        self.commit_writes.observe(stats.writes as f64);
    }

    /// The text exposition, with the gauges read at scrape time.
    pub fn render(&self, keys: usize, revision: u64, clients: usize) -> String {
        self.keys.set(keys as i64);
        self.revision.set(revision as i64);
        self.clients.set(clients as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Counts and times one request under its route pattern (never the raw path, which
    /// would give one series per key).
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }
}
