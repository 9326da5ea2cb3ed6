//! The HTTP API over real loopback HTTP, against a real on-disk store.
//!
//! One test binary in four parts: `data` (reads, writes, history), `refusals` (bad
//! requests, slow and oversized heads), `auth` (API keys and roles), `operations`
//! (status, metrics, restarts).

#[path = "../common/mod.rs"]
mod common;

use common::{TestServer, assert_error};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

mod auth;
mod data;
mod operations;
mod refusals;
