//! The suite through `ctx_load::run` against our own server: the seed scenarios meet
//! the seed's thresholds, and ws_fanout delivers every write.

use ctx_load::model::CheckStatus;
use ctx_load::{Launcher, LoadOptions};

use super::CTX;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenarios_meet_the_seed_thresholds_against_our_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = LoadOptions {
        launcher: Some(Launcher::new(CTX)),
        report_dir: Some(dir.path().join("report")),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("the suite could run");
    let report = &outcome.report;
    assert!(report.complete);
    assert!(report.server.started_by_load);
    assert_eq!(
        report.server.stop_note, None,
        "server stopped cleanly on SIGTERM"
    );
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ctx_load::scenarios::SEED_SCENARIOS);
    let sizes: Vec<u64> = report
        .scenarios
        .iter()
        .map(|s| s.metrics.total_operations)
        .collect();
    assert_eq!(sizes, [500, 20, 200, 480, 1500, 1000]);
    for s in &report.scenarios {
        let failed: Vec<String> = s
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| format!("{} {} {} (actual {:?})", c.metric, c.op, c.limit, c.actual))
            .collect();
        assert!(failed.is_empty(), "{}: {failed:?}", s.name);
        // We started the server, so its memory and CPU were measured.
        assert!(
            s.metrics.peak_memory_mb.is_some_and(|m| m > 0.0),
            "{}",
            s.name
        );
        assert!(s.metrics.avg_cpu_percent.is_some(), "{}", s.name);
    }
    // Reads of never-written keys are 200s (found: false), so nothing failed at all.
    assert_eq!(
        report.summary.overall_success_rate_pct, 100.0,
        "{}",
        outcome.summary_table
    );
    assert_eq!(
        report
            .scenarios
            .iter()
            .find(|s| s.name == "file_dumps")
            .and_then(|s| s.metrics.setup.as_ref())
            .map(|s| s.failures),
        Some(0),
        "file_dumps' 100 set-up writes all succeeded"
    );
    assert!(outcome.all_passed);
    assert!(dir.path().join("report/report.json").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_fanout_delivers_every_write_once_in_order_against_our_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report_dir = dir.path().join("report");
    let opts = LoadOptions {
        launcher: Some(Launcher::new(CTX)),
        scenarios: vec!["ws_fanout".into()],
        // 5 subscribers, 100 writes/s for 1.5 s.
        clients: Some(5),
        open_loop: Some(ctx_load::OpenLoop {
            rate: 100.0,
            duration: std::time::Duration::from_millis(1500),
        }),
        // The 50 ms limit is for real runs; a busy 2-core test machine gets room.
        thresholds: vec!["ws_fanout.p99_ms=2000".into()],
        report_dir: Some(report_dir.clone()),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("the scenario could run");
    let s = &outcome.report.scenarios[0];
    assert_eq!(s.name, "ws_fanout");
    let m = &s.metrics;
    let f = m.fanout.as_ref().expect("fan-out figures");
    assert_eq!((f.subscribers, f.writes_planned), (5, 150));
    assert_eq!(f.writes_ok, 150, "{:?}", m.errors);
    assert_eq!(f.expected, 5 * 150);
    assert_eq!(f.tally.delivered, f.expected, "{f:?}");
    assert!(f.tally.is_clean(), "{:?}", f.tally);
    assert_eq!(
        (f.disconnects, f.bad_frames),
        (0, 0),
        "{:?}",
        f.first_problem
    );
    assert_eq!(f.complete_subscribers, 5);
    assert_eq!(f.delivered_pct, Some(100.0));
    // Every delivery was timed, and the tail is finite and plausible.
    assert_eq!(m.latency.count, 5 * 150);
    assert!(
        m.latency.p99_ms > 0.0 && m.latency.p99_ms < 2000.0,
        "{:?}",
        m.latency
    );
    assert!(m.latency.min_ms <= m.latency.p50_ms && m.latency.p50_ms <= m.latency.max_ms);
    assert!(outcome.all_passed, "{}", outcome.summary_table);
    assert!(outcome.summary_table.contains("delivered 750/750 (100.0%)"));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).expect("read"))
            .expect("json");
    let jm = &json["scenarios"][0]["metrics"];
    assert_eq!(jm["mode"], "fanout");
    assert_eq!(jm["fanout"]["delivered"], 750);
    assert_eq!(
        jm["fanout"]["per_subscriber"].as_array().map(Vec::len),
        Some(5)
    );
    let md = std::fs::read_to_string(report_dir.join("report.md")).expect("read");
    assert!(
        md.contains("**Fan-out:** delivered 750/750") && md.contains("5 of 5 got every write"),
        "{md}"
    );
    let html = std::fs::read_to_string(report_dir.join("report.html")).expect("read");
    assert!(html.contains("write-to-delivery"));
}
