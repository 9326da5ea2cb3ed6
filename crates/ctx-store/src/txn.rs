//! The write primitives every backend provides: a transaction of conditions and operations,
//! and leases. Every write the store takes is one of these: a plain set is a transaction
//! with no condition and one `Set`, a compare-and-set one with a `Revision` condition, a
//! counter one `Incr`, and a lease's expiry or revocation deletes its keys in one group.
//!
//! They are shaped after etcd's `Txn` and leases so a second backend can map them one to
//! one: a [`Compare`] is a `Compare` on `mod_revision`/`value`/`version == 0`, an [`Op`] is a
//! `RequestPut` (with `lease`), `RequestDeleteRange` or `RequestRange`, a lease is a lease.
//! Two rules keep the model portable: a branch may write a key once (etcd refuses a
//! duplicate key in a txn), and a caller may rely on the transaction's changes being one
//! unit with revisions above everything before it, but not on each key getting a distinct
//! revision. This store gives each changed key its own revision (consecutive, logged in
//! one record, applied under one lock); etcd gives the whole transaction one.

use crate::value::{JsonValue, Timestamp};
use std::time::Duration;

/// A lease's id: positive, never reused by this store.
pub type LeaseId = u64;

/// Conditions, and operations per branch, allowed in one transaction (etcd's default
/// `--max-txn-ops` is also 128).
pub const MAX_TXN_OPS: usize = 128;

/// Shortest and longest lease accepted.
pub const MIN_LEASE_TTL: Duration = Duration::from_millis(100);
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// A condition on a key's current state.
#[derive(Clone, Debug)]
pub enum Compare {
    /// The key's revision (its last change) is this; 0 means the key is absent.
    Revision { key: String, revision: u64 },
    /// The key exists with this value.
    Value { key: String, value: JsonValue },
    /// The key exists (or not).
    Exists { key: String, exists: bool },
}

/// One operation of a branch, applied in order.
#[derive(Clone, Debug)]
pub enum Op {
    /// Sets the key; with a lease, the key is deleted when the lease ends. A set without
    /// a lease detaches the key from the one it had (as in etcd).
    Set {
        key: String,
        value: JsonValue,
        lease: Option<LeaseId>,
    },
    Delete {
        key: String,
    },
    /// Adds `by` to the key's integer value (an absent key counts as 0).
    Incr {
        key: String,
        by: i64,
    },
    /// Reads the key as the transaction sees it at this point.
    Get {
        key: String,
    },
}

impl Op {
    /// A set without a lease.
    pub fn set(key: &str, value: JsonValue) -> Op {
        Op::Set {
            key: key.to_owned(),
            value,
            lease: None,
        }
    }

    pub fn delete(key: &str) -> Op {
        Op::Delete {
            key: key.to_owned(),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Op::Set { key, .. } | Op::Delete { key } | Op::Incr { key, .. } | Op::Get { key } => {
                key
            }
        }
    }
}

impl Compare {
    pub fn key(&self) -> &str {
        match self {
            Compare::Revision { key, .. }
            | Compare::Value { key, .. }
            | Compare::Exists { key, .. } => key,
        }
    }
}

/// If every condition holds, `success` runs, else `failure`; all of it or nothing is
/// durable and visible.
#[derive(Clone, Debug, Default)]
pub struct Txn {
    pub compare: Vec<Compare>,
    pub success: Vec<Op>,
    pub failure: Vec<Op>,
    /// The writer named in the history entries.
    pub who: String,
}

impl Txn {
    /// A transaction that runs `ops` unconditionally.
    pub fn ops(ops: Vec<Op>, who: &str) -> Txn {
        Txn {
            compare: Vec::new(),
            success: ops,
            failure: Vec::new(),
            who: who.to_owned(),
        }
    }
}

/// What one operation did.
#[derive(Clone, Debug)]
pub struct OpResult {
    /// For a change, its revision. For a write that changed nothing, the key's revision
    /// (or, for a missing key, the store's). For `Get`, the key's revision, 0 if absent.
    pub revision: u64,
    pub timestamp: Timestamp,
    /// False when a set wrote the value (and lease) the key already had, or a delete
    /// found no key; always false for `Get`.
    pub changed: bool,
    /// The value after `Incr`, the value read by `Get` (`None`: absent).
    pub value: Option<JsonValue>,
}

/// The answer to a transaction, given once it is durable.
#[derive(Clone, Debug)]
pub struct TxnOutcome {
    /// True when every condition held and `success` ran.
    pub succeeded: bool,
    /// The store's revision once the transaction is applied.
    pub revision: u64,
    /// One per operation of the branch that ran.
    pub results: Vec<OpResult>,
}

/// A lease as it stands.
#[derive(Clone, Debug)]
pub struct LeaseInfo {
    pub id: LeaseId,
    pub ttl: Duration,
    pub expires_at: Timestamp,
    /// Keys attached (filled by [`crate::Store::lease`]; empty in grant and keepalive answers).
    pub keys: Vec<String>,
}

/// The answer to revoking a lease.
#[derive(Clone, Copy, Debug)]
pub struct RevokeOutcome {
    /// Keys deleted with the lease.
    pub deleted: usize,
    /// The store's revision after the deletions.
    pub revision: u64,
}
