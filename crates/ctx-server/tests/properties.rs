//! Property tests of everything the server parses from the network: `POST /ctx` bodies,
//! keys, dump names, history filters and `/ws` messages. Random and mutated input, over
//! a real server on a loopback port: never a 5xx or a dropped connection, always a JSON
//! answer, and what is accepted behaves as documented.
//!
//! proptest rather than `cargo fuzz`: fuzzing needs a nightly toolchain, which these
//! machines do not have; proptest runs in `cargo test` and shrinks a failure to a short
//! input. Case counts keep each test to a few seconds in a debug build.

mod common;

use common::TestServer;
use ctx_server::live::protocol::ClientMessage;
use futures_util::{SinkExt, StreamExt};
use hyper::{Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Runs `cases` cases of `strategy` against one server, each inside the runtime.
fn against_server<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl AsyncFn(&TestServer, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |input| runtime.block_on(check(&server, input)));
    runtime.block_on(server.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// Percent-encodes every byte but ASCII letters and digits.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// The answer is a JSON object with a `status` field, and no server error.
fn answered(answer: &common::Answer) -> Result<Value, TestCaseError> {
    prop_assert!(
        !answer.status.is_server_error(),
        "{}: {}",
        answer.status,
        answer.text()
    );
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", answer.text())))?;
    prop_assert!(body.get("status").is_some(), "{body}");
    Ok(body)
}

/// JSON without floats (whose text may not round-trip exactly), nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{1,10}",
        1 => "[a-z]{0,3}[\\x00-\\x1f\\x7f\u{85}][a-z]{0,3}",
        1 => Just(String::new()),
        1 => "[/.%?#& ]{1,4}",
    ]
}

/// A POST /ctx body: a well-formed object (fields of any type), arbitrary bytes, or a
/// valid body with some bytes changed or cut.
#[derive(Clone, Debug)]
enum Body {
    Object { fields: Value },
    Bytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    let field = prop_oneof![key().prop_map(Value::from), json_value()];
    let object = (
        prop::option::of(field.clone()),
        prop::option::of(json_value()),
        prop::option::of(field),
    )
        .prop_map(|(key, value, who)| {
            let mut fields = serde_json::Map::new();
            for (name, field) in [("key", key), ("value", value), ("who", who)] {
                if let Some(field) = field {
                    fields.insert(name.to_owned(), field);
                }
            }
            Body::Object {
                fields: Value::Object(fields),
            }
        });
    let valid = br#"{"key":"k/1","value":{"a":[1,2.5,"x"],"b":null},"who":"w"}"#.to_vec();
    let mutated = (
        prop::collection::vec((0..valid.len(), any::<u8>()), 1..4),
        0..=valid.len(),
    )
        .prop_map(move |(changes, cut)| {
            let mut bytes = valid.clone();
            for (at, byte) in changes {
                bytes[at] = byte;
            }
            bytes.truncate(cut.max(1));
            Body::Bytes(bytes)
        });
    prop_oneof![
        3 => object,
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
        2 => mutated,
    ]
}

#[test]
fn post_bodies_get_a_json_answer_and_what_is_accepted_reads_back() {
    against_server(192, body(), async |server: &TestServer, body: Body| {
        let (bytes, expected) = match &body {
            Body::Object { fields } => (fields.to_string().into_bytes(), Some(fields.clone())),
            Body::Bytes(bytes) => (bytes.clone(), None),
        };
        let answer = server
            .request(
                Method::POST,
                "/ctx",
                Some("application/json"),
                bytes.clone(),
            )
            .await;
        let body = answered(&answer)?;
        // What the rules accept: a JSON object, `key` a valid non-empty string, `value`
        // present and not null, `who` absent, null or a string.
        let request: Option<Value> = serde_json::from_slice(&bytes).ok();
        let acceptable = request.as_ref().is_some_and(|request| {
            let key_ok = request["key"]
                .as_str()
                .is_some_and(|k| !k.is_empty() && !k.chars().any(char::is_control));
            let value_ok = !request["value"].is_null();
            let who_ok = matches!(
                request.get("who"),
                None | Some(Value::Null | Value::String(_))
            );
            request.is_object() && key_ok && value_ok && who_ok
        });
        prop_assert_eq!(
            answer.status == StatusCode::OK,
            acceptable,
            "{}",
            answer.text()
        );
        if answer.status != StatusCode::OK {
            prop_assert_eq!(&body["status"], "error");
            return Ok(());
        }
        let key = body["key"].as_str().expect("the answer names the key");
        let read = server.get(&format!("/ctx/{}", encode(key))).await;
        prop_assert_eq!(read.status, StatusCode::OK);
        prop_assert_eq!(&read.json()["value"], &body["value"]);
        if let Some(fields) = expected {
            prop_assert_eq!(&fields["value"], &body["value"], "the value round-trips");
            prop_assert_eq!(&fields["key"], &body["key"]);
        }
        Ok(())
    });
}

#[test]
fn keys_round_trip_through_every_route_or_are_refused_with_400() {
    against_server(128, key(), async |server: &TestServer, key: String| {
        let valid = !key.is_empty() && !key.chars().any(char::is_control);
        let path = format!("/ctx/{}", encode(&key));
        let set = server
            .post("/ctx", &json!({"key": key, "value": [key]}))
            .await;
        answered(&set)?;
        let read = server.get(&path).await;
        let read_body = answered(&read)?;
        if !valid {
            prop_assert_eq!(set.status, StatusCode::BAD_REQUEST, "{}", set.text());
            // An empty key is the path `/ctx/`: not a key route at all.
            if !key.is_empty() {
                prop_assert_eq!(read.status, StatusCode::BAD_REQUEST, "{}", read.text());
            }
            return Ok(());
        }
        prop_assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        prop_assert_eq!(read.status, StatusCode::OK, "{}", read.text());
        prop_assert_eq!(&read_body["key"], &json!(key));
        prop_assert_eq!(&read_body["value"], &json!([key]));
        let deleted = server.delete(&path).await;
        prop_assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        // Framework0's answer for a missing key: 200 with `found: false`.
        let gone = server.get(&path).await;
        prop_assert_eq!(gone.status, StatusCode::OK);
        prop_assert_eq!(&gone.json()["found"], &json!(false));
        Ok(())
    });
}

/// Every file under `root` except inside `except`, relative paths, sorted.
fn files_outside(root: &std::path::Path, except: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.starts_with(except) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn dump_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._-]{1,12}",
        "\\PC{1,10}",
        "[./\\\\a]{1,8}",
        "(\\.\\./){1,3}[a-z]{1,6}",
        "[a-z]{0,3}[\\x00-\\x1f][a-z]{0,3}",
        "x{250,260}",
    ]
}

#[test]
fn dump_names_are_refused_or_stay_inside_the_dump_directory() {
    against_server(
        96,
        dump_name(),
        async |server: &TestServer, name: String| {
            let root = server.dir.path();
            let dumps = server.dump_dir();
            let before = files_outside(root, &dumps);
            let answer = server
                .post("/ctx/dump", &json!({"format": "json", "filename": name}))
                .await;
            let body = answered(&answer)?;
            prop_assert!(
                answer.status == StatusCode::OK || answer.status == StatusCode::BAD_REQUEST,
                "{}: {}",
                answer.status,
                answer.text()
            );
            if answer.status == StatusCode::OK {
                let written = body["filename"].as_str().unwrap_or_default().to_owned();
                prop_assert!(
                    dumps.join(&written).is_file(),
                    "{written:?} in the dump dir"
                );
            }
            let read = server.get(&format!("/ctx/dump/{}", encode(&name))).await;
            prop_assert!(
                !read.status.is_server_error(),
                "{}: {}",
                read.status,
                read.text()
            );
            if read.status == StatusCode::OK {
                let served = dumps.join(&name);
                prop_assert!(
                    served.is_file(),
                    "served {name:?} from outside the dump dir"
                );
                prop_assert_eq!(
                    std::fs::read(served).expect("read dump"),
                    read.body.to_vec()
                );
            }
            prop_assert_eq!(
                files_outside(root, &dumps),
                before,
                "nothing written elsewhere"
            );
            Ok(())
        },
    );
}

/// One `GET /ctx/history` query: each parameter absent, well-formed, or junk.
#[derive(Clone, Debug)]
struct HistoryParams {
    key: Option<String>,
    who: Option<String>,
    prefix: Option<String>,
    since_revision: Option<String>,
    limit: Option<String>,
    /// Appended as is (already a query fragment, maybe malformed).
    junk: String,
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_owned()),
        "-[0-9]{1,3}|[a-z]{1,3}|[0-9]\\.[0-9]|",
    ]
}

fn history_params() -> impl Strategy<Value = HistoryParams> {
    let text = prop_oneof!["a|a/b|b|c/|x|y|", "\\PC{0,4}"];
    (
        prop::option::of(text.clone()),
        prop::option::of(text.clone()),
        prop::option::of(text),
        prop::option::of(number_text()),
        prop::option::of(number_text()),
        prop_oneof![Just(String::new()), "&[a-z_=%&0-9]{0,12}"],
    )
        .prop_map(
            |(key, who, prefix, since_revision, limit, junk)| HistoryParams {
                key,
                who,
                prefix,
                since_revision,
                limit,
                junk,
            },
        )
}

#[test]
fn history_filters_answer_200_with_matching_entries_or_400() {
    let seed = async |server: &TestServer| {
        for (i, key) in ["a", "a/b", "b", "c/d", "a", "c/e", "b"]
            .iter()
            .cycle()
            .take(21)
            .enumerate()
        {
            let who = if i % 3 == 0 { "x" } else { "y" };
            let answer = server
                .post("/ctx", &json!({"key": key, "value": i, "who": who}))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        }
    };
    let seeded = std::sync::Once::new();
    against_server(
        192,
        history_params(),
        async |server: &TestServer, params: HistoryParams| {
            {
                if !seeded.is_completed() {
                    seed(server).await;
                    seeded.call_once(|| {});
                }
                let mut query = Vec::new();
                for (name, value) in [
                    ("key", &params.key),
                    ("who", &params.who),
                    ("prefix", &params.prefix),
                    ("since_revision", &params.since_revision),
                    ("limit", &params.limit),
                ] {
                    if let Some(value) = value {
                        query.push(format!("{name}={}", encode(value)));
                    }
                }
                let path = format!("/ctx/history?{}{}", query.join("&"), params.junk);
                let answer = server.get(&path).await;
                let body = answered(&answer)?;
                let number_ok = |text: &Option<String>| {
                    text.as_ref().is_none_or(|text| text.parse::<u64>().is_ok())
                };
                let well_formed = number_ok(&params.since_revision)
                    && number_ok(&params.limit)
                    && params.junk.is_empty();
                if well_formed {
                    prop_assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                }
                if answer.status != StatusCode::OK {
                    prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
                    return Ok(());
                }
                if !well_formed {
                    return Ok(()); // junk that happened to parse: only "no 5xx" holds
                }
                let entries = body["history"].as_array().expect("history array");
                let since: u64 = params
                    .since_revision
                    .as_deref()
                    .map_or(0, |s| s.parse().unwrap_or(0));
                let mut last = since;
                for entry in entries {
                    let revision = entry["revision"].as_u64().expect("revision");
                    prop_assert!(revision > last, "ascending, after since_revision");
                    last = revision;
                    let key = entry["key"].as_str().expect("key");
                    if let Some(wanted) = &params.key {
                        prop_assert_eq!(key, wanted.as_str());
                    }
                    if let Some(prefix) = &params.prefix {
                        prop_assert!(key.starts_with(prefix.as_str()));
                    }
                    if let Some(who) = &params.who {
                        prop_assert_eq!(entry["who"].as_str(), Some(who.as_str()));
                    }
                }
                if let Some(limit) = params.limit.as_deref().and_then(|l| l.parse::<u64>().ok()) {
                    prop_assert!(entries.len() as u64 <= limit);
                }
                Ok(())
            }
        },
    );
}

/// A `/ws` text frame: any text, any JSON, or a valid message with a changed field.
fn ws_frame() -> impl Strategy<Value = String> {
    let message_type = prop_oneof![
        Just(json!("subscribe")),
        Just(json!("set")),
        Just(json!("delete")),
        Just(json!("ping")),
        json_value(),
    ];
    let message = (
        message_type,
        prop::option::of(key().prop_map(Value::from)),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(kind, key, value, prefixes, since)| {
            let mut message = json!({"type": kind});
            for (name, field) in [
                ("key", key),
                ("value", value),
                ("prefixes", prefixes),
                ("since_revision", since),
            ] {
                if let Some(field) = field {
                    message[name] = field;
                }
            }
            message.to_string()
        });
    prop_oneof![
        2 => message,
        1 => json_value().prop_map(|value| value.to_string()),
        1 => "\\PC{0,24}",
    ]
}

#[test]
fn the_ws_message_parser_never_panics_and_accepts_exactly_the_documented_shapes() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&ws_frame(), |text| {
            let parsed = ClientMessage::parse(&text);
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&text) {
                let kind = fields.get("type").and_then(Value::as_str);
                let known = matches!(kind, Some("subscribe" | "set" | "delete" | "ping"));
                if !known {
                    prop_assert!(parsed.is_err(), "{text}");
                }
                if kind == Some("set") && fields.get("value").is_none_or(Value::is_null) {
                    prop_assert!(parsed.is_err(), "a set without a value: {text}");
                }
            } else {
                prop_assert!(parsed.is_err(), "not a JSON object: {text}");
            }
            if let Err(message) = parsed {
                prop_assert!(
                    !message.is_empty() && !message.contains('\n'),
                    "{message:?}"
                );
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn random_ws_frames_get_answers_and_never_break_the_connection() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let socket = runtime
        .block_on(tokio_tungstenite::connect_async(url))
        .expect("connect")
        .0;
    let socket = tokio::sync::Mutex::new(socket);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let sequence = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&ws_frame(), |text| {
        let id = format!(
            "probe-{}",
            sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        runtime.block_on(async {
            let mut socket = socket.lock().await;
            let parsed = ClientMessage::parse(&text);
            socket
                .send(Message::text(text.clone()))
                .await
                .expect("send");
            socket
                .send(Message::text(json!({"type": "ping", "id": id}).to_string()))
                .await
                .expect("send ping");
            // Read until our pong: the frame's own answer (an error for a bad frame) comes
            // first; events from earlier subscribes may be interleaved.
            let mut saw_error = false;
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
                    .await
                    .map_err(|_| TestCaseError::fail("no pong within 20 s"))?;
                let Some(Ok(frame)) = frame else {
                    return Err(TestCaseError::fail(format!(
                        "connection ended after {text:?}"
                    )));
                };
                let Message::Text(frame) = frame else {
                    continue;
                };
                let message: Value = serde_json::from_str(&frame).expect("the server sends JSON");
                match message["type"].as_str() {
                    Some("pong") if message["id"] == json!(id) => break,
                    Some("error") => saw_error = true,
                    _ => {}
                }
            }
            if parsed.is_err() {
                prop_assert!(saw_error, "a bad frame is answered with an error: {text}");
            }
            Ok(())
        })
    });
    drop(socket);
    runtime.block_on(server.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
