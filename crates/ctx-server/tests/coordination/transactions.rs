//! `POST /ctx/txn`: never seen half done by a reader or a watcher, bounded, refused whole.

use super::*;
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;

/// Moves amounts between two accounts in transactions while a reader and a watcher look on:
/// neither ever sees a total other than 100.
#[tokio::test]
async fn a_transaction_is_never_seen_half_done_by_a_reader_or_a_watcher() {
    let server = Arc::new(TestServer::start().await);
    let txn = server
        .post(
            "/ctx/txn",
            &json!({"success": [{"op": "set", "key": "acct.a", "value": 100},
                                {"op": "set", "key": "acct.b", "value": 0}]}),
        )
        .await
        .json();
    let start = revision(&txn);

    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "subscribe", "prefixes": ["acct."]}).to_string(),
    ))
    .await
    .unwrap();
    // Subscribed before the first transaction, so the watcher sees every one.
    loop {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = frame
            && serde_json::from_str::<Value>(&text).unwrap()["type"] == "subscribed"
        {
            break;
        }
    }

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (server, done) = (server.clone(), done.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let all = server.get("/ctx/all?prefix=acct.").await.json();
                let total: i64 = ["acct.a", "acct.b"]
                    .iter()
                    .map(|k| {
                        all["context"][k]
                            .as_i64()
                            .unwrap_or_else(|| panic!("{all}"))
                    })
                    .sum();
                assert_eq!(total, 100, "{all}");
                reads += 1;
            }
            reads
        })
    };

    let mut last = start;
    let mut txn_revisions = Vec::new();
    for i in 0..60 {
        let (a, b) = (100 - i, i);
        let answer = server
            .post(
                "/ctx/txn",
                &json!({
                    "compare": [{"key": "acct.a", "value": a}, {"key": "acct.b", "value": b}],
                    "success": [{"op": "set", "key": "acct.a", "value": a - 1},
                                {"op": "set", "key": "acct.b", "value": b + 1}],
                    "failure": [{"op": "get", "key": "acct.a"}],
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let answer = answer.json();
        assert_eq!(answer["succeeded"], true, "{answer}");
        assert_eq!(answer["results"].as_array().unwrap().len(), 2);
        last = revision(&answer);
        txn_revisions.push(last);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);

    // The watcher: apply every event, and at each transaction's revision the total is 100.
    let mut balances = BTreeMap::new();
    let ends: HashSet<u64> = txn_revisions.iter().copied().collect();
    let mut seen = 0;
    while seen < last {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["type"] != "context_updated" {
            continue;
        }
        seen = revision(&event);
        balances.insert(
            event["key"].as_str().unwrap().to_owned(),
            event["value"].as_i64().unwrap(),
        );
        if ends.contains(&seen) {
            assert_eq!(
                balances.values().sum::<i64>(),
                100,
                "at {seen}: {balances:?}"
            );
        }
    }
    assert_eq!(balances["acct.b"], 60);
}

#[tokio::test]
async fn transactions_are_bounded_and_refused_whole() {
    let server = TestServer::start().await;
    let too_many: Vec<Value> = (0..=128)
        .map(|i| json!({"op": "set", "key": format!("k{i}"), "value": i}))
        .collect();
    for body in [
        json!({"success": too_many}),
        json!({"success": [{"op": "set", "key": "a", "value": 1}, {"op": "delete", "key": "a"}]}),
        json!({"compare": [{"key": "a"}]}),
        json!({"compare": [{"key": "a", "revision": 1, "exists": true}]}),
        json!({"success": [{"op": "rename", "key": "a"}]}),
        json!({"success": [{"op": "set", "key": "a", "value": null}]}),
        json!({"sucess": []}),
    ] {
        assert_error(
            &server.post("/ctx/txn", &body).await,
            StatusCode::BAD_REQUEST,
        );
    }
    let missing_lease = json!({"success": [{"op": "set", "key": "a", "value": 1},
                                           {"op": "set", "key": "b", "value": 1, "lease": 42}]});
    assert_error(
        &server.post("/ctx/txn", &missing_lease).await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        server.get("/ctx/a").await.json()["found"],
        false,
        "nothing applied"
    );
    assert_eq!(server.get("/ctx/status").await.json()["revision"], 0);
}
