//! Coordination: compare-and-set and leases on `POST /ctx` and `DELETE`, `POST /ctx/txn`,
//! `POST /ctx/incr` and the lease routes. Every one is a store transaction or lease
//! command (`ctx_store::Txn`); docs/api.md documents the fields.

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use ctx_store::{
    Compare, JsonValue, LeaseId, LeaseInfo, Op, OpResult, Timestamp, Txn, WriteOutcome,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// The coordination fields of `POST /ctx` (all absent on a plain write).
#[derive(Default)]
pub struct SetOptions {
    pub if_revision: Option<u64>,
    pub lease: Option<LeaseId>,
    pub ttl: Option<Duration>,
}

impl SetOptions {
    /// Takes `if_revision`, `lease` and `ttl_secs` out of a `POST /ctx` body.
    pub fn take(fields: &mut Map<String, Value>) -> Result<SetOptions, ApiError> {
        let options = SetOptions {
            if_revision: take_u64(fields, "if_revision")?,
            lease: take_u64(fields, "lease")?,
            ttl: match fields.remove("ttl_secs") {
                None | Some(Value::Null) => None,
                Some(value) => Some(ttl_of(&value)?),
            },
        };
        if options.lease.is_some() && options.ttl.is_some() {
            return Err(ApiError::bad_request(
                "give `lease` or `ttl_secs`, not both",
            ));
        }
        Ok(options)
    }

    pub fn is_plain(&self) -> bool {
        self.if_revision.is_none() && self.lease.is_none() && self.ttl.is_none()
    }
}

fn take_u64(fields: &mut Map<String, Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{name}` must be a non-negative integer"
        ))),
    }
}

/// A `ttl_secs` value: a positive number of seconds (fractions allowed).
fn ttl_of(value: &Value) -> Result<Duration, ApiError> {
    value
        .as_f64()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|ttl| !ttl.is_zero())
        .ok_or_else(|| ApiError::bad_request("`ttl_secs` must be a positive number of seconds"))
}

/// Sets `key` under the options: a fresh lease for `ttl`, and the write only if the key is
/// at `if_revision` (a 409 with its current state otherwise). Answers the outcome and the
/// lease the key is attached to.
pub async fn set(
    app: &AppState,
    key: &str,
    value: JsonValue,
    who: &str,
    options: SetOptions,
) -> Result<(WriteOutcome, Option<LeaseId>), ApiError> {
    // A ttl is a lease granted first; if the write then does not happen, it is revoked (a
    // crash in between leaves a lease with no key, which expires on its own).
    let granted = match options.ttl {
        Some(ttl) => Some(app.store.grant_lease(ttl).await?.id),
        None => None,
    };
    let lease = granted.or(options.lease);
    let op = Op::Set {
        key: key.to_owned(),
        value,
        lease,
    };
    let result = conditional(app, key, op, options.if_revision, who).await;
    if result.is_err()
        && let Some(id) = granted
    {
        let _ = app.store.revoke_lease(id).await;
    }
    Ok((result?, lease))
}

/// Deletes `key` if it is at `if_revision` (a 409 with its current state otherwise).
pub async fn delete(
    app: &AppState,
    key: &str,
    who: &str,
    if_revision: Option<u64>,
) -> Result<WriteOutcome, ApiError> {
    let op = Op::Delete {
        key: key.to_owned(),
    };
    conditional(app, key, op, if_revision, who).await
}

async fn conditional(
    app: &AppState,
    key: &str,
    op: Op,
    if_revision: Option<u64>,
    who: &str,
) -> Result<WriteOutcome, ApiError> {
    let txn = Txn {
        compare: if_revision
            .map(|revision| Compare::Revision {
                key: key.to_owned(),
                revision,
            })
            .into_iter()
            .collect(),
        success: vec![op],
        failure: vec![Op::Get {
            key: key.to_owned(),
        }],
        who: who.to_owned(),
    };
    let outcome = app.store.commit(txn).await?;
    let result = outcome
        .results
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("the transaction gave no result"))?;
    if !outcome.succeeded {
        return Err(ApiError::conflict(
            format!(
                "{key:?} is at revision {}, not {}",
                result.revision,
                if_revision.unwrap_or_default()
            ),
            key,
            result.revision,
            result.value.is_some(),
        ));
    }
    Ok(WriteOutcome {
        revision: result.revision,
        timestamp: result.timestamp,
        changed: result.changed,
    })
}

// ---- POST /ctx/txn ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxnRequest {
    #[serde(default)]
    compare: Vec<CompareRequest>,
    #[serde(default)]
    success: Vec<OpRequest>,
    #[serde(default)]
    failure: Vec<OpRequest>,
    who: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareRequest {
    key: String,
    revision: Option<u64>,
    value: Option<Value>,
    exists: Option<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum OpRequest {
    Set {
        key: String,
        value: Value,
        lease: Option<LeaseId>,
    },
    Delete {
        key: String,
    },
    Get {
        key: String,
    },
}

impl CompareRequest {
    fn into_compare(self) -> Result<Compare, ApiError> {
        let key = self.key;
        match (self.revision, self.value, self.exists) {
            (Some(revision), None, None) => Ok(Compare::Revision { key, revision }),
            (None, Some(value), None) => Ok(Compare::Value {
                key,
                value: JsonValue::from(value),
            }),
            (None, None, Some(exists)) => Ok(Compare::Exists { key, exists }),
            _ => Err(ApiError::bad_request(
                "a condition has `key` and exactly one of `revision`, `value` (not null) or `exists`",
            )),
        }
    }
}

impl OpRequest {
    fn into_op(self, max_value_depth: usize) -> Result<Op, ApiError> {
        Ok(match self {
            OpRequest::Set {
                value: Value::Null, ..
            } => return Err(ApiError::bad_request("a set's `value` must not be null")),
            OpRequest::Set { key, value, lease } => {
                crate::limits::depth::check(&value, max_value_depth)?;
                Op::Set {
                    key,
                    value: JsonValue::from(value),
                    lease,
                }
            }
            OpRequest::Delete { key } => Op::Delete { key },
            OpRequest::Get { key } => Op::Get { key },
        })
    }
}

#[derive(Serialize)]
pub struct TxnAnswer {
    status: &'static str,
    succeeded: bool,
    revision: u64,
    results: Vec<OpAnswer>,
}

#[derive(Serialize)]
struct OpAnswer {
    op: &'static str,
    key: String,
    revision: u64,
    /// For set and delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
    /// For get.
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<JsonValue>,
}

impl OpAnswer {
    fn of(op: &Op, result: OpResult) -> OpAnswer {
        let (name, is_get) = match op {
            Op::Set { .. } => ("set", false),
            Op::Delete { .. } => ("delete", false),
            Op::Incr { .. } => ("incr", false),
            Op::Get { .. } => ("get", true),
        };
        OpAnswer {
            op: name,
            key: op.key().to_owned(),
            revision: result.revision,
            changed: (!is_get).then_some(result.changed),
            found: is_get.then_some(result.value.is_some()),
            value: result.value,
        }
    }
}

pub async fn txn(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<TxnAnswer>, ApiError> {
    let request: TxnRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid transaction: {e}")))?;
    let ops = |ops: Vec<OpRequest>| -> Result<Vec<Op>, ApiError> {
        ops.into_iter()
            .map(|op| op.into_op(app.config.max_value_depth))
            .collect()
    };
    let txn = Txn {
        compare: request
            .compare
            .into_iter()
            .map(CompareRequest::into_compare)
            .collect::<Result<_, _>>()?,
        success: ops(request.success)?,
        failure: ops(request.failure)?,
        who: request
            .who
            .unwrap_or_else(|| super::write::DEFAULT_WHO.to_owned()),
    };
    let branch = txn.clone();
    let outcome = app.store.commit(txn).await?;
    let ran = if outcome.succeeded {
        &branch.success
    } else {
        &branch.failure
    };
    Ok(Json(TxnAnswer {
        status: "success",
        succeeded: outcome.succeeded,
        revision: outcome.revision,
        results: ran
            .iter()
            .zip(outcome.results)
            .map(|(op, result)| OpAnswer::of(op, result))
            .collect(),
    }))
}

// ---- POST /ctx/incr ----

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
    let who = request
        .who
        .unwrap_or_else(|| super::write::DEFAULT_WHO.to_owned());
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

// ---- leases ----

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
