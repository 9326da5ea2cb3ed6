//! Prometheus metrics for `GET /metrics`: request counts and latencies by route, store
//! size, revision, connected clients, and how long group commits take.

use crate::routes::Writes;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteStateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    limit: &'static str,
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
    /// 1 for the store's write state now, 0 for the others.
    write_state: Family<WriteStateLabels, Gauge>,
    commit_seconds: Histogram,
    commit_writes: Histogram,
    /// Open TCP connections (upgraded ones included), kept by `limits::connections`.
    connections: Gauge,
    /// Requests and connections refused by a limit, by limit.
    refused: Family<RefusalLabels, Counter>,
    /// Cached series per interned route (`Route::slot`).
    routes: Box<[OnceLock<Box<RouteHandles>>]>,
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
        let write_state = Family::<WriteStateLabels, Gauge>::default();
        let commit_seconds = latency_histogram();
        let commit_writes = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let connections = Gauge::default();
        let refused = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "open_connections",
            "Open TCP connections, upgraded WebSocket ones included",
            connections.clone(),
        );
        registry.register(
            "refused",
            "Requests answered 503 for --max-connections or 429 for --rate-limit, and connections closed unread past --max-connections",
            refused.clone(),
        );
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
            "store_writes",
            "1 for the store's write state (accepting, paused_disk_full, refused_until_restart)",
            write_state.clone(),
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
            write_state,
            commit_seconds,
            commit_writes,
            connections,
            refused,
            routes: (0..ROUTE_SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn observe_commit(&self, stats: ctx_store::CommitStats) {
        self.commit_seconds.observe(stats.duration.as_secs_f64());
        self.commit_writes.observe(stats.writes as f64);
    }

    /// The open-connection gauge, which the accept loop keeps.
    pub fn connections(&self) -> Gauge {
        self.connections.clone()
    }

    /// Counts one refusal by `limit` (`max_connections`, `rate_limit`).
    pub fn refused(&self, limit: &'static str) {
        self.refused.get_or_create(&RefusalLabels { limit }).inc();
    }

    /// The text exposition, with the gauges read at scrape time.
    pub fn render(&self, keys: usize, revision: u64, clients: usize, writes: Writes) -> String {
        for state in Writes::ALL {
            let labels = WriteStateLabels {
                state: state.as_str(),
            };
            self.write_state
                .get_or_create(&labels)
                .set(i64::from(state == writes));
        }
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
    ///
    /// The series are looked up in the families once per (route, method, status) and kept
    /// as handles (a cloned `Counter` or `Histogram` is the same series): the families'
    /// `get_or_create` hashes its labels with SipHash behind a `RwLock` shared by every
    /// worker, which profiles showed on every request.
    pub fn observe_request(&self, route: Route, method: Method, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let Some(slot) = self.routes.get(route.slot) else {
            return self.observe_uncached(route.pattern, method, status, seconds);
        };
        let handles = slot.get_or_init(|| {
            Box::new(RouteHandles {
                latency: self
                    .latency
                    .get_or_create(&RouteLabels {
                        route: route.pattern,
                    })
                    .clone(),
                requests: Default::default(),
            })
        });
        handles.latency.observe(seconds);
        match status_slot(status) {
            Some(index) => handles.requests[method as usize][index]
                .get_or_init(|| self.requests_series(route.pattern, method, status))
                .inc(),
            None => self.requests_series(route.pattern, method, status).inc(),
        };
    }

    /// Routes past `ROUTE_SLOTS`: the family lookups on every request, as before.
    fn observe_uncached(&self, route: &'static str, method: Method, status: u16, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
        self.requests_series(route, method, status).inc();
    }

    fn requests_series(&self, route: &'static str, method: Method, status: u16) -> Counter {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method: method.label(),
                status,
            })
            .clone()
    }
}

/// Routes that get cached handles; the router has about twenty patterns.
const ROUTE_SLOTS: usize = 64;

/// Statuses that get a cached counter; any other is counted through the family.
const STATUSES: [u16; 20] = [
    200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 503,
    504,
];

fn status_slot(status: u16) -> Option<usize> {
    STATUSES.iter().position(|&known| known == status)
}

/// One route's series, filled in as requests arrive.
struct RouteHandles {
    latency: Histogram,
    requests: [[OnceLock<Counter>; STATUSES.len()]; Method::COUNT],
}

/// The `method` label: a closed set, so it indexes the cached counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
    Put,
    Head,
    Options,
    Patch,
    Other,
}

impl Method {
    const COUNT: usize = 8;

    pub fn of(method: &axum::http::Method) -> Self {
        match *method {
            axum::http::Method::GET => Self::Get,
            axum::http::Method::POST => Self::Post,
            axum::http::Method::DELETE => Self::Delete,
            axum::http::Method::PUT => Self::Put,
            axum::http::Method::HEAD => Self::Head,
            axum::http::Method::OPTIONS => Self::Options,
            axum::http::Method::PATCH => Self::Patch,
            _ => Self::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
            Self::Put => "PUT",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Patch => "PATCH",
            Self::Other => "OTHER",
        }
    }
}

/// A route pattern, interned: its label is a `&'static str` (no allocation per request)
/// and its slot indexes the cached handles of every `Metrics`.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pattern: &'static str,
    slot: usize,
}

impl Route {
    pub fn pattern(self) -> &'static str {
        self.pattern
    }

    /// Patterns are few and fixed (the router's own), so each is leaked once. Lookups scan
    /// a short append-only list without a lock (cheaper than hashing the pattern); only a
    /// pattern seen for the first time takes the mutex.
    pub fn intern(pattern: &str) -> Route {
        static PATTERNS: [OnceLock<&'static str>; ROUTE_SLOTS] =
            [const { OnceLock::new() }; ROUTE_SLOTS];
        static ADD: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
        let find = |pattern: &str| {
            PATTERNS
                .iter()
                .map_while(OnceLock::get)
                .enumerate()
                .find(|(_, known)| **known == pattern)
                .map(|(slot, known)| Route {
                    pattern: known,
                    slot,
                })
        };
        if let Some(route) = find(pattern) {
            return route;
        }
        let mut overflow = ADD.lock();
        if let Some(route) = find(pattern) {
            return route;
        }
        // Past the table, patterns are still interned (so labels stay `&'static`), with a
        // slot no `Metrics` caches.
        if let Some(index) = overflow.iter().position(|known| *known == pattern) {
            return Route {
                pattern: overflow[index],
                slot: ROUTE_SLOTS + index,
            };
        }
        let leaked: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
        let used = PATTERNS
            .iter()
            .take_while(|slot| slot.get().is_some())
            .count();
        match PATTERNS.get(used) {
            Some(free) => {
                let _ = free.set(leaked);
                Route {
                    pattern: leaked,
                    slot: used,
                }
            }
            None => {
                overflow.push(leaked);
                Route {
                    pattern: leaked,
                    slot: ROUTE_SLOTS + overflow.len() - 1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_handles_count_into_the_same_series() {
        let metrics = Metrics::new();
        let route = Route::intern("/test/{cached}");
        assert_eq!(Route::intern("/test/{cached}").slot, route.slot);
        let tick = Duration::from_micros(70);
        metrics.observe_request(route, Method::Get, 200, tick);
        metrics.observe_request(route, Method::Get, 200, tick);
        metrics.observe_request(route, Method::Post, 200, tick);
        // Not among the cached statuses: counted through the family.
        metrics.observe_request(route, Method::Get, 299, tick);
        metrics.observe_request(route, Method::Get, 299, tick);
        let text = metrics.render(0, 0, 0, Writes::PausedDiskFull);
        for needle in [
            "ctx_store_writes{state=\"paused_disk_full\"} 1",
            "ctx_store_writes{state=\"accepting\"} 0",
            "ctx_http_requests_total{route=\"/test/{cached}\",method=\"GET\",status=\"200\"} 2",
            "ctx_http_requests_total{route=\"/test/{cached}\",method=\"POST\",status=\"200\"} 1",
            "ctx_http_requests_total{route=\"/test/{cached}\",method=\"GET\",status=\"299\"} 2",
            "ctx_http_request_duration_seconds_count{route=\"/test/{cached}\"} 5",
        ] {
            assert!(text.contains(needle), "lacks {needle}:\n{text}");
        }
    }
}
