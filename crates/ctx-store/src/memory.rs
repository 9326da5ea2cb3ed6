//! The in-memory part every backend shares: the map, the history and the change feed, and
//! every read answered from them. A backend decides who orders and persists writes (the
//! embedded committer, or an etcd cluster fed back through a watch) and hands the
//! committed changes to [`Memory::apply`].

use crate::error::StoreError;
use crate::group::Group;
use crate::history::{HistoryPage, HistoryQuery};
use crate::state::{Change, HistoryBound, Record, State};
use crate::txn::{LeaseId, LeaseInfo, Op, Txn, TxnOutcome};
use crate::value::Timestamp;
use parking_lot::RwLock;
use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

pub struct Memory {
    pub(crate) state: RwLock<State>,
    pub(crate) feed: broadcast::Sender<Arc<Change>>,
    /// Counts [`Memory::reset`]s: a reset drops changes no subscriber was sent.
    resets: watch::Sender<u64>,
    max_key_bytes: usize,
}

/// Keys and values at one revision, sorted by key.
pub struct Snapshot {
    pub records: Vec<(Arc<str>, Record)>,
    pub revision: u64,
}

/// Changes after a revision, then the live feed from exactly where they stop.
pub struct Watch {
    pub backlog: Vec<Arc<Change>>,
    /// Live changes. A receiver that falls more than `feed_capacity` behind gets
    /// `RecvError::Lagged` and must resume from its last revision.
    pub live: broadcast::Receiver<Arc<Change>>,
    /// The store's revision when the watch began.
    pub revision: u64,
    /// Changes when memory is replaced ([`Memory::reset`], cluster mode after etcd
    /// compacted past the node): changes between the last one received and the reset are
    /// lost to this watch, so its subscriber must resync. Changes published after the
    /// reset come after this signal.
    pub reset: watch::Receiver<u64>,
}

/// A transaction evaluated against memory by a backend that commits elsewhere
/// ([`Memory::evaluate`]).
pub struct Evaluated {
    /// The answer if the commit happens with the guards holding. Revisions of changes are
    /// provisional (memory's revision + 1, …): the backend replaces them with its own.
    pub outcome: TxnOutcome,
    /// The changes to commit, in order.
    pub changes: Vec<Arc<Change>>,
    /// Every key the evaluation depended on (the conditions' and the branch's keys), with
    /// the revision memory had for it (0: absent). The evaluation stands only if each key
    /// is still at that revision when the commit happens.
    pub guards: Vec<(String, u64)>,
}

impl Memory {
    /// An empty memory, for a backend that fills it with [`Memory::reset`] and
    /// [`Memory::apply`].
    pub fn new(feed_capacity: usize, max_key_bytes: usize) -> Memory {
        Memory::with_state(State::default(), feed_capacity, max_key_bytes)
    }

    pub(crate) fn with_state(state: State, feed_capacity: usize, max_key_bytes: usize) -> Memory {
        let (feed, _) = broadcast::channel(feed_capacity.max(1));
        Memory {
            state: RwLock::new(state),
            feed,
            resets: watch::channel(0).0,
            max_key_bytes,
        }
    }

    /// Keys are non-empty UTF-8 without control characters, at most `max_key_bytes` long.
    pub fn validate_key(&self, key: &str) -> Result<(), StoreError> {
        if key.is_empty() {
            return Err(StoreError::InvalidKey("the key is empty".into()));
        }
        if key.len() > self.max_key_bytes {
            return Err(StoreError::InvalidKey(format!(
                "the key is {} bytes; the limit is {}",
                key.len(),
                self.max_key_bytes
            )));
        }
        if key.chars().any(char::is_control) {
            return Err(StoreError::InvalidKey(
                "the key contains a control character".into(),
            ));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<Record> {
        self.state.read().keys.get(key).cloned()
    }

    pub fn revision(&self) -> u64 {
        self.state.read().revision
    }

    /// The newest revision whose change is no longer in the history (0: none).
    pub fn compacted_through(&self) -> u64 {
        self.state.read().compacted_through
    }

    pub fn key_count(&self) -> usize {
        self.state.read().keys.len()
    }

    /// The number of keys and the revision memory holds them at, read together.
    pub fn key_count_at(&self) -> (usize, u64) {
        let state = self.state.read();
        (state.keys.len(), state.revision)
    }

    /// History entries retained.
    pub fn history_len(&self) -> usize {
        self.state.read().history.len()
    }

    /// All keys (or those starting with `prefix`), sorted, with the revision they are at.
    pub fn snapshot(&self, prefix: Option<&str>) -> Snapshot {
        let state = self.state.read();
        let prefix = prefix.unwrap_or("");
        let records = state
            .keys
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        Snapshot {
            records,
            revision: state.revision,
        }
    }

    pub fn history(&self, query: &HistoryQuery) -> HistoryPage {
        query.run(&self.state.read())
    }

    /// Every retained change after `since` (none when `None`), then the live feed, with no
    /// gap and no overlap between the two. Fails with [`StoreError::Compacted`] when changes
    /// after `since` were already compacted away: the caller must resync from a snapshot.
    pub fn watch(&self, since: Option<u64>) -> Result<Watch, StoreError> {
        let state = self.state.read();
        let backlog = match since {
            Some(since) if since < state.compacted_through => {
                return Err(StoreError::Compacted {
                    requested: since,
                    compacted_through: state.compacted_through,
                    current: state.revision,
                });
            }
            Some(since) => {
                let start = state.history.partition_point(|c| c.revision <= since);
                state.history.range(start..).cloned().collect()
            }
            None => Vec::new(),
        };
        Ok(Watch {
            backlog,
            live: self.feed.subscribe(),
            revision: state.revision,
            // Under the state lock, as `reset` bumps it: a watch sees a reset or its result.
            reset: self.resets.subscribe(),
        })
    }

    /// The keys memory holds attached to `id`, sorted.
    pub fn keys_of_lease(&self, id: LeaseId) -> Vec<String> {
        self.state
            .read()
            .keys
            .iter()
            .filter(|(_, record)| record.lease == Some(id))
            .map(|(key, _)| key.to_string())
            .collect()
    }

    /// A live lease of the embedded store with its keys, sorted.
    pub(crate) fn embedded_lease(&self, id: LeaseId) -> Option<LeaseInfo> {
        let state = self.state.read();
        let lease = state.leases.alive(id, Timestamp::now())?;
        let mut info = lease.info(id);
        info.keys = lease.keys.iter().map(|k| k.to_string()).collect();
        Some(info)
    }

    /// Applies changes committed elsewhere, in order, and publishes each on the change
    /// feed, all under one write lock (no reader sees part of them); then trims the
    /// history to `bound`. Revisions must not go down; several changes may share one (an
    /// etcd transaction), and they may leave gaps.
    pub fn apply(&self, changes: &[Arc<Change>], bound: HistoryBound) {
        let mut state = self.state.write();
        let cutoff = bound.cutoff(&state, changes);
        for change in changes {
            state.apply(change);
            let _ = self.feed.send(change.clone());
        }
        if let Some(cutoff) = cutoff {
            state.compact_through(cutoff);
        }
    }

    /// Raises the revision with no change (a backend whose revisions also count writes
    /// outside what memory holds).
    pub fn advance(&self, revision: u64) {
        let mut state = self.state.write();
        state.revision = state.revision.max(revision);
    }

    /// Replaces everything with `records` at `revision`: history starts empty there, so a
    /// watcher from an older revision is told to resync, and so is every live watch
    /// ([`Watch::reset`]).
    pub fn reset(&self, records: Vec<(Arc<str>, Record)>, revision: u64) {
        let mut state = self.state.write();
        *state = State::default();
        state.keys = records.into_iter().collect();
        state.revision = revision;
        state.compacted_through = revision;
        self.resets.send_modify(|resets| *resets += 1);
    }

    /// Evaluates `txn` against memory as it stands, for a backend that commits the result
    /// elsewhere under the returned guards. Leases are not checked here: that backend's
    /// commit checks them.
    pub fn evaluate(&self, txn: &Txn, now: Timestamp) -> Result<Evaluated, StoreError> {
        let state = self.state.read();
        let mut writers = HashSet::new();
        let mut group = Group::new(&state, now, &mut writers);
        group.check_leases = false;
        let outcome = group.txn(txn)?;
        let branch = if outcome.succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let mut guards: Vec<(String, u64)> = Vec::new();
        let keys = txn
            .compare
            .iter()
            .map(|c| c.key())
            .chain(branch.iter().map(Op::key));
        for key in keys {
            if guards.iter().all(|(known, _)| known != key) {
                let revision = state.keys.get(key).map_or(0, |r| r.revision);
                guards.push((key.to_owned(), revision));
            }
        }
        Ok(Evaluated {
            outcome,
            changes: group.changes,
            guards,
        })
    }
}
