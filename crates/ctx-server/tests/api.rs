//! The HTTP API over real loopback HTTP, against a real on-disk store.

mod common;

use common::{TestServer, assert_error};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn both_read_forms_and_the_missing_key_rule() {
    let server = TestServer::start().await;
    for path in ["/ctx/never.written", "/ctx?key=never.written"] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(body["value"], Value::Null);
        assert_eq!(body["found"], false);
        assert_eq!(body["key"], "never.written");
    }
    server
        .set("config.database_url", json!("postgres://db"))
        .await;
    for path in ["/ctx/config.database_url", "/ctx?key=config.database_url"] {
        let body = server.get(path).await.json();
        assert_eq!(body["value"], "postgres://db");
        assert_eq!(body["found"], true);
        assert_eq!(body["revision"], 1);
        let stamp = body["timestamp"].as_str().unwrap();
        assert!(
            stamp.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
    }
}

#[tokio::test]
async fn the_write_answer_carries_the_canonical_value() {
    let server = TestServer::start().await;
    let body = r#"{"value":{"b":[1,{"z":null,"y":"\u00e9\""}],"a":1.5},"key":"c\"k","who":"w"}"#;
    let answer = server
        .request(Method::POST, "/ctx", Some("application/json"), body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let canonical = r#"{"a":1.5,"b":[1,{"y":"é\"","z":null}]}"#;
    assert!(
        answer.text().contains(&format!(r#""value":{canonical},"#)),
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["key"], "c\"k");
    let read = server.get("/ctx?key=c%22k").await.text();
    assert!(read.contains(&format!(r#""value":{canonical},"#)), "{read}");
}

#[tokio::test]
async fn keys_with_slashes_spaces_and_route_words() {
    let server = TestServer::start().await;
    server.set("a/b c/é", json!(1)).await;
    assert_eq!(server.get("/ctx/a/b%20c/%C3%A9").await.json()["value"], 1);
    assert_eq!(
        server.get("/ctx/a%2Fb%20c%2F%C3%A9").await.json()["value"],
        1
    );
    server.set("all", json!("a route word")).await;
    assert_eq!(
        server.get("/ctx?key=all").await.json()["value"],
        "a route word"
    );
    assert!(server.get("/ctx/all").await.json()["context"].is_object());
}

#[tokio::test]
async fn write_read_history_and_the_equal_value_rule() {
    let server = TestServer::start().await;
    let first = server
        .post(
            "/ctx",
            &json!({"key": "k", "value": {"n": 1}, "who": "runner-1"}),
        )
        .await
        .json();
    assert_eq!(first["status"], "success");
    assert_eq!(first["who"], "runner-1");
    assert_eq!(first["revision"], 1);
    let default_who = server
        .post("/ctx", &json!({"key": "k", "value": {"n": 2}}))
        .await
        .json();
    assert_eq!(default_who["who"], "api_client");
    let unchanged = server
        .post("/ctx", &json!({"key": "k", "value": {"n": 2}}))
        .await
        .json();
    assert_eq!(unchanged["status"], "success");
    assert_eq!(unchanged["changed"], false);
    assert_eq!(unchanged["revision"], 2);

    let history = server.get("/ctx/history?key=k").await.json();
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "the equal write added nothing");
    assert_eq!(entries[0]["before"], Value::Null);
    assert_eq!(entries[0]["after"], json!({"n": 1}));
    assert_eq!(entries[1]["before"], json!({"n": 1}));
    assert_eq!(entries[1]["after"], json!({"n": 2}));
    assert_eq!(entries[1]["who"], "api_client");
    assert_eq!(entries[1]["revision"], 2);
}

#[tokio::test]
async fn history_filters_over_http() {
    let server = TestServer::start().await;
    for i in 0..6 {
        let who = if i % 2 == 0 { "even" } else { "odd" };
        server
            .post(
                "/ctx",
                &json!({"key": format!("p{}.k{i}", i % 2), "value": i, "who": who}),
            )
            .await;
    }
    let revisions = |body: Value| -> Vec<u64> {
        body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["revision"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        revisions(server.get("/ctx/history?who=odd").await.json()),
        vec![2, 4, 6]
    );
    assert_eq!(
        revisions(server.get("/ctx/history?prefix=p0.").await.json()),
        vec![1, 3, 5]
    );
    assert_eq!(
        revisions(server.get("/ctx/history?limit=2").await.json()),
        vec![5, 6]
    );
    let page = server
        .get("/ctx/history?since_revision=2&limit=2")
        .await
        .json();
    assert_eq!(revisions(page.clone()), vec![3, 4]);
    assert_eq!(page["total_entries"], 6);
    assert_eq!(page["filtered_entries"], 4);
    assert_error(
        &server.get("/ctx/history?limit=lots").await,
        StatusCode::BAD_REQUEST,
    );
}

#[tokio::test]
async fn delete_is_recorded_and_idempotent() {
    let server = TestServer::start().await;
    server.set("gone", json!([1])).await;
    let deleted = server.delete("/ctx/gone?who=cleaner").await.json();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(server.get("/ctx/gone").await.json()["found"], false);
    assert_eq!(server.delete("/ctx/gone").await.json()["deleted"], false);
    server.set("status", json!("a route word")).await;
    assert_eq!(
        server.delete("/ctx?key=status").await.json()["deleted"],
        true
    );
    assert_eq!(server.get("/ctx?key=status").await.json()["found"], false);
    assert_error(&server.delete("/ctx").await, StatusCode::BAD_REQUEST);
    let history = server.get("/ctx/history?key=gone").await.json();
    let last = &history["history"][1];
    assert_eq!(last["after"], Value::Null);
    assert_eq!(last["before"], json!([1]));
    assert_eq!(last["who"], "cleaner");
}

#[tokio::test]
async fn all_counts_and_prefix_filter() {
    let server = TestServer::start().await;
    for key in ["app.a", "app.b", "db.url"] {
        server.set(key, json!(key)).await;
    }
    let all = server.get("/ctx/all").await.json();
    assert_eq!(all["key_count"], 3);
    assert_eq!(all["revision"], 3);
    assert_eq!(all["history_count"], 3);
    assert_eq!(all["connected_clients"], 0);
    assert_eq!(all["context"]["db.url"], "db.url");
    let app = server.get("/ctx/all?prefix=app.").await.json();
    assert_eq!(app["key_count"], 2);
    assert_eq!(app["context"], json!({"app.a": "app.a", "app.b": "app.b"}));
}

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
async fn status_health_and_metrics() {
    let server = TestServer::start().await;
    server.set("k", json!(1)).await;
    let status = server.get("/ctx/status").await.json();
    assert_eq!(status["status"], "running");
    assert_eq!(status["key_count"], 1);
    assert_eq!(status["revision"], 1);
    assert!(status["version"].is_string());
    assert!(status["uptime_seconds"].is_u64());
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
    let metrics = server.get("/metrics").await.text();
    for needle in [
        "ctx_http_requests_total{route=\"/ctx\",method=\"POST\",status=\"200\"} 1",
        "ctx_keys 1",
        "ctx_revision 1",
        "ctx_connected_clients 0",
        "ctx_store_commit_duration_seconds_count",
        "ctx_http_request_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn a_graceful_restart_keeps_everything() {
    let server = TestServer::start().await;
    for i in 0..20 {
        server.set(&format!("k{i}"), json!({"i": i})).await;
    }
    server.delete("/ctx/k3").await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let all = server.get("/ctx/all").await.json();
    assert_eq!(all["key_count"], 19);
    assert_eq!(all["revision"], 21);
    assert_eq!(server.get("/ctx/k7").await.json()["value"], json!({"i": 7}));
    assert_eq!(server.set("next", json!(0)).await["revision"], 22);
}

/// `GET /ctx/{key}` is answered before the router; a `%` in the path sends the same read
/// through the router. Both must give the same answer, found or not, and errors too.
#[tokio::test]
async fn reads_by_path_answer_alike_with_and_without_the_router() {
    let server = TestServer::start_with(|c| c.max_key_bytes = 8).await;
    server.set("hot", json!({"a": [1, "x"]})).await;
    server.set("a/b", json!(2)).await;
    for (fast, routed) in [
        ("/ctx/hot", "/ctx/h%6Ft"),
        ("/ctx/a/b", "/ctx/a%2Fb"),
        ("/ctx/missing", "/ctx/missin%67"),
        ("/ctx/too-long-key", "/ctx/too-long-ke%79"),
    ] {
        let (fast, routed) = (server.get(fast).await, server.get(routed).await);
        assert_eq!(fast.status, routed.status);
        // A missing key's answer is stamped with the time of the read.
        let without_time = |answer: &common::Answer| {
            let mut json = answer.json();
            if let Some(object) = json.as_object_mut() {
                object.remove("timestamp");
            }
            json
        };
        assert_eq!(without_time(&fast), without_time(&routed));
        let headers = |answer: &common::Answer| {
            let mut headers = answer.headers.clone();
            headers.remove("date");
            format!("{headers:?}")
        };
        assert_eq!(headers(&fast), headers(&routed));
    }
}

#[tokio::test]
async fn api_key_guards_writes_or_everything() {
    let server = TestServer::start_with(|c| c.api_key = Some("s3cret".into())).await;
    assert_error(
        &server.post("/ctx", &json!({"key": "k", "value": 1})).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(
        server.get("/ctx/k").await.status,
        StatusCode::OK,
        "reads stay open with scope `writes`"
    );
    let body = json!({"key": "k", "value": 1}).to_string();
    let request = hyper::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/ctx", server.base))
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cret")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    assert_eq!(
        client.request(request).await.unwrap().status(),
        StatusCode::OK
    );

    let locked = TestServer::start_with(|c| {
        c.api_key = Some("s3cret".into());
        c.auth_scope = ctx_server::AuthScope::All;
    })
    .await;
    assert_error(&locked.get("/ctx/k").await, StatusCode::UNAUTHORIZED);
    assert_eq!(locked.get("/health").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_over_http_leave_consistent_history() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let server = server.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    let key = if i % 2 == 0 {
                        format!("own.{t}.{i}")
                    } else {
                        format!("shared.{}", i % 5)
                    };
                    let answer = server
                        .post(
                            "/ctx",
                            &json!({"key": key, "value": [t, i], "who": format!("t{t}")}),
                        )
                        .await;
                    assert_eq!(answer.status, StatusCode::OK);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all = server.get("/ctx/all").await.json();
    assert_eq!(all["key_count"], 16 * 100 + 5);
    let history = server.get("/ctx/history?limit=100000").await.json();
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 3200, "every write changed its key");
    let mut last: std::collections::HashMap<String, Value> = Default::default();
    for (n, entry) in entries.iter().enumerate() {
        assert_eq!(entry["revision"], n as u64 + 1);
        let key = entry["key"].as_str().unwrap().to_owned();
        let previous = last.get(&key).cloned().unwrap_or(Value::Null);
        assert_eq!(
            entry["before"],
            previous,
            "before of {key} at revision {}",
            n + 1
        );
        last.insert(key, entry["after"].clone());
    }
    for (key, value) in last {
        assert_eq!(all["context"][&key], value);
    }
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
async fn integers_beyond_64_bits_round_trip_exactly_as_text() {
    let server = TestServer::start().await;
    let body = r#"{"key":"big","value":{"u":18446744073709551616,"p":1000000000000000000000000000000,"n":-170141183460469231731687303715884105729,"f":2.50},"who":"py"}"#;
    let stored = r#"{"f":2.5,"n":-170141183460469231731687303715884105729,"p":1000000000000000000000000000000,"u":18446744073709551616}"#;
    let answer = server
        .request(Method::POST, "/ctx", Some("application/json"), body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(
        answer.text().contains(stored),
        "POST answer: {}",
        answer.text()
    );
    for path in [
        "/ctx/big",
        "/ctx?key=big",
        "/ctx/all",
        "/ctx/history?key=big",
    ] {
        let text = server.get(path).await.text();
        assert!(text.contains(stored), "{path}: {text}");
        assert!(!text.contains("e+"), "{path}: no float formatting: {text}");
    }
    // An equal value written with other spellings of the same numbers is no change.
    let same = r#"{"key":"big","value":{"f":25e-1,"n":-170141183460469231731687303715884105729,"p":1000000000000000000000000000000,"u":18446744073709551616}}"#;
    let answer = server
        .request(Method::POST, "/ctx", Some("application/json"), same)
        .await;
    assert_eq!(answer.json()["changed"], false, "{}", answer.text());
}

#[tokio::test]
async fn api_keys_have_roles_401_without_a_known_key_and_403_when_the_role_is_too_low() {
    let server = TestServer::start_with(|c| {
        c.auth_scope = ctx_server::AuthScope::All;
        c.api_keys = ["read:r-key", "write:w-key", "admin:a-key"]
            .iter()
            .map(|entry| entry.parse().unwrap())
            .collect();
    })
    .await;
    let as_key = |key: &'static str| [("x-api-key", key)];
    let get = |path: &'static str, key: &'static str| {
        let server = &server;
        async move {
            server
                .request_with(Method::GET, path, None, &as_key(key), "")
                .await
        }
    };
    let post = |path: &'static str, key: &'static str| {
        let server = &server;
        async move {
            let body = json!({"key": "k", "value": 1}).to_string();
            server
                .request_with(
                    Method::POST,
                    path,
                    Some("application/json"),
                    &as_key(key),
                    body,
                )
                .await
        }
    };

    assert_error(&server.get("/ctx/k").await, StatusCode::UNAUTHORIZED);
    assert_error(&get("/ctx/k", "nobody").await, StatusCode::UNAUTHORIZED);
    assert_eq!(get("/ctx/k", "r-key").await.status, StatusCode::OK);
    let refused = post("/ctx", "r-key").await;
    assert_error(&refused, StatusCode::FORBIDDEN);
    let message = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("role read") && message.contains("role write"),
        "{message}"
    );
    assert!(!message.contains("r-key"), "keys never appear: {message}");
    assert_eq!(post("/ctx", "w-key").await.status, StatusCode::OK);
    // Creating a dump writes on the server's disk: admin only. Listing is a read.
    assert_error(&post("/ctx/dump", "w-key").await, StatusCode::FORBIDDEN);
    assert_eq!(post("/ctx/dump", "a-key").await.status, StatusCode::OK);
    assert_eq!(get("/ctx/dump/list", "r-key").await.status, StatusCode::OK);
    assert_eq!(post("/ctx", "a-key").await.status, StatusCode::OK);
    // A Bearer header works the same; /health needs nothing.
    let bearer = server
        .request_with(
            Method::GET,
            "/ctx/k",
            None,
            &[("authorization", "Bearer r-key")],
            "",
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
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
