//! Property tests of everything the server parses from the network: `POST /ctx` bodies,
//! keys, dump names, history filters and `/ws` messages. Random and mutated input, over
//! a real server on a loopback port: never a 5xx or a dropped connection, always a JSON
//! answer, and what is accepted behaves as documented.
//!
//! proptest rather than `cargo fuzz`: fuzzing needs a nightly toolchain, which these
//! machines do not have; proptest runs in `cargo test` and shrinks a failure to a short
//! input. Case counts keep each test to a few seconds in a debug build.
//!
//! One test binary in four parts, one per input: `post` (bodies and keys), `dumps`,
//! `history`, `ws`; the runner and the strategies they share are here.

#[path = "../common/mod.rs"]
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

mod dumps;
mod history;
mod post;
mod ws;

/// A two-thread runtime and a server started in it (proptest's runner is
/// synchronous, so each case blocks on the runtime).
fn runtime_with_server() -> (tokio::runtime::Runtime, TestServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    (runtime, server)
}

/// Runs `cases` cases of `strategy` against one server, each inside the runtime.
fn against_server<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl AsyncFn(&TestServer, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let (runtime, server) = runtime_with_server();
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
