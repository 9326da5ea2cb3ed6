//! `/socket.io/` against a real python-socketio peer (`live_socketio_peer.py`), the kind
//! of client Framework0's `AsyncContextClient` and dashboard are. Needs a `python3` with
//! `python-socketio[client]` first on PATH (`.ci/run` makes such a venv).

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn python_socketio_client_sees_framework0_events() {
    let server = TestServer::start().await;
    server.set("pre/existing", json!([1, 2])).await;

    let peer = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live_socketio_peer.py");
    let child = tokio::process::Command::new("python3")
        .arg(peer)
        .arg(&server.base)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 must be installed");
    let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("the Socket.IO peer hung")
        .expect("peer output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'socketio'"),
        "python-socketio is missing: put a venv with python-socketio[client] first on PATH (.ci/run does)"
    );
    assert!(output.status.success(), "peer failed: {stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("peer summary");

    let snapshot = &summary["snapshot"];
    assert_eq!(snapshot["context"], json!({"pre/existing": [1, 2]}));
    assert!(
        snapshot["client_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(snapshot["timestamp"].is_string());
    assert_eq!(summary["stats_after_b"], json!({"count": 2}));
    assert_eq!(summary["connected_clients"], 2);

    let registered = &summary["registered"];
    assert_eq!(registered["status"], "registered");
    assert_eq!(registered["type"], "test_runner");
    assert_eq!(registered["name"], "runner-a");
    assert_eq!(registered["client_id"], snapshot["client_id"]);

    let confirmed = &summary["confirmed"];
    assert_eq!(confirmed["key"], "sio/a");
    assert_eq!(confirmed["value"], json!({"x": 1}));
    assert_eq!(confirmed["status"], "success");

    let updated = &summary["updated_b"];
    assert_eq!(updated["key"], "sio/a");
    assert_eq!(updated["value"], json!({"x": 1}));
    assert_eq!(updated["who"], "runner-a");
    assert!(updated["timestamp"].is_string());
    assert_eq!(summary["http_a"]["who"], "curl");
    let a_updates = summary["a_updates"].as_array().expect("a_updates");
    assert!(
        !a_updates.contains(&json!("sio/a")),
        "the writer gets context_set_confirmed, not its own context_updated: {a_updates:?}"
    );
    assert_eq!(a_updates.first(), Some(&json!("http/k")));

    // A rewrite of an equal value: context_updated for everyone but a Socket.IO writer,
    // still no history entry and no new revision.
    let rewrite = &summary["rewrite_a"];
    assert_eq!(rewrite["key"], "http/k");
    assert_eq!(rewrite["value"], "v");
    assert!(rewrite["timestamp"].is_string());
    assert_eq!(rewrite["revision"], summary["http_a"]["revision"]);
    assert_eq!(
        summary["http_k_history"], 1,
        "no history entry for the rewrite"
    );
    assert_eq!(summary["rewrite_b"]["key"], "sio/a");
    assert_eq!(summary["rewrite_b"]["value"], json!({"x": 1}));
    assert_eq!(summary["reconfirmed"]["changed"], false);

    let big = &summary["big_exact"];
    for place in ["answer", "all", "history", "event", "socket_set"] {
        assert_eq!(
            big[place], true,
            "{place}: integers beyond 64 bits must be exact"
        );
    }
    assert_eq!(
        big["event_text"],
        "[18446744073709551616, 1000000000000000000000000000000, -1180591620717411303424, {\"n\": 18446744073709551617}]"
    );

    let dumped = &summary["dumped_a"];
    assert_eq!(dumped["filename"], summary["dump_filename"]);
    assert_eq!(dumped["format"], "txt");
    assert_eq!(dumped["who"], "dashboard");
    assert_eq!(
        dumped["key_count"], 5,
        "pre/existing, sio/a, http/k, big, sio/big"
    );
    assert!(dumped["timestamp"].is_string());

    assert!(
        summary["error"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("key"))
    );
    assert_eq!(summary["error"]["status"], "error");
    assert_eq!(
        summary["error"]["message"], summary["error"]["error"],
        "old clients read data[\"message\"]"
    );
    assert_eq!(summary["stats_after_leave"], json!({"count": 1}));

    // The write went through the store like any other.
    let read = server.get("/ctx/sio/a").await.json();
    assert_eq!(read["value"], json!({"x": 1}));
}

/// Connects a python-socketio client with `key` (none: no header) and prints `connected`
/// once it has its snapshot, or `refused: <why>` when the server refuses the connection.
const CONNECT_PEER: &str = r#"
import sys, threading, socketio
base, key = sys.argv[1], (sys.argv[2] or None)
got = threading.Event()
sio = socketio.Client(reconnection=False)
sio.on("context_snapshot", lambda data: got.set())
headers = {"X-API-Key": key} if key else {}
try:
    sio.connect(base, headers=headers, transports=["websocket"], wait_timeout=20)
except socketio.exceptions.ConnectionError as error:
    print("refused:", error)
    sys.exit(0)
print("connected" if got.wait(20) else "connected, no snapshot")
sio.disconnect()
"#;

async fn connect_peer(base: &str, key: &str) -> String {
    let child = tokio::process::Command::new("python3")
        .args(["-c", CONNECT_PEER, base, key])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 must be installed");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the Socket.IO peer hung")
        .expect("peer output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "peer failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_socketio_client_without_a_read_key_is_refused_before_it_joins() {
    let server = TestServer::start_with(|c| {
        c.api_keys = ["read:r-key"]
            .iter()
            .map(|entry| entry.parse().expect("key entry"))
            .collect();
        c.auth_scope = ctx_server::AuthScope::All;
    })
    .await;
    // Refused by the connect middleware, before the socket is in the namespace (where
    // the fan-out's events would reach it): the client's connect fails, naming why.
    for key in ["", "not-a-key"] {
        let answer = connect_peer(&server.base, key).await;
        assert!(answer.starts_with("refused:"), "key {key:?}: {answer}");
    }
    assert_eq!(connect_peer(&server.base, "r-key").await, "connected");
}
