//! `ctx load`'s load-shape flags from the command line: a staged run against
//! our own server, and input that must be refused (exit 2) before any load.

mod common;

use std::process::Command;

use common::{CTX, ChildServer};
use serde_json::Value;

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
fn bad_shapes_and_searches_are_refused_before_any_load() {
    refused(&["--stages", "10s"], "DURATION:TARGET");
    refused(
        &["--stages", "10s:100", "--rate", "5"],
        "cannot be used with",
    );
    refused(&["--client-stages", "1s:1.5"], "whole number");
    refused(&["--think-time", "5parsecs"], "--think-time");
    refused(&["--rate", "10", "--think-time", "1s"], "closed loop");
    refused(
        &[
            "--client-stages",
            "1s:2",
            "--workers",
            "2",
            "--worker-index",
            "0",
        ],
        "do not split",
    );
    refused(
        &["--scenario", "ws_fanout", "--stages", "1s:5"],
        "do not apply",
    );
    refused(&["--find-max"], "--slo");
    refused(&["--slo", "p99_ms=5"], "--find-max");
    refused(&["--find-max", "--slo", "leak=on"], "an SLO limits one of");
    refused(&["--find-max", "--slo", "p99_ms"], "METRIC=VALUE");
    refused(
        &[
            "--find-max",
            "--slo",
            "p99_ms=5",
            "--scenario",
            "concurrent_reads",
            "--scenario",
            "mixed_workload",
        ],
        "exactly one --scenario",
    );
    refused(
        &[
            "--find-max",
            "--slo",
            "p99_ms=5",
            "--threshold",
            "*.p99_ms=5",
        ],
        "not --threshold",
    );
    refused(
        &[
            "--find-max",
            "--slo",
            "p99_ms=5",
            "--duration",
            "10",
            "--max-duration",
            "5",
        ],
        "at least one step",
    );
}

#[test]
fn a_staged_run_from_the_command_line_reports_each_stage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let dir = tmp.path().join("r");
    let out = Command::new(CTX)
        .args([
            "load",
            "--target",
            &server.url,
            "--scenario",
            "concurrent_reads",
        ])
        .args(["--stages", "500ms:40,500ms:40", "--json", "--report-dir"])
        .arg(&dir)
        .output()
        .expect("ctx load ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("--json summary");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("report.json parses");
    let stages = report["scenarios"][0]["metrics"]["stages"]
        .as_array()
        .expect("per-stage figures");
    assert_eq!(stages.len(), 2, "{stderr}");
    // 10 requests up the ramp, 20 at 40/s.
    assert_eq!(stages[0]["requests"], 10, "{stages:?}");
    assert_eq!(stages[1]["requests"], 20, "{stages:?}");
    assert_eq!(report["mode"]["stages"]["ramps"], "rate");
    // The exit code is the verdict's.
    let code = match summary["verdict"]["outcome"].as_str() {
        Some("pass") => 0,
        Some("fail") => 1,
        _ => 6,
    };
    assert_eq!(out.status.code(), Some(code), "{stderr}");
}
