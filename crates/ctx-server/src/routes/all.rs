//! `GET /ctx/all[?prefix=P]`.

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use ctx_store::{Record, Timestamp};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct AllQuery {
    prefix: Option<String>,
    consistent: Option<bool>,
}

/// Serialises the sorted records as a JSON object without building an intermediate map.
pub(crate) struct Context(pub Vec<(Arc<str>, Record)>);

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, record) in &self.0 {
            map.serialize_entry(&**key, &record.value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
pub struct AllAnswer {
    status: &'static str,
    context: Context,
    key_count: usize,
    revision: u64,
    history_count: usize,
    connected_clients: usize,
    timestamp: Timestamp,
}

pub async fn all(
    State(app): State<AppState>,
    Query(query): Query<AllQuery>,
) -> Result<Json<AllAnswer>, ApiError> {
    super::wait::current(&app, query.consistent).await?;
    let snapshot = app.store.snapshot(query.prefix.as_deref());
    let history_count = app.store.history_len();
    Ok(Json(AllAnswer {
        status: "success",
        key_count: snapshot.records.len(),
        context: Context(snapshot.records),
        revision: snapshot.revision,
        history_count,
        connected_clients: app.connected_clients(),
        timestamp: Timestamp::now(),
    }))
}
