//! One commit group as the committer builds it: transactions and lease ends evaluated
//! against the state plus what earlier members of the group changed, each change given
//! its revision. Nothing here touches the disk or the shared state; the committer makes the
//! group durable and applies it (`committer.rs`).

use crate::error::StoreError;
use crate::leases::LeaseEvent;
use crate::state::{Change, Record, State};
use crate::txn::{Compare, LeaseId, Op, OpResult, Txn, TxnOutcome};
use crate::value::{JsonValue, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(crate) struct Group<'b> {
    state: &'b State,
    /// Keys as this group has left them so far (`None`: deleted).
    overlay: HashMap<&'b str, Option<Record>>,
    /// The last revision given out.
    pub revision: u64,
    pub now: Timestamp,
    pub changes: Vec<Arc<Change>>,
    pub lease_events: Vec<LeaseEvent>,
    /// Writer names seen lately, shared with the committer (see `intern`).
    writers: &'b mut HashSet<Arc<str>>,
    /// Keys held once this group's changes so far are applied.
    keys: usize,
    /// Most keys the store may hold (`StoreConfig::max_keys`); `None`: no limit.
    max_keys: Option<usize>,
    /// Whether a set's lease must be alive in `state` (false where the committing
    /// backend checks leases itself, as etcd does).
    pub check_leases: bool,
}

/// A bound on the writer-name cache: a client inventing a name per write must not grow it.
const MAX_WRITERS: usize = 4096;

impl<'b> Group<'b> {
    pub fn new(state: &'b State, now: Timestamp, writers: &'b mut HashSet<Arc<str>>) -> Self {
        Group {
            state,
            overlay: HashMap::new(),
            revision: state.revision,
            now,
            changes: Vec::new(),
            lease_events: Vec::new(),
            writers,
            keys: state.keys.len(),
            max_keys: None,
            check_leases: true,
        }
    }

    /// Refuses transactions that would leave more than `max_keys` keys.
    pub fn with_key_limit(mut self, max_keys: Option<usize>) -> Self {
        self.max_keys = max_keys;
        self
    }

    fn current(&self, key: &str) -> Option<Record> {
        match self.overlay.get(key) {
            Some(record) => record.clone(),
            None => self.state.keys.get(key).cloned(),
        }
    }

    fn holds(&self, compare: &Compare) -> bool {
        let current = self.current(compare.key());
        match compare {
            Compare::Revision { revision, .. } => current.map_or(0, |r| r.revision) == *revision,
            Compare::Value { value, .. } => current.is_some_and(|r| r.value == *value),
            Compare::Exists { exists, .. } => current.is_some() == *exists,
        }
    }

    /// Evaluates a transaction into the group: all of its branch, or (on an error) none.
    /// A branch writes each key at most once (`Store::commit` checks), so whether an
    /// operation can fail never depends on an earlier one of the same branch: every check
    /// runs before anything is changed.
    pub fn txn(&mut self, txn: &'b Txn) -> Result<TxnOutcome, StoreError> {
        let succeeded = txn.compare.iter().all(|c| self.holds(c));
        let branch = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        for op in branch {
            self.check(op)?;
        }
        self.check_key_limit(branch)?;
        let mut results = Vec::with_capacity(branch.len());
        for op in branch {
            results.push(self.apply(op, &txn.who)?);
        }
        Ok(TxnOutcome {
            succeeded,
            revision: self.revision,
            results,
        })
    }

    fn check(&self, op: &Op) -> Result<(), StoreError> {
        match op {
            Op::Set {
                lease: Some(id), ..
            } if self.check_leases && self.state.leases.alive(*id, self.now).is_none() => {
                Err(StoreError::LeaseNotFound(*id))
            }
            Op::Incr { key, by } => incremented(key, self.current(key).as_ref(), *by).map(drop),
            _ => Ok(()),
        }
    }

    /// Whether `branch` would leave more keys than the limit. Updates and deletes always
    /// pass; so does a branch that deletes as many keys as it creates.
    fn check_key_limit(&self, branch: &[Op]) -> Result<(), StoreError> {
        let Some(limit) = self.max_keys else {
            return Ok(());
        };
        // Far below the limit (the usual case) no key needs looking up.
        if self.keys.saturating_add(branch.len()) <= limit {
            return Ok(());
        }
        let (mut created, mut deleted) = (0usize, 0usize);
        for op in branch {
            let exists = self.current(op.key()).is_some();
            match op {
                Op::Set { .. } | Op::Incr { .. } if !exists => created += 1,
                Op::Delete { .. } if exists => deleted += 1,
                _ => {}
            }
        }
        if created > 0 && (self.keys + created).saturating_sub(deleted) > limit {
            return Err(StoreError::TooManyKeys { limit });
        }
        Ok(())
    }

    fn apply(&mut self, op: &'b Op, who: &str) -> Result<OpResult, StoreError> {
        let current = self.current(op.key());
        Ok(match op {
            Op::Set { key, value, lease } => self.set(key, current, value.clone(), *lease, who),
            Op::Incr { key, by } => {
                let value = incremented(key, current.as_ref(), *by)?;
                let lease = current.as_ref().and_then(|r| r.lease);
                let mut result = self.set(key, current, value.clone(), lease, who);
                result.value = Some(value);
                result
            }
            Op::Delete { key } => match current {
                Some(record) => self.change(key, Some(record), None, None, who),
                None => self.unchanged(None),
            },
            Op::Get { .. } => OpResult {
                revision: current.as_ref().map_or(0, |r| r.revision),
                timestamp: current.as_ref().map_or(self.now, |r| r.timestamp),
                changed: false,
                value: current.map(|r| r.value),
            },
        })
    }

    fn set(
        &mut self,
        key: &'b str,
        current: Option<Record>,
        value: JsonValue,
        lease: Option<LeaseId>,
        who: &str,
    ) -> OpResult {
        match current {
            Some(record) if record.value == value && record.lease == lease => {
                self.unchanged(Some(&record))
            }
            current => self.change(key, current, Some(value), lease, who),
        }
    }

    fn unchanged(&self, current: Option<&Record>) -> OpResult {
        OpResult {
            revision: current.map_or(self.revision, |r| r.revision),
            timestamp: current.map_or(self.now, |r| r.timestamp),
            changed: false,
            value: None,
        }
    }

    fn change(
        &mut self,
        key: &'b str,
        before: Option<Record>,
        after: Option<JsonValue>,
        lease: Option<LeaseId>,
        who: &str,
    ) -> OpResult {
        self.revision += 1;
        match (&before, &after) {
            (None, Some(_)) => self.keys += 1,
            (Some(_), None) => self.keys -= 1,
            _ => {}
        }
        // Reuse the live map's allocation of the key when it is known.
        let shared_key = self
            .state
            .keys
            .get_key_value(key)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Arc::from(key));
        let change = Arc::new(Change {
            revision: self.revision,
            timestamp: self.now,
            key: shared_key,
            before: before.map(|r| r.value),
            after: after.clone(),
            who: self.intern(who),
            lease: lease.filter(|_| after.is_some()),
        });
        self.overlay.insert(
            key,
            after.map(|value| Record {
                value,
                revision: self.revision,
                timestamp: self.now,
                lease: change.lease,
            }),
        );
        self.changes.push(change);
        OpResult {
            revision: self.revision,
            timestamp: self.now,
            changed: true,
            value: None,
        }
    }

    /// Ends a lease: deletes its keys (written by `lease:<id>`), then the lease.
    pub fn end_lease(&mut self, id: LeaseId) -> usize {
        let state = self.state;
        let Some(lease) = state.leases.by_id.get(&id) else {
            return 0;
        };
        let who = format!("lease:{id}");
        let mut deleted = 0;
        for key in &lease.keys {
            if let Some(record) = self.current(key) {
                self.change(key, Some(record), None, None, &who);
                deleted += 1;
            }
        }
        self.lease_events.push(LeaseEvent::Ended { id });
        deleted
    }

    fn intern(&mut self, who: &str) -> Arc<str> {
        if let Some(known) = self.writers.get(who) {
            return known.clone();
        }
        if self.writers.len() >= MAX_WRITERS {
            self.writers.clear();
        }
        let who: Arc<str> = Arc::from(who);
        self.writers.insert(who.clone());
        who
    }
}

/// The value after adding `by` to `current` (absent: 0), or why it cannot be done.
fn incremented(key: &str, current: Option<&Record>, by: i64) -> Result<JsonValue, StoreError> {
    let base = match current {
        None => 0,
        Some(record) => match record.value.as_str().parse::<i64>() {
            Ok(number) => number,
            Err(_) => {
                return Err(StoreError::NotAnInteger {
                    key: key.to_owned(),
                    reason: "its value is not an integer".into(),
                });
            }
        },
    };
    let sum = base
        .checked_add(by)
        .ok_or_else(|| StoreError::NotAnInteger {
            key: key.to_owned(),
            reason: format!("{base} + {by} overflows a 64-bit integer"),
        })?;
    Ok(JsonValue::new(&serde_json::Value::from(sum)))
}
