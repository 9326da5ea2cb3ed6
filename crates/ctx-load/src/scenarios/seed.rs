//! The six seed scenarios, with the request shapes, counts and thresholds of
//! the Framework0 suite (`seed/test_performance_load.md`, `spec/load.md`), and
//! the `ws_fanout` live-update scenario (run only when asked for).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Scenario;
use crate::engine::{Request, RequestGenerator};
use crate::fanout::FanoutSpec;
use crate::model::Thresholds;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::SEED_SCENARIOS;

    fn body(r: &Request) -> Value {
        serde_json::from_slice(r.body.as_ref().expect("body")).expect("json body")
    }

    #[test]
    fn seed_sizes() {
        let sizes: Vec<(String, u64, u64)> = seed_scenarios()
            .into_iter()
            .map(|s| (s.name, s.clients, s.ops_per_client))
            .collect();
        let want = [(10, 50), (5, 4), (8, 25), (12, 40), (15, 100), (10, 100)];
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
