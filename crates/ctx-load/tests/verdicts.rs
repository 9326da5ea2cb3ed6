//! One verdict, the same everywhere: each rule of the verdict over real HTTP
//! against small stand-in servers, and every output (summary, report.md,
//! report.html, report.json) showing that verdict.

mod common;

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use ctx_load::model::{CheckStatus, Outcome};
use ctx_load::{LoadOptions, OpenLoop, RunOutcome};

fn healthy() -> Router {
    Router::new().route(
        "/ctx/{key}",
        get(|| async { axum::Json(serde_json::json!({"status": "success"})) }),
    )
}

/// A scenario file with one scenario of 2 × 60 GETs of `path`.
fn scenario_file(dir: &Path, path: &str, thresholds: &str) -> std::path::PathBuf {
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        format!(
            "[[scenario]]\nname = \"mine\"\nclients = 2\nops = 60\n\
             [[scenario.request]]\npath = \"{path}\"\n{thresholds}"
        ),
    )
    .expect("write scenario file");
    file
}

async fn run_file(url: &str, dir: &Path, path: &str, extra: &[&str]) -> RunOutcome {
    let opts = LoadOptions {
        target: Some(url.into()),
        scenario_file: Some(scenario_file(dir, path, "")),
        scenarios: vec!["mine".into()],
        thresholds: extra.iter().map(|s| s.to_string()).collect(),
        report_dir: Some(dir.join("report")),
        ..LoadOptions::default()
    };
    ctx_load::run(opts).await.expect("the run is carried out")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("report").join(file)).expect("report file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_scenario_aimed_at_a_wrong_path_fails_by_default() {
    let url = common::serve(healthy()).await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_file(&url, dir.path(), "/no/such/route", &[]).await;
    assert_eq!(outcome.outcome, Outcome::Fail, "{}", outcome.summary_table);
    let check = &outcome.report.scenarios[0].checks[0];
    assert_eq!(
        (check.metric.as_str(), check.limit, check.status),
        ("success_rate", 99.0, CheckStatus::Fail)
    );
    assert!(outcome.summary_table.contains("FAIL (success_rate)"));
    assert!(outcome.summary_table.contains("verdict: FAIL"));
    let html = read(dir.path(), "report.html");
    assert!(html.contains("NOT READY") && !html.contains("PRODUCTION READY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conclusive_pass_is_ready_everywhere_and_a_failed_threshold_nowhere() {
    let url = common::serve(healthy()).await;
    let dir = tempfile::tempdir().unwrap();
    let pass = run_file(&url, dir.path(), "/ctx/k{op}", &[]).await;
    assert_eq!(pass.outcome, Outcome::Pass, "{}", pass.summary_table);
    assert!(pass.report.readiness.ready);
    assert!(pass.summary_table.contains("verdict: PASS"));
    let json: serde_json::Value = serde_json::from_str(&read(dir.path(), "report.json")).unwrap();
    assert_eq!(json["verdict"]["outcome"], "pass");
    assert_eq!(json["readiness"]["ready"], true);
    assert!(read(dir.path(), "report.md").contains("PRODUCTION READY"));
    assert!(read(dir.path(), "report.html").contains("PRODUCTION READY"));

    // The same run with a limit no server meets: every output says fail.
    let fail = run_file(&url, dir.path(), "/ctx/k{op}", &["mine.p50_ms=0"]).await;
    assert_eq!(fail.outcome, Outcome::Fail, "{}", fail.summary_table);
    assert!(!fail.report.readiness.ready);
    let json: serde_json::Value = serde_json::from_str(&read(dir.path(), "report.json")).unwrap();
    assert_eq!(json["verdict"]["outcome"], "fail");
    assert_eq!(json["readiness"]["ready"], false);
    for file in ["report.md", "report.html"] {
        let text = read(dir.path(), file);
        assert!(
            text.contains("NOT READY") && !text.contains("PRODUCTION READY"),
            "{file}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_that_cannot_reach_its_rate_fails_and_says_so() {
    // One connection to a server that takes 100 ms per answer: at most ~10/s.
    let slow = Router::new().route(
        "/ctx/{key}",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            "{}"
        }),
    );
    let url = common::serve(slow).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        target: Some(url),
        scenario_file: Some(scenario_file(dir.path(), "/ctx/a", "")),
        scenarios: vec!["mine".into()],
        clients: Some(1),
        open_loop: Some(OpenLoop {
            rate: 30.0,
            duration: Duration::from_secs(1),
        }),
        report_dir: Some(dir.path().join("report")),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("the run is carried out");
    assert_eq!(outcome.outcome, Outcome::Fail, "{}", outcome.summary_table);
    let failed: Vec<&str> = outcome.report.scenarios[0]
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.metric.as_str())
        .collect();
    assert!(
        failed.contains(&"rate_pct") && failed.contains(&"late_pct"),
        "{failed:?}"
    );
    // The terminal summary says why, not only report.md.
    let table = &outcome.summary_table;
    assert!(
        table.contains("verdict: FAIL")
            && table.contains("rate_pct")
            && table.contains("of 30 req/s"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_checks_are_counted_per_check_and_fail_the_run() {
    // Even keys are found, odd ones are not (a 200 either way, as ctx answers).
    let app = Router::new().route(
        "/ctx/{key}",
        get(
            |axum::extract::Path(key): axum::extract::Path<String>| async move {
                let n: u64 = key.trim_start_matches('k').parse().unwrap_or(0);
                axum::Json(serde_json::json!({"found": n.is_multiple_of(2), "value": {"n": n}}))
            },
        ),
    );
    let url = common::serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let checks = "[[scenario.check]]\nstatus = 200\n\
                  [[scenario.check]]\nheader = \"Content-Type\"\nequals = \"application/json\"\n\
                  [[scenario.check]]\njson = \"value.n\"\n\
                  [[scenario.check]]\nname = \"found\"\njson = \"found\"\nequals = true\n";
    let opts = LoadOptions {
        target: Some(url),
        scenario_file: Some(scenario_file(dir.path(), "/ctx/k{op}", checks)),
        scenarios: vec!["mine".into()],
        report_dir: Some(dir.path().join("report")),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("the run is carried out");
    let m = &outcome.report.scenarios[0].metrics;
    let counts: Vec<(&str, u64, u64)> = m
        .content_checks
        .iter()
        .map(|c| (c.name.as_str(), c.passed, c.failed))
        .collect();
    assert_eq!(
        counts,
        [
            ("status 200", 120, 0),
            ("header content-type = application/json", 120, 0),
            ("json value.n", 120, 0),
            ("found", 60, 60),
        ]
    );
    assert_eq!(
        m.content_checks[3].first_failure.as_deref(),
        Some("found = false")
    );
    // The requests all succeeded; the failed check fails the run.
    assert_eq!(m.success_rate_pct, 100.0);
    assert_eq!(outcome.outcome, Outcome::Fail, "{}", outcome.summary_table);
    assert!(outcome.summary_table.contains("FAIL (check: found)"));
    assert!(read(dir.path(), "report.md").contains("**Check `found`:** 60 of 120 answers passed"));
}
