//! A distributed `ctx load`: three worker processes (`--workers 3
//! --worker-index I`) against one real server, then `ctx load merge` of
//! their report.json files. The merged counts are the sums, the merged
//! percentiles those of the workers' histograms added in this process, the
//! merged open-loop rate the requested total, and the key space the one a
//! single process would have written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{CTX, ChildServer};
use ctx_load::model::{LatencySummary, decode_histogram, new_histogram};
use serde_json::Value;

/// Runs the three workers side by side, each with `args`, and returns their
/// report.json paths.
fn run_workers(server: &ChildServer, tmp: &Path, args: &[&str]) -> Vec<PathBuf> {
    let children: Vec<_> = (0..3)
        .map(|index| {
            let dir = tmp.join(format!("worker{index}"));
            let child = Command::new(CTX)
                .args(["load", "--target", &server.url])
                .args(args)
                .args(["--workers", "3", "--worker-index", &index.to_string()])
                .arg("--report-dir")
                .arg(&dir)
                .current_dir(tmp)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn ctx load");
            (dir, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(dir, child)| {
            let out = child.wait_with_output().expect("worker ran");
            assert_eq!(
                out.status.code(),
                Some(0),
                "a worker that ran to the end exits 0: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            dir.join("report.json")
        })
        .collect()
}

fn merge(reports: &[PathBuf], out: &Path) -> Output {
    Command::new(CTX)
        .args(["load", "merge"])
        .args(reports)
        .arg("--report-dir")
        .arg(out)
        .output()
        .expect("ctx load merge ran")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in {v}"))
}

fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing"))
}

/// The exit code `ctx load` gives a verdict.
fn verdict_code(report: &Value) -> i32 {
    match report.pointer("/verdict/outcome").and_then(Value::as_str) {
        Some("pass") => 0,
        Some("fail") => 1,
        Some("inconclusive") => 6,
        other => panic!("verdict {other:?}"),
    }
}

/// The workers' histograms of one scenario, added here.
fn added_here(workers: &[Value], scenario: usize, which: &str) -> LatencySummary {
    let mut sum = new_histogram();
    for w in workers {
        let text = w
            .pointer(&format!("/scenarios/{scenario}/hdr/{which}"))
            .and_then(Value::as_str)
            .expect("raw histogram in the worker's report");
        sum.add(decode_histogram(text).expect("decodes"))
            .expect("adds");
    }
    LatencySummary::from_histogram(&sum)
}

#[test]
fn open_loop_workers_merge_to_the_requested_rate_and_exact_percentiles() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let reports = run_workers(
        &server,
        tmp.path(),
        &[
            "--scenario",
            "concurrent_reads",
            "--scenario",
            "mixed_workload",
            "--rate",
            "150",
            "--duration",
            "2",
        ],
    );
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    for (index, w) in workers.iter().enumerate() {
        assert_eq!(u64_at(w, "/worker/index"), index as u64);
        assert_eq!(u64_at(w, "/worker/workers"), 3);
        // floor(150 × 2) = 300 requests, dealt round-robin: 100 each, at 50/s.
        assert_eq!(u64_at(w, "/scenarios/0/metrics/open_loop/planned"), 100);
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/target_rate"),
            50.0
        );
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/run_target_rate"),
            150.0
        );
    }

    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    let merged = read_json(&merged_dir.join("report.json"));
    assert_eq!(
        out.status.code(),
        Some(verdict_code(&merged)),
        "the exit code follows the merged verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(merged["worker"], Value::Null);
    assert_eq!(merged["merged_from"].as_array().map(Vec::len), Some(3));
    assert_eq!(f64_at(&merged, "/mode/rate"), 150.0);
    for scenario in 0..2 {
        let m = |p: &str| format!("/scenarios/{scenario}/metrics{p}");
        let sum = |p: &str| workers.iter().map(|w| u64_at(w, &m(p))).sum::<u64>();
        // Counts are the sums.
        for counter in [
            "/total_operations",
            "/success_count",
            "/error_count",
            "/clients",
            "/open_loop/planned",
            "/open_loop/sent",
            "/open_loop/late",
        ] {
            assert_eq!(u64_at(&merged, &m(counter)), sum(counter), "{counter}");
        }
        assert_eq!(u64_at(&merged, &m("/total_operations")), 300);
        assert_eq!(u64_at(&merged, &m("/clients")), 10 + scenario as u64 * 2);
        // The rate is the requested total.
        assert_eq!(f64_at(&merged, &m("/open_loop/target_rate")), 150.0);
        // Percentiles are those of the histograms added in one process.
        for (which, figure) in [
            ("latency", "/latency"),
            ("connect", "/connect"),
            ("uncorrected", "/open_loop/uncorrected"),
        ] {
            let here = serde_json::to_value(added_here(&workers, scenario, which)).expect("json");
            assert_eq!(merged.pointer(&m(figure)), Some(&here), "{which}");
        }
        // The merged report is mergeable in turn.
        assert!(
            merged
                .pointer(&format!("/scenarios/{scenario}/hdr/latency"))
                .is_some()
        );
        // And judged: its checks are there, as for a run.
        assert!(
            merged
                .pointer(&format!("/scenarios/{scenario}/checks"))
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
        );
    }
    let md = std::fs::read_to_string(merged_dir.join("report.md")).expect("report.md");
    assert!(md.contains("Merged from 3 reports"), "{md}");
    assert!(merged_dir.join("report.html").is_file());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict:"), "{stdout}");
}

#[test]
fn closed_loop_workers_split_clients_and_keys_like_one_process() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    // concurrent_writes: 8 clients × 25 ops, key performance.test.client_{c}.op_{o}.
    let reports = run_workers(&server, tmp.path(), &["--scenario", "concurrent_writes"]);
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    let clients: Vec<u64> = workers
        .iter()
        .map(|w| u64_at(w, "/scenarios/0/metrics/clients"))
        .collect();
    assert_eq!(
        clients,
        [3, 3, 2],
        "8 clients: the remainder to the first workers"
    );

    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    let merged = read_json(&merged_dir.join("report.json"));
    assert_eq!(out.status.code(), Some(verdict_code(&merged)));
    assert_eq!(u64_at(&merged, "/scenarios/0/metrics/clients"), 8);
    // --json: the same summary as a run's, one JSON document.
    let as_json = Command::new(CTX)
        .args(["load", "merge", "--json"])
        .args(&reports)
        .arg("--report-dir")
        .arg(tmp.path().join("merged-json"))
        .output()
        .expect("ctx load merge --json ran");
    let summary: Value = serde_json::from_slice(&as_json.stdout).expect("one JSON document");
    assert_eq!(
        summary.pointer("/verdict/outcome"),
        merged.pointer("/verdict/outcome"),
        "{summary}"
    );
    assert_eq!(as_json.status.code(), out.status.code());
    assert_eq!(
        u64_at(&merged, "/scenarios/0/metrics/total_operations"),
        200
    );
    assert_eq!(u64_at(&merged, "/scenarios/0/metrics/ops_per_client"), 25);
    assert_eq!(
        merged.pointer("/scenarios/0/metrics/latency"),
        Some(&serde_json::to_value(added_here(&workers, 0, "latency")).expect("json"))
    );
    // Global client ids: 200 distinct keys, every client's 25, as one process writes.
    let (status, all) = server.get("/ctx/all?prefix=performance.test.");
    assert_eq!(status, 200);
    assert_eq!(all["key_count"], 200, "{all}");
    for client in 0..8 {
        for op in [0, 24] {
            let key = format!("performance.test.client_{client}.op_{op}");
            assert!(all["context"].get(&key).is_some(), "{key} missing");
        }
    }

    // Refusals: a worker given twice, and reports of different runs.
    let twice = merge(
        &[reports[0].clone(), reports[0].clone()],
        &tmp.path().join("x"),
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("given twice"));
    let open = tmp.path().join("open");
    let single = Command::new(CTX)
        .args([
            "load",
            "--target",
            &server.url,
            "--scenario",
            "concurrent_writes",
        ])
        .args(["--rate", "50", "--duration", "1", "--report-dir"])
        .arg(&open)
        .output()
        .expect("ctx load ran");
    assert!(single.status.code().is_some_and(|c| c != 2 && c != 3));
    let mixed = merge(
        &[open.join("report.json"), reports[1].clone()],
        &tmp.path().join("y"),
    );
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("not parts of one run"),
        "{}",
        String::from_utf8_lossy(&mixed.stderr)
    );
}

#[test]
fn staged_workers_merge_stage_by_stage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let reports = run_workers(
        &server,
        tmp.path(),
        &["--scenario", "concurrent_reads", "--stages", "1s:120,1s:60"],
    );
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    let stage = |i: usize, field: &str| format!("/scenarios/0/metrics/stages/{i}/{field}");
    for (w, dir) in workers.iter().zip(&reports) {
        // A worker ramps to its third (0 → 40, then 40 → 20 req/s), shows
        // that beside what it achieved, and is judged on its share of the
        // run's average rate (150 requests in 2 s): 25 req/s, not 75.
        for (i, target, run_to) in [(0, 20.0, 120.0), (1, 30.0, 60.0)] {
            assert_eq!(f64_at(w, &stage(i, "target_rate")), target);
            assert_eq!(f64_at(w, &stage(i, "run_to")), run_to);
        }
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/target_rate"),
            25.0
        );
        let md = std::fs::read_to_string(dir.with_file_name("report.md")).expect("report.md");
        assert!(
            md.contains("0 → 40 req/s") && !md.contains("→ 120 req/s"),
            "{md}"
        );
    }
    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 6)),
        "merged, whatever the verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = read_json(&merged_dir.join("report.json"));
    for i in 0..2 {
        for w in &workers {
            assert!(
                w.pointer(&format!("/scenarios/0/hdr/stages/{i}")).is_some(),
                "a staged worker keeps its per-stage histograms"
            );
        }
        for counter in ["requests", "success"] {
            let sum: u64 = workers.iter().map(|w| u64_at(w, &stage(i, counter))).sum();
            assert!(sum > 0, "stage {i} sent requests");
            assert_eq!(u64_at(&merged, &stage(i, counter)), sum, "{counter}");
        }
        let rate_sum: f64 = workers
            .iter()
            .map(|w| f64_at(w, &stage(i, "achieved_rate")))
            .sum();
        let merged_rate = f64_at(&merged, &stage(i, "achieved_rate"));
        assert!(
            (merged_rate - rate_sum).abs() <= 1e-9 * rate_sum,
            "{merged_rate} vs {rate_sum}"
        );
        // 0 → 120 req/s, then 120 → 60: the plan's average rates, exactly.
        assert_eq!(f64_at(&merged, &stage(i, "target_rate")), [60.0, 90.0][i]);
        assert_eq!(merged.pointer(&stage(i, "run_to")), None);
        assert_eq!(
            merged.pointer(&stage(i, "latency")),
            Some(
                &serde_json::to_value(added_here(&workers, 0, &format!("stages/{i}")))
                    .expect("json")
            )
        );
    }
    // The merged report keeps the stage histograms, so it merges further.
    assert!(merged.pointer("/scenarios/0/hdr/stages/1").is_some());
}

/// `ctx load` with `args`; refused input must never reach the load.
fn refused(args: &[&str], because: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(CTX)
        .arg("load")
        .args(args)
        .arg("--report-dir")
        .arg(tmp.path().join("r"))
        .current_dir(tmp.path())
        .output()
        .expect("ctx load ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(because), "{args:?}: {stderr}");
    assert!(!tmp.path().join("r").exists(), "{args:?} wrote a report");
}

#[test]
fn a_share_that_cannot_be_run_is_refused_before_any_load() {
    refused(&["--workers", "3", "--worker-index", "3"], "0-based");
    refused(
        &["--workers", "2", "--worker-index", "0", "--no-report"],
        "must write its report",
    );
    refused(
        &[
            "--workers",
            "2",
            "--worker-index",
            "1",
            "--scenario",
            "ws_fanout",
        ],
        "does not split",
    );
    // concurrent_writes has 8 clients: a ninth worker would have none.
    refused(
        &[
            "--workers",
            "9",
            "--worker-index",
            "0",
            "--scenario",
            "concurrent_writes",
        ],
        "fewer than --workers",
    );
    refused(&["--worker-index", "1"], "--workers");
}
