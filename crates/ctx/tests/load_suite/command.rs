//! `ctx load` as a child process: its exit codes, `--list`, and progress on stderr.

use std::path::Path;

use super::{ctx_load, stderr_lines};

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
