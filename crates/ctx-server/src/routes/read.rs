//! `GET /ctx/{key}` and `GET /ctx?key=K`. A missing key is not an error (Framework0's
//! performance suite reads keys nobody wrote and counts any 2xx as success).

use super::wait::WaitQuery;
use crate::app::AppState;
use crate::config::AuthScope;
use crate::error::ApiError;
use crate::observe::Routes;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use ctx_store::{JsonValue, Timestamp};
use futures_util::future::Either;
use hyper::body::Incoming;
use serde::Deserialize;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

#[derive(Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
    // Not a flattened `WaitQuery`: serde_urlencoded cannot give numbers to a flattened struct.
    wait_for_revision: Option<u64>,
    timeout_secs: Option<f64>,
    consistent: Option<bool>,
}

/// The route `by_path` answers; its catch-all takes everything after this prefix.
pub const BY_PATH: &str = "/ctx/{*key}";
const BY_PATH_PREFIX: &str = "/ctx/";

pub async fn by_path(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(wait): Query<WaitQuery>,
) -> Result<Response, ApiError> {
    super::wait::current(&app, wait.consistent).await?;
    match wait.wait_for_revision {
        Some(after) => super::wait::wait(&app, &key, after, &wait).await,
        None => read(&app, &key),
    }
}

pub async fn by_query(
    State(app): State<AppState>,
    Query(query): Query<KeyQuery>,
) -> Result<Response, ApiError> {
    let key = query
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter `key`"))?;
    let wait = WaitQuery {
        wait_for_revision: query.wait_for_revision,
        timeout_secs: query.timeout_secs,
        consistent: query.consistent,
    };
    super::wait::current(&app, wait.consistent).await?;
    match wait.wait_for_revision {
        Some(after) => super::wait::wait(&app, &key, after, &wait).await,
        None => read(&app, &key),
    }
}

/// `GET /ctx/{*key}`, the hottest request, answered before axum's router: its routing,
/// path-parameter decoding, extensions and per-route boxing cost ~5 000 instructions per
/// GET, more than the read itself. Every other request, and any that would answer
/// differently here, goes to `router`: a `%` in the path (axum percent-decodes the key
/// and rejects what is not UTF-8), a query (`wait_for_revision`), HEAD, and any GET when
/// the API key guards reads. The
/// route is found as `Observe` finds it, so more specific routes (`/ctx/all`, ...) win.
#[derive(Clone)]
pub struct FastPath {
    app: AppState,
    routes: Arc<Routes>,
    router: Router,
    /// False when the API-key check (a layer inside `router`) applies to reads.
    enabled: bool,
}

impl FastPath {
    pub fn new(app: AppState, routes: Arc<Routes>, router: Router) -> Self {
        let enabled = !app.config.auth_enabled() || app.config.auth_scope == AuthScope::Writes;
        Self {
            app,
            routes,
            router,
            enabled,
        }
    }

    fn key<'a>(&self, request: &'a Request<Incoming>) -> Option<&'a str> {
        let path = request.uri().path();
        let fast = self.enabled
            && request.method() == Method::GET
            && !path.contains('%')
            && request.uri().query().is_none()
            && self.routes.of(path).pattern() == BY_PATH;
        fast.then(|| path.strip_prefix(BY_PATH_PREFIX)).flatten()
    }
}

impl Service<Request<Incoming>> for FastPath {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<Incoming>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        match self.key(&request) {
            Some(key) => {
                let response = read(&self.app, key).unwrap_or_else(IntoResponse::into_response);
                Either::Left(ready(Ok(with_content_length(response))))
            }
            None => Either::Right(self.router.call(request)),
        }
    }
}

/// What axum's route adds to every answer it gives: `content-length` for a body of known
/// size.
fn with_content_length(mut response: Response) -> Response {
    if !response.headers().contains_key(CONTENT_LENGTH)
        && let Some(size) = response.body().size_hint().exact()
    {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(size));
    }
    response
}

pub(super) fn read(app: &AppState, key: &str) -> Result<Response, ApiError> {
    app.store.validate_key(key)?;
    match app.store.get(key) {
        Some(record) => answer(key, Some(&record.value), record.revision, record.timestamp),
        None => answer(key, None, app.store.revision(), Timestamp::now()),
    }
}

/// The read answer, `{"status","key","value","found","revision","timestamp"}`, written
/// straight into one buffer sized up front. Only the key goes through serde_json's
/// escaping; the value is the store's canonical JSON text, and the rest cannot need
/// escaping (fixed text, digits, an RFC 3339 timestamp). Through `Json` the answer cost a
/// reallocation past 128 bytes and an escaping pass over every string, ~15 % of a GET.
fn answer(
    key: &str,
    value: Option<&JsonValue>,
    revision: u64,
    timestamp: Timestamp,
) -> Result<Response, ApiError> {
    let value = value.map(JsonValue::as_str);
    // All but the key's and the value's text takes at most 126 bytes (a 20-digit
    // revision); a key that grows when escaped grows the buffer.
    let mut body = Vec::with_capacity(126 + key.len() + value.map_or(4, str::len));
    body.extend_from_slice(br#"{"status":"success","key":"#);
    serde_json::to_writer(&mut body, key).map_err(internal)?;
    body.extend_from_slice(br#","value":"#);
    body.extend_from_slice(value.unwrap_or("null").as_bytes());
    body.extend_from_slice(match value {
        Some(_) => br#","found":true,"revision":"#.as_slice(),
        None => br#","found":false,"revision":"#.as_slice(),
    });
    serde_json::to_writer(&mut body, &revision).map_err(internal)?;
    body.extend_from_slice(br#","timestamp":""#);
    timestamp.write_rfc3339(&mut body);
    body.extend_from_slice(br#""}"#);
    Ok(json_response(body))
}

/// A 200 with a JSON body written by hand (as `Json` would send it).
///
/// Built directly rather than as `(headers, Vec<u8>).into_response()`, which sets
/// `content-type: application/octet-stream` first and then replaces it (~350
/// instructions per answer).
pub(super) fn json_response(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Writing a string or a number into a `Vec` cannot fail; kept as an error, not a panic.
pub(super) fn internal(error: serde_json::Error) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde::Serialize;

    /// The answer as serde wrote it before: the hand-written one must match byte for byte.
    #[derive(Serialize)]
    struct ReadAnswer<'a> {
        status: &'static str,
        key: &'a str,
        value: Option<&'a JsonValue>,
        found: bool,
        revision: u64,
        timestamp: Timestamp,
    }

    async fn body_of(response: Response) -> (String, Option<String>) {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = match response.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => panic!("body: {error}"),
        };
        (String::from_utf8_lossy(&bytes).into_owned(), content_type)
    }

    #[test]
    fn the_fast_paths_prefix_is_the_routes() {
        assert_eq!(BY_PATH.strip_suffix("{*key}"), Some(BY_PATH_PREFIX));
    }

    #[tokio::test]
    async fn the_answer_matches_serdes() {
        let values = [
            Some(serde_json::json!({"b": [1, 2.5, null], "a": "x\"y"})),
            Some(serde_json::json!("text")),
            None,
        ];
        let keys = [
            "plain.key",
            "quote\"back\\slash",
            "tab\tnew\nline\u{1}",
            "ünï/çødé 🔑",
            "",
        ];
        for key in keys {
            for value in &values {
                let value = value.as_ref().map(JsonValue::new);
                for (revision, micros) in [(0, 0), (42, 1_795_500_000_123_456), (u64::MAX, -1)] {
                    let timestamp = Timestamp::from_micros(micros);
                    let expected = serde_json::to_string(&ReadAnswer {
                        status: "success",
                        key,
                        value: value.as_ref(),
                        found: value.is_some(),
                        revision,
                        timestamp,
                    })
                    .unwrap_or_default();
                    let response = match answer(key, value.as_ref(), revision, timestamp) {
                        Ok(response) => response,
                        Err(_) => panic!("no answer for {key:?}"),
                    };
                    let (body, content_type) = body_of(response).await;
                    assert_eq!(body, expected);
                    assert_eq!(content_type.as_deref(), Some("application/json"));
                }
            }
        }
    }
}
