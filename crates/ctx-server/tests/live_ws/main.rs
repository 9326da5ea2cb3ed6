//! `/ws` over real loopback WebSockets (tokio-tungstenite).
//!
//! One test binary in three parts: `feed` (replay, resume, filters), `writes` (writes
//! over the socket, keys and roles), `connections` (slow and silent peers, shutdown);
//! the client helper is here.

#[path = "../common/mod.rs"]
mod common;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod connections;
mod feed;
mod writes;

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
