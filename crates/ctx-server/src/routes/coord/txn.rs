//! `POST /ctx/txn`: a client's own transaction, compare then success or failure ops, run
//! as one store `Txn`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::write::DEFAULT_WHO;
use axum::Json;
use axum::extract::State;
use ctx_store::{Compare, JsonValue, LeaseId, Op, OpResult, Txn};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
        who: request.who.unwrap_or_else(|| DEFAULT_WHO.to_owned()),
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
