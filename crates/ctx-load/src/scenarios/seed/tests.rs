//! The seed scenarios as the Framework0 suite has them: sizes, request
//! shapes, scaling, and `ws_fanout`'s size knobs.

use std::time::Duration;

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
