//! The server's limits over real HTTP, `/ws` and Socket.IO: value nesting depth, number
//! of keys, message size, and a read-only API key on Socket.IO. Each refusal is a clear
//! JSON error naming the limit, and loses nothing.

mod common;

use common::{TestServer, assert_error};
use futures_util::{SinkExt, StreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A generous bound so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// `levels` arrays and objects around the number 1.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, level| match level % 2 {
        0 => json!([inner]),
        _ => json!({ "k": inner }),
    })
}

/// Sends one `/ws` message and returns the next text frame as JSON.
async fn ws_exchange(server: &TestServer, message: Value) -> Value {
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
    let answer = tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => break serde_json::from_str(&text).expect("JSON"),
                Some(Ok(_)) => continue,
                other => panic!("no answer: {other:?}"),
            }
        }
    })
    .await
    .expect("an answer in time");
    let _ = ws.close(None).await;
    answer
}

#[tokio::test]
async fn a_value_nested_past_the_depth_limit_is_refused_on_every_path_and_nothing_is_stored() {
    let server = TestServer::start().await;
    // The default limit, 64: 64 levels pass, 65 are refused with a 400 naming the limit.
    server.set("deep/64", nested(64)).await;
    let refused = server
        .post("/ctx", &json!({"key": "deep/65", "value": nested(65)}))
        .await;
    assert_error(&refused, StatusCode::BAD_REQUEST);
    let body = refused.json();
    assert_eq!(body["limit"], 64, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("64") && e.contains("--max-value-depth")),
        "{body}"
    );

    let txn = server
        .post(
            "/ctx/txn",
            &json!({"success": [
                {"op": "set", "key": "txn/ok", "value": 1},
                {"op": "set", "key": "txn/deep", "value": nested(65)},
            ]}),
        )
        .await;
    assert_error(&txn, StatusCode::BAD_REQUEST);
    assert_eq!(txn.json()["limit"], 64);

    let ws = ws_exchange(
        &server,
        json!({"type": "set", "key": "ws/deep", "value": nested(65), "id": 7}),
    )
    .await;
    assert_eq!(ws["type"], "error", "{ws}");
    assert_eq!(ws["code"], "value_too_deep", "{ws}");
    assert_eq!(ws["id"], 7, "{ws}");

    // Nothing of the refused writes was stored: one key, one revision.
    let all = server.get("/ctx/all").await.json();
    assert_eq!(
        all["context"].as_object().map(|c| c.len()),
        Some(1),
        "{all}"
    );
    assert_eq!(server.get("/ctx/status").await.json()["revision"], 1);

    // A configured limit bites where it says.
    let strict = TestServer::start_with(|c| c.max_value_depth = 2).await;
    strict.set("two", json!({"a": [1]})).await;
    let three = strict
        .post("/ctx", &json!({"key": "three", "value": {"a": [[1]]}}))
        .await;
    assert_error(&three, StatusCode::BAD_REQUEST);
    assert_eq!(three.json()["limit"], 2);
}

#[tokio::test]
async fn past_the_key_limit_a_new_key_is_refused_with_507_and_updates_and_deletes_still_work() {
    let server = TestServer::start_with(|c| c.max_keys = Some(2)).await;
    server.set("a", json!(1)).await;
    server.set("b", json!(1)).await;
    let refused = server.post("/ctx", &json!({"key": "c", "value": 1})).await;
    assert_error(&refused, StatusCode::INSUFFICIENT_STORAGE);
    let body = refused.json();
    assert_eq!(body["limit"], 2, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit of 2 keys")),
        "{body}"
    );
    let counter = server.post("/ctx/incr", &json!({"key": "n"})).await;
    assert_error(&counter, StatusCode::INSUFFICIENT_STORAGE);
    let ws = ws_exchange(&server, json!({"type": "set", "key": "ws", "value": 1})).await;
    assert_eq!(ws["type"], "error", "{ws}");
    assert!(
        ws["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit of 2 keys")),
        "{ws}"
    );
    assert_eq!(
        server.get("/ctx/status").await.json()["revision"],
        2,
        "nothing done"
    );

    // Updates and deletes are never refused; a freed place takes a new key.
    assert_eq!(server.set("a", json!(2)).await["revision"], 3);
    assert_eq!(server.delete("/ctx/b").await.json()["deleted"], true);
    server.set("c", json!(1)).await;
    let all = server.get("/ctx/all").await.json();
    assert_eq!(all["context"], json!({"a": 2, "c": 1}));
}

#[tokio::test]
async fn socketio_read_only_key_depth_and_message_size() {
    const MAX_MESSAGE_BYTES: usize = 4096;
    let server = TestServer::start_with(|c| {
        c.api_keys = ["read:r-key", "write:w-key"]
            .iter()
            .map(|entry| entry.parse().expect("key entry"))
            .collect();
        c.live.max_message_bytes = MAX_MESSAGE_BYTES;
    })
    .await;
    let peer = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/limits_socketio_peer.py");
    let child = tokio::process::Command::new("python3")
        .arg(peer)
        .arg(&server.base)
        .args(["r-key", "w-key", &MAX_MESSAGE_BYTES.to_string()])
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

    let refusal = summary["read_only_error"]["error"].as_str().unwrap_or("");
    assert!(
        refusal.contains("role read") && refusal.contains("needs role write"),
        "{summary}"
    );
    assert_eq!(summary["writer_confirmed"]["status"], "success");
    assert_eq!(summary["reader_update"]["value"], json!({"n": 1}));
    let depth = summary["depth_error"]["error"].as_str().unwrap_or("");
    assert!(depth.contains("64"), "{summary}");
    for transport in ["polling", "websocket"] {
        let events = &summary["oversized_events"][transport];
        assert!(
            events
                .as_array()
                .is_some_and(|e| e.contains(&json!("disconnect"))
                    && !e.contains(&json!("context_set_confirmed"))),
            "{transport}: {events}"
        );
    }
    // Only the allowed writes were stored.
    assert_eq!(summary["stored_keys"], json!(["after/big", "ro/by-writer"]));
}
