//! `POST /ctx/dump`, `GET /ctx/dump/list`, `GET /ctx/dump/{filename}`.

use crate::app::AppState;
use crate::dump::{DumpContent, DumpDir, DumpError, DumpFormat, DumpInfo, DumpListing};
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ctx_store::{HistoryQuery, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

impl From<DumpError> for ApiError {
    fn from(e: DumpError) -> Self {
        match e {
            DumpError::BadName(_) => ApiError::bad_request(e.to_string()),
            DumpError::NotFound(_) => ApiError::not_found(e.to_string()),
            DumpError::Io(_) => ApiError::internal(e.to_string()),
        }
    }
}

#[derive(Default, Deserialize)]
struct DumpParams {
    format: Option<String>,
    filename: Option<String>,
    who: Option<String>,
    include_history: Option<Value>,
}

/// Framework0 read these from a JSON body, or from the query string when the body was
/// not JSON; both are accepted here too.
fn dump_params(
    query: HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<DumpParams, ApiError> {
    let declared_json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !body.is_empty() {
        match serde_json::from_slice::<DumpParams>(body) {
            Ok(params) => return Ok(params),
            Err(e) if declared_json => {
                return Err(ApiError::bad_request(format!("invalid JSON body: {e}")));
            }
            Err(_) => {}
        }
    }
    Ok(DumpParams {
        format: query.get("format").cloned(),
        filename: query.get("filename").cloned(),
        who: query.get("who").cloned(),
        include_history: query
            .get("include_history")
            .map(|v| Value::String(v.clone())),
    })
}

fn truthy(value: &Option<Value>) -> Result<bool, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "include_history must be true or false, not {s:?}"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "include_history must be true or false, not {other}"
        ))),
    }
}

#[derive(Serialize)]
pub struct DumpAnswer {
    status: &'static str,
    #[serde(flatten)]
    info: DumpInfo,
}

pub async fn create(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DumpAnswer>, ApiError> {
    let params = dump_params(query, &headers, &body)?;
    let format_name = params.format.as_deref().unwrap_or("json");
    let format = DumpFormat::parse(format_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown dump format {format_name:?}: use json, csv, txt or pretty"
        ))
    })?;
    let include_history = truthy(&params.include_history)?;
    let who = params.who.unwrap_or_else(|| "api_client".to_owned());
    let now = Timestamp::now();
    let name = DumpDir::choose_name(params.filename.as_deref(), format, now)?;

    let snapshot = app.store.snapshot(None);
    let history = (include_history && format.carries_history())
        .then(|| app.store.history(&HistoryQuery::default()).entries);
    let info = DumpInfo {
        filename: String::new(),
        format,
        path: String::new(),
        key_count: snapshot.records.len(),
        file_size: 0,
        timestamp: now,
        who: who.clone(),
        revision: snapshot.revision,
    };
    let writer = app.clone();
    let info = on_blocking_thread(move || {
        writer.dumps.write(
            &name,
            |filename| {
                DumpContent {
                    format,
                    filename,
                    who: &who,
                    timestamp: now,
                    records: &snapshot.records,
                    history: history.as_deref(),
                }
                .render()
            },
            info,
        )
    })
    .await?;
    tracing::info!(filename = %info.filename, format = format.name(), keys = info.key_count, "dump written");
    app.live.dumped(crate::live::dump_event(&info));
    Ok(Json(DumpAnswer {
        status: "success",
        info,
    }))
}

#[derive(Serialize)]
pub struct ListAnswer {
    status: &'static str,
    #[serde(flatten)]
    listing: DumpListing,
    timestamp: Timestamp,
}

pub async fn list(State(app): State<AppState>) -> Result<Json<ListAnswer>, ApiError> {
    let listing = on_blocking_thread(move || app.dumps.list()).await?;
    Ok(Json(ListAnswer {
        status: "success",
        listing,
        timestamp: Timestamp::now(),
    }))
}

pub async fn download(
    State(app): State<AppState>,
    Path(filename): Path<String>,
) -> Result<Response, ApiError> {
    let name = filename.clone();
    let (bytes, content_type) = on_blocking_thread(move || app.dumps.read(&name)).await?;
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        filename.replace('"', "")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Dump files are read and written with blocking I/O; run it where it cannot stall the
/// async workers.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DumpError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("dump task failed: {e}")))?
        .map_err(ApiError::from)
}
