//! `ctx_load::run` end to end against a tiny stand-in server, the report
//! files it writes, and the ways a run can fail to be carried out.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use ctx_load::model::Outcome;
use ctx_load::{Launcher, LoadError, LoadOptions, OpenLoop};

/// Answers every ctx route with a 200 JSON body, like a healthy server.
fn fake_ctx_server() -> Router {
    let ok = || async { axum::Json(serde_json::json!({"status": "success"})) };
    Router::new()
        .route("/ctx", post(ok))
        .route("/ctx/{key}", get(ok))
        .route("/ctx/dump", post(ok))
        .route("/health", get(ok))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_suite_run_writes_a_complete_report() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("r");
    let opts = LoadOptions {
        target: Some(url.clone()),
        // The stand-in server runs inside this test process: monitor it.
        server_pid: Some(std::process::id()),
        scenarios: vec![
            "concurrent_reads".into(),
            "file_dumps".into(),
            "memory_stress".into(),
        ],
        scale: 0.5,
        thresholds: vec!["concurrent_reads.p99_ms=5000".into()],
        report_dir: Some(report_dir.clone()),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    assert!(outcome.all_passed, "{}", outcome.summary_table);
    // Seed sizes halved: nothing failed, but 10 dumps and a 0.1 s leak
    // window are no evidence. Inconclusive, never "ready".
    assert_eq!(
        outcome.outcome,
        Outcome::Inconclusive,
        "{}",
        outcome.summary_table
    );
    assert!(!outcome.report.readiness.ready);
    assert_eq!(outcome.report_dir.as_deref(), Some(report_dir.as_path()));
    assert!(outcome.summary_table.contains("concurrent_reads"));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap())
            .expect("report.json parses");
    assert_eq!(json["schema_version"], ctx_load::model::SCHEMA_VERSION);
    assert_eq!(json["verdict"]["outcome"], "inconclusive");
    assert_eq!(json["complete"], true);
    assert_eq!(json["all_thresholds_passed"], true);
    assert_eq!(json["target"], url);
    assert_eq!(json["summary"]["scenario_count"], 3);
    // 10×25 + 5×2 + 15×50 at scale 0.5.
    assert_eq!(json["summary"]["total_operations"], 250 + 10 + 750);
    let reads = &json["scenarios"][0];
    assert_eq!(reads["name"], "concurrent_reads");
    assert_eq!(reads["metrics"]["success_count"], 250);
    assert_eq!(reads["metrics"]["latency"]["count"], 250);
    assert!(reads["metrics"]["peak_memory_mb"].as_f64().unwrap() > 0.0);
    assert!(
        reads["metrics"]["resources"]["samples"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    let p99_check = reads["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "p99_ms")
        .unwrap();
    assert_eq!(p99_check["limit"], 5000.0);
    assert_eq!(json["scenarios"][1]["metrics"]["setup"]["requests"], 100);
    assert_eq!(json["scenarios"][1]["metrics"]["setup"]["failures"], 0);
    assert!(json["scenarios"][2]["metrics"]["resources"]["leak"]["verdict"].is_string());

    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    for section in [
        "# Context Server - Performance Test Report",
        "Generated: ",
        "## Executive Summary",
        "**Total Operations Tested:** 1010",
        "**Overall Success Rate:** 100.0%",
        "**Test Categories:** 3",
        "## Detailed Results by Test Category",
        "### Concurrent Reads",
        "**Peak Memory Usage:**",
        "**Average CPU Usage:**",
        "## Performance Analysis & Recommendations",
        "**Best Throughput:**",
        "**Slowest Response:**",
        "Memory efficiency:",
        "**Recommendations:**",
        "coordinated omission",
        "## Resource Usage",
        "## Production Readiness Assessment",
        "INCONCLUSIVE: not enough evidence",
        "**Verdict:** **INCONCLUSIVE**",
        "## Thresholds",
    ] {
        assert!(md.contains(section), "report.md lacks {section:?}:\n{md}");
    }
    assert!(!md.contains("INCOMPLETE"));
    assert!(!md.contains("PRODUCTION READY"));
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("INCONCLUSIVE") && !html.contains("PRODUCTION READY"));
    assert!(
        html.contains("<svg")
            && html.contains("Latency by percentile")
            && html.contains("Server RSS over time")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmonitored_run_says_not_measured_and_open_loop_is_reported() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenarios: vec!["concurrent_reads".into()],
        open_loop: Some(OpenLoop {
            rate: 100.0,
            duration: Duration::from_secs(1),
        }),
        report_dir: Some(dir.path().to_path_buf()),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    let m = &outcome.report.scenarios[0].metrics;
    assert_eq!(m.mode, ctx_load::model::RunMode::Open);
    assert_eq!(m.peak_memory_mb, None);
    assert_eq!(m.avg_cpu_percent, None);
    let ol = m.open_loop.as_ref().unwrap();
    assert_eq!((ol.planned, ol.sent), (100, 100));
    // Throughput floor in open loop is 95 % of the 100/s target, not the seed's 100.
    let tput = outcome.report.scenarios[0]
        .checks
        .iter()
        .find(|c| c.metric == "ops_per_sec")
        .unwrap();
    assert_eq!(tput.limit, 95.0);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("**Peak Memory Usage:** not measured"), "{md}");
    assert!(md.contains("Open loop:"), "{md}");
    assert!(
        md.contains("**Recommendations:**") && md.contains("--server-pid"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert!(json["scenarios"][0]["metrics"]["peak_memory_mb"].is_null());
    assert_eq!(json["server"]["pid"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_threshold_is_an_outcome_not_an_error() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenarios: vec!["concurrent_reads".into()],
        scale: 0.2,
        // No server answers in zero time.
        thresholds: vec!["concurrent_reads.p50_ms=0".into()],
        report_dir: Some(dir.path().to_path_buf()),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    assert!(!outcome.all_passed);
    assert!(
        outcome.summary_table.contains("FAIL (p50_ms)"),
        "{}",
        outcome.summary_table
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["all_thresholds_passed"], false);
    assert_eq!(json["complete"], true);
}

#[tokio::test]
async fn runs_that_cannot_be_carried_out_write_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let base = || LoadOptions {
        report_dir: Some(dir.path().join("r")),
        ..LoadOptions::default()
    };
    let cases = [
        (
            LoadOptions {
                target: Some(common::DEAD_URL.into()),
                ..base()
            },
            "unreachable",
        ),
        (
            LoadOptions {
                target: Some("ftp://x".into()),
                ..base()
            },
            "bad target URL",
        ),
        (
            LoadOptions {
                target: Some("http://127.0.0.1:1".into()),
                scenarios: vec!["nope".into()],
                ..base()
            },
            "unknown scenario",
        ),
        (
            LoadOptions {
                target: Some("http://127.0.0.1:1".into()),
                thresholds: vec!["a.b".into()],
                ..base()
            },
            "malformed threshold",
        ),
        (
            LoadOptions {
                target: Some("http://127.0.0.1:1".into()),
                server_pid: Some(u32::MAX - 1),
                ..base()
            },
            "no such process",
        ),
    ];
    for (opts, needle) in cases {
        let err = ctx_load::run(opts).await.expect_err(needle);
        assert!(err.to_string().contains(needle), "{needle}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
    assert!(!dir.path().join("r").exists());
}

#[tokio::test]
async fn a_server_that_will_not_start_is_reported_with_its_stderr() {
    // `sh -c SCRIPT serve --host … --port 0 --data-dir DIR`: the extra words become $0, $1…
    let mut launcher = Launcher::new("/bin/sh");
    launcher.args = vec![
        "-c".into(),
        "echo 'address already in use' >&2; exit 3".into(),
    ];
    let opts = LoadOptions {
        launcher: Some(launcher),
        write_report: false,
        ..LoadOptions::default()
    };
    let err = ctx_load::run(opts).await.expect_err("must not run");
    assert!(matches!(err, LoadError::CouldNotRun(_)), "{err:?}");
    assert!(err.to_string().contains("address already in use"), "{err}");

    // A server that never announces itself: a startup timeout, not a hang.
    let mut launcher = Launcher::new("/bin/sh");
    launcher.args = vec!["-c".into(), "exec sleep 30".into()];
    launcher.startup_timeout = Duration::from_millis(300);
    let opts = LoadOptions {
        launcher: Some(launcher),
        write_report: false,
        ..LoadOptions::default()
    };
    let err = ctx_load::run(opts).await.expect_err("must not run");
    assert!(err.to_string().contains("did not print"), "{err}");

    // A program that does not exist.
    let opts = LoadOptions {
        launcher: Some(Launcher::new("/nonexistent/ctx")),
        ..LoadOptions::default()
    };
    assert!(matches!(
        ctx_load::run(opts).await,
        Err(LoadError::CouldNotRun(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_scenarios_from_a_toml_file_run_like_seed_ones() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mix.toml");
    std::fs::write(
        &file,
        r#"
[[scenario]]
name = "hot_keys"
clients = 3
ops = 20
setup = [ { method = "POST", path = "/ctx", body = { key = "hot.0", value = 0 } } ]

[[scenario.request]]
path = "/ctx/hot.{op}"
weight = 3

[[scenario.request]]
method = "POST"
path = "/ctx"
body = { key = "hot.{client}", value = "{op}" }

[[scenario.request]]
path = "/nowhere/{client}"

[scenario.thresholds]
success_rate = 70
"#,
    )
    .unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenario_file: Some(file.clone()),
        scenarios: vec!["hot_keys".into(), "concurrent_reads".into()],
        scale: 0.5,
        write_report: false,
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("run carried out");
    let hot = &outcome.report.scenarios[0];
    assert_eq!(hot.name, "hot_keys");
    let m = &hot.metrics;
    // 3 clients × 10 ops; one op in five hits an unknown route (404).
    assert_eq!(m.total_operations, 30);
    assert_eq!(m.errors.status.get(&404), Some(&6));
    assert_eq!(m.success_count, 24);
    assert_eq!(
        m.setup.as_ref().map(|s| (s.requests, s.failures)),
        Some((1, 0))
    );
    assert!(hot.passed, "80 % >= 70 %");
    assert!(outcome.all_passed);
    assert_eq!(outcome.report_dir, None);

    // Seed names cannot be redefined, and unknown names are still errors.
    std::fs::write(
        &file,
        "[[scenario]]\nname='concurrent_reads'\nclients=1\nops=1\nrequest=[{path='/x'}]",
    )
    .unwrap();
    let opts = LoadOptions {
        target: Some(common::DEAD_URL.into()),
        scenario_file: Some(file),
        ..LoadOptions::default()
    };
    let err = ctx_load::run(opts)
        .await
        .expect_err("shadowing a seed scenario");
    assert!(err.to_string().contains("defined twice"), "{err}");
}
