//! Optional API-key check. Off unless `api_key` is configured; then writes (or, with
//! scope `all`, every request but `/health`) need `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`.

use crate::app::AppState;
use crate::config::{AuthScope, ServerConfig};
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn check(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = app.config.api_key.as_deref() else {
        return next.run(request).await;
    };
    let read_only = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let guarded = match app.config.auth_scope {
        AuthScope::Writes => !read_only,
        AuthScope::All => request.uri().path() != "/health",
    };
    if !guarded || presents(request.headers(), expected) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
    )
    .into_response()
}

/// True when no API key is configured or `headers` carry the right one. Live connections
/// upgrade with a GET (unguarded in scope `writes`), so they check this before each write.
pub(crate) fn may_write(config: &ServerConfig, headers: &HeaderMap) -> bool {
    config
        .api_key
        .as_deref()
        .is_none_or(|expected| presents(headers, expected))
}

/// The subprotocol `/ws` answers with when a client offers it.
pub(crate) const WS_PROTOCOL: &str = "ctx";

/// Browsers cannot set headers on a WebSocket upgrade, so a page (the dashboard) offers
/// the key as a second subprotocol, `Sec-WebSocket-Protocol: ctx, ctx-key.<hex>`: the key's
/// UTF-8 bytes in lowercase hex, because a protocol name must be a token (no spaces or
/// separators). `/ws` selects `ctx`, and the browser accepts the upgrade.
const WS_KEY_PROTOCOL: &str = "ctx-key.";

fn presents(headers: &HeaderMap, expected: &str) -> bool {
    if let Some(key) = header_key(headers) {
        return constant_time_eq(key.as_bytes(), expected.as_bytes());
    }
    protocol_key(headers).is_some_and(|key| constant_time_eq(&key, expected.as_bytes()))
}

fn header_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok();
    }
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn protocol_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(WS_KEY_PROTOCOL))
        .and_then(decode_hex)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Compares without stopping at the first difference, so timing does not leak the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_protocol(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static(value),
        );
        headers
    }

    #[test]
    fn a_key_offered_as_a_websocket_subprotocol_is_accepted() {
        // "s3cr\u{e9}t" in UTF-8, hex.
        let headers = with_protocol("ctx, ctx-key.73336372c3a974");
        assert!(presents(&headers, "s3cr\u{e9}t"));
        assert!(!presents(&headers, "s3cret"));
    }

    #[test]
    fn a_malformed_subprotocol_key_is_refused() {
        for value in ["ctx", "ctx-key.", "ctx-key.7", "ctx-key.zz", "ctx-key.7333"] {
            assert!(!presents(&with_protocol(value), "s3c"), "{value}");
        }
    }
}
