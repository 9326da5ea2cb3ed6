//! `GET /ctx/status`, `GET /health`, `GET /metrics`.

use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use ctx_store::Timestamp;
use serde::Serialize;

#[derive(Serialize)]
pub struct StatusAnswer {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    key_count: usize,
    revision: u64,
    history_count: usize,
    connected_clients: usize,
    data_dir: String,
    dump_dir: String,
    timestamp: Timestamp,
}

pub async fn status(State(app): State<AppState>) -> Json<StatusAnswer> {
    Json(StatusAnswer {
        status: "running",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: app.started.elapsed().as_secs(),
        key_count: app.store.key_count(),
        revision: app.store.revision(),
        history_count: app.store.history_len(),
        connected_clients: app.connected_clients(),
        data_dir: app.config.data_dir.display().to_string(),
        dump_dir: app.dumps.root().display().to_string(),
        timestamp: Timestamp::now(),
    })
}

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let text = app.metrics.render(
        app.store.key_count(),
        app.store.revision(),
        app.connected_clients(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
