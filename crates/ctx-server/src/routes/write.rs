//! `POST /ctx` and `DELETE /ctx/{key}`. Both answer only once the change is durable.

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use ctx_store::{JsonValue, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Framework0's default writer name.
const DEFAULT_WHO: &str = "api_client";

#[derive(Serialize)]
pub struct SetAnswer {
    status: &'static str,
    key: String,
    /// The store's canonical text (object keys sorted), written raw.
    value: JsonValue,
    who: String,
    revision: u64,
    timestamp: Timestamp,
    /// False when the value was already equal: nothing was recorded.
    changed: bool,
}

/// Validated by hand rather than by a typed extractor so that every field problem is a
/// 400 with a sentence naming the field, as Framework0 answered.
pub async fn set(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<SetAnswer>, ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object with `key` and `value`",
        ));
    };
    let key = match fields.remove("key") {
        Some(Value::String(key)) if !key.is_empty() => key,
        _ => {
            return Err(ApiError::bad_request(
                "`key` is required and must be a non-empty string",
            ));
        }
    };
    let value = match fields.remove("value") {
        Some(Value::Null) | None => {
            return Err(ApiError::bad_request(
                "`value` is required and must not be null",
            ));
        }
        Some(value) => value,
    };
    let who = match fields.remove("who") {
        None | Some(Value::Null) => DEFAULT_WHO.to_owned(),
        Some(Value::String(who)) => who,
        Some(_) => return Err(ApiError::bad_request("`who` must be a string")),
    };
    // The tree is dropped here: the answer carries the canonical text the store keeps,
    // so the value is serialised once, not once for the store and once for the answer.
    let value = JsonValue::from(value);
    let outcome = app.store.set(&key, value.clone(), &who).await?;
    Ok(Json(SetAnswer {
        status: "success",
        key,
        value,
        who,
        revision: outcome.revision,
        timestamp: outcome.timestamp,
        changed: outcome.changed,
    }))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    key: Option<String>,
    who: Option<String>,
}

#[derive(Serialize)]
pub struct DeleteAnswer {
    status: &'static str,
    key: String,
    /// False when the key did not exist (not an error: deleting is idempotent).
    deleted: bool,
    revision: u64,
    timestamp: Timestamp,
}

/// `DELETE /ctx/{key}`.
pub async fn delete_by_path(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    delete(&app, key, query.who).await
}

/// `DELETE /ctx?key=K`: the form that also reaches keys named like a route (`status`).
pub async fn delete_by_query(
    State(app): State<AppState>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let key = query
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter `key`"))?;
    delete(&app, key, query.who).await
}

async fn delete(
    app: &AppState,
    key: String,
    who: Option<String>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let who = who.unwrap_or_else(|| DEFAULT_WHO.to_owned());
    let outcome = app.store.delete(&key, &who).await?;
    Ok(Json(DeleteAnswer {
        status: "success",
        key,
        deleted: outcome.changed,
        revision: outcome.revision,
        timestamp: outcome.timestamp,
    }))
}
