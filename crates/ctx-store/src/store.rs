//! The public handle. Cheap to clone; every clone talks to the same store.

use crate::committer::{self, Command, LeaseAnswer, LeaseCommand};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::health::{Faults, WriteHealth};
use crate::history::{HistoryPage, HistoryQuery};
use crate::state::{Change, Record, State};
use crate::txn::{
    LeaseId, LeaseInfo, MAX_LEASE_TTL, MAX_TXN_OPS, MIN_LEASE_TTL, Op, RevokeOutcome, Txn,
    TxnOutcome,
};
use crate::value::{JsonValue, Timestamp};
use parking_lot::RwLock;
use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Writes waiting for the committer; past this, writers wait (backpressure) rather than
/// queueing without bound.
const WRITE_QUEUE: usize = 16 * 1024;

pub(crate) struct Shared {
    pub state: RwLock<State>,
    pub feed: broadcast::Sender<Arc<Change>>,
    pub faults: Arc<Faults>,
}

#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    writes: mpsc::Sender<Command>,
    max_key_bytes: usize,
    recovered: Arc<[String]>,
}

/// The answer to a write, given once it is durable.
#[derive(Clone, Copy, Debug)]
pub struct WriteOutcome {
    /// The change's revision; for a write that changed nothing, the key's last change
    /// (or, for deleting a missing key, the store's current revision).
    pub revision: u64,
    pub timestamp: Timestamp,
    /// False when the value was already equal (set) or the key was absent (delete):
    /// nothing was recorded.
    pub changed: bool,
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
}

impl Store {
    /// Opens the store in `config.data_dir`, reloading keys, history and the revision.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let crate::open::Opened {
            disk,
            wal,
            state,
            ceiling,
            recovered,
        } = crate::open::open(&config)?;
        tracing::info!(
            keys = state.keys.len(),
            history = state.history.len(),
            revision = state.revision,
            "store opened"
        );
        let (feed, _) = broadcast::channel(config.feed_capacity.max(1));
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            feed,
            faults: Arc::default(),
        });
        let (writes, rx) = mpsc::channel(WRITE_QUEUE);
        let max_key_bytes = config.max_key_bytes;
        committer::spawn(disk, wal, ceiling, shared.clone(), config, rx)
            .map_err(|e| StoreError::Storage(format!("cannot start committer thread: {e}")))?;
        spawn_reaper(shared.clone(), writes.downgrade())
            .map_err(|e| StoreError::Storage(format!("cannot start lease thread: {e}")))?;
        Ok(Store {
            shared,
            writes,
            max_key_bytes,
            recovered: recovered.into(),
        })
    }

    /// What a recovery (`StoreConfig::recover`) found damaged and dropped at open, one
    /// sentence each; empty when the data directory was intact.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
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
        self.shared.state.read().keys.get(key).cloned()
    }

    /// Whether writes are taken now (see `health.rs` for the policy after a fault).
    pub fn write_health(&self) -> WriteHealth {
        self.shared.faults.health()
    }

    pub fn revision(&self) -> u64 {
        self.shared.state.read().revision
    }

    pub fn key_count(&self) -> usize {
        self.shared.state.read().keys.len()
    }

    /// History entries retained.
    pub fn history_len(&self) -> usize {
        self.shared.state.read().history.len()
    }

    /// All keys (or those starting with `prefix`), sorted, with the revision they are at.
    pub fn snapshot(&self, prefix: Option<&str>) -> Snapshot {
        let state = self.shared.state.read();
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
        query.run(&self.shared.state.read())
    }

    /// Sets `key` to `value`; answers once the change is on disk. The value is a
    /// `&serde_json::Value` or its canonical [`JsonValue`] (which a caller that answers
    /// with the value can keep, instead of serialising its tree a second time).
    pub async fn set(
        &self,
        key: &str,
        value: impl Into<JsonValue>,
        who: &str,
    ) -> Result<WriteOutcome, StoreError> {
        let op = Op::Set {
            key: key.to_owned(),
            value: value.into(),
            lease: None,
        };
        self.single(op, who).await
    }

    /// Deletes `key` (recorded in history with `after: None`); answers once durable.
    pub async fn delete(&self, key: &str, who: &str) -> Result<WriteOutcome, StoreError> {
        let op = Op::Delete {
            key: key.to_owned(),
        };
        self.single(op, who).await
    }

    async fn single(&self, op: Op, who: &str) -> Result<WriteOutcome, StoreError> {
        let outcome = self.commit(Txn::ops(vec![op], who)).await?;
        let result = outcome.results.first().ok_or(StoreError::Closed)?;
        Ok(WriteOutcome {
            revision: result.revision,
            timestamp: result.timestamp,
            changed: result.changed,
        })
    }

    /// Runs a transaction: if every condition holds, `success`, else `failure`, as one
    /// durable unit that no reader, history page or watcher sees part of. Answers once
    /// durable. Refused whole (nothing applied) when a key is invalid, a branch is over
    /// [`MAX_TXN_OPS`] or writes a key twice, a set names a lease that is not alive, or an
    /// increment meets a value that is not an integer.
    pub async fn commit(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        self.validate_txn(&txn)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Txn(txn, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn validate_txn(&self, txn: &Txn) -> Result<(), StoreError> {
        for (what, len) in [
            ("conditions", txn.compare.len()),
            ("success operations", txn.success.len()),
            ("failure operations", txn.failure.len()),
        ] {
            if len > MAX_TXN_OPS {
                return Err(StoreError::InvalidTxn(format!(
                    "{len} {what}; at most {MAX_TXN_OPS} are allowed"
                )));
            }
        }
        for compare in &txn.compare {
            self.validate_key(compare.key())?;
        }
        for branch in [&txn.success, &txn.failure] {
            for op in branch {
                self.validate_key(op.key())?;
            }
            // One check for one op (every plain write) would only allocate.
            if branch.len() > 1 {
                let mut written = HashSet::new();
                for op in branch.iter().filter(|op| !matches!(op, Op::Get { .. })) {
                    if !written.insert(op.key()) {
                        return Err(StoreError::InvalidTxn(format!(
                            "the key {:?} is written twice in one branch",
                            op.key()
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Grants a lease of `ttl` (between [`MIN_LEASE_TTL`] and [`MAX_LEASE_TTL`]).
    pub async fn grant_lease(&self, ttl: Duration) -> Result<LeaseInfo, StoreError> {
        if !(MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&ttl) {
            return Err(StoreError::InvalidTxn(format!(
                "a lease's ttl must be between {:?} and {} days",
                MIN_LEASE_TTL,
                MAX_LEASE_TTL.as_secs() / 86_400
            )));
        }
        match self.lease_command(LeaseCommand::Grant(ttl)).await? {
            LeaseAnswer::Lease(info) => Ok(info),
            _ => Err(StoreError::Closed),
        }
    }

    /// Restarts a live lease's time to live from now.
    pub async fn keep_alive(&self, id: LeaseId) -> Result<LeaseInfo, StoreError> {
        match self.lease_command(LeaseCommand::KeepAlive(id)).await? {
            LeaseAnswer::Lease(info) => Ok(info),
            _ => Err(StoreError::Closed),
        }
    }

    /// Ends a lease now, deleting its keys (history names `lease:<id>` as the writer).
    pub async fn revoke_lease(&self, id: LeaseId) -> Result<RevokeOutcome, StoreError> {
        match self.lease_command(LeaseCommand::Revoke(id)).await? {
            LeaseAnswer::Revoked(outcome) => Ok(outcome),
            _ => Err(StoreError::Closed),
        }
    }

    /// A live lease with its keys, sorted.
    pub fn lease(&self, id: LeaseId) -> Option<LeaseInfo> {
        let state = self.shared.state.read();
        let lease = state.leases.alive(id, Timestamp::now())?;
        let mut info = lease.info(id);
        info.keys = lease.keys.iter().map(|k| k.to_string()).collect();
        Some(info)
    }

    async fn lease_command(&self, command: LeaseCommand) -> Result<LeaseAnswer, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Lease(command, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        self.writes
            .send(command)
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Every retained change after `since` (none when `None`), then the live feed, with no
    /// gap and no overlap between the two. Fails with [`StoreError::Compacted`] when changes
    /// after `since` were already compacted away: the caller must resync from a snapshot.
    pub fn watch(&self, since: Option<u64>) -> Result<Watch, StoreError> {
        let state = self.shared.state.read();
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
            live: self.shared.feed.subscribe(),
            revision: state.revision,
        })
    }

    /// Finishes queued writes and closes the database. Later writes fail with `Closed`.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.writes.send(Command::Shutdown(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// How often the reaper looks for an expired lease: expiry happens up to this late.
const REAP_EVERY: Duration = Duration::from_millis(50);

/// The thread that asks the committer to end expired leases. It holds only a weak handle
/// on the write queue, so it never keeps a dropped store's committer alive, and it stops
/// when the queue is gone.
fn spawn_reaper(shared: Arc<Shared>, writes: mpsc::WeakSender<Command>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ctx-store-leases".into())
        .spawn(move || {
            loop {
                std::thread::sleep(REAP_EVERY);
                let Some(writes) = writes.upgrade() else {
                    return;
                };
                let due = shared
                    .state
                    .read()
                    .leases
                    .next_expiry()
                    .is_some_and(|expiry| expiry <= Timestamp::now());
                if due {
                    let (reply, answer) = oneshot::channel();
                    if writes
                        .blocking_send(Command::Lease(LeaseCommand::ExpireDue, reply))
                        .is_err()
                    {
                        return;
                    }
                    drop(writes);
                    // One expiry at a time: the state says "due" until it is applied.
                    let _ = answer.blocking_recv();
                }
            }
        })
        .map(|_| ())
}
