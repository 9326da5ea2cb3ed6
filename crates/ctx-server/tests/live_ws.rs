//! `/ws` over real loopback WebSockets (tokio-tungstenite).

mod common;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A generous bound so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    async fn connect(server: &TestServer) -> WsClient {
        Self::connect_to(&server.base).await
    }

    async fn connect_to(base: &str) -> WsClient {
        let url = format!("{}/ws", base.replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        WsClient { ws }
    }

    /// Connects over a socket with a tiny receive buffer, so a client that stops reading
    /// fills up quickly.
    async fn connect_small_buffer(server: &TestServer) -> WsClient {
        let addr = server.base.trim_start_matches("http://").to_owned();
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let stream = socket
            .connect(addr.parse().expect("addr"))
            .await
            .expect("tcp");
        let url = format!("ws://{addr}/ws");
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
        WsClient { ws }
    }

    async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next data or close frame (pings and pongs skipped).
    async fn frame(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("no frame in time")?;
            match frame {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(frame) => return Some(frame),
                Err(_) => return None,
            }
        }
    }

    async fn json(&mut self) -> Value {
        match self.frame().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).expect("JSON frame"),
            other => panic!("expected a JSON text frame, got {other:?}"),
        }
    }

    /// Sends `subscribe` and returns the `subscribed` answer.
    async fn subscribe(&mut self, prefixes: &[&str], since: Option<u64>) -> Value {
        let mut message = json!({"type": "subscribe", "prefixes": prefixes});
        if let Some(since) = since {
            message["since_revision"] = since.into();
        }
        self.send(message).await;
        let answer = self.json().await;
        assert_eq!(answer["type"], "subscribed", "{answer}");
        answer
    }

    /// Round-trips an application ping: everything the server queued before is read.
    async fn sync(&mut self) -> Vec<Value> {
        self.send(json!({"type": "ping", "id": "sync"})).await;
        let mut before = Vec::new();
        loop {
            let message = self.json().await;
            if message["type"] == "pong" && message["id"] == "sync" {
                return before;
            }
            before.push(message);
        }
    }

    /// Reads events until one with `revision`; returns them all.
    async fn events_through(&mut self, revision: u64) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.json().await;
            let done = event["revision"].as_u64() == Some(revision);
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

fn revisions(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["revision"].as_u64().expect("revision"))
        .collect()
}

async fn write_n(server: &TestServer, prefix: &str, n: usize) -> u64 {
    let mut last = 0;
    for i in 0..n {
        let answer = server.set(&format!("{prefix}{i}"), json!(i)).await;
        last = answer["revision"].as_u64().expect("revision");
    }
    last
}

/// Writes `n` keys over a WebSocket of its own; returns the last revision.
async fn ws_write_n(base: &str, prefix: &str, n: usize) -> u64 {
    let mut writer = WsClient::connect_to(base).await;
    let mut last = 0;
    for i in 0..n {
        writer
            .send(json!({"type": "set", "key": format!("{prefix}{i}"), "value": i}))
            .await;
        let confirmed = writer.json().await;
        assert_eq!(confirmed["type"], "set_confirmed", "{confirmed}");
        last = confirmed["revision"].as_u64().expect("revision");
    }
    last
}

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
async fn socket_writes_are_confirmed_with_revisions() {
    let server = TestServer::start().await;
    let mut writer = WsClient::connect(&server).await;
    let mut watcher = WsClient::connect(&server).await;
    watcher.subscribe(&[], None).await;

    writer
        .send(json!({"type": "set", "key": "w/a", "value": {"n": 1}, "who": "runner-7", "id": 1}))
        .await;
    let confirmed = writer.json().await;
    assert_eq!(confirmed["type"], "set_confirmed", "{confirmed}");
    assert_eq!(confirmed["id"], 1);
    assert_eq!(confirmed["key"], "w/a");
    assert_eq!(confirmed["revision"], 1);
    assert_eq!(confirmed["changed"], true);
    let read = server.get("/ctx/w/a").await.json();
    assert_eq!(read["value"], json!({"n": 1}));
    assert_eq!(read["revision"], 1);

    writer
        .send(json!({"type": "delete", "key": "w/a", "id": "del-1"}))
        .await;
    let confirmed = writer.json().await;
    assert_eq!(confirmed["type"], "delete_confirmed", "{confirmed}");
    assert_eq!(confirmed["id"], "del-1");
    assert_eq!(confirmed["revision"], 2);

    let events = watcher.events_through(2).await;
    assert_eq!(events[0]["who"], "runner-7");
    assert_eq!(events[1]["type"], "context_deleted");
    assert_eq!(events[1]["who"], "ws_client");

    // Refused writes answer an error carrying the request id.
    writer
        .send(json!({"type": "set", "key": "", "value": 1, "id": 9}))
        .await;
    let error = writer.json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], 9);
    writer
        .send(json!({"type": "set", "key": "k", "value": null}))
        .await;
    let error = writer.json().await;
    assert_eq!(error["type"], "error", "{error}");
}

#[tokio::test]
async fn bad_input_gets_an_error_for_that_client_only() {
    let server = TestServer::start_with(|c| c.live.max_message_bytes = 1024).await;
    let mut bad = WsClient::connect(&server).await;
    let mut good = WsClient::connect(&server).await;
    good.subscribe(&[], None).await;

    bad.send_text("{not json".into()).await;
    let error = bad.json().await;
    assert_eq!(error["type"], "error");
    assert!(
        error["error"].as_str().unwrap_or("").contains("malformed"),
        "{error}"
    );

    bad.send(json!({"type": "launch_rockets"})).await;
    let error = bad.json().await;
    assert!(
        error["error"]
            .as_str()
            .unwrap_or("")
            .contains("unknown message type"),
        "{error}"
    );

    bad.send(json!([1, 2])).await;
    assert_eq!(bad.json().await["type"], "error");
    bad.send(json!({"type": "subscribe", "prefixes": "not-a-list"}))
        .await;
    assert_eq!(bad.json().await["type"], "error");
    bad.ws
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send");
    assert_eq!(bad.json().await["type"], "error");

    // Over the limit: refused, and the connection stays usable.
    bad.send(json!({"type": "set", "key": "big", "value": "x".repeat(2000)}))
        .await;
    let error = bad.json().await;
    assert!(
        error["error"].as_str().unwrap_or("").contains("limit"),
        "{error}"
    );
    assert!(bad.sync().await.is_empty());

    // Others were not disturbed and the server still writes.
    server.set("still", json!("fine")).await;
    let events = good.events_through(1).await;
    assert_eq!(events.len(), 1);
    assert!(good.sync().await.is_empty());

    // Far over the limit: the socket layer cannot read it, so the connection is closed
    // with 1009 and a reason.
    bad.send(json!({"type": "set", "key": "huge", "value": "x".repeat(10_000)}))
        .await;
    let error = bad.json().await;
    assert_eq!(error["code"], "too_big", "{error}");
    match bad.frame().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(good.sync().await.is_empty());
}

#[tokio::test]
async fn slow_consumer_is_cut_off_and_others_keep_going() {
    let server = TestServer::start_with(|c| {
        c.live.queue = 8;
        // However slow the machine, the blocked socket must outlast the writes below.
        c.live.send_timeout = Duration::from_secs(120);
    })
    .await;
    let mut slow = WsClient::connect_small_buffer(&server).await;
    slow.subscribe(&[], None).await;
    let mut fast = WsClient::connect(&server).await;
    fast.subscribe(&[], None).await;

    // `slow` reads nothing while the writes happen; `fast` keeps up.
    let writes = 200;
    let big = "v".repeat(16 * 1024);
    let reader = tokio::spawn(async move {
        let events = fast.events_through(writes).await;
        (fast, events)
    });
    for i in 0..writes {
        server.set(&format!("big/{i}"), json!(big)).await;
    }
    let (mut fast, events) = reader.await.expect("fast reader");
    assert_eq!(revisions(&events), (1..=writes).collect::<Vec<_>>());
    assert!(fast.sync().await.is_empty());

    // The slow client gets what was already on its way, then the reason, then a close.
    let mut received = Vec::new();
    let error = loop {
        let message = slow.json().await;
        if message["type"] == "error" {
            break message;
        }
        received.push(message);
    };
    assert_eq!(error["code"], "slow_consumer", "{error}");
    let delivered = revisions(&received);
    assert_eq!(delivered, (1..=delivered.len() as u64).collect::<Vec<_>>());
    let last = delivered.last().copied().unwrap_or(0);
    assert_eq!(error["last_revision"], last, "{error}");
    assert!(last < writes, "cut off before the end ({last})");
    match slow.frame().await {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode::Policy);
            assert_eq!(frame.reason.as_str(), "slow consumer");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    // It can resume from where it was cut off.
    let mut again = WsClient::connect(&server).await;
    again.subscribe(&[], Some(last)).await;
    let rest = again.events_through(writes).await;
    assert_eq!(revisions(&rest), (last + 1..=writes).collect::<Vec<_>>());
}

#[tokio::test]
async fn dumps_are_announced() {
    let server = TestServer::start().await;
    server.set("a", json!(1)).await;
    let mut client = WsClient::connect(&server).await;
    client.subscribe(&["nothing-matches/"], None).await;
    let answer = server
        .post("/ctx/dump", &json!({"format": "csv", "who": "nightly"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let event = client.json().await;
    assert_eq!(event["type"], "context_dumped", "{event}");
    assert_eq!(event["filename"], answer.json()["filename"]);
    assert_eq!(event["format"], "csv");
    assert_eq!(event["who"], "nightly");
    assert_eq!(event["key_count"], 1);
    assert_eq!(event["revision"], 1);
}

#[tokio::test]
async fn connected_clients_counts_websockets() {
    let server = TestServer::start().await;
    let mut a = WsClient::connect(&server).await;
    let mut b = WsClient::connect(&server).await;
    a.sync().await;
    b.sync().await;
    assert_eq!(server.get("/ctx/all").await.json()["connected_clients"], 2);
    let metrics = server.get("/metrics").await.text();
    assert!(metrics.contains("ctx_connected_clients 2"), "{metrics}");
    b.ws.close(None).await.expect("close");
    while b.frame().await.is_some() {}
    // The count drops once the server has seen the close; poll the answer, not a clock.
    for _ in 0..200 {
        if server.get("/ctx/all").await.json()["connected_clients"] == 1 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("connected_clients never went back to 1");
}

#[tokio::test]
async fn shutdown_closes_live_connections_promptly() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(&server).await;
    client.subscribe(&[], None).await;
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown hung on an open WebSocket");
    match client.frame().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn silent_peers_are_dropped_and_answering_ones_kept() {
    // A peer is dropped after two intervals without a frame: at 100 ms a busy 2-core machine
    // stalled the answering peer's reader past 200 ms once in a full run, so 400 ms.
    let server =
        TestServer::start_with(|c| c.live.ping_interval = Duration::from_millis(400)).await;
    let mut silent = WsClient::connect(&server).await;
    silent.sync().await;
    let mut alive = WsClient::connect(&server).await;
    alive.sync().await;

    // `alive` keeps reading, so tungstenite answers the server's pings; `silent` reads
    // nothing (and so answers nothing) until the server has given up on it.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        let mut stop_seen = false;
        tokio::pin!(stopped);
        loop {
            // Pings to `alive` may still be in flight when the silent peer is dropped.
            if stop_seen && pings >= 2 {
                return (alive, pings);
            }
            tokio::select! {
                _ = &mut stopped, if !stop_seen => stop_seen = true,
                frame = alive.ws.next() => match frame {
                    Some(Ok(Message::Ping(_))) => pings += 1,
                    other => panic!("unexpected frame {other:?}"),
                },
            }
        }
    });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while server.get("/ctx/all").await.json()["connected_clients"] != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent peer was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let (mut alive, pings) = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("the answering peer got fewer than 2 pings")
        .expect("reader");
    assert!(pings >= 2, "the server pings ({pings})");
    assert!(
        alive.sync().await.is_empty(),
        "the answering peer is still served"
    );
    match silent.frame().await {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode::Away);
            assert_eq!(frame.reason.as_str(), "no answer to pings");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn socket_writes_need_the_api_key_when_one_is_set() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(|c| c.api_key = Some("s3cret".into())).await;

    let mut anonymous = WsClient::connect(&server).await;
    anonymous.subscribe(&[], None).await; // reading stays open in scope `writes`
    anonymous
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 1}))
        .await;
    let error = anonymous.json().await;
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert_eq!(error["id"], 1);

    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-api-key", "s3cret".parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let mut keyed = WsClient { ws };
    keyed
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 2}))
        .await;
    assert_eq!(keyed.json().await["type"], "set_confirmed");
    assert_eq!(anonymous.events_through(1).await[0]["key"], "k");
}

#[tokio::test]
async fn a_read_only_key_may_watch_over_ws_but_not_write() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(|c| {
        c.auth_scope = ctx_server::AuthScope::All;
        c.api_keys = vec!["read:r-key".parse().unwrap()];
    })
    .await;
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let anonymous = tokio_tungstenite::connect_async(url.clone()).await;
    assert!(anonymous.is_err(), "scope all: no key, no upgrade");

    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-api-key", "r-key".parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let mut reader = WsClient { ws };
    reader.subscribe(&[], None).await;
    reader
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 7}))
        .await;
    let error = reader.json().await;
    assert_eq!(error["code"], "unauthorized", "{error}");
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
