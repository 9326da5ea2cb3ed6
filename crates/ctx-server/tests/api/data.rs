//! Reads, writes, deletes, listing and history over HTTP: the read forms, the
//! missing-key and equal-value rules, awkward keys, big integers, concurrent writers.

use super::*;

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
