//! The web dashboard at `GET /` (docs/dashboard.md).
//!
//! Its HTML, CSS and JavaScript (`assets/`) are compiled into the binary: test-lab machines
//! are often offline, so nothing comes from a CDN and nothing is built at run time. The page
//! is an ordinary client of the API: it reads the REST routes with the API key the user
//! typed, and follows `/ws` for changes. The page's own files carry no data, so they are
//! served without the API key (like `/health`); every request the page makes is checked as
//! usual. None of this touches the request hot paths: these routes are matched only for
//! their own paths.

use crate::app::AppState;
use crate::config::AuthScope;
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// One file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The files under `/dashboard/`; `index.html` is also `/`.
const ASSETS: [Asset; 8] = [
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
    Asset {
        name: "app.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/api.js"),
    },
    Asset {
        name: "live.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/live.js"),
    },
    Asset {
        name: "context.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/context.js"),
    },
    Asset {
        name: "panels.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/panels.js"),
    },
    Asset {
        name: "chart.js",
        content_type: JAVASCRIPT,
        body: include_str!("assets/chart.js"),
    },
];

/// Everything from this origin and nothing else: a stray CDN link or inline script would
/// be refused by the browser (and fail the browser test), not silently fetched.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The dashboard's routes, recording each pattern with `pattern` (for `Observe`'s labels).
/// Merged after the API-key layer: the page must load before the user can type the key.
pub(crate) fn routes(mut pattern: impl FnMut(&'static str) -> &'static str) -> Router<AppState> {
    Router::new()
        .route(pattern("/"), get(index))
        .route(pattern("/dashboard/auth"), get(auth_mode))
        .route(pattern("/dashboard/{file}"), get(asset))
}

async fn index() -> Response {
    serve(&ASSETS[0])
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => serve(asset),
        None => ApiError::not_found("no such dashboard file").into_response(),
    }
}

fn serve(asset: &Asset) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        // Revalidate each time: an upgraded binary must not run with yesterday's script.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (headers, asset.body).into_response()
}

/// Which requests need the API key, so the page asks for it before its first request
/// instead of collecting a 401 (and a console error) first.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum KeyNeeded {
    Never,
    Writes,
    Always,
}

#[derive(Serialize)]
struct AuthMode {
    api_key: KeyNeeded,
}

async fn auth_mode(State(app): State<AppState>) -> Json<AuthMode> {
    let api_key = match (app.config.auth_enabled(), app.config.auth_scope) {
        (false, _) => KeyNeeded::Never,
        (true, AuthScope::Writes) => KeyNeeded::Writes,
        (true, AuthScope::All) => KeyNeeded::Always,
    };
    Json(AuthMode { api_key })
}
