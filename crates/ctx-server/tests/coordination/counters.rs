//! `POST /ctx/incr`: exact under concurrent clients, and its refusals.

use super::*;
use std::sync::Arc;

#[tokio::test]
async fn counters_are_exact_under_sixteen_concurrent_clients() {
    let server = Arc::new(TestServer::start().await);
    let mut clients = Vec::new();
    for _ in 0..16 {
        let server = server.clone();
        clients.push(tokio::spawn(async move {
            let mut values = Vec::new();
            for _ in 0..100 {
                let answer = server.post("/ctx/incr", &json!({"key": "hits"})).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                values.push(answer.json()["value"].as_i64().unwrap());
            }
            values
        }));
    }
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=1600).collect::<Vec<i64>>(),
        "each increment seen once"
    );
    assert_eq!(server.get("/ctx/hits").await.json()["value"], 1600);

    let down = server
        .post("/ctx/incr", &json!({"key": "hits", "by": -600}))
        .await
        .json();
    assert_eq!(down["value"], 1000);
    server.set("text", json!("x")).await;
    assert_error(
        &server.post("/ctx/incr", &json!({"key": "text"})).await,
        StatusCode::CONFLICT,
    );
    assert_error(
        &server
            .post("/ctx/incr", &json!({"key": "hits", "by": 1.5}))
            .await,
        StatusCode::BAD_REQUEST,
    );
}
