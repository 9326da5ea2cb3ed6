//! Compare-and-set, transactions, counters, leases and waits over real HTTP.

mod common;

use common::{TestServer, assert_error};
use futures_util::{SinkExt, StreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A generous bound so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

fn revision(answer: &Value) -> u64 {
    answer["revision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no revision in {answer}"))
}

/// Waits, with the long poll, until `key` changes after `after`; returns the read answer.
async fn wait_change(server: &TestServer, key: &str, after: u64) -> Value {
    let answer = server
        .get(&format!(
            "/ctx/{key}?wait_for_revision={after}&timeout_secs=20"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

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
async fn a_lease_kept_alive_holds_its_keys_and_its_expiry_deletes_them() {
    let server = TestServer::start().await;
    let lease = server.post("/ctx/lease", &json!({"ttl_secs": 1.5})).await;
    assert_eq!(lease.status, StatusCode::OK, "{}", lease.text());
    let lease = lease.json();
    let id = lease["lease_id"].as_u64().unwrap();
    assert_eq!(lease["ttl_secs"], 1.5);
    let set = server
        .post(
            "/ctx",
            &json!({"key": "runner.1", "value": "up", "lease": id}),
        )
        .await
        .json();
    assert_eq!(set["lease"], id);
    let info = server.get(&format!("/ctx/lease/{id}")).await.json();
    assert_eq!(info["keys"], json!(["runner.1"]));
    assert!(info["remaining_secs"].as_f64().unwrap() <= 1.5);

    // Kept alive every 100 ms (a client's pace) for twice the TTL: the key stays.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let kept = server
            .post(&format!("/ctx/lease/{id}/keepalive"), &json!({}))
            .await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
        assert_eq!(server.get("/ctx/runner.1").await.json()["found"], true);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then left alone: it expires, and the deletion is a change like any other.
    let gone = wait_change(&server, "runner.1", revision(&set)).await;
    assert_eq!(gone["found"], false);
    let history = server.get("/ctx/history?key=runner.1").await.json();
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["who"], format!("lease:{id}"));
    assert_eq!(last["after"], Value::Null);
    assert_error(
        &server.get(&format!("/ctx/lease/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    assert_error(
        &server
            .post(&format!("/ctx/lease/{id}/keepalive"), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn ttl_secs_is_a_lease_of_its_own_and_revoke_deletes_at_once() {
    let server = TestServer::start().await;
    let set = server
        .post("/ctx", &json!({"key": "tmp", "value": 1, "ttl_secs": 600}))
        .await
        .json();
    let id = set["lease"].as_u64().expect("a lease");
    let revoked = server.delete(&format!("/ctx/lease/{id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    assert_eq!(revoked.json()["deleted"], 1);
    assert_eq!(server.get("/ctx/tmp").await.json()["found"], false);
    // A ttl write that loses its compare-and-set leaves no lease behind.
    let lost = server
        .post(
            "/ctx",
            &json!({"key": "tmp2", "value": 1, "ttl_secs": 600, "if_revision": 99}),
        )
        .await;
    assert_error(&lost, StatusCode::CONFLICT);
    assert_error(
        &server.get(&format!("/ctx/lease/{}", id + 1)).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn a_lease_that_ran_out_while_the_server_was_down_is_expired_at_start() {
    let server = TestServer::start().await;
    let set = server
        .post("/ctx", &json!({"key": "held", "value": 1, "ttl_secs": 0.5}))
        .await
        .json();
    let id = set["lease"].as_u64().unwrap();
    let info = server.get(&format!("/ctx/lease/{id}")).await.json();
    let remaining = Duration::from_secs_f64(info["remaining_secs"].as_f64().unwrap());
    let dir = server.stop().await;
    // Down for longer than the lease had left (the clock is what is under test).
    tokio::time::sleep(remaining + Duration::from_millis(200)).await;
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.get("/ctx/held").await.json()["found"], false);
    let history = server.get("/ctx/history?key=held").await.json();
    assert_eq!(history["history"][1]["who"], format!("lease:{id}"));
}

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

#[tokio::test]
async fn a_long_poll_answers_on_the_next_change_or_times_out() {
    let server = Arc::new(TestServer::start().await);
    let rev = revision(&server.set("flag", json!("waiting")).await);
    // Already past: answers at once.
    let now = wait_change(&server, "flag", rev - 1).await;
    assert_eq!(now["value"], "waiting");

    let waiter = {
        let server = server.clone();
        tokio::spawn(async move { wait_change(&server, "flag", rev).await })
    };
    // Writes to other keys do not wake it; the write to the key does.
    server.set("other", json!(1)).await;
    server.set("flag", json!("go")).await;
    let answer = tokio::time::timeout(PATIENCE, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["value"], "go");

    let timed_out = server
        .get(&format!(
            "/ctx/flag?wait_for_revision={}&timeout_secs=0.2",
            rev + 5
        ))
        .await;
    assert_error(&timed_out, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(timed_out.json()["found"], true);
    assert_error(
        &server
            .get("/ctx/flag?wait_for_revision=1&timeout_secs=9999")
            .await,
        StatusCode::BAD_REQUEST,
    );
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
