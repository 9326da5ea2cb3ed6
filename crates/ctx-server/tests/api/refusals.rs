//! What the server refuses: bad requests with JSON errors and the right code, idle
//! and slow-header connections, request heads over 16 KiB.

use super::*;

#[tokio::test]
async fn bad_requests_get_json_errors_with_the_right_code() {
    let server = TestServer::start_with(|c| c.max_body = 4096).await;
    let post = |body: &'static str, ct: Option<&'static str>| {
        server.request(Method::POST, "/ctx", ct, body)
    };
    assert_error(
        &post("{not json", Some("application/json")).await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &post(r#"{"key":"k","value":1}"#, Some("text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    assert_error(
        &server.post("/ctx", &json!({"value": 1})).await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server.post("/ctx", &json!({"key": "", "value": 1})).await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server.post("/ctx", &json!({"key": "k"})).await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server
            .post("/ctx", &json!({"key": "k", "value": null}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server.post("/ctx", &json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server
            .post("/ctx", &json!({"key": "k", "value": 1, "who": 7}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server
            .post("/ctx", &json!({"key": "x".repeat(1025), "value": 1}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server
            .post("/ctx", &json!({"key": "tab\there", "value": 1}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_error(
        &server
            .post("/ctx", &json!({"key": "big", "value": "a".repeat(5000)}))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    assert_error(&server.get("/no/such/route").await, StatusCode::NOT_FOUND);
    assert_error(
        &server.request(Method::PUT, "/ctx/all", None, "").await,
        StatusCode::METHOD_NOT_ALLOWED,
    );
    assert_error(&server.get("/ctx").await, StatusCode::BAD_REQUEST);
    // Nothing above was written.
    assert_eq!(server.get("/ctx/all").await.json()["revision"], 0);
}

#[tokio::test]
async fn idle_and_slow_header_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server =
        TestServer::start_with(|c| c.idle_timeout = std::time::Duration::from_millis(300)).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for stream in [&mut idle, &mut slow] {
        let mut buf = Vec::new();
        // The server closes the socket: read ends (EOF or a 408) well before this bound.
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut buf),
        )
        .await;
        assert!(read.is_ok(), "connection still open after 20 s");
    }
    // A normal client on a fresh connection is unaffected.
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_head_over_16_kib_is_431_and_below_it_is_served() {
    let server = TestServer::start().await;
    let big = "x".repeat(200 * 1024);
    let refused = server
        .request_with(Method::GET, "/health", None, &[("x-padding", &big)], "")
        .await;
    assert_eq!(refused.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let just_over = "x".repeat(16 * 1024);
    let refused = server
        .request_with(
            Method::GET,
            "/health",
            None,
            &[("x-padding", &just_over)],
            "",
        )
        .await;
    assert_eq!(refused.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let fits = "x".repeat(12 * 1024);
    let served = server
        .request_with(Method::GET, "/health", None, &[("x-padding", &fits)], "")
        .await;
    assert_eq!(served.status, StatusCode::OK);
}

#[test]
fn the_default_header_read_timeout_is_at_most_ten_seconds() {
    let config = ctx_server::ServerConfig::with_data_dir("unused");
    assert!(config.idle_timeout <= std::time::Duration::from_secs(10));
}
