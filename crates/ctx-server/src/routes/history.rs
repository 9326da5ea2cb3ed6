//! `GET /ctx/history?key=&who=&prefix=&since_revision=&limit=`.

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use ctx_store::{Change, HistoryQuery, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct HistoryParams {
    key: Option<String>,
    who: Option<String>,
    prefix: Option<String>,
    since_revision: Option<u64>,
    limit: Option<usize>,
    consistent: Option<bool>,
}

#[derive(Serialize)]
pub struct HistoryAnswer {
    status: &'static str,
    history: Vec<Arc<Change>>,
    total_entries: usize,
    filtered_entries: usize,
    timestamp: Timestamp,
}

pub async fn history(
    State(app): State<AppState>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<HistoryAnswer>, ApiError> {
    super::wait::current(&app, params.consistent).await?;
    let page = app.store.history(&HistoryQuery {
        key: params.key,
        who: params.who,
        prefix: params.prefix,
        since_revision: params.since_revision,
        limit: params.limit,
    });
    Ok(Json(HistoryAnswer {
        status: "success",
        history: page.entries,
        total_entries: page.total_entries,
        filtered_entries: page.filtered_entries,
        timestamp: Timestamp::now(),
    }))
}
