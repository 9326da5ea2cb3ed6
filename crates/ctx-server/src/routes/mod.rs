//! The route table. Handlers stay thin: parse, call the store, shape the answer.

mod all;
pub(crate) mod coord;
mod dump;
mod history;
mod read;
mod status;
mod wait;
mod write;

pub(crate) use all::Context;
pub(crate) use status::Writes;

use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::observe::{ObserveLayer, Routes};
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

/// The whole HTTP service, as the accept loop serves it.
///
/// Metrics, CORS and Socket.IO wrap the router once instead of with `Router::layer`,
/// which wraps every route in each layer: each such layer cost a boxed clone of the
/// route's service and a boxed future per request (two such layers: ~2 100 instructions
/// per GET). Routing happens inside them, so `Observe` labels requests from the route
/// patterns (~200 instructions).
pub fn service(
    app: AppState,
) -> impl Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let mut patterns = Vec::new();
    let router = router(app.clone(), &mut patterns);
    let routes = Arc::new(Routes::new(&patterns));
    let router = read::FastPath::new(app.clone(), routes.clone(), router);
    // Socket.IO answers its own paths inside CORS, metrics and JSON errors but outside
    // the request timeout (long-polling requests are held open by design) and the API-key
    // check (it applies its own on connect).
    let socketio = crate::live::socketio::layer(&app).layer(router);
    let cors = (!app.config.cors_origins.is_empty()).then(|| cors(&app.config));
    ServiceBuilder::new()
        .layer(ObserveLayer::new(app.metrics.clone(), routes))
        .option_layer(cors)
        .map_response(into_axum_body)
        .service(socketio)
}

/// Builds the routes, recording each pattern in `patterns` (for `Observe`'s labels).
fn router(app: AppState, patterns: &mut Vec<&'static str>) -> Router {
    let config = &app.config;
    let mut pattern = |pattern: &'static str| {
        patterns.push(pattern);
        pattern
    };
    // Only routes that wait (for durability, for a dump file, for a body) carry the
    // request timeout: the reads answer from memory at once, and a timer per request
    // is measurable at our request rates.
    let waiting = Router::new()
        .route(
            pattern("/ctx"),
            post(write::set).delete(write::delete_by_query),
        )
        .route(pattern("/ctx/txn"), post(coord::txn::txn))
        .route(pattern("/ctx/incr"), post(coord::incr::incr))
        .route(pattern("/ctx/lease"), post(coord::lease::grant))
        .route(
            pattern("/ctx/lease/{id}/keepalive"),
            post(coord::lease::keep_alive),
        )
        .route(
            pattern("/ctx/lease/{id}"),
            get(coord::lease::show).delete(coord::lease::revoke),
        )
        .route(pattern("/ctx/dump"), post(dump::create))
        .route(pattern("/ctx/dump/list"), get(dump::list))
        .route(pattern("/ctx/dump/{filename}"), get(dump::download))
        .route(pattern("/ctx/{*key}"), delete(write::delete_by_path))
        .layer(DefaultBodyLimit::max(config.max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ));
    let mut router = Router::new()
        .route(pattern("/ctx"), get(read::by_query))
        .route(pattern("/ctx/all"), get(all::all))
        .route(pattern("/ctx/history"), get(history::history))
        .route(pattern("/ctx/status"), get(status::status))
        // A wildcard so keys written with unescaped `/` still read back.
        .route(pattern(read::BY_PATH), get(read::by_path))
        .route(pattern("/health"), get(status::health))
        .route(pattern("/metrics"), get(status::metrics))
        .route(pattern("/ws"), get(crate::live::ws::upgrade))
        .merge(waiting)
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        });
    if config.auth_enabled() {
        router = router.layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::check,
        ));
    }
    router
        .merge(crate::dashboard::routes(&mut pattern))
        .with_state(app)
}

fn cors(config: &crate::config::ServerConfig) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
        ])
}

/// Socket.IO's answers come in its own body type; `Observe` works on axum's.
fn into_axum_body<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}
