//! The payloads of the Socket.IO-only events (Framework0's shapes). The change and dump
//! events share `/ws`'s payloads (`live::protocol`, from `ctx-wire`). These stay here:
//! their shapes are not `/ws`'s (`context_set_confirmed` echoes the value with a `status`
//! and has no `id` or `timestamp`; `error` carries `message` too) and no Rust client reads
//! them, only Framework0's Python and JavaScript ones.

use crate::routes::Context;
use ctx_store::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize)]
pub(super) struct Snapshot<'a> {
    pub(super) context: &'a Context,
    pub(super) timestamp: Timestamp,
    pub(super) client_id: String,
    pub(super) revision: u64,
}

#[derive(Serialize)]
pub(super) struct ClientStats {
    pub(super) count: usize,
}

#[derive(Deserialize)]
pub(super) struct Register {
    #[serde(rename = "type", default)]
    pub(super) kind: Option<Value>,
    #[serde(default)]
    pub(super) name: Option<Value>,
}

#[derive(Serialize)]
pub(super) struct Registered {
    pub(super) client_id: String,
    #[serde(rename = "type")]
    pub(super) kind: Value,
    pub(super) name: Value,
    pub(super) status: &'static str,
}

#[derive(Deserialize)]
pub(super) struct SetRequest {
    pub(super) key: Option<String>,
    pub(super) value: Option<Value>,
    pub(super) who: Option<String>,
}

#[derive(Serialize)]
pub(super) struct SetConfirmed<'a> {
    pub(super) key: &'a str,
    pub(super) value: &'a Value,
    pub(super) status: &'static str,
    pub(super) revision: u64,
    pub(super) changed: bool,
}

/// `error`: Framework0's clients read `message`; `error` is our API's usual field.
#[derive(Serialize)]
pub(super) struct ErrorEvent<'a> {
    pub(super) error: &'a str,
    pub(super) status: &'static str,
    pub(super) message: &'a str,
}
