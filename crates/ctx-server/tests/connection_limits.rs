//! `--max-connections` and `--rate-limit` over real loopback sockets. Raw TCP on purpose:
//! each test decides exactly which connections exist (a pooling client would hold its
//! own).

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PATIENCE: Duration = Duration::from_secs(20);

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    tcp: TcpStream,
}

struct Reply {
    status: u16,
    head: String,
    body: Value,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

impl Conn {
    async fn open(server: &TestServer) -> Conn {
        Self::open_from(server, [127, 0, 0, 1]).await
    }

    /// From another loopback address: another client as far as the server can tell.
    async fn open_from(server: &TestServer, ip: [u8; 4]) -> Conn {
        let addr: SocketAddr = server
            .base
            .trim_start_matches("http://")
            .parse()
            .expect("addr");
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind((ip, 0).into()).expect("bind");
        Conn {
            tcp: socket.connect(addr).await.expect("connect"),
        }
    }

    async fn request(&mut self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let text = format!(
            "{method} {path} HTTP/1.1\r\nhost: ctx\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.tcp.write_all(text.as_bytes()).await.expect("send");
        tokio::time::timeout(PATIENCE, self.read_reply())
            .await
            .expect("a reply in time")
    }

    async fn read_reply(&mut self) -> Reply {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let raw = &bytes[end + 4..end + 4 + length];
                    let body = serde_json::from_slice(raw).unwrap_or(Value::Null);
                    let text = String::from_utf8_lossy(raw).into_owned();
                    return Reply {
                        status,
                        head,
                        body,
                        text,
                    };
                }
            }
            let read = self.tcp.read(&mut chunk).await.expect("read");
            assert!(read > 0, "connection closed before a full reply");
            bytes.extend_from_slice(&chunk[..read]);
        }
    }

    /// True once the server has closed the connection.
    async fn closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(PATIENCE, self.tcp.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// Retries `attempt` until it gives `Some`, for at most PATIENCE.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(done) = attempt().await {
            return done;
        }
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn past_max_connections_new_ones_get_a_fast_503_but_health_and_open_ones_are_served() {
    let server = TestServer::start_with(|c| c.max_connections = Some(3)).await;
    let mut open = Vec::new();
    for n in 0..3 {
        let mut conn = Conn::open(&server).await;
        let reply = conn
            .request(
                "POST",
                "/ctx",
                Some(json!({"key": format!("k{n}"), "value": n})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        open.push(conn);
    }

    // The fourth: a 503 naming the limit, Retry-After, and the connection closed.
    let mut fourth = Conn::open(&server).await;
    let started = Instant::now();
    let refused = fourth
        .request("POST", "/ctx", Some(json!({"key": "k3", "value": 3})))
        .await;
    let refusal_time = started.elapsed();
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert_eq!(refused.body["status"], "error");
    assert_eq!(refused.body["limit"], 3);
    assert!(
        refused.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("--max-connections")),
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(fourth.closed_by_server().await, "closed after the refusal");

    // /health is still answered over the limit.
    let mut probe = Conn::open(&server).await;
    let health = probe.request("GET", "/health", None).await;
    assert_eq!(health.status, 200, "{}", health.body);

    // The open connections are untouched, and the refused write was not done.
    for conn in &mut open {
        let reply = conn.request("GET", "/ctx/all", None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["context"], json!({"k0": 0, "k1": 1, "k2": 2}));
    }
    let metrics = open[0].request("GET", "/metrics", None).await;
    assert!(
        metrics
            .text
            .contains("ctx_refused_total{limit=\"max_connections\"} 1"),
        "{}",
        metrics.text
    );
    // The three held open, and the refused ones while they are being closed.
    let open_now: u64 = metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix("ctx_open_connections "))
        .and_then(|value| value.parse().ok())
        .expect("ctx_open_connections");
    assert!((3..=5).contains(&open_now), "{open_now}");

    // A closed connection frees its place.
    drop(open.pop());
    let reply = eventually("a place freed by a closed connection", || async {
        let mut conn = Conn::open(&server).await;
        let reply = conn.request("GET", "/ctx/k0", None).await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    assert_eq!(reply.body["value"], 0);
    println!("refusal answered in {refusal_time:?}");
}

#[tokio::test]
async fn an_upgraded_websocket_holds_its_place_until_it_closes() {
    let server = TestServer::start_with(|c| c.max_connections = Some(1)).await;
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let mut other = Conn::open(&server).await;
    assert_eq!(other.request("GET", "/ctx/all", None).await.status, 503);
    drop(ws);
    eventually("the WebSocket's place freed", || async {
        let mut conn = Conn::open(&server).await;
        (conn.request("GET", "/ctx/all", None).await.status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn over_the_rate_limit_a_client_gets_429_with_retry_after_and_others_go_on() {
    // Per minute, so that a slow machine cannot refill the burst mid-test.
    let server =
        TestServer::start_with(|c| c.rate_limit = Some("2/min".parse().expect("limit"))).await;
    let mut client = Conn::open(&server).await;
    for n in 0..2 {
        let reply = client
            .request(
                "POST",
                "/ctx",
                Some(json!({"key": format!("k{n}"), "value": n})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let limited = client
        .request("POST", "/ctx", Some(json!({"key": "k2", "value": 2})))
        .await;
    assert_eq!(limited.status, 429, "{}", limited.head);
    assert_eq!(limited.body["status"], "error");
    assert_eq!(limited.body["limit"], "2/min");
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert!(
        limited.body["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("retry in {retry_after} s"))),
        "{}",
        limited.body
    );
    // A new connection from the same address is the same client.
    let mut again = Conn::open(&server).await;
    assert_eq!(again.request("GET", "/ctx/k0", None).await.status, 429);
    // /health is never limited.
    for _ in 0..5 {
        assert_eq!(client.request("GET", "/health", None).await.status, 200);
    }
    // Another address has its own allowance, and sees that the limited write was not done.
    let mut other = Conn::open_from(&server, [127, 0, 0, 2]).await;
    let all = other.request("GET", "/ctx/all", None).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["context"], json!({"k0": 0, "k1": 1}));
    let metrics = other.request("GET", "/metrics", None).await;
    assert!(
        metrics
            .text
            .contains("ctx_refused_total{limit=\"rate_limit\"} 2"),
        "{}",
        metrics.text
    );
}
