//! The six seed scenarios, with the request shapes, counts and thresholds of
//! the Framework0 suite (`seed/test_performance_load.md`, `spec/load.md`), and
//! the `ws_fanout` live-update scenario (run only when asked for, [`ws_fanout`]).

#[cfg(test)]
mod tests;
mod ws_fanout;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Scenario;
use crate::engine::{Request, RequestGenerator};
use crate::model::Thresholds;

pub use self::ws_fanout::ws_fanout;

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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
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
        open_loop: None,
        stages: None,
        think_time: None,
        checks: Vec::new(),
    }
}

/// All six seed scenarios, in the order of [`super::SEED_SCENARIOS`].
pub fn seed_scenarios() -> Vec<Scenario> {
    vec![
        concurrent_reads(),
        file_dumps(),
        concurrent_writes(),
        mixed_workload(),
        memory_stress(),
        percentile_analysis(),
    ]
}
