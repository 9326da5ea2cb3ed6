//! report.html in a real headless Chromium: it loads without a console
//! error or a single network request, and its charts have data drawn in
//! them (polylines of many points with a real extent), limits and marks.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use ctx_load::LoadOptions;
use ctx_test_browser::Browser;
use serde_json::Value;

fn fake_ctx_server() -> Router {
    let ok = || async { axum::Json(serde_json::json!({"status": "success"})) };
    Router::new()
        .route("/ctx", post(ok))
        .route("/ctx/{key}", get(ok))
        .route("/health", get(ok))
}

/// Every chart of the page: its title, its series' point counts and drawn
/// widths (px), its limit lines and marks, whether it says "no data".
const CHARTS: &str = r#"[...document.querySelectorAll('svg.chart')].map(svg => ({
    title: svg.querySelector('title').textContent,
    points: [...svg.querySelectorAll('polyline.series')].map(p => p.points.numberOfItems),
    widths: [...svg.querySelectorAll('polyline.series')].map(p => p.getBBox().width),
    limits: svg.querySelectorAll('line.limit').length,
    marks: svg.querySelectorAll('line.mark').length,
    no_data: svg.textContent.includes('no data'),
}))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_html_renders_its_charts_in_a_real_browser() {
    let url = common::serve(fake_ctx_server()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report_dir = dir.path().join("r");
    let opts = LoadOptions {
        target: Some(url),
        // The stand-in server runs in this process: its RSS and CPU are ours.
        server_pid: Some(std::process::id()),
        scenarios: vec!["concurrent_reads".into(), "mixed_workload".into()],
        closed_duration: Some(Duration::from_millis(1500)),
        clients: Some(4),
        thresholds: vec!["concurrent_reads.p99_ms=1000".into()],
        report_dir: Some(report_dir.clone()),
        ..LoadOptions::default()
    };
    ctx_load::run(opts).await.expect("run carried out");
    let page = report_dir.join("report.html");
    assert!(page.is_file());

    let mut browser = Browser::start().await;
    browser.open(&format!("file://{}", page.display())).await;
    assert_eq!(
        browser.eval("document.title").await,
        Ok(Value::from("ctx load report"))
    );
    // Self-contained: nothing fetched beyond the page itself.
    assert_eq!(
        browser
            .eval("performance.getEntriesByType('resource').length")
            .await,
        Ok(Value::from(0))
    );
    let charts = browser.eval(CHARTS).await.expect("charts");
    let charts = charts.as_array().expect("a list of charts");
    let problems = std::mem::take(&mut browser.problems);
    browser.close().await;
    assert!(problems.is_empty(), "page problems: {problems:?}");

    // The run's two charts, then five per scenario.
    assert_eq!(charts.len(), 2 + 2 * 5, "{charts:#?}");
    for chart in charts {
        assert_eq!(chart["no_data"], false, "{chart}");
        let points: Vec<u64> = chart["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        let widest = chart["widths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .fold(0.0, f64::max);
        assert!(!points.is_empty(), "{chart}");
        let title = chart["title"].as_str().unwrap_or_default();
        if title.contains("over time") || title.contains("scenario after scenario") {
            // 1.5 s of load in 8 ms buckets; resources sampled every 250 ms.
            let wanted = if title.starts_with("Server") { 4 } else { 50 };
            assert!(points[0] >= wanted, "{chart}");
            // Drawn across most of the 580 px plot.
            assert!(widest > 300.0, "{chart}");
        }
    }
    let titled = |title: &str| -> Vec<&Value> {
        charts
            .iter()
            .filter(|c| c["title"].as_str() == Some(title))
            .collect()
    };
    // A mark where each scenario begins.
    assert_eq!(titled("Throughput, scenario after scenario")[0]["marks"], 2);
    // The p99 limit of concurrent_reads (1000 ms) is drawn; mixed_workload's
    // latency chart has none of its own to draw unless its scenario sets one.
    assert_eq!(titled("Latency over time")[0]["limits"], 1);
    assert_eq!(titled("Latency by percentile")[0]["limits"], 1);
}
