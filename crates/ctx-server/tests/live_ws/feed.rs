//! The revision feed: replay then live, resume, resync after compaction, prefix
//! filters, long replays, exact big integers.

use super::*;

#[tokio::test]
async fn replay_then_live_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    write_n(&server, "before/", 20).await;

    let mut client = WsClient::connect(&server).await;
    // Writes keep coming while the replay is being sent: the switch to live must not
    // lose or repeat any of them.
    let writer = {
        let base = server.base.clone();
        tokio::spawn(async move { ws_write_n(&base, "during/", 60).await })
    };
    let subscribed = client.subscribe(&[""], Some(5)).await;
    assert!(subscribed["revision"].as_u64().expect("revision") >= 20);
    let last = writer.await.expect("writer");
    let events = client.events_through(last).await;
    assert_eq!(revisions(&events), (6..=last).collect::<Vec<_>>());
    assert_eq!(events[0]["type"], "context_updated");
    assert_eq!(events[0]["key"], "before/5");
    assert_eq!(events[0]["value"], 5);
    assert_eq!(events[0]["before"], Value::Null);
    assert_eq!(events[0]["who"], "api_client");
    assert!(
        events[0]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(last, 80);
}

#[tokio::test]
async fn resume_after_disconnect_from_last_revision() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(&server).await;
    client.subscribe(&[], None).await;
    let last = write_n(&server, "k", 10).await;
    let seen = client.events_through(last).await;
    assert_eq!(revisions(&seen), (1..=10).collect::<Vec<_>>());
    drop(client);

    // Changes made while disconnected, then resume from the last revision seen.
    server.set("k3", json!("changed")).await;
    let answer = server.delete("/ctx/k4").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let mut client = WsClient::connect(&server).await;
    client.subscribe(&[], Some(last)).await;
    let events = client.events_through(12).await;
    assert_eq!(revisions(&events), vec![11, 12]);
    assert_eq!(events[0]["type"], "context_updated");
    assert_eq!(events[0]["before"], 3);
    assert_eq!(events[0]["value"], "changed");
    assert_eq!(events[1]["type"], "context_deleted");
    assert_eq!(events[1]["key"], "k4");
    assert_eq!(events[1]["before"], 4);
    assert!(events[1].get("value").is_none());
    assert!(client.sync().await.is_empty(), "nothing more");
}

#[tokio::test]
async fn compacted_revision_asks_for_resync() {
    let server = TestServer::start_with(|c| c.history_limit = 5).await;
    write_n(&server, "k", 20).await;
    let mut client = WsClient::connect(&server).await;
    client
        .send(json!({"type": "subscribe", "prefixes": [""], "since_revision": 2}))
        .await;
    let resync = client.json().await;
    assert_eq!(resync["type"], "resync_required", "{resync}");
    assert_eq!(resync["requested"], 2);
    assert_eq!(resync["current_revision"], 20);
    assert_eq!(resync["compacted_through"], 15);

    // The retained tail is still replayable, and the same connection may subscribe again.
    client.subscribe(&[], Some(15)).await;
    let events = client.events_through(20).await;
    assert_eq!(revisions(&events), (16..=20).collect::<Vec<_>>());

    // A revision the store never reached is also a resync, not a silent wait.
    let mut other = WsClient::connect(&server).await;
    other
        .send(json!({"type": "subscribe", "since_revision": 1000}))
        .await;
    let ahead = other.json().await;
    assert_eq!(ahead["type"], "resync_required", "{ahead}");
    assert_eq!(ahead["reason"], "ahead");
}

#[tokio::test]
async fn prefixes_filter_and_later_subscribes_add_to_them() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(&server).await;
    let answer = client.subscribe(&["app/"], None).await;
    assert_eq!(answer["prefixes"], json!(["app/"]));
    server.set("app/x", json!(1)).await;
    server.set("other/x", json!(2)).await;
    assert_eq!(client.events_through(1).await[0]["key"], "app/x");
    let answer = client.subscribe(&["jobs/"], None).await;
    assert_eq!(answer["prefixes"], json!(["app/", "jobs/"]));
    // Changes after `revision` use the new prefixes (other/x at 2 matches neither).
    assert!(
        answer["revision"].as_u64().is_some_and(|r| r >= 1),
        "{answer}"
    );
    server.set("jobs/y", json!(3)).await;
    server.set("other/y", json!(4)).await;
    server.set("app/z", json!(5)).await;
    let events = client.events_through(5).await;
    let keys: Vec<&str> = events
        .iter()
        .map(|e| e["key"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(keys, vec!["jobs/y", "app/z"]);

    // since_revision only on the first subscribe.
    client
        .send(json!({"type": "subscribe", "prefixes": ["x"], "since_revision": 1}))
        .await;
    let error = client.json().await;
    assert_eq!(error["type"], "error", "{error}");
}

#[tokio::test]
async fn a_replay_longer_than_the_queue_is_not_a_slow_consumer() {
    let server = TestServer::start_with(|c| c.live.queue = 8).await;
    let mut writer = WsClient::connect(&server).await;
    let mut client = WsClient::connect(&server).await;
    for i in 0..300 {
        writer
            .send(json!({"type": "set", "key": format!("k{i}"), "value": i}))
            .await;
    }
    for _ in 0..300 {
        assert_eq!(writer.json().await["type"], "set_confirmed");
    }
    client.subscribe(&[], Some(0)).await;
    // Live writes arrive while the replay is still being sent.
    for i in 0..5 {
        writer
            .send(json!({"type": "set", "key": format!("live{i}"), "value": i}))
            .await;
    }
    let events = client.events_through(305).await;
    assert_eq!(revisions(&events), (1..=305).collect::<Vec<_>>());
    assert!(client.sync().await.is_empty());
}

#[tokio::test]
async fn big_integers_arrive_exactly_and_rewrites_stay_off_the_revision_feed() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(&server).await;
    client.subscribe(&[], None).await;
    let big: Value = serde_json::from_str(
        r#"{"a":18446744073709551616,"b":[1e30,-1000000000000000000000000000000]}"#,
    )
    .expect("JSON");
    server.set("big", big.clone()).await;
    // The same value again: Socket.IO clients hear of it, `/ws` (one event per revision) not.
    let rewrite = server.set("big", big).await;
    assert_eq!(rewrite["changed"], false);
    server.set("after", json!(1)).await;
    let events = client.events_through(2).await;
    assert_eq!(revisions(&events), vec![1, 2], "no event for the rewrite");
    assert_eq!(
        events[0]["value"].to_string(),
        r#"{"a":18446744073709551616,"b":[1e+30,-1000000000000000000000000000000]}"#,
        "integers exact; a float in its shortest f64 form"
    );
    assert!(client.sync().await.is_empty(), "nothing more");

    // Written over `/ws` too, a big integer is stored exactly.
    let mut writer = WsClient::connect(&server).await;
    writer
        .send_text(r#"{"type":"set","key":"ws/big","value":[18446744073709551617],"id":1}"#.into())
        .await;
    let confirmed = writer.json().await;
    assert_eq!(confirmed["type"], "set_confirmed", "{confirmed}");
    let read = server.get("/ctx/ws/big").await.text();
    assert!(read.contains(r#""value":[18446744073709551617]"#), "{read}");
}
