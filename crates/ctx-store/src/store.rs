//! The public handle. Cheap to clone; every clone talks to the same store.

use crate::committer::{self, Command, LeaseAnswer, LeaseCommand};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::health::{Faults, WriteHealth};
use crate::history::{HistoryPage, HistoryQuery};
use crate::memory::{Memory, Snapshot, Watch};
use crate::state::Record;
use crate::txn::{
    LeaseId, LeaseInfo, MAX_LEASE_TTL, MAX_TXN_OPS, MIN_LEASE_TTL, Op, RevokeOutcome, Txn,
    TxnOutcome,
};
use crate::value::{JsonValue, Timestamp};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Writes waiting for the committer; past this, writers wait (backpressure) rather than
/// queueing without bound.
const WRITE_QUEUE: usize = 16 * 1024;

#[derive(Clone)]
pub struct Store {
    memory: Arc<Memory>,
    faults: Arc<Faults>,
    writes: mpsc::Sender<Command>,
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

impl WriteOutcome {
    /// The outcome of a one-operation transaction.
    pub fn of(outcome: &TxnOutcome) -> Result<WriteOutcome, StoreError> {
        let result = outcome.results.first().ok_or(StoreError::Closed)?;
        Ok(WriteOutcome {
            revision: result.revision,
            timestamp: result.timestamp,
            changed: result.changed,
        })
    }
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
        let memory = Arc::new(Memory::with_state(
            state,
            config.feed_capacity,
            config.max_key_bytes,
        ));
        let faults = Arc::<Faults>::default();
        let (writes, rx) = mpsc::channel(WRITE_QUEUE);
        committer::spawn(
            disk,
            wal,
            ceiling,
            memory.clone(),
            faults.clone(),
            config,
            rx,
        )
        .map_err(|e| StoreError::Storage(format!("cannot start committer thread: {e}")))?;
        spawn_reaper(memory.clone(), writes.downgrade())
            .map_err(|e| StoreError::Storage(format!("cannot start lease thread: {e}")))?;
        Ok(Store {
            memory,
            faults,
            writes,
            recovered: recovered.into(),
        })
    }

    /// What a recovery (`StoreConfig::recover`) found damaged and dropped at open, one
    /// sentence each; empty when the data directory was intact.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The map, history and change feed every read is answered from.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Keys are non-empty UTF-8 without control characters, at most `max_key_bytes` long.
    pub fn validate_key(&self, key: &str) -> Result<(), StoreError> {
        self.memory.validate_key(key)
    }

    pub fn get(&self, key: &str) -> Option<Record> {
        self.memory.get(key)
    }

    /// Whether writes are taken now (see `health.rs` for the policy after a fault).
    pub fn write_health(&self) -> WriteHealth {
        self.faults.health()
    }

    pub fn revision(&self) -> u64 {
        self.memory.revision()
    }

    pub fn key_count(&self) -> usize {
        self.memory.key_count()
    }

    /// History entries retained.
    pub fn history_len(&self) -> usize {
        self.memory.history_len()
    }

    /// All keys (or those starting with `prefix`), sorted, with the revision they are at.
    pub fn snapshot(&self, prefix: Option<&str>) -> Snapshot {
        self.memory.snapshot(prefix)
    }

    pub fn history(&self, query: &HistoryQuery) -> HistoryPage {
        self.memory.history(query)
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
        self.single(Op::set(key, value.into()), who).await
    }

    /// Deletes `key` (recorded in history with `after: None`); answers once durable.
    pub async fn delete(&self, key: &str, who: &str) -> Result<WriteOutcome, StoreError> {
        self.single(Op::delete(key), who).await
    }

    async fn single(&self, op: Op, who: &str) -> Result<WriteOutcome, StoreError> {
        WriteOutcome::of(&self.commit(Txn::ops(vec![op], who)).await?)
    }

    /// Runs a transaction: if every condition holds, `success`, else `failure`, as one
    /// durable unit that no reader, history page or watcher sees part of. Answers once
    /// durable. Refused whole (nothing applied) when a key is invalid, a branch is over
    /// [`MAX_TXN_OPS`] or writes a key twice, a set names a lease that is not alive, or an
    /// increment meets a value that is not an integer.
    pub async fn commit(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        validate_txn(&self.memory, &txn)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Txn(txn, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Grants a lease of `ttl` (between [`MIN_LEASE_TTL`] and [`MAX_LEASE_TTL`]).
    pub async fn grant_lease(&self, ttl: Duration) -> Result<LeaseInfo, StoreError> {
        validate_lease_ttl(ttl)?;
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
        self.memory.embedded_lease(id)
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

    /// Every retained change after `since`, then the live feed (see [`Memory::watch`]).
    pub fn watch(&self, since: Option<u64>) -> Result<Watch, StoreError> {
        self.memory.watch(since)
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
fn spawn_reaper(memory: Arc<Memory>, writes: mpsc::WeakSender<Command>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ctx-store-leases".into())
        .spawn(move || {
            loop {
                std::thread::sleep(REAP_EVERY);
                let Some(writes) = writes.upgrade() else {
                    return;
                };
                let due = memory
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

/// What every backend refuses before committing: too many conditions or operations, an
/// invalid key, a key written twice in one branch.
pub fn validate_txn(memory: &Memory, txn: &Txn) -> Result<(), StoreError> {
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
        memory.validate_key(compare.key())?;
    }
    for branch in [&txn.success, &txn.failure] {
        for op in branch {
            memory.validate_key(op.key())?;
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

/// A lease's ttl must be between [`MIN_LEASE_TTL`] and [`MAX_LEASE_TTL`].
pub fn validate_lease_ttl(ttl: Duration) -> Result<(), StoreError> {
    if !(MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&ttl) {
        return Err(StoreError::InvalidTxn(format!(
            "a lease's ttl must be between {:?} and {} days",
            MIN_LEASE_TTL,
            MAX_LEASE_TTL.as_secs() / 86_400
        )));
    }
    Ok(())
}
