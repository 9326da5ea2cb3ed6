//! The exchange against a raw TCP server that answers with canned bytes:
//! every framing, interim answers, connection reuse and closing.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::engine::Target;

/// A server that reads one request head per entry of `answers` and writes
/// the entry back; returns the requests it received.
async fn serve(answers: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<Vec<String>>) {
    serve_in_pieces(answers, usize::MAX).await
}

/// [`serve`], writing each answer `piece` bytes at a time with a flush and a
/// pause after each, so that the client reads it across many reads.
async fn serve_in_pieces(
    answers: Vec<&'static [u8]>,
    piece: usize,
) -> (Target, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        socket.set_nodelay(true).unwrap();
        let mut seen = Vec::new();
        let mut pending = Vec::new();
        for answer in answers {
            // Read up to the end of a head (and a body of content-length bytes).
            loop {
                let text = String::from_utf8_lossy(&pending).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.parse::<usize>().unwrap());
                    if pending.len() >= end + 4 + length {
                        seen.push(
                            String::from_utf8_lossy(&pending[..end + 4 + length]).to_string(),
                        );
                        pending.drain(..end + 4 + length);
                        break;
                    }
                }
                let mut buf = [0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    return seen;
                }
                pending.extend_from_slice(&buf[..n]);
            }
            for bytes in answer.chunks(piece) {
                socket.write_all(bytes).await.unwrap();
                socket.flush().await.unwrap();
                if bytes.len() < answer.len() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        seen
    });
    (
        Target::parse(&format!("http://127.0.0.1:{port}/base")).unwrap(),
        task,
    )
}

async fn connect(target: &Target) -> Connection {
    Connection::new(target.open().await.unwrap())
}

#[tokio::test]
async fn every_framing_is_read_to_its_end_and_the_connection_reused() {
    let (target, server) = serve(vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ])
    .await;
    let mut conn = connect(&target).await;
    let (answer, body) = conn.fetch(&target, &Request::get("/a")).await.unwrap();
    assert_eq!(
        (answer.status, answer.reusable, body.as_slice()),
        (200, true, &b"hello"[..])
    );
    let post = Request::post_json("b", &serde_json::json!({"k": 1}));
    let (answer, body) = conn.fetch(&target, &post).await.unwrap();
    assert_eq!(
        (answer.status, answer.reusable, body.as_slice()),
        (201, true, &b"abcde"[..])
    );
    let (answer, body) = conn.fetch(&target, &Request::get("/c")).await.unwrap();
    assert_eq!((answer.status, answer.reusable, body.len()), (204, true, 0));
    assert!(!conn.closed().await, "the server keeps the connection");
    let (answer, _) = conn.fetch(&target, &Request::get("/d")).await.unwrap();
    assert_eq!((answer.status, answer.reusable), (404, true));
    let seen = server.await.unwrap();
    assert_eq!(seen.len(), 4);
    assert!(
        seen[0].starts_with("GET /base/a HTTP/1.1\r\n"),
        "{}",
        seen[0]
    );
    assert!(
        seen[0].contains(&format!("host: 127.0.0.1:{}\r\n", target.port())),
        "{}",
        seen[0]
    );
    assert!(
        !seen[0].contains("content-length"),
        "a GET says no length: {}",
        seen[0]
    );
    assert!(
        seen[1].starts_with("POST /base/b HTTP/1.1\r\n"),
        "{}",
        seen[1]
    );
    assert!(
        seen[1].contains("content-type: application/json\r\n"),
        "{}",
        seen[1]
    );
    assert!(
        seen[1].ends_with("content-length: 7\r\n\r\n{\"k\":1}"),
        "{}",
        seen[1]
    );
    // The server is gone: the connection says so before the next request.
    assert!(conn.closed().await);
}

#[tokio::test]
async fn close_delimited_and_connection_close_answers_end_the_connection() {
    let (target, server) = serve(vec![
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    ])
    .await;
    let mut conn = connect(&target).await;
    let get = Request::get("/");
    // The server task ends after its one answer, closing the socket.
    let (answer, body) = tokio::time::timeout(Duration::from_secs(10), conn.fetch(&target, &get))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (answer.status, answer.reusable, body.as_slice()),
        (200, false, &b"until the end"[..])
    );
    server.await.unwrap();

    let (target, server) = serve(vec![b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
    let mut conn = connect(&target).await;
    let (answer, _) = conn.fetch(&target, &Request::get("/")).await.unwrap();
    assert_eq!(
        (answer.status, answer.reusable),
        (200, false),
        "HTTP/1.0 without keep-alive"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn malformed_answers_and_paths_are_errors() {
    let (target, server) = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"]).await;
    let mut conn = connect(&target).await;
    let bad_path = conn
        .fetch(&target, &Request::get("/a b"))
        .await
        .err()
        .unwrap();
    assert!(bad_path.contains("not a valid URL path"), "{bad_path}");
    let bad_length = conn
        .fetch(&target, &Request::get("/a"))
        .await
        .err()
        .unwrap();
    assert!(bad_length.contains("bad Content-Length"), "{bad_length}");
    drop(conn);
    server.await.unwrap();

    let (target, server) = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"]).await;
    let mut conn = connect(&target).await;
    let cut = conn.fetch(&target, &Request::get("/")).await.err().unwrap();
    assert!(
        cut.contains("closed by the server in the middle of the body"),
        "{cut}"
    );
    server.await.unwrap();
}

/// The parsed head of `answer` (a GET's), which must be complete.
fn head_of(answer: &[u8]) -> Result<Head, String> {
    parse_head(answer, false, false).map(|head| head.expect("a complete head"))
}

#[test]
fn an_answer_framed_two_ways_is_read_once_and_its_connection_closed() {
    let both =
        head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
    assert!(matches!(both.framing, Framing::Chunked), "the coding wins");
    assert!(!both.keep_alive, "Transfer-Encoding and Content-Length");
    let http10 =
        head_of(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
    assert!(!http10.keep_alive, "HTTP/1.0 with Transfer-Encoding");
    // What stays reusable: one framing each, and HTTP/1.0 asking to keep.
    for reusable in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n",
    ] {
        let head = head_of(reusable).unwrap();
        assert!(head.keep_alive, "{}", String::from_utf8_lossy(reusable));
    }
}

#[test]
fn lengths_and_chunk_sizes_are_digits_only() {
    for bad in ["+5", "-5", "5 5", "0x5", "", "18446744073709551616"] {
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
        let error = head_of(answer.as_bytes()).err();
        assert!(
            error
                .as_ref()
                .is_some_and(|e| e.contains("bad Content-Length")),
            "{bad:?}: {error:?}"
        );
    }
    let head = head_of(b"HTTP/1.1 200 OK\r\nContent-Length:  42 \r\n\r\n").unwrap();
    assert!(matches!(head.framing, Framing::Length(42)));

    for bad in [
        &b"+a"[..],
        b"-1",
        b"",
        b" ",
        b"g",
        b"0x1a",
        b"1 a",
        b"10000000000000000",
    ] {
        assert!(chunk_size(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(chunk_size(b"1a;name=value"), Ok(26));
    assert_eq!(chunk_size(b"FF "), Ok(255));
    assert_eq!(chunk_size(b"ffffffffffffffff"), Ok(u64::MAX));
}

/// `fetch`, failing instead of hanging when the client waits for bytes that
/// never come.
async fn fetch_within(
    conn: &mut Connection,
    target: &Target,
    req: &Request,
) -> Result<(Answer, Vec<u8>), String> {
    tokio::time::timeout(Duration::from_secs(5), conn.fetch(target, req))
        .await
        .expect("the answer was read without waiting for more")
}

#[tokio::test]
async fn head_and_not_modified_answers_have_no_body_whatever_their_length_says() {
    let (target, server) = serve(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
    ])
    .await;
    let mut conn = connect(&target).await;
    let head = Request {
        method: Method::HEAD,
        ..Request::get("/h")
    };
    let (answer, body) = fetch_within(&mut conn, &target, &head).await.unwrap();
    assert_eq!((answer.status, answer.reusable, body.len()), (200, true, 0));
    let (answer, body) = fetch_within(&mut conn, &target, &Request::get("/n"))
        .await
        .unwrap();
    assert_eq!((answer.status, answer.reusable, body.len()), (304, true, 0));
    // The same connection carries the next exchange, its answer intact.
    let (answer, body) = fetch_within(&mut conn, &target, &Request::get("/x"))
        .await
        .unwrap();
    assert_eq!((answer.status, body.as_slice()), (200, &b"next"[..]));
    let seen = server.await.unwrap();
    assert!(
        seen[0].starts_with("HEAD /base/h HTTP/1.1\r\n"),
        "{}",
        seen[0]
    );
}

#[tokio::test]
async fn an_answer_arriving_a_few_bytes_at_a_time_is_read_whole() {
    let (target, server) = serve_in_pieces(
        vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Padding: a header long enough to span reads\r\n\r\n\
              5;ext=1\r\nhello\r\n11\r\n, over many reads\r\n0\r\nTrailer: t\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\nsecond body!",
        ],
        3,
    )
    .await;
    let mut conn = connect(&target).await;
    let (answer, body) = fetch_within(&mut conn, &target, &Request::get("/a"))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.reusable, body.as_slice()),
        (200, true, &b"hello, over many reads"[..])
    );
    let (answer, body) = fetch_within(&mut conn, &target, &Request::get("/b"))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.reusable, body.as_slice()),
        (201, true, &b"second body!"[..])
    );
    assert_eq!(server.await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_server_closing_before_the_head_is_an_error() {
    for (answer, piece) in [
        (&b""[..], usize::MAX),
        (b"HTTP/1.1 200 OK\r\nContent-Len", usize::MAX),
        (b"HTTP/1.1 200 OK\r\nContent-Len", 4),
    ] {
        let (target, server) = serve_in_pieces(vec![answer], piece).await;
        let mut conn = connect(&target).await;
        // The server task ends after its one answer, closing the socket.
        let error = fetch_within(&mut conn, &target, &Request::get("/"))
            .await
            .err()
            .unwrap();
        assert!(
            error.contains("connection closed by the server before the answer"),
            "{answer:?}: {error}"
        );
        server.await.unwrap();
    }
}

#[tokio::test]
async fn a_garbage_status_line_is_an_error() {
    for answer in [
        &b"220 smtp.example.com ESMTP ready\r\n\r\n"[..],
        b"HTTP/1.1 OK 200\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
    ] {
        let (target, server) = serve(vec![answer]).await;
        let mut conn = connect(&target).await;
        let error = fetch_within(&mut conn, &target, &Request::get("/"))
            .await
            .err()
            .unwrap();
        assert!(error.contains("malformed answer"), "{answer:?}: {error}");
        server.await.unwrap();
    }
}
