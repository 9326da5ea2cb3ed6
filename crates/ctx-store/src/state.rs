//! The in-memory image of the store: what every read is answered from.

use crate::leases::{LeaseEvent, Leases};
use crate::txn::LeaseId;
use crate::value::{JsonValue, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// A key's current value and when it last changed (etcd's `mod_revision`).
#[derive(Clone, Debug)]
pub struct Record {
    pub value: JsonValue,
    pub revision: u64,
    pub timestamp: Timestamp,
    /// The lease that deletes the key when it ends.
    pub lease: Option<LeaseId>,
}

/// One change: a history entry and a change-feed event. `before` is `None` for a new key,
/// `after` is `None` for a delete.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub revision: u64,
    pub timestamp: Timestamp,
    pub key: Arc<str>,
    pub before: Option<JsonValue>,
    pub after: Option<JsonValue>,
    pub who: Arc<str>,
    /// The lease the key is attached to after a set (history entries read back from redb
    /// do not keep it: only the live record's attachment matters).
    #[serde(skip)]
    pub lease: Option<LeaseId>,
}

#[derive(Default)]
pub(crate) struct State {
    pub keys: BTreeMap<Arc<str>, Record>,
    /// Oldest first; revisions strictly increase with no gaps above `compacted_through`.
    pub history: VecDeque<Arc<Change>>,
    pub revision: u64,
    /// Highest revision whose history entry was compacted away (0: none).
    pub compacted_through: u64,
    /// [`entry_bytes`] summed over `history`.
    pub history_bytes: usize,
    pub leases: Leases,
}

/// What one history entry is counted as against the byte bound: its texts plus a fixed
/// overhead for the allocations. A value shared with the next entry's `before` (or the
/// live record) is counted each time, so the bound over-counts: memory stays below it.
pub fn entry_bytes(change: &Change) -> usize {
    const OVERHEAD: usize = 96;
    let text = |v: &Option<crate::JsonValue>| v.as_ref().map_or(0, |v| v.as_str().len());
    OVERHEAD + change.key.len() + change.who.len() + text(&change.before) + text(&change.after)
}

/// How much history is kept: at most `max_entries` entries and `max_bytes` (as counted
/// by `entry_bytes`: texts plus a fixed overhead per entry); the oldest go first.
#[derive(Clone, Copy, Debug)]
pub struct HistoryBound {
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl HistoryBound {
    /// The highest revision to drop so that the retained history followed by `new` fits,
    /// or `None` when everything fits.
    pub(crate) fn cutoff(&self, state: &State, new: &[Arc<Change>]) -> Option<u64> {
        let mut entries = state.history.len() + new.len();
        let mut bytes = state.history_bytes + new.iter().map(|c| entry_bytes(c)).sum::<usize>();
        let mut cutoff = None;
        for change in state.history.iter().chain(new) {
            if entries <= self.max_entries && bytes <= self.max_bytes {
                break;
            }
            entries -= 1;
            bytes -= entry_bytes(change);
            cutoff = Some(change.revision);
        }
        cutoff
    }
}

impl State {
    pub fn apply(&mut self, change: &Arc<Change>) {
        let old_lease = match &change.after {
            Some(value) => {
                let record = Record {
                    value: value.clone(),
                    revision: change.revision,
                    timestamp: change.timestamp,
                    lease: change.lease,
                };
                // Reuse the key's existing allocation when the key is already known.
                match self.keys.get_mut(&*change.key) {
                    Some(slot) => std::mem::replace(slot, record).lease,
                    None => {
                        self.keys.insert(change.key.clone(), record);
                        None
                    }
                }
            }
            None => self.keys.remove(&*change.key).and_then(|old| old.lease),
        };
        if old_lease.is_some() || change.lease.is_some() {
            self.leases.reattach(&change.key, old_lease, change);
        }
        self.revision = change.revision;
        self.history_bytes += entry_bytes(change);
        self.history.push_back(change.clone());
    }

    /// Applies one logged group: its grants and renewals, its changes (each passed to
    /// `published` once applied), then its lease ends (whose keys its changes deleted).
    pub fn apply_group(
        &mut self,
        changes: &[Arc<Change>],
        events: &[LeaseEvent],
        mut published: impl FnMut(&Arc<Change>),
    ) {
        for event in events.iter().filter(|e| e.applies_before_changes()) {
            self.leases.apply(event);
        }
        for change in changes {
            self.apply(change);
            published(change);
        }
        for event in events.iter().filter(|e| !e.applies_before_changes()) {
            self.leases.apply(event);
        }
    }

    /// Links every key to the lease its record names, after a replay that applied changes
    /// and lease events separately; a key whose lease no longer exists is detached.
    pub fn relink_leases(&mut self) {
        for lease in self.leases.by_id.values_mut() {
            lease.keys.clear();
        }
        for (key, record) in self.keys.iter_mut() {
            if let Some(id) = record.lease {
                match self.leases.by_id.get_mut(&id) {
                    Some(lease) => {
                        lease.keys.insert(key.clone());
                    }
                    None => record.lease = None,
                }
            }
        }
    }

    /// Drops history entries up to and including `revision`.
    pub fn compact_through(&mut self, revision: u64) {
        while self.history.front().is_some_and(|c| c.revision <= revision) {
            if let Some(old) = self.history.pop_front() {
                self.history_bytes -= entry_bytes(&old);
            }
        }
        self.compacted_through = self.compacted_through.max(revision);
    }
}
