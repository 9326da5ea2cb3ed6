//! The route table. Handlers stay thin: parse, call the store, shape the answer.

mod all;
mod dump;
mod history;
mod read;
mod status;
mod write;

pub(crate) use all::Context;

use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::observe::ObserveLayer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::{delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

pub fn router(app: AppState) -> Router {
    let config = &app.config;
    // Only routes that wait (for durability, for a dump file, for a body) carry the
    // request timeout: the reads answer from memory at once, and a timer per request
    // is measurable at our request rates.
    let waiting = Router::new()
        .route("/ctx", post(write::set).delete(write::delete_by_query))
        .route("/ctx/dump", post(dump::create))
        .route("/ctx/dump/list", get(dump::list))
        .route("/ctx/dump/{filename}", get(dump::download))
        .route("/ctx/{*key}", delete(write::delete_by_path))
        .layer(DefaultBodyLimit::max(config.max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ));
    let mut router = Router::new()
        .route("/ctx", get(read::by_query))
        .route("/ctx/all", get(all::all))
        .route("/ctx/history", get(history::history))
        .route("/ctx/status", get(status::status))
        // A wildcard so keys written with unescaped `/` still read back.
        .route("/ctx/{*key}", get(read::by_path))
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .route("/ws", get(crate::live::ws::upgrade))
        .merge(waiting)
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        });
    if config.api_key.is_some() {
        router = router.layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::check,
        ));
    }
    // Socket.IO answers its own paths inside CORS, metrics and JSON errors but outside
    // the request timeout (long-polling requests are held open by design) and the API-key
    // check (it applies its own on connect).
    router = router.layer(crate::live::socketio::layer(&app));
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([
                    axum::http::header::CONTENT_TYPE,
                    axum::http::header::AUTHORIZATION,
                    HeaderName::from_static("x-api-key"),
                ]),
        );
    }
    router
        .layer(ObserveLayer::new(app.metrics.clone()))
        .with_state(app)
}
