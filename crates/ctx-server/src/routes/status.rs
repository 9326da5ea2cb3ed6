//! `GET /ctx/status`, `GET /health`, `GET /metrics`.

use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctx_store::{Timestamp, WriteHealth};
use serde::Serialize;

/// Whether the store takes writes, as `/health`, `/ctx/status` and `/metrics` say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writes {
    Accepting,
    /// The disk was full; writes resume by themselves once it is not.
    PausedDiskFull,
    /// After a storage failure with an unknown outcome, until a restart.
    RefusedUntilRestart,
    /// The etcd cluster does not answer (or has no quorum): reads may be stale.
    Unavailable,
}

impl Writes {
    pub const ALL: [Writes; 4] = [
        Writes::Accepting,
        Writes::PausedDiskFull,
        Writes::RefusedUntilRestart,
        Writes::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Writes::Accepting => "accepting",
            Writes::PausedDiskFull => "paused_disk_full",
            Writes::RefusedUntilRestart => "refused_until_restart",
            Writes::Unavailable => "unavailable",
        }
    }

    /// Whether reads may be stale: a cluster node cut off from etcd serves its memory, to
    /// which nothing new can arrive. (An embedded store's memory is the truth.)
    pub fn reads_stale(self) -> bool {
        self == Writes::Unavailable
    }

    /// The state and, unless accepting, why.
    pub fn of(health: WriteHealth) -> (Writes, Option<String>) {
        match health {
            WriteHealth::Accepting => (Writes::Accepting, None),
            WriteHealth::DiskFull { reason } => (Writes::PausedDiskFull, Some(reason)),
            WriteHealth::Refused { reason } => (Writes::RefusedUntilRestart, Some(reason)),
            WriteHealth::Unavailable { reason } => (Writes::Unavailable, Some(reason)),
        }
    }
}

#[derive(Serialize)]
pub struct StatusAnswer {
    /// `running`, or `degraded` while writes are not accepted.
    status: &'static str,
    writes: Writes,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_error: Option<String>,
    /// True while reads may be stale (see [`Writes::reads_stale`]).
    stale: bool,
    version: &'static str,
    /// `embedded` or `etcd`.
    store: &'static str,
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
    let (writes, write_error) = Writes::of(app.store.write_health());
    Json(StatusAnswer {
        status: match writes {
            Writes::Accepting => "running",
            _ => "degraded",
        },
        writes,
        write_error,
        stale: writes.reads_stale(),
        version: env!("CARGO_PKG_VERSION"),
        store: app.store.kind().as_str(),
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

/// 200 `{"status":"ok"}` while writes are accepted; otherwise 503 with the state and the
/// reason, so a load balancer or orchestrator sees a store that cannot write.
pub async fn health(State(app): State<AppState>) -> Response {
    match Writes::of(app.store.write_health()) {
        (Writes::Accepting, _) => Json(serde_json::json!({"status": "ok"})).into_response(),
        (writes, reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "error", "writes": writes, "stale": writes.reads_stale(), "error": reason,
            })),
        )
            .into_response(),
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let text = app.metrics.render(
        app.store.key_count(),
        app.store.revision(),
        app.connected_clients(),
        Writes::of(app.store.write_health()).0,
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
