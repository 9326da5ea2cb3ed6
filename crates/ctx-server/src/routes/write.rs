//! `POST /ctx` and `DELETE /ctx/{key}`. Both answer only once the change is durable.

use super::coord::{self, SetOptions};
use super::read::{internal, json_response};
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use ctx_store::{JsonValue, Timestamp, WriteOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Framework0's default writer name.
pub(super) const DEFAULT_WHO: &str = "api_client";

/// Validated by hand rather than by a typed extractor so that every field problem is a
/// 400 with a sentence naming the field, as Framework0 answered.
pub async fn set(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
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
    crate::limits::depth::check(&value, app.config.max_value_depth)?;
    let who = match fields.remove("who") {
        None | Some(Value::Null) => DEFAULT_WHO.to_owned(),
        Some(Value::String(who)) => who,
        Some(_) => return Err(ApiError::bad_request("`who` must be a string")),
    };
    let options = SetOptions::take(&mut fields)?;
    // The tree is dropped here: the answer carries the canonical text the store keeps,
    // so the value is serialised once, not once for the store and once for the answer.
    let value = JsonValue::from(value);
    let (outcome, lease) = match options.is_plain() {
        true => (app.store.set(&key, value.clone(), &who).await?, None),
        false => coord::set(&app, &key, value.clone(), &who, options).await?,
    };
    app.live.written(&key, &who, &outcome, None);
    set_answer(&key, &value, &who, &outcome, lease)
}

/// `{"status","key","value","who","revision","timestamp","changed"}` (and `"lease"` when
/// the key has one), written into one
/// buffer sized up front, as the read answer is (`read::answer`): the key and the writer
/// are escaped by serde_json, the value is the store's canonical text (object keys
/// sorted), the rest cannot need escaping.
fn set_answer(
    key: &str,
    value: &JsonValue,
    who: &str,
    outcome: &WriteOutcome,
    lease: Option<u64>,
) -> Result<Response, ApiError> {
    let value = value.as_str();
    // All but the key, value and writer takes at most 137 bytes (a 20-digit revision).
    let mut body = Vec::with_capacity(140 + key.len() + value.len() + who.len());
    body.extend_from_slice(br#"{"status":"success","key":"#);
    serde_json::to_writer(&mut body, key).map_err(internal)?;
    body.extend_from_slice(br#","value":"#);
    body.extend_from_slice(value.as_bytes());
    body.extend_from_slice(br#","who":"#);
    serde_json::to_writer(&mut body, who).map_err(internal)?;
    body.extend_from_slice(br#","revision":"#);
    serde_json::to_writer(&mut body, &outcome.revision).map_err(internal)?;
    body.extend_from_slice(br#","timestamp":""#);
    outcome.timestamp.write_rfc3339(&mut body);
    body.extend_from_slice(match outcome.changed {
        true => br#"","changed":true"#.as_slice(),
        false => br#"","changed":false"#.as_slice(),
    });
    if let Some(lease) = lease {
        body.extend_from_slice(br#","lease":"#);
        serde_json::to_writer(&mut body, &lease).map_err(internal)?;
    }
    body.push(b'}');
    Ok(json_response(body))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    key: Option<String>,
    who: Option<String>,
    if_revision: Option<u64>,
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
    delete(&app, key, query.who, query.if_revision).await
}

/// `DELETE /ctx?key=K`: the form that also reaches keys named like a route (`status`).
pub async fn delete_by_query(
    State(app): State<AppState>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let key = query
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter `key`"))?;
    delete(&app, key, query.who, query.if_revision).await
}

async fn delete(
    app: &AppState,
    key: String,
    who: Option<String>,
    if_revision: Option<u64>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let who = who.unwrap_or_else(|| DEFAULT_WHO.to_owned());
    let outcome = match if_revision {
        None => app.store.delete(&key, &who).await?,
        Some(_) => coord::delete(app, &key, &who, if_revision).await?,
    };
    Ok(Json(DeleteAnswer {
        status: "success",
        key,
        deleted: outcome.changed,
        revision: outcome.revision,
        timestamp: outcome.timestamp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// The answer as serde wrote it before: the hand-written one must match byte for byte.
    #[derive(Serialize)]
    struct SetAnswer<'a> {
        status: &'static str,
        key: &'a str,
        value: &'a JsonValue,
        who: &'a str,
        revision: u64,
        timestamp: Timestamp,
        changed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        lease: Option<u64>,
    }

    #[tokio::test]
    async fn the_set_answer_matches_serdes() {
        let value = JsonValue::new(&serde_json::json!({"b": [1, "x\"y"], "a": null}));
        let names = [
            "plain",
            "quote\"back\\slash",
            "tab\tctl\u{1f}",
            "ünï 🔑",
            "",
        ];
        for key in names {
            for who in names {
                for (revision, micros, changed, lease) in [
                    (0, 0, false, None),
                    (7, 1_795_500_000_123_456, true, Some(3)),
                    (u64::MAX, -1, true, Some(u64::MAX)),
                ] {
                    let outcome = WriteOutcome {
                        revision,
                        timestamp: Timestamp::from_micros(micros),
                        changed,
                    };
                    let expected = serde_json::to_string(&SetAnswer {
                        status: "success",
                        key,
                        value: &value,
                        who,
                        revision,
                        timestamp: outcome.timestamp,
                        changed,
                        lease,
                    })
                    .unwrap_or_default();
                    let response = match set_answer(key, &value, who, &outcome, lease) {
                        Ok(response) => response,
                        Err(_) => panic!("no answer for {key:?}"),
                    };
                    let bytes = match response.into_body().collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(error) => panic!("body: {error}"),
                    };
                    assert_eq!(String::from_utf8_lossy(&bytes), expected);
                }
            }
        }
    }
}
