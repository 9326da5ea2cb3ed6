//! Every error leaves the server as `{"status":"error","error":"..."}`.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctx_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Fields added beside `status` and `error` (a conflict's current `revision`, ...).
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: None,
        }
    }
    /// A 409 for a condition that did not hold, with the key's current state.
    pub fn conflict(message: impl Into<String>, key: &str, revision: u64, found: bool) -> Self {
        let mut details = serde_json::Map::new();
        details.insert("key".into(), key.into());
        details.insert("revision".into(), revision.into());
        details.insert("found".into(), found.into());
        Self {
            details: Some(details),
            ..Self::new(StatusCode::CONFLICT, message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.details {
            None => error_response(self.status, &self.message),
            Some(mut body) => {
                body.insert("status".into(), "error".into());
                body.insert("error".into(), self.message.into());
                (self.status, Json(body)).into_response()
            }
        }
    }
}

pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "error": message}))).into_response()
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match e {
            StoreError::InvalidKey(_) | StoreError::InvalidTxn(_) => StatusCode::BAD_REQUEST,
            StoreError::LeaseNotFound(_) => StatusCode::NOT_FOUND,
            StoreError::NotAnInteger { .. } => StatusCode::CONFLICT,
            // A quota, not a bad request: the same write passes once keys are deleted.
            StoreError::TooManyKeys { .. } => StatusCode::INSUFFICIENT_STORAGE,
            StoreError::Closed
            | StoreError::NoSpace(_)
            | StoreError::WritesRefused(_)
            | StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut error = ApiError::new(status, e.to_string());
        if let StoreError::TooManyKeys { limit } = e {
            let mut details = serde_json::Map::new();
            details.insert("limit".into(), limit.into());
            error.details = Some(details);
        }
        error
    }
}

/// An error answer that is not JSON: produced outside our handlers (extractor
/// rejections, the body limit, timeouts, 404/405).
pub fn is_plain_error(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// Turns a plain-text error ([`is_plain_error`]) into the same JSON shape as ours, so
/// clients parse one format.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        t => t.to_owned(),
    };
    let body = json!({"status": "error", "error": message}).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
