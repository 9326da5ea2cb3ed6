//! The `ws_fanout` live-update scenario: `/ws` subscribers and open-loop
//! writers (run by [`crate::fanout`]); not in the default run.

use std::time::Duration;

use super::{generator_fn, th};
use crate::engine::Request;
use crate::fanout::FanoutSpec;
use crate::model::Thresholds;
use crate::scenarios::Scenario;

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
