//! The seed's performance suite as part of `cargo test`: the six scenarios at
//! their seed sizes against our own server (started as a child process, as
//! `ctx load` does), asserting the seed's thresholds; and the `ctx load`
//! command's exit codes.

use std::path::Path;
use std::process::{Command, Output};

use ctx_load::model::{AbortReason, CheckStatus};
use ctx_load::{Launcher, LoadError, LoadOptions};

const CTX: &str = env!("CARGO_BIN_EXE_ctx");

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

fn ctx_load(args: &[&str], tmp: &Path) -> Output {
    Command::new(CTX)
        .arg("load")
        .args(args)
        .current_dir(tmp)
        // The child server's throw-away data directory goes here, so the
        // test can see it removed.
        .env("TMPDIR", tmp)
        .output()
        .expect("run ctx load")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn usage_errors_exit_2_and_an_unreachable_target_3_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], i32, &str); 7] = [
        (&["--target", "http://127.0.0.1:1"], 3, "unreachable"),
        (&["--target", "not a url"], 2, "bad target URL"),
        (&["--target", "127.0.0.1:8080"], 2, "bad target URL"),
        (
            &["--target", "http://127.0.0.1:1", "--scenario", "nope"],
            2,
            "unknown scenario",
        ),
        (&["--scenario", "nope"], 2, "unknown scenario"),
        (
            &["--threshold", "concurrent_reads.p99_ms=fast"],
            2,
            "malformed threshold",
        ),
        (
            &["--threshold", "concurrent_reads.p99=5"],
            2,
            "malformed threshold",
        ),
    ];
    for (args, code, needle) in cases {
        let out = ctx_load(args, tmp.path());
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {:?}",
            stderr_lines(&out)
        );
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(
            lines[0].starts_with("ctx load: ") && lines[0].contains(needle),
            "{args:?}: {lines:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Nothing was started, so no report and no data directory were left behind.
    assert_eq!(std::fs::read_dir(tmp.path()).expect("read tmp").count(), 0);
}

#[test]
fn the_verdict_decides_the_exit_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // 1.5 s of closed loop: enough samples and time for every figure it quotes.
    let ok = ctx_load(
        &[
            "--scenario",
            "concurrent_reads",
            "--duration",
            "1.5",
            "--report-dir",
            "ok",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}{:?}", stderr_lines(&ok));
    assert!(
        stdout.contains("concurrent_reads") && stdout.contains("verdict: PASS"),
        "{stdout}"
    );
    for f in ["report.md", "report.json", "report.html"] {
        assert!(tmp.path().join("ok").join(f).is_file(), "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("ok/report.json")).expect("read"))
            .expect("json");
    assert_eq!(json["verdict"]["outcome"], "pass");
    let pid = json["server"]["pid"].as_u64().expect("server pid");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the server was stopped"
    );

    // The seed-sized smoke run is never evidence: inconclusive, exit 6, and it says so.
    let quick = ctx_load(
        &[
            "--quick",
            "--scenario",
            "concurrent_reads",
            "--report-dir",
            "quick",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&quick.stdout);
    assert_eq!(quick.status.code(), Some(6), "{stdout}");
    assert!(
        stdout.contains("verdict: INCONCLUSIVE") && stdout.contains("smoke run"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(tmp.path().join("quick/report.md")).expect("read");
    assert!(!md.contains("PRODUCTION READY"), "{md}");

    // A file scenario aimed at a path the server does not have: every request
    // is a 404, and the default success-rate threshold (99 %) fails it.
    std::fs::write(
        tmp.path().join("wrong.toml"),
        "[[scenario]]\nname = \"wrong_path\"\nclients = 2\nops = 60\n\
         [[scenario.request]]\npath = \"/no/such/route\"\n",
    )
    .expect("write scenario file");
    let wrong = ctx_load(
        &[
            "--scenario-file",
            "wrong.toml",
            "--scenario",
            "wrong_path",
            "--report-dir",
            "wrong",
            "--json",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&wrong.stdout);
    assert_eq!(wrong.status.code(), Some(1), "{stdout}");
    // --json: the summary is one JSON document on stdout, nothing else.
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(summary["verdict"]["outcome"], "fail", "{summary}");
    assert_eq!(summary["scenarios"][0]["scenario"], "wrong_path");
    assert_eq!(summary["scenarios"][0]["result"], "FAIL (success_rate)");
    assert!(
        summary["report_json"]
            .as_str()
            .is_some_and(|p| p.ends_with("wrong/report.json")),
        "{summary}"
    );
    std::fs::remove_file(tmp.path().join("wrong.toml")).expect("remove scenario file");

    // No server answers in zero time: a failed threshold is exit 1, with a report.
    let fail = ctx_load(
        &[
            "--scenario",
            "concurrent_reads",
            "--scale",
            "0.2",
            "--threshold",
            "concurrent_reads.p50_ms=0",
            "--report-dir",
            "fail",
        ],
        tmp.path(),
    );
    assert_eq!(fail.status.code(), Some(1), "{:?}", stderr_lines(&fail));
    assert!(String::from_utf8_lossy(&fail.stdout).contains("FAIL (p50_ms)"));
    assert!(tmp.path().join("fail/report.md").is_file());

    // The throw-away data directories were removed: only the two reports remain.
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["fail", "ok", "quick", "wrong"]);
}

/// Runs `ctx serve …` under a shell that kills it with SIGKILL as soon as a
/// dump named `crash_trigger` appears in its data directory (the set-up of
/// the second scenario writes it, so the crash always falls inside that
/// scenario, after the first one finished), simulating a crash mid-run.
const CRASH_WRAPPER: &str = r#"
"$0" "$@" &
s=$!
trap 'kill $s; exit 0' TERM
for a in "$@"; do dir=$a; done
while [ ! -e "$dir/dumps/crash_trigger.json" ]; do sleep 0.05; done
kill -9 $s
wait $s
exit 7
"#;

const CRASH_SCENARIOS: &str = r#"
[[scenario]]
name = "crash_trigger"
clients = 1
ops = 1
[[scenario.request]]
path = "/ctx/k.0"

[[scenario]]
name = "keep_reading"
clients = 2
ops = 20000
setup = [{ method = "POST", path = "/ctx/dump", body = { format = "json", filename = "crash_trigger" } }]
[[scenario.request]]
path = "/ctx/k.{op}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_aborts_the_run_with_an_incomplete_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("crash.toml");
    std::fs::write(&file, CRASH_SCENARIOS).expect("write scenario file");
    let mut launcher = Launcher::new("/bin/sh");
    launcher.args = vec!["-c".into(), CRASH_WRAPPER.into(), CTX.into()];
    let report_dir = dir.path().join("report");
    let opts = LoadOptions {
        launcher: Some(launcher),
        scenario_file: Some(file),
        scenarios: vec!["crash_trigger".into(), "keep_reading".into()],
        report_dir: Some(report_dir.clone()),
        ..LoadOptions::default()
    };
    let err = ctx_load::run(opts).await.expect_err("the run must abort");
    let LoadError::Aborted {
        reason,
        report_dir: written,
    } = &err
    else {
        panic!("expected an aborted run, got {err:?}");
    };
    assert!(
        matches!(reason, AbortReason::ServerExited { scenario, .. } if scenario == "keep_reading"),
        "{reason}"
    );
    assert!(reason.to_string().contains("the server exited"), "{reason}");
    assert_eq!(written.as_deref(), Some(report_dir.as_path()));
    assert!(err.to_string().contains("incomplete report"), "{err}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).expect("read"))
            .expect("json");
    assert_eq!(json["complete"], false);
    assert_eq!(json["all_thresholds_passed"], false);
    assert!(
        json["aborted_reason"]
            .as_str()
            .is_some_and(|r| r.contains("keep_reading"))
    );
    // Only the scenario that finished is reported.
    assert_eq!(json["scenarios"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["scenarios"][0]["name"], "crash_trigger");
    let md = std::fs::read_to_string(report_dir.join("report.md")).expect("read");
    assert!(md.contains("INCOMPLETE REPORT"), "{md}");
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

#[test]
fn list_shows_ws_fanout_with_its_size() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = ctx_load(&["--list", "--clients", "7", "--scale", "0.5"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    assert!(lines[6].starts_with("ws_fanout"), "{stdout}");
    assert!(
        lines[6].contains("7 subscribers, 500 writes/s × 5 s"),
        "{stdout}"
    );
}

/// A long run shows where it is on stderr while it goes (stderr is a pipe
/// here: plain lines, one every few seconds), and `--json` keeps stdout one
/// JSON document.
#[test]
fn a_long_run_prints_progress_on_stderr_and_json_alone_on_stdout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secs = ctx_load::progress::PLAIN_EVERY.as_secs_f64() + 1.5;
    let out = ctx_load(
        &[
            "--scenario",
            "concurrent_reads",
            "--rate",
            "100",
            "--duration",
            &secs.to_string(),
            "--no-report",
            "--json",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(summary["scenarios"][0]["scenario"], "concurrent_reads");
    let lines = stderr_lines(&out);
    assert_eq!(
        lines.first().map(String::as_str),
        Some("[1/1] concurrent_reads: started"),
        "{lines:#?}"
    );
    // At least one line while it ran: rate, p99, errors, time left.
    let live: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("[1/1] concurrent_reads · "))
        .collect();
    assert!(!live.is_empty(), "{lines:#?}");
    let line = live[0];
    assert!(
        line.contains(" req/s · p99 ") && line.contains(" errors · ") && line.ends_with(" left"),
        "{line}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("[1/1] concurrent_reads: ") && l.contains(" ops in ")),
        "{lines:#?}"
    );
}
