//! Coordination: compare-and-set and leases on `POST /ctx` and `DELETE` (here, with the
//! option parsing they share), `POST /ctx/txn` ([`txn`]), `POST /ctx/incr` ([`incr`]) and
//! the lease routes ([`lease`]). Every one is a store transaction or lease command
//! (`ctx_store::Txn`); docs/api.md documents the fields.

pub(super) mod incr;
pub(super) mod lease;
pub(super) mod txn;

use crate::app::AppState;
use crate::error::ApiError;
use ctx_store::{Compare, JsonValue, LeaseId, Op, Txn, WriteOutcome};
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
