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
    if !guarded
        || presented_key(request.headers())
            .is_some_and(|k| constant_time_eq(k.as_bytes(), expected.as_bytes()))
    {
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
    config.api_key.as_deref().is_none_or(|expected| {
        presented_key(headers).is_some_and(|k| constant_time_eq(k.as_bytes(), expected.as_bytes()))
    })
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok();
    }
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Compares without stopping at the first difference, so timing does not leak the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
