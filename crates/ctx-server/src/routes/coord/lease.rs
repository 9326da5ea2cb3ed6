//! The lease routes: grant, keep alive, show and revoke (`/ctx/lease`).

use super::ttl_of;
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use ctx_store::{LeaseId, LeaseInfo, Timestamp};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
pub struct LeaseAnswer {
    status: &'static str,
    lease_id: LeaseId,
    ttl_secs: f64,
    expires_at: Timestamp,
    /// `GET` only: seconds left, and the keys attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<Vec<String>>,
}

impl LeaseAnswer {
    fn of(info: LeaseInfo, with_keys: bool) -> LeaseAnswer {
        let remaining = (info.expires_at.as_micros() - Timestamp::now().as_micros()).max(0);
        LeaseAnswer {
            status: "success",
            lease_id: info.id,
            ttl_secs: info.ttl.as_secs_f64(),
            expires_at: info.expires_at,
            remaining_secs: with_keys.then(|| remaining as f64 / 1e6),
            keys: with_keys.then_some(info.keys),
        }
    }
}

/// `POST /ctx/lease {"ttl_secs": S}`.
pub async fn grant(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<LeaseAnswer>, ApiError> {
    let ttl = match body.get("ttl_secs") {
        Some(value) => ttl_of(value)?,
        None => return Err(ApiError::bad_request("`ttl_secs` is required")),
    };
    Ok(Json(LeaseAnswer::of(
        app.store.grant_lease(ttl).await?,
        false,
    )))
}

/// `POST /ctx/lease/{id}/keepalive`.
pub async fn keep_alive(
    State(app): State<AppState>,
    Path(id): Path<LeaseId>,
) -> Result<Json<LeaseAnswer>, ApiError> {
    Ok(Json(LeaseAnswer::of(
        app.store.keep_alive(id).await?,
        false,
    )))
}

/// `GET /ctx/lease/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<LeaseId>,
) -> Result<Json<LeaseAnswer>, ApiError> {
    match app.store.lease(id).await? {
        Some(info) => Ok(Json(LeaseAnswer::of(info, true))),
        None => Err(ctx_store::StoreError::LeaseNotFound(id).into()),
    }
}

#[derive(Serialize)]
pub struct RevokeAnswer {
    status: &'static str,
    lease_id: LeaseId,
    deleted: usize,
    revision: u64,
}

/// `DELETE /ctx/lease/{id}`.
pub async fn revoke(
    State(app): State<AppState>,
    Path(id): Path<LeaseId>,
) -> Result<Json<RevokeAnswer>, ApiError> {
    let outcome = app.store.revoke_lease(id).await?;
    Ok(Json(RevokeAnswer {
        status: "success",
        lease_id: id,
        deleted: outcome.deleted,
        revision: outcome.revision,
    }))
}
