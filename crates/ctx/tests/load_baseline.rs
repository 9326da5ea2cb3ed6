//! `ctx load --baseline OLD/report.json`: figure-by-figure comparison with an
//! earlier run, over real HTTP; a regression beyond the tolerance fails the run
//! (exit 1) and names the figure; a report compared with itself passes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{CTX, ChildServer};
use serde_json::Value;

fn ctx_load(args: &[&str], tmp: &Path) -> Output {
    Command::new(CTX)
        .arg("load")
        .args(args)
        .current_dir(tmp)
        .env_remove("CTX_API_KEY")
        .output()
        .expect("run ctx load")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("encode")).expect("write");
}

/// `report` without the fields added to report.json after schema 2 came in
/// (396f4f9): what the oldest readable report looks like.
fn older_report(mut report: Value) -> Value {
    let remove = |value: &mut Value, fields: &[&str]| {
        for field in fields {
            value.as_object_mut().expect("an object").remove(*field);
        }
    };
    remove(
        &mut report,
        &["worker", "merged_from", "baseline", "find_max"],
    );
    remove(&mut report["mode"], &["stages", "think_time_ms"]);
    report["schema_version"] = 2.into();
    for scenario in report["scenarios"].as_array_mut().expect("scenarios") {
        remove(scenario, &["hdr"]);
        remove(&mut scenario["thresholds"], &["min_checks_pct"]);
        let metrics = &mut scenario["metrics"];
        remove(metrics, &["timeline", "content_checks", "stages"]);
        if metrics["open_loop"].is_object() {
            remove(&mut metrics["open_loop"], &["run_target_rate"]);
        }
    }
    report
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_regression_beyond_the_tolerance_fails_the_run_and_the_same_report_passes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let pid = server.pid().to_string();
    let run = |extra: &[&str]| {
        let base = [
            "--target",
            &server.url,
            "--server-pid",
            &pid,
            "--scenario",
            "concurrent_reads",
            "--duration",
            "1.5",
        ];
        ctx_load(&[&base[..], extra].concat(), tmp.path())
    };
    let first = run(&["--report-dir", "first"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let first_json = tmp.path().join("first/report.json");

    // The same report as its own baseline: every figure the same, exit 0.
    let same = ctx_load(
        &[
            "merge",
            "first/report.json",
            "--baseline",
            "first/report.json",
            "--report-dir",
            "same",
            "--json",
        ],
        tmp.path(),
    );
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    let summary: Value = serde_json::from_slice(&same.stdout).expect("--json is JSON");
    assert_eq!(summary["verdict"]["outcome"], "pass");
    assert_eq!(summary["baseline"]["regressions"], 0, "{summary:#}");
    let changes = &summary["baseline"]["changes"][0];
    assert_eq!(changes["vs baseline"], "concurrent_reads");
    for column in ["ops/s", "p50 ms", "p99 ms", "success %", "peak MB"] {
        let cell = changes[column].as_str().unwrap_or_default();
        assert!(
            cell.ends_with("0.0% same") || cell.ends_with("0.00 pp same"),
            "{changes:#}"
        );
    }
    let report = read_json(&tmp.path().join("same/report.json"));
    let figures = report["baseline"]["scenarios"][0]["figures"]
        .as_array()
        .expect("figures");
    assert_eq!(figures.len(), 6, "{figures:?}");
    for figure in figures {
        assert_eq!(figure["change"], "same", "{figure:#}");
    }
    // Memory and CPU were measured (--server-pid), so they were compared too.
    assert!(figures[4]["baseline"].as_f64().is_some(), "{figures:?}");

    // A schema-2 report as the first schema-2 version wrote it (without the
    // fields added since) still reads as a baseline, with the same figures;
    // merging it says why it cannot (no raw histograms), not a parse error.
    let older = older_report(read_json(&first_json));
    write_json(&tmp.path().join("older.json"), &older);
    let against_older = ctx_load(
        &[
            "merge",
            "first/report.json",
            "--baseline",
            "older.json",
            "--report-dir",
            "against-older",
        ],
        tmp.path(),
    );
    assert_eq!(
        against_older.status.code(),
        Some(0),
        "{}",
        text(&against_older)
    );
    let report = read_json(&tmp.path().join("against-older/report.json"));
    assert_eq!(report["baseline"]["regressions"], 0, "{report:#}");
    let figures = report["baseline"]["scenarios"][0]["figures"]
        .as_array()
        .expect("figures");
    assert!(figures.iter().all(|f| f["change"] == "same"), "{figures:?}");
    let merge_older = ctx_load(&["merge", "older.json", "--report-dir", "m"], tmp.path());
    assert_eq!(merge_older.status.code(), Some(2), "{}", text(&merge_older));
    assert!(text(&merge_older).contains("has no raw histograms"));

    // A doctored baseline, ten times faster: this run is a regression, exit 1,
    // and every output names the figure.
    let mut doctored = read_json(&first_json);
    let metrics = &mut doctored["scenarios"][0]["metrics"];
    let throughput = metrics["throughput_ops_sec"].as_f64().expect("throughput");
    metrics["throughput_ops_sec"] = Value::from(throughput * 10.0);
    for p in ["p50_ms", "p99_ms"] {
        let ms = metrics["latency"][p].as_f64().expect("latency");
        metrics["latency"][p] = Value::from(ms / 10.0);
    }
    write_json(&tmp.path().join("fast.json"), &doctored);
    let slower = run(&["--baseline", "fast.json", "--report-dir", "slower"]);
    let stdout = String::from_utf8_lossy(&slower.stdout);
    assert_eq!(slower.status.code(), Some(1), "{}", text(&slower));
    assert!(
        stdout.contains("verdict: FAIL")
            && stdout.contains("concurrent_reads: throughput_ops_sec")
            && stdout.contains("in the baseline (-"),
        "{stdout}"
    );
    assert!(stdout.contains("Baseline: fast.json"), "{stdout}");
    assert!(stdout.contains("% WORSE"), "{stdout}");
    let report = read_json(&tmp.path().join("slower/report.json"));
    assert_eq!(report["verdict"]["outcome"], "fail");
    assert!(report["baseline"]["regressions"].as_u64() >= Some(1));
    assert_eq!(
        report["baseline"]["scenarios"][0]["figures"][0]["figure"],
        "throughput_ops_sec"
    );
    assert_eq!(
        report["baseline"]["scenarios"][0]["figures"][0]["change"],
        "worse"
    );
    let md = std::fs::read_to_string(tmp.path().join("slower/report.md")).expect("md");
    assert!(
        md.contains("## Comparison with the Baseline") && md.contains("WORSE"),
        "{md}"
    );
    let html = std::fs::read_to_string(tmp.path().join("slower/report.html")).expect("html");
    assert!(html.contains("Comparison with the baseline") && html.contains("WORSE"));
    assert!(!html.contains("PRODUCTION READY"));

    // A baseline without this run's scenario: listed on both sides, not failed.
    let mut renamed = read_json(&first_json);
    renamed["scenarios"][0]["name"] = Value::from("older_scenario");
    write_json(&tmp.path().join("renamed.json"), &renamed);
    let other = ctx_load(
        &[
            "merge",
            "first/report.json",
            "--baseline",
            "renamed.json",
            "--report-dir",
            "other",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&other.stdout);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other));
    assert!(
        stdout.contains("Only in the baseline (not compared): older_scenario.")
            && stdout.contains("Only in this run (not compared): concurrent_reads."),
        "{stdout}"
    );
}

#[test]
fn an_unusable_baseline_is_a_usage_error_before_any_load() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("not.json"), "hello").expect("write");
    write_json(
        &tmp.path().join("v1.json"),
        &serde_json::json!({"schema_version": 1, "scenarios": []}),
    );
    write_json(
        &tmp.path().join("v99.json"),
        &serde_json::json!({"schema_version": 99, "scenarios": []}),
    );
    write_json(
        &tmp.path().join("shape.json"),
        &serde_json::json!({"schema_version": 2, "scenarios": "no"}),
    );
    // An unreachable target: a baseline error must come first (exit 2, not 3).
    let target = ["--target", "http://127.0.0.1:1"];
    let cases: [(&[&str], &str); 7] = [
        (&["--baseline", "missing.json"], "cannot read it"),
        (&["--baseline", "not.json"], "not a ctx load report.json"),
        (&["--baseline", "shape.json"], "not a ctx load report.json"),
        (
            &["--baseline", "v1.json"],
            "too old for this ctx load (supported: 2 to",
        ),
        (
            &["--baseline", "v99.json"],
            "newer than this ctx load understands",
        ),
        (
            &["--baseline", "v1.json", "--tolerance", "lots"],
            "--tolerance \"lots\"",
        ),
        (&["--tolerance", "5%"], "--baseline"),
    ];
    for (args, needle) in cases {
        let out = ctx_load(&[&target[..], args].concat(), tmp.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The same check in `ctx load merge`.
    let out = ctx_load(
        &["merge", "v1.json", "--baseline", "missing.json"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--baseline missing.json"));
}
