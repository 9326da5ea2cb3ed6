//! `GET /ctx/{key}` and `GET /ctx?key=K`. A missing key is not an error (Framework0's
//! performance suite reads keys nobody wrote and counts any 2xx as success).

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ctx_store::{JsonValue, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct ReadAnswer<'a> {
    status: &'static str,
    key: &'a str,
    value: Option<&'a JsonValue>,
    found: bool,
    revision: u64,
    timestamp: Timestamp,
}

#[derive(Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

pub async fn by_path(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, &key)
}

pub async fn by_query(
    State(app): State<AppState>,
    Query(query): Query<KeyQuery>,
) -> Result<Response, ApiError> {
    let key = query
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter `key`"))?;
    read(&app, &key)
}

fn read(app: &AppState, key: &str) -> Result<Response, ApiError> {
    app.store.validate_key(key)?;
    let answer = match app.store.get(key) {
        Some(record) => Json(ReadAnswer {
            status: "success",
            key,
            value: Some(&record.value),
            found: true,
            revision: record.revision,
            timestamp: record.timestamp,
        })
        .into_response(),
        None => Json(ReadAnswer {
            status: "success",
            key,
            value: None,
            found: false,
            revision: app.store.revision(),
            timestamp: Timestamp::now(),
        })
        .into_response(),
    };
    Ok(answer)
}
