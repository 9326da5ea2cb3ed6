//! A distributed `ctx load`: three worker processes (`--workers 3
//! --worker-index I`) against one real server, then `ctx load merge` of
//! their report.json files. The merged counts are the sums, the merged
//! percentiles those of the workers' histograms added in this process, the
//! merged open-loop rate the requested total, and the key space the one a
//! single process would have written.
//!
//! One test binary in parts: `open_loop`, `closed_loop`, `stages` (how the shares
//! merge), and here the helpers and the shares refused before any load.

mod closed_loop;
#[path = "../common/mod.rs"]
mod common;
mod open_loop;
mod stages;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{CTX, ChildServer, load_refused};
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
fn a_share_that_cannot_be_run_is_refused_before_any_load() {
    load_refused(&["--workers", "3", "--worker-index", "3"], "0-based");
    load_refused(
        &["--workers", "2", "--worker-index", "0", "--no-report"],
        "must write its report",
    );
    load_refused(
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
    load_refused(
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
    load_refused(&["--worker-index", "1"], "--workers");
}
