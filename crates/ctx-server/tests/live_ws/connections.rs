//! Connections: slow consumers cut off, silent peers dropped, dump announcements,
//! the connected-client count, shutdown.

use super::*;
use tokio::io::AsyncReadExt;

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
    // Read raw bytes: through tungstenite the silent peer would answer the queued pings on
    // its first read, and writing to a socket the server has closed resets it, losing the
    // close frame behind them (1 run in ~24 on a busy machine).
    let (code, reason) = unanswered_close_frame(silent.ws.get_mut()).await;
    assert_eq!(code, u16::from(CloseCode::Away));
    assert_eq!(reason, "no answer to pings");
}

/// Reads server frames off `stream` without ever writing, until a close frame; returns its
/// code and reason. Server frames are unmasked (RFC 6455 §5.1).
async fn unanswered_close_frame(stream: &mut MaybeTlsStream<TcpStream>) -> (u16, String) {
    let mut received = Vec::new();
    loop {
        let mut rest = received.as_slice();
        while let Some((opcode, payload, after)) = next_frame(rest) {
            if opcode == 0x8 {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return (code, String::from_utf8_lossy(&payload[2..]).into_owned());
            }
            rest = after;
        }
        let mut chunk = [0u8; 1024];
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("no close frame in time")
            .expect("read");
        assert!(read > 0, "closed without a close frame: {received:?}");
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Splits one whole frame (opcode, payload) off the front of `bytes`, if it is all there.
fn next_frame(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let opcode = bytes.first()? & 0x0F;
    let (length, header) = match bytes.get(1)? & 0x7F {
        126 => (
            usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
            4,
        ),
        127 => panic!("control and test frames are short"),
        length => (usize::from(length), 2),
    };
    let payload = bytes.get(header..header + length)?;
    Some((opcode, payload, &bytes[header + length..]))
}
