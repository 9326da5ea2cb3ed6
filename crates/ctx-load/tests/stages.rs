//! Load shapes end to end over real HTTP: a ramping arrival rate sends each
//! stage its share of the schedule, ramping clients with think time offer the
//! closed loop the plan asks for, and the per-stage figures reach every report.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use ctx_load::LoadOptions;
use ctx_load::model::{Outcome, StageKind};
use ctx_load::scenarios::stages::parse_stages;

fn fake_ctx_server() -> Router {
    let ok = || async { axum::Json(serde_json::json!({"status": "success"})) };
    Router::new()
        .route("/ctx", post(ok))
        .route("/ctx/{key}", get(ok))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramping_rate_sends_each_stage_its_share_and_reports_it() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("r");
    // Up to 100 req/s in 1 s (50 requests), 1 s at 100 (100), down in 1 s (50).
    let plan = parse_stages(StageKind::Rate, "1s:100,1s:100,1s:0").unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenarios: vec!["concurrent_reads".into()],
        stages: Some(plan),
        report_dir: Some(report_dir.clone()),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    assert_ne!(outcome.outcome, Outcome::Fail, "{}", outcome.summary_table);
    let m = &outcome.report.scenarios[0].metrics;
    assert_eq!(m.total_operations, 200, "{}", outcome.summary_table);
    let requests: Vec<u64> = m.stages.iter().map(|s| s.requests).collect();
    assert_eq!(requests.len(), 3);
    for (got, want) in requests.iter().zip([50u64, 100, 50]) {
        assert!(got.abs_diff(want) <= 1, "stage requests {requests:?}");
    }
    assert_eq!(requests.iter().sum::<u64>(), 200);
    let hold = &m.stages[1];
    assert_eq!(
        (hold.span.from, hold.span.to, hold.target_rate),
        (100.0, 100.0, Some(100.0))
    );
    assert!((hold.achieved_rate - 100.0).abs() <= 1.0, "{hold:?}");
    assert_eq!(hold.success_rate_pct, 100.0);
    assert!(
        hold.latency.count >= 99 && hold.latency.p99_ms > 0.0,
        "{hold:?}"
    );
    // An open loop that kept to its (average) rate.
    let open = m.open_loop.as_ref().expect("open-loop figures");
    assert!((open.target_rate - 200.0 / 3.0).abs() < 1e-9, "{open:?}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["mode"]["kind"], "open");
    assert_eq!(json["mode"]["stages"]["ramps"], "rate");
    let stages = &json["scenarios"][0]["metrics"]["stages"];
    assert_eq!(stages[1]["requests"], requests[1]);
    assert_eq!(stages[2]["from"], 100.0);
    assert_eq!(stages[2]["to"], 0.0);
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(
        md.contains("**Stages:**") && md.contains("100 → 0 req/s"),
        "{md}"
    );
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("<h3>Stages</h3>"));
    assert!(outcome.summary_table.contains("concurrent_reads by stage:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramping_clients_with_think_time_offer_the_planned_closed_loop() {
    let url = common::serve(fake_ctx_server()).await;
    // Up to 3 clients in 0.5 s, then 3 clients for 1 s, each pausing 100 ms
    // after each answer: at most 3 × 10 requests in the second stage (and
    // thousands without the pause).
    let plan = parse_stages(StageKind::Clients, "500ms:3,1s:3").unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenarios: vec!["concurrent_writes".into()],
        stages: Some(plan),
        think_time: Some(Duration::from_millis(100)),
        write_report: false,
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    let report = &outcome.report;
    assert_eq!(report.mode.think_time_ms, Some(100.0));
    let m = &report.scenarios[0].metrics;
    assert_eq!(m.mode, ctx_load::model::RunMode::Closed);
    let stages = &m.stages;
    assert_eq!(stages.len(), 2, "{}", outcome.summary_table);
    // The ramp: client 1 joins at 1/6 s, client 2 at 1/3 s, client 3 at 0.5 s.
    assert!(stages[0].requests >= 2, "{stages:?}");
    assert!(stages[0].requests <= 6, "{stages:?}");
    assert!(stages[1].requests >= 9, "{stages:?}");
    assert!(stages[1].requests <= 33, "{stages:?}");
    assert_eq!(stages[1].success_rate_pct, 100.0);
    assert_eq!(stages[1].target_rate, None);
    assert_eq!((stages[0].span.from, stages[0].span.to), (0.0, 3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_ramps_as_its_stages_say() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        r#"
[[scenario]]
name = "ramp"
clients = 2
ops = 10
request = [{ path = "/ctx/k.{op}" }]

[[scenario.stage]]
duration = "1s"
rate = 40

[[scenario.stage]]
duration = 0.5
rate = 40
"#,
    )
    .unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenario_file: Some(file),
        scenarios: vec!["ramp".into()],
        write_report: false,
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    let m = &outcome.report.scenarios[0].metrics;
    // 20 requests up the ramp, 20 in the half second at 40/s.
    assert_eq!(m.total_operations, 40, "{}", outcome.summary_table);
    assert_eq!(m.success_count, 40);
    let requests: Vec<u64> = m.stages.iter().map(|s| s.requests).collect();
    assert!(requests[0].abs_diff(20) <= 1, "{requests:?}");
}
