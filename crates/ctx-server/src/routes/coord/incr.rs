//! `POST /ctx/incr`: adds to an integer key in one store transaction.

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::write::DEFAULT_WHO;
use axum::Json;
use axum::extract::State;
use ctx_store::{JsonValue, Op, Timestamp, Txn};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrRequest {
    key: String,
    by: Option<i64>,
    who: Option<String>,
}

#[derive(Serialize)]
pub struct IncrAnswer {
    status: &'static str,
    key: String,
    value: JsonValue,
    revision: u64,
    timestamp: Timestamp,
}

pub async fn incr(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<IncrAnswer>, ApiError> {
    let request: IncrRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid increment: {e}")))?;
    let who = request.who.unwrap_or_else(|| DEFAULT_WHO.to_owned());
    let op = Op::Incr {
        key: request.key.clone(),
        by: request.by.unwrap_or(1),
    };
    let outcome = app.store.commit(Txn::ops(vec![op], &who)).await?;
    let result = outcome
        .results
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("the increment gave no result"))?;
    Ok(Json(IncrAnswer {
        status: "success",
        key: request.key,
        value: result
            .value
            .ok_or_else(|| ApiError::internal("the increment gave no value"))?,
        revision: result.revision,
        timestamp: result.timestamp,
    }))
}
