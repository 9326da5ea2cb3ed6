//! `ctx load`'s load-shape flags from the command line: a staged run against
//! our own server, and input that must be refused (exit 2) before any load.

mod common;

use std::process::Command;

use common::{CTX, ChildServer, load_refused};
use serde_json::Value;

#[test]
fn bad_shapes_and_searches_are_refused_before_any_load() {
    load_refused(&["--stages", "10s"], "DURATION:TARGET");
    load_refused(
        &["--stages", "10s:100", "--rate", "5"],
        "cannot be used with",
    );
    load_refused(&["--client-stages", "1s:1.5"], "whole number");
    load_refused(&["--think-time", "5parsecs"], "--think-time");
    load_refused(&["--rate", "10", "--think-time", "1s"], "closed loop");
    load_refused(
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
    load_refused(
        &["--scenario", "ws_fanout", "--stages", "1s:5"],
        "do not apply",
    );
    load_refused(&["--find-max"], "--slo");
    load_refused(&["--slo", "p99_ms=5"], "--find-max");
    load_refused(&["--find-max", "--slo", "leak=on"], "an SLO limits one of");
    load_refused(&["--find-max", "--slo", "p99_ms"], "METRIC=VALUE");
    load_refused(
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
    load_refused(
        &[
            "--find-max",
            "--slo",
            "p99_ms=5",
            "--threshold",
            "*.p99_ms=5",
        ],
        "not --threshold",
    );
    load_refused(
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
