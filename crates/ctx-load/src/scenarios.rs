//! The six seed scenarios, with the request shapes, counts and thresholds of
//! the Framework0 suite (`seed/test_performance_load.md`, `spec/load.md`),
//! the `ws_fanout` live-update scenario (run only when asked for), plus
//! scaling and threshold overrides.
//!
//! A scenario is data: a name, a client count, operations per client, optional
//! set-up requests, a request generator and its [`Thresholds`]. Keeping the
//! thresholds as data (not assertions) is what lets the CLI override them
//! (`--threshold concurrent_reads.p99_ms=50`), the report list every check
//! with its actual figure, and `cargo test` assert exactly the seed's limits.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{Request, RequestGenerator};
use crate::error::LoadError;
use crate::fanout::{FanoutSpec, FanoutSummary};
use crate::metrics::PerformanceMetrics;
use crate::monitor::LeakVerdict;

/// Names of the seed scenarios, in the order they run.
pub const SEED_SCENARIOS: [&str; 6] = [
    "concurrent_reads",
    "concurrent_writes",
    "mixed_workload",
    "file_dumps",
    "memory_stress",
    "percentile_analysis",
];

/// Built-in scenarios that are not part of the default (seed) run.
pub const EXTRA_SCENARIOS: [&str; 1] = ["ws_fanout"];

/// Pass/fail limits of one scenario. `None` = not checked.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Thresholds {
    /// success_rate: minimum success rate, percent.
    pub min_success_rate_pct: Option<f64>,
    /// avg_ms: maximum average latency.
    pub max_avg_ms: Option<f64>,
    /// p50_ms, p90_ms, p95_ms, p99_ms, p999_ms: maximum percentile latencies.
    pub max_p50_ms: Option<f64>,
    pub max_p90_ms: Option<f64>,
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub max_p999_ms: Option<f64>,
    /// ops_per_sec: minimum throughput.
    pub min_ops_per_sec: Option<f64>,
    /// peak_memory_mb: maximum server peak RSS (skipped when not measured).
    pub max_peak_memory_mb: Option<f64>,
    /// leak: fail when the RSS trend is "growing" (skipped when not measured or inconclusive).
    pub fail_on_leak: bool,
    /// delivered_pct (ws_fanout): minimum share of expected events delivered, percent.
    pub min_delivered_pct: Option<f64>,
    /// duplicates, out_of_order, disconnects, bad_frames (ws_fanout): maximum counts.
    pub max_duplicates: Option<f64>,
    pub max_out_of_order: Option<f64>,
    pub max_disconnects: Option<f64>,
    pub max_bad_frames: Option<f64>,
}

/// The metric names accepted by [`Thresholds::set`], for error messages and docs.
pub const THRESHOLD_METRICS: [&str; 15] = [
    "success_rate",
    "avg_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "ops_per_sec",
    "peak_memory_mb",
    "leak",
    "delivered_pct",
    "duplicates",
    "out_of_order",
    "disconnects",
    "bad_frames",
];

impl Thresholds {
    /// Sets one limit from its metric name and a textual value: a number, or
    /// `off`/`none` to stop checking it (`leak` takes `on`/`off`/`true`/`false`).
    pub fn set(&mut self, metric: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        if metric == "leak" {
            self.fail_on_leak = match value.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "1" => true,
                "off" | "false" | "no" | "0" | "none" => false,
                _ => return Err(format!("leak takes on or off, got {value:?}")),
            };
            return Ok(());
        }
        let slot = match metric {
            "success_rate" => &mut self.min_success_rate_pct,
            "avg_ms" => &mut self.max_avg_ms,
            "p50_ms" => &mut self.max_p50_ms,
            "p90_ms" => &mut self.max_p90_ms,
            "p95_ms" => &mut self.max_p95_ms,
            "p99_ms" => &mut self.max_p99_ms,
            "p999_ms" => &mut self.max_p999_ms,
            "ops_per_sec" => &mut self.min_ops_per_sec,
            "peak_memory_mb" => &mut self.max_peak_memory_mb,
            "delivered_pct" => &mut self.min_delivered_pct,
            "duplicates" => &mut self.max_duplicates,
            "out_of_order" => &mut self.max_out_of_order,
            "disconnects" => &mut self.max_disconnects,
            "bad_frames" => &mut self.max_bad_frames,
            _ => {
                return Err(format!(
                    "unknown metric {metric:?} (known: {})",
                    THRESHOLD_METRICS.join(", ")
                ));
            }
        };
        if matches!(value.to_ascii_lowercase().as_str(), "off" | "none") {
            *slot = None;
            return Ok(());
        }
        let v: f64 = value
            .parse()
            .map_err(|_| format!("{metric} needs a number or off, got {value:?}"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!(
                "{metric} needs a finite non-negative number, got {value:?}"
            ));
        }
        *slot = Some(v);
        Ok(())
    }
}

/// One scenario, ready to run.
#[derive(Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub clients: u64,
    pub ops_per_client: u64,
    /// Sent sequentially before the measured part (not measured).
    pub setup: Vec<Request>,
    pub generator: RequestGenerator,
    pub thresholds: Thresholds,
    /// A `/ws` fan-out scenario: `clients` are subscribers, the writes follow
    /// this spec, and `generator`/`setup` are unused.
    pub fanout: Option<FanoutSpec>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("clients", &self.clients)
            .field("ops_per_client", &self.ops_per_client)
            .field("setup", &self.setup.len())
            .field("thresholds", &self.thresholds)
            .field("fanout", &self.fanout)
            .finish()
    }
}

impl Scenario {
    /// Multiplies the scenario's size by `factor`: operations per client become
    /// `max(1, round(ops_per_client × factor))`; the client count (the
    /// concurrency the seed chose) is kept. Use [`Scenario::with_clients`] to change it.
    /// A fan-out scenario's write duration is multiplied instead (at the same
    /// rate, at least one write).
    pub fn scaled(mut self, factor: f64) -> Self {
        match &mut self.fanout {
            Some(f) => {
                // Just over one write's interval: floor(rate × secs) stays ≥ 1 despite rounding.
                let secs = (f.duration.as_secs_f64() * factor).max(1.000_001 / f.rate);
                f.duration = Duration::try_from_secs_f64(secs).unwrap_or(f.duration);
                self.ops_per_client = f.planned_writes().max(1);
            }
            None => {
                self.ops_per_client = ((self.ops_per_client as f64 * factor).round() as u64).max(1);
            }
        }
        self
    }

    /// A fan-out scenario writes at `rate` per second for `duration` (the
    /// `--rate`/`--duration` flags); other scenarios are unchanged.
    pub fn with_write_schedule(mut self, rate: f64, duration: Duration) -> Self {
        if let Some(f) = &mut self.fanout {
            f.rate = rate;
            f.duration = duration;
            self.ops_per_client = f.planned_writes().max(1);
        }
        self
    }

    /// The size, as `--list` shows it.
    pub fn size_label(&self) -> String {
        match &self.fanout {
            Some(f) => f.describe(self.clients),
            None => format!("{} clients × {}", self.clients, self.ops_per_client),
        }
    }

    pub fn with_clients(mut self, clients: u64) -> Self {
        self.clients = clients.max(1);
        self
    }

    pub fn total_ops(&self) -> u64 {
        self.clients * self.ops_per_client
    }
}

/// Seconds since the Unix epoch as a float, like Python's `time.time()`.
fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn th(success: f64) -> Thresholds {
    Thresholds {
        min_success_rate_pct: Some(success),
        ..Thresholds::default()
    }
}

fn generator_fn(f: impl Fn(u64, u64) -> Request + Send + Sync + 'static) -> RequestGenerator {
    Arc::new(f)
}

/// concurrent_reads: 10 × 50 `GET /ctx/{key}` over five keys (most never written:
/// a missing key is a 200 with `found: false`). ≥ 95 %, avg ≤ 100 ms, ≥ 100 ops/s.
pub fn concurrent_reads() -> Scenario {
    Scenario {
        name: "concurrent_reads".into(),
        description: "GET /ctx/{key}, cycling five keys (most never written: 200 with found=false)"
            .into(),
        clients: 10,
        ops_per_client: 50,
        setup: Vec::new(),
        generator: generator_fn(|c, o| {
            let key = match o % 5 {
                0 => "test.performance.key".to_string(),
                1 => "config.database_url".to_string(),
                2 => "status.server_state".to_string(),
                3 => "metrics.request_count".to_string(),
                _ => format!("client.{c}.session_id"),
            };
            Request::get(format!("ctx/{key}"))
        }),
        thresholds: Thresholds {
            max_avg_ms: Some(100.0),
            min_ops_per_sec: Some(100.0),
            ..th(95.0)
        },
        fanout: None,
    }
}

/// concurrent_writes: 8 × 25 `POST /ctx`, one new key per op. ≥ 90 %, avg ≤ 200 ms, ≥ 50 ops/s.
pub fn concurrent_writes() -> Scenario {
    Scenario {
        name: "concurrent_writes".into(),
        description: "POST /ctx, one new key per operation".into(),
        clients: 8,
        ops_per_client: 25,
        setup: Vec::new(),
        generator: generator_fn(|c, o| {
            let body = json!({
                "key": format!("performance.test.client_{c}.op_{o}"),
                "value": {
                    "timestamp": now_f64(),
                    "client_id": c,
                    "operation_id": o,
                    "test_data": format!("load_test_value_{c}_{o}"),
                    "metadata": {"type": "performance_test", "sequence": o},
                },
                "who": format!("perf_test_client_{c}"),
            });
            Request::post_json("ctx", &body)
        }),
        thresholds: Thresholds {
            max_avg_ms: Some(200.0),
            min_ops_per_sec: Some(50.0),
            ..th(90.0)
        },
        fanout: None,
    }
}

/// mixed_workload: 12 × 40; every 5th op writes, the others read five keys in
/// turn. ≥ 92 %, avg ≤ 150 ms, ≥ 75 ops/s.
pub fn mixed_workload() -> Scenario {
    Scenario {
        name: "mixed_workload".into(),
        description: "every 5th op a POST /ctx, the others GET /ctx/{key} over five keys".into(),
        clients: 12,
        ops_per_client: 40,
        setup: Vec::new(),
        generator: generator_fn(|c, o| {
            if o % 5 == 0 {
                let body = json!({
                    "key": format!("mixed.workload.client_{c}.write_{}", o / 5),
                    "value": {
                        "write_timestamp": now_f64(),
                        "client_id": c,
                        "write_sequence": o / 5,
                        "workload_type": "mixed_performance_test",
                    },
                    "who": format!("mixed_client_{c}"),
                });
                Request::post_json("ctx", &body)
            } else {
                let key = match o % 5 {
                    0 => format!("mixed.workload.client_{}.write_0", c % 3),
                    1 => "config.application_settings".to_string(),
                    2 => "status.system_health".to_string(),
                    3 => format!("cache.session_{c}"),
                    _ => "metrics.performance_counters".to_string(),
                };
                Request::get(format!("ctx/{key}"))
            }
        }),
        thresholds: Thresholds {
            max_avg_ms: Some(150.0),
            min_ops_per_sec: Some(75.0),
            ..th(92.0)
        },
        fanout: None,
    }
}

/// file_dumps: 100 set-up writes `dump.test.entry_{i}`, then 5 × 4
/// `POST /ctx/dump` cycling json, csv, txt, pretty, with history on every
/// other. ≥ 85 %, avg ≤ 2000 ms, ≥ 5 ops/s.
pub fn file_dumps() -> Scenario {
    let t0 = now_f64();
    let setup = (0..100u64)
        .map(|i| {
            let body = json!({
                "key": format!("dump.test.entry_{i}"),
                "value": {
                    "id": i,
                    "name": format!("test_entry_{i}"),
                    "data": format!("test_data_{}", "x".repeat((i % 50) as usize)),
                    "timestamp": t0 + i as f64,
                    "metadata": {"category": "dump_test", "index": i},
                },
                "who": "dump_setup",
            });
            Request::post_json("ctx", &body)
        })
        .collect();
    Scenario {
        name: "file_dumps".into(),
        description:
            "100 set-up writes, then POST /ctx/dump cycling json/csv/txt/pretty, history on every other"
                .into(),
        clients: 5,
        ops_per_client: 4,
        setup,
        generator: generator_fn(|c, o| {
            const FORMATS: [&str; 4] = ["json", "csv", "txt", "pretty"];
            let body = json!({
                "format": FORMATS[(o % 4) as usize],
                "filename": format!("perf_test_client_{c}_op_{o}"),
                "who": format!("perf_dump_client_{c}"),
                "include_history": o % 2 == 0,
            });
            Request::post_json("ctx/dump", &body)
        }),
        thresholds: Thresholds {
            max_avg_ms: Some(2000.0),
            min_ops_per_sec: Some(5.0),
            ..th(85.0)
        },
        fanout: None,
    }
}

/// memory_stress: 15 × 100; every 10th op writes a ~2 KB value, the others
/// read it back. ≥ 85 %, server peak RSS ≤ 1024 MB, and no growing RSS trend.
pub fn memory_stress() -> Scenario {
    // The constant parts of the large value, built once.
    let payload: Value = Value::String("x".repeat(1000));
    let array: Value = Value::Array((0..100).map(Value::from).collect());
    let nested: Value = Value::Object(
        (0..50)
            .map(|i| (format!("level_{i}"), Value::String(format!("value_{i}"))))
            .collect(),
    );
    Scenario {
        name: "memory_stress".into(),
        description: "every 10th op a ~2 KB POST /ctx, the others GET it back".into(),
        clients: 15,
        ops_per_client: 100,
        setup: Vec::new(),
        generator: generator_fn(move |c, o| {
            if o % 10 == 0 {
                let body = json!({
                    "key": format!("memory.stress.large_{c}_{}", o / 10),
                    "value": {
                        "payload": payload,
                        "array_data": array,
                        "nested": nested,
                        "timestamp": now_f64(),
                        "client_info": {"id": c, "operation": o},
                    },
                    "who": format!("memory_test_{c}"),
                });
                Request::post_json("ctx", &body)
            } else {
                // Python's (o - 1) // 10; o ≥ 1 here.
                Request::get(format!("ctx/memory.stress.large_{c}_{}", (o - 1) / 10))
            }
        }),
        thresholds: Thresholds {
            max_peak_memory_mb: Some(1024.0),
            fail_on_leak: true,
            ..th(85.0)
        },
        fanout: None,
    }
}

/// percentile_analysis: 10 × 100 cycling a simple read, a write and
/// `GET /ctx/all`. ≥ 95 %, p95 ≤ 300 ms, p99 ≤ 1000 ms.
pub fn percentile_analysis() -> Scenario {
    Scenario {
        name: "percentile_analysis".into(),
        description: "cycling GET /ctx/{key}, POST /ctx, GET /ctx/all".into(),
        clients: 10,
        ops_per_client: 100,
        setup: Vec::new(),
        generator: generator_fn(|c, o| match o % 3 {
            0 => Request::get(format!("ctx/percentile.test.simple_{}", o % 10)),
            1 => {
                let body = json!({
                    "key": format!("percentile.test.client_{c}.op_{o}"),
                    "value": {"data": format!("test_{o}"), "timestamp": now_f64()},
                    "who": format!("percentile_client_{c}"),
                });
                Request::post_json("ctx", &body)
            }
            _ => Request::get("ctx/all"),
        }),
        thresholds: Thresholds {
            max_p95_ms: Some(300.0),
            max_p99_ms: Some(1000.0),
            ..th(95.0)
        },
        fanout: None,
    }
}

/// ws_fanout: 50 `/ws` subscribers to a prefix of the run's own; 8 writers
/// `POST /ctx` 500 writes/s for 10 s under it. Every successful write's event
/// must reach every subscriber exactly once, in revision order; write-to-delivery
/// p99 ≤ 50 ms; writes ≥ 99 % successful. Not in the default run.
pub fn ws_fanout() -> Scenario {
    let spec = FanoutSpec {
        writers: 8,
        rate: 500.0,
        duration: Duration::from_secs(10),
        prefix: "fanout.".into(),
        keys: 100,
        drain: Duration::from_secs(10),
    };
    Scenario {
        name: "ws_fanout".into(),
        description: "GET /ws subscribers to a prefix, 8 open-loop POST /ctx writers under it: \
                      write-to-delivery latency, exactly-once in-order delivery to each"
            .into(),
        clients: 50,
        ops_per_client: spec.planned_writes(),
        setup: Vec::new(),
        // Unused: the writes are built by the fan-out runner (they carry their due time).
        generator: generator_fn(|_, _| Request::get("health")),
        thresholds: Thresholds {
            max_p99_ms: Some(50.0),
            min_delivered_pct: Some(100.0),
            max_duplicates: Some(0.0),
            max_out_of_order: Some(0.0),
            max_disconnects: Some(0.0),
            max_bad_frames: Some(0.0),
            ..th(99.0)
        },
        fanout: Some(spec),
    }
}

/// Every built-in scenario: the seed six, then [`EXTRA_SCENARIOS`].
pub fn builtin_scenarios() -> Vec<Scenario> {
    let mut all = seed_scenarios();
    all.push(ws_fanout());
    all
}

/// All six seed scenarios, in the seed's order.
pub fn seed_scenarios() -> Vec<Scenario> {
    vec![
        concurrent_reads(),
        concurrent_writes(),
        mixed_workload(),
        file_dumps(),
        memory_stress(),
        percentile_analysis(),
    ]
}

/// Applies `SCENARIO.METRIC=VALUE` overrides. `SCENARIO` may be `*` (every
/// scenario). An override naming a scenario that does not exist is an error
/// (a typo must not silently leave the default limit in force).
pub fn apply_overrides(
    scenarios: &mut [Scenario],
    known: &[String],
    overrides: &[String],
) -> Result<(), LoadError> {
    for spec in overrides {
        let bad =
            |why: String| LoadError::InvalidOption(format!("malformed threshold {spec:?}: {why}"));
        let (lhs, value) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected SCENARIO.METRIC=VALUE".into()))?;
        let (scen, metric) = lhs
            .trim()
            .rsplit_once('.')
            .ok_or_else(|| bad("expected SCENARIO.METRIC=VALUE".into()))?;
        let metric = metric.trim();
        if scen != "*" && !known.iter().any(|k| k == scen) {
            return Err(bad(format!(
                "unknown scenario {scen:?} (known: {})",
                known.join(", ")
            )));
        }
        // Validate against a scratch copy so a bad value errors even when the
        // named scenario is not selected for this run.
        Thresholds::default().set(metric, value).map_err(bad)?;
        for s in scenarios
            .iter_mut()
            .filter(|s| scen == "*" || s.name == scen)
        {
            s.thresholds.set(metric, value).map_err(bad)?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Not judged: the figure was not measured (no server PID) or the leak
    /// analysis was inconclusive. Never counts as a failure.
    Skipped,
}

/// One threshold, judged.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ThresholdCheck {
    pub metric: String,
    /// `">="` or `"<="` (`"=="` for the leak verdict).
    pub op: String,
    pub limit: f64,
    pub actual: Option<f64>,
    pub status: CheckStatus,
    pub note: Option<String>,
}

/// Judges `m` against `t`. In open-loop mode (`open_target_rate` given) the
/// throughput floor is `min(ops_per_sec, 0.95 × target rate)`: when you chose
/// the rate, only failing to deliver it is a throughput problem.
pub fn evaluate(
    t: &Thresholds,
    m: &PerformanceMetrics,
    open_target_rate: Option<f64>,
) -> Vec<ThresholdCheck> {
    let mut out = Vec::new();
    let mut check =
        |metric: &str, min: bool, limit: Option<f64>, actual: Option<f64>, note: Option<String>| {
            let Some(limit) = limit else { return };
            let (status, note) = match actual {
                None => (
                    CheckStatus::Skipped,
                    note.or_else(|| Some("not measured".into())),
                ),
                Some(a) if (min && a >= limit) || (!min && a <= limit) => (CheckStatus::Pass, note),
                Some(_) => (CheckStatus::Fail, note),
            };
            out.push(ThresholdCheck {
                metric: metric.into(),
                op: if min { ">=" } else { "<=" }.into(),
                limit,
                actual,
                status,
                note,
            });
        };
    let l = &m.latency;
    let has_lat = l.count > 0;
    let lat = |v: f64| if has_lat { Some(v) } else { None };
    let no_answers = (!has_lat).then(|| "no request got an answer".to_string());
    check(
        "success_rate",
        true,
        t.min_success_rate_pct,
        Some(m.success_rate_pct),
        None,
    );
    check(
        "avg_ms",
        false,
        t.max_avg_ms,
        lat(l.avg_ms),
        no_answers.clone(),
    );
    check(
        "p50_ms",
        false,
        t.max_p50_ms,
        lat(l.p50_ms),
        no_answers.clone(),
    );
    check(
        "p90_ms",
        false,
        t.max_p90_ms,
        lat(l.p90_ms),
        no_answers.clone(),
    );
    check(
        "p95_ms",
        false,
        t.max_p95_ms,
        lat(l.p95_ms),
        no_answers.clone(),
    );
    check(
        "p99_ms",
        false,
        t.max_p99_ms,
        lat(l.p99_ms),
        no_answers.clone(),
    );
    check("p999_ms", false, t.max_p999_ms, lat(l.p999_ms), no_answers);
    let (floor, note) = match (t.min_ops_per_sec, open_target_rate) {
        (Some(f), Some(rate)) if rate * 0.95 < f => (
            Some(rate * 0.95),
            Some(format!("open loop: 95 % of the target rate {rate}/s")),
        ),
        (f, _) => (f, None),
    };
    check("ops_per_sec", true, floor, Some(m.throughput_ops_sec), note);
    check(
        "peak_memory_mb",
        false,
        t.max_peak_memory_mb,
        m.peak_memory_mb,
        None,
    );
    let fan = m.fanout.as_ref();
    let not_fanout = || fan.is_none().then(|| "not a fan-out scenario".to_string());
    let count = |f: fn(&FanoutSummary) -> u64| fan.map(|s| f(s) as f64);
    check(
        "delivered_pct",
        true,
        t.min_delivered_pct,
        fan.and_then(|f| f.delivered_pct),
        not_fanout()
            .or_else(|| Some("nothing to deliver: no write succeeded".into()))
            .filter(|_| fan.is_none_or(|f| f.delivered_pct.is_none())),
    );
    check(
        "duplicates",
        false,
        t.max_duplicates,
        count(|f| f.tally.duplicates),
        not_fanout(),
    );
    check(
        "out_of_order",
        false,
        t.max_out_of_order,
        count(|f| f.tally.out_of_order),
        not_fanout(),
    );
    check(
        "disconnects",
        false,
        t.max_disconnects,
        count(|f| f.disconnects),
        not_fanout(),
    );
    check(
        "bad_frames",
        false,
        t.max_bad_frames,
        count(|f| f.bad_frames),
        not_fanout(),
    );
    if t.fail_on_leak {
        let (status, actual, note) = match &m.resources {
            None => (
                CheckStatus::Skipped,
                None,
                "not measured (no server PID)".to_string(),
            ),
            Some(r) => match r.leak.verdict {
                LeakVerdict::Growing => (
                    CheckStatus::Fail,
                    r.leak.slope_mb_per_min,
                    r.leak.reason.clone(),
                ),
                LeakVerdict::Plateau => (
                    CheckStatus::Pass,
                    r.leak.slope_mb_per_min,
                    r.leak.reason.clone(),
                ),
                LeakVerdict::Inconclusive => (
                    CheckStatus::Skipped,
                    None,
                    format!("inconclusive: {}", r.leak.reason),
                ),
            },
        };
        out.push(ThresholdCheck {
            metric: "leak".into(),
            op: "==".into(),
            limit: 0.0,
            actual,
            status,
            note: Some(note),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Request) -> Value {
        serde_json::from_slice(r.body.as_ref().expect("body")).expect("json body")
    }

    #[test]
    fn seed_sizes() {
        let sizes: Vec<(String, u64, u64)> = seed_scenarios()
            .into_iter()
            .map(|s| (s.name, s.clients, s.ops_per_client))
            .collect();
        let want = [(10, 50), (8, 25), (12, 40), (5, 4), (15, 100), (10, 100)];
        for (i, (name, c, o)) in sizes.iter().enumerate() {
            assert_eq!(name, SEED_SCENARIOS[i]);
            assert_eq!((*c, *o), want[i], "{name}");
        }
        assert_eq!(file_dumps().setup.len(), 100);
    }

    #[test]
    fn request_shapes() {
        let r = (concurrent_reads().generator)(3, 4);
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "ctx/client.3.session_id")
        );
        let w = (concurrent_writes().generator)(2, 7);
        let b = body(&w);
        assert_eq!(w.path, "ctx");
        assert_eq!(b["key"], "performance.test.client_2.op_7");
        assert_eq!(b["who"], "perf_test_client_2");
        assert_eq!(b["value"]["metadata"]["sequence"], 7);
        let m = (mixed_workload().generator)(4, 10);
        assert_eq!(body(&m)["key"], "mixed.workload.client_4.write_2");
        assert_eq!(
            (mixed_workload().generator)(4, 11).path,
            "ctx/config.application_settings"
        );
        let d = body(&(file_dumps().generator)(1, 2));
        assert_eq!(
            (d["format"].as_str(), d["include_history"].as_bool()),
            (Some("txt"), Some(true))
        );
        let d = body(&(file_dumps().generator)(1, 3));
        assert_eq!(
            (d["format"].as_str(), d["include_history"].as_bool()),
            (Some("pretty"), Some(false))
        );
        let big = (memory_stress().generator)(5, 20);
        assert!(big.body.as_ref().unwrap().len() > 1500, "~2 KB value");
        assert_eq!(body(&big)["key"], "memory.stress.large_5_2");
        assert_eq!(
            (memory_stress().generator)(5, 29).path,
            "ctx/memory.stress.large_5_2"
        );
        let p = percentile_analysis().generator;
        assert_eq!(p(0, 12).path, "ctx/percentile.test.simple_2");
        assert_eq!(p(0, 13).method, hyper::Method::POST);
        assert_eq!(p(0, 14).path, "ctx/all");
    }

    #[test]
    fn scaling() {
        let s = concurrent_reads().scaled(2.0);
        assert_eq!((s.clients, s.ops_per_client), (10, 100));
        assert_eq!(file_dumps().scaled(0.01).ops_per_client, 1);
        assert_eq!(mixed_workload().scaled(0.5).total_ops(), 12 * 20);
    }

    #[test]
    fn ws_fanout_size_knobs() {
        let s = ws_fanout();
        let f = s.fanout.as_ref().expect("fan-out spec");
        assert_eq!((s.clients, f.writers, f.planned_writes()), (50, 8, 5000));
        assert_eq!(s.size_label(), "50 subscribers, 500 writes/s × 10 s");
        assert!(!SEED_SCENARIOS.contains(&s.name.as_str()));
        // --scale multiplies the duration, --clients the subscribers.
        let s = ws_fanout().scaled(0.2).with_clients(5);
        assert_eq!(s.size_label(), "5 subscribers, 500 writes/s × 2 s");
        assert_eq!(s.ops_per_client, 1000);
        // At least one write, however small the scale.
        assert_eq!(
            ws_fanout().scaled(1e-9).fanout.map(|f| f.planned_writes()),
            Some(1)
        );
        // --rate/--duration set the write schedule; other scenarios ignore them.
        let s = ws_fanout().with_write_schedule(100.0, Duration::from_secs(3));
        assert_eq!(s.size_label(), "50 subscribers, 100 writes/s × 3 s");
        let r = concurrent_reads().with_write_schedule(100.0, Duration::from_secs(3));
        assert_eq!((r.clients, r.ops_per_client), (10, 50));
    }
}
