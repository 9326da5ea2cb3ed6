//! Compare-and-set: `if_revision` on `POST /ctx`, `DELETE` and `/ws` writes, under
//! contention and with bad fields.

use super::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn compare_and_set_under_contention_lets_exactly_one_writer_win_per_revision() {
    let server = Arc::new(TestServer::start().await);
    let mut expected = 0; // the key is absent: revision 0
    for round in 0..5 {
        let mut racers = Vec::new();
        for racer in 0..24 {
            let server = server.clone();
            racers.push(tokio::spawn(async move {
                let body = json!({"key": "job", "value": format!("{round}-{racer}"),
                                  "if_revision": expected, "who": format!("r{racer}")});
                let answer = server.post("/ctx", &body).await;
                (answer.status, answer.json())
            }));
        }
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for racer in racers {
            let (status, body) = racer.await.unwrap();
            match status {
                StatusCode::OK => winners.push(body),
                StatusCode::CONFLICT => losers.push(body),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let won = revision(&winners[0]);
        for lost in &losers {
            // The key had already moved to the winner's revision.
            assert_eq!(revision(lost), won, "{lost}");
            assert_eq!(lost["found"], true);
            assert_eq!(lost["key"], "job");
        }
        let current = server.get("/ctx/job").await.json();
        assert_eq!(current["value"], winners[0]["value"]);
        expected = won;
    }
}

#[tokio::test]
async fn conditional_delete_and_bad_fields_answer_clearly() {
    let server = TestServer::start().await;
    let rev = revision(&server.set("k", json!(1)).await);
    let stale = server
        .delete(&format!("/ctx/k?if_revision={}", rev + 5))
        .await;
    assert_error(&stale, StatusCode::CONFLICT);
    assert_eq!(revision(&stale.json()), rev);
    let deleted = server
        .delete(&format!("/ctx?key=k&if_revision={rev}"))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert_eq!(deleted.json()["deleted"], true);
    let absent = server
        .post("/ctx", &json!({"key": "k", "value": 2, "if_revision": 7}))
        .await;
    assert_error(&absent, StatusCode::CONFLICT);
    assert_eq!(absent.json()["found"], false);
    assert_eq!(revision(&absent.json()), 0);

    for (body, status) in [
        (
            json!({"key": "k", "value": 1, "if_revision": -1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "k", "value": 1, "ttl_secs": 0}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "k", "value": 1, "ttl_secs": 5, "lease": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "k", "value": 1, "lease": 999}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_error(&server.post("/ctx", &body).await, status);
    }
    assert_eq!(server.get("/ctx/k").await.json()["found"], false);
}

#[tokio::test]
async fn ws_writes_take_if_revision_and_lease() {
    let server = TestServer::start().await;
    let rev = revision(&server.set("seat", json!("free")).await);
    let lease = server
        .post("/ctx/lease", &json!({"ttl_secs": 600}))
        .await
        .json();
    let id = lease["lease_id"].as_u64().unwrap();
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut ask = async |message: Value| -> Value {
        ws.send(Message::text(message.to_string())).await.unwrap();
        loop {
            let frame = tokio::time::timeout(PATIENCE, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).unwrap();
            }
        }
    };
    let stale = ask(json!({"type": "set", "key": "seat", "value": "a", "id": 1,
                           "if_revision": rev + 1}))
    .await;
    assert_eq!(stale["type"], "error", "{stale}");
    assert_eq!(stale["code"], "conflict");
    assert_eq!(stale["revision"], rev);
    assert_eq!(stale["found"], true);
    assert_eq!(stale["id"], 1);
    let taken = ask(json!({"type": "set", "key": "seat", "value": "b", "id": 2,
                           "if_revision": rev, "lease": id}))
    .await;
    assert_eq!(taken["type"], "set_confirmed", "{taken}");
    let info = server.get(&format!("/ctx/lease/{id}")).await.json();
    assert_eq!(info["keys"], json!(["seat"]));
    let refused = ask(json!({"type": "delete", "key": "seat", "id": 3, "if_revision": rev})).await;
    assert_eq!(refused["code"], "conflict", "{refused}");
    let deleted = ask(json!({"type": "delete", "key": "seat", "id": 4,
                             "if_revision": revision(&taken)}))
    .await;
    assert_eq!(deleted["type"], "delete_confirmed", "{deleted}");
    assert_eq!(deleted["changed"], true);
}
