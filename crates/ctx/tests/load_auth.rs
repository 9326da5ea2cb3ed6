//! `ctx load` against a server that wants an API key: the key (`CTX_API_KEY`,
//! `--api-key`, or `--header`) travels on every request and `/ws` upgrade;
//! without it the refusals are counted, the verdict fails and says why.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{CTX, ChildServer};

fn ctx_load(args: &[&str], tmp: &Path, api_key: Option<&str>) -> Output {
    let mut command = Command::new(CTX);
    command.arg("load").args(args).current_dir(tmp);
    match api_key {
        Some(key) => command.env("CTX_API_KEY", key),
        None => command.env_remove("CTX_API_KEY"),
    };
    command.output().expect("run ctx load")
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("read report.json"))
        .expect("report.json is JSON")
}

fn secured_server(data: &Path) -> ChildServer {
    // Every request needs a key: reads, writes and the /ws upgrade.
    ChildServer::start_with(
        data,
        &["--api-keys", "write:load-key", "--auth-scope", "all"],
    )
}

#[test]
fn the_api_key_is_sent_on_every_request_and_its_absence_fails_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = secured_server(&tmp.path().join("data"));
    let closed = [
        "--target",
        &server.url,
        "--scenario",
        "concurrent_reads",
        "--scenario",
        "concurrent_writes",
        "--duration",
        "1.5",
    ];

    let with_key = ctx_load(
        &[&closed[..], &["--report-dir", "with"]].concat(),
        tmp.path(),
        Some("load-key"),
    );
    let stdout = String::from_utf8_lossy(&with_key.stdout);
    assert_eq!(
        with_key.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&with_key.stderr)
    );
    let json = report(&tmp.path().join("with"));
    for scenario in json["scenarios"].as_array().expect("scenarios") {
        assert_eq!(scenario["metrics"]["error_count"], 0, "{scenario:#}");
    }

    let without = ctx_load(
        &[&closed[..], &["--report-dir", "without"]].concat(),
        tmp.path(),
        None,
    );
    let stdout = String::from_utf8_lossy(&without.stdout);
    assert_eq!(without.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("verdict: FAIL") && stdout.contains("401 Unauthorized"),
        "{stdout}"
    );
    assert!(stdout.contains("--api-key KEY"), "the hint: {stdout}");
    let json = report(&tmp.path().join("without"));
    assert_eq!(json["verdict"]["outcome"], "fail");
    let refused = &json["scenarios"][0]["metrics"]["errors"]["status"]["401"];
    assert!(refused.as_u64().is_some_and(|n| n > 0), "{json:#}");
    assert!(
        json["verdict"]["next_step"]
            .as_str()
            .is_some_and(|s| s.contains("--api-key")),
        "{:#}",
        json["verdict"]
    );
}

#[test]
fn fanout_subscribers_send_the_header_on_the_upgrade() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = secured_server(&tmp.path().join("data"));
    let fanout = [
        "--target",
        &server.url,
        "--scenario",
        "ws_fanout",
        "--clients",
        "3",
        "--rate",
        "40",
        "--duration",
        "1",
        // The 50 ms limit is for real runs; a busy 2-core test machine gets room.
        "--threshold",
        "ws_fanout.p99_ms=2000",
    ];
    let with_header = ctx_load(
        &[
            &fanout[..],
            &[
                "--header",
                "Authorization: Bearer load-key",
                "--report-dir",
                "with",
            ],
        ]
        .concat(),
        tmp.path(),
        None,
    );
    let json = report(&tmp.path().join("with"));
    let delivery = &json["scenarios"][0]["metrics"]["fanout"];
    assert_eq!(delivery["expected"], 3 * 40, "{delivery:#}");
    assert_eq!(delivery["delivered"], delivery["expected"], "{delivery:#}");
    assert_eq!(delivery["disconnects"], 0, "{delivery:#}");
    assert_ne!(with_header.status.code(), Some(1), "{json:#}");

    let without = ctx_load(
        &[&fanout[..], &["--report-dir", "without"]].concat(),
        tmp.path(),
        None,
    );
    assert_eq!(without.status.code(), Some(1));
    let json = report(&tmp.path().join("without"));
    let delivery = &json["scenarios"][0]["metrics"]["fanout"];
    assert_eq!(delivery["delivered"], 0, "{delivery:#}");
    assert_eq!(delivery["disconnects"], 3, "{delivery:#}");
}

#[test]
fn a_malformed_header_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for header in ["no colon here", "bad name: x", "Host: elsewhere"] {
        let out = ctx_load(
            &["--target", "http://127.0.0.1:1", "--header", header],
            tmp.path(),
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{header:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("ctx load: --header"),
            "{header:?}: {stderr}"
        );
    }
}
