//! The in-memory image of the store: what every read is answered from.

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
}

#[derive(Default)]
pub(crate) struct State {
    pub keys: BTreeMap<Arc<str>, Record>,
    /// Oldest first; revisions strictly increase with no gaps above `compacted_through`.
    pub history: VecDeque<Arc<Change>>,
    pub revision: u64,
    /// Highest revision whose history entry was compacted away (0: none).
    pub compacted_through: u64,
}

impl State {
    pub fn apply(&mut self, change: &Arc<Change>, history_limit: usize) {
        match &change.after {
            Some(value) => {
                let record = Record {
                    value: value.clone(),
                    revision: change.revision,
                    timestamp: change.timestamp,
                };
                // Reuse the key's existing allocation when the key is already known.
                match self.keys.get_mut(&*change.key) {
                    Some(slot) => *slot = record,
                    None => {
                        self.keys.insert(change.key.clone(), record);
                    }
                }
            }
            None => {
                self.keys.remove(&*change.key);
            }
        }
        self.revision = change.revision;
        self.history.push_back(change.clone());
        while self.history.len() > history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_through = old.revision;
            }
        }
    }
}
