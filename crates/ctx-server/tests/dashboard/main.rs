//! The web dashboard at `/`: its files over HTTP, the API key over `/ws`, and the page
//! itself in a real headless Chromium against a real server.
//!
//! One test binary in three parts: `served` (the files and the auth mode over HTTP),
//! `page` (the page at work in a browser), `api_key` (the key over `/ws` and in the
//! page); the server and page helpers they share are here.

#[path = "../common/mod.rs"]
mod common;

use common::{TestServer, assert_error};
use ctx_server::AuthScope;
use ctx_test_browser::Browser;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

mod api_key;
mod page;
mod served;

/// Not a protocol token (`/`, `=`): the page sends it to /ws hex-encoded.
const KEY: &str = "lab/key=2026";

/// Generous limits for page loads and form round trips on a busy CI machine.
const PAGE_LIMIT: Duration = Duration::from_secs(15);

async fn guarded_server() -> TestServer {
    TestServer::start_with(|config| {
        config.api_key = Some(KEY.into());
        config.auth_scope = AuthScope::All;
    })
    .await
}

/// A JavaScript string literal.
fn js(text: &str) -> String {
    Value::String(text.into()).to_string()
}

fn row_shown(key: &str) -> String {
    format!(
        "document.querySelector(`tr[data-key=\"${{CSS.escape({})}}\"]`)",
        js(key)
    )
}
