//! Leases in memory, and the events that change them.
//!
//! A lease is an id, a time to live and a wall-clock expiry; keys set with it are deleted
//! when it ends (revoked, or expired: the reaper thread below asks the committer to end
//! every lease past its expiry). Expiry is wall-clock time kept on disk, so a lease whose
//! time ran out while the server was down is ended when the store opens, before any read.
//! A clock stepped forward ends leases early; one stepped back keeps them longer.
//!
//! Every lease change is a [`LeaseEvent`] holding the lease's whole state (or its end), so
//! replaying a log suffix that redb already holds leaves the same leases (the last event
//! about an id wins, as redb's copy does).

use crate::state::Change;
use crate::txn::{LeaseId, LeaseInfo};
use crate::value::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub(crate) struct Lease {
    pub ttl_ms: u64,
    pub expires: Timestamp,
    pub keys: BTreeSet<Arc<str>>,
}

impl Lease {
    pub fn info(&self, id: LeaseId) -> LeaseInfo {
        LeaseInfo {
            id,
            ttl: Duration::from_millis(self.ttl_ms),
            expires_at: self.expires,
            keys: Vec::new(),
        }
    }

    pub fn alive_at(&self, now: Timestamp) -> bool {
        self.expires > now
    }
}

/// A lease change, as logged and as given to redb.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) enum LeaseEvent {
    /// Granted or kept alive: the lease's state from now on.
    Put {
        id: LeaseId,
        ttl_ms: u64,
        expires_micros: i64,
    },
    /// Revoked or expired; its keys are deleted by changes in the same group.
    Ended { id: LeaseId },
}

impl LeaseEvent {
    /// Grants must be applied before the group's changes (which may attach keys to them),
    /// ends after (the deletions detach the keys first).
    pub fn applies_before_changes(&self) -> bool {
        matches!(self, LeaseEvent::Put { .. })
    }
}

#[derive(Default)]
pub(crate) struct Leases {
    pub by_id: HashMap<LeaseId, Lease>,
    /// (expiry in µs, id), so the next expiry is the first entry.
    by_expiry: BTreeSet<(i64, LeaseId)>,
    /// The highest id ever granted: ids are never reused, so a stale id never reaches a
    /// newer lease.
    pub last_id: LeaseId,
}

impl Leases {
    pub fn apply(&mut self, event: &LeaseEvent) {
        match *event {
            LeaseEvent::Put {
                id,
                ttl_ms,
                expires_micros,
            } => {
                let lease = self.by_id.entry(id).or_default();
                self.by_expiry.remove(&(lease.expires.as_micros(), id));
                lease.ttl_ms = ttl_ms;
                lease.expires = Timestamp::from_micros(expires_micros);
                self.by_expiry.insert((expires_micros, id));
                self.last_id = self.last_id.max(id);
            }
            LeaseEvent::Ended { id } => {
                if let Some(lease) = self.by_id.remove(&id) {
                    self.by_expiry.remove(&(lease.expires.as_micros(), id));
                }
            }
        }
    }

    /// The lease, if it exists and has not expired by `now`.
    pub fn alive(&self, id: LeaseId, now: Timestamp) -> Option<&Lease> {
        self.by_id.get(&id).filter(|lease| lease.alive_at(now))
    }

    /// Leases whose expiry is at or before `now`.
    pub fn due(&self, now: Timestamp) -> Vec<LeaseId> {
        self.by_expiry
            .iter()
            .take_while(|(expires, _)| *expires <= now.as_micros())
            .map(|&(_, id)| id)
            .collect()
    }

    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.by_expiry
            .first()
            .map(|&(expires, _)| Timestamp::from_micros(expires))
    }

    /// Moves `key` from the lease it had to the one `change` gives it.
    pub fn reattach(&mut self, key: &Arc<str>, old: Option<LeaseId>, change: &Change) {
        if let Some(old) = old
            && let Some(lease) = self.by_id.get_mut(&old)
        {
            lease.keys.remove(key);
        }
        if change.after.is_some()
            && let Some(new) = change.lease
            && let Some(lease) = self.by_id.get_mut(&new)
        {
            lease.keys.insert(key.clone());
        }
    }
}
