//! A server that dies mid-run: the run aborts with an incomplete report.

use ctx_load::model::AbortReason;
use ctx_load::{Launcher, LoadError, LoadOptions};

use super::CTX;

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
