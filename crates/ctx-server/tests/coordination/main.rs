//! Compare-and-set, transactions, counters, leases and waits over real HTTP.
//!
//! One test binary in five parts: `conditional` (`if_revision` over HTTP and `/ws`),
//! `transactions` (`/ctx/txn`), `counters` (`/ctx/incr`), `leases`, `long_poll`
//! (`wait_for_revision`); the helpers they share are here.

#[path = "../common/mod.rs"]
mod common;

use common::{TestServer, assert_error};
use hyper::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

mod conditional;
mod counters;
mod leases;
mod long_poll;
mod transactions;

/// A generous bound so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

fn revision(answer: &Value) -> u64 {
    answer["revision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no revision in {answer}"))
}

/// Waits, with the long poll, until `key` changes after `after`; returns the read answer.
async fn wait_change(server: &TestServer, key: &str, after: u64) -> Value {
    let answer = server
        .get(&format!(
            "/ctx/{key}?wait_for_revision={after}&timeout_secs=20"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}
