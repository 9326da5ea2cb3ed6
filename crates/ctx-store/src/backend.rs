//! The store's interface, as the HTTP layer sees it: [`ContextStore`]. Two backends
//! implement it: the embedded [`crate::Store`] (a log and redb on local disk) and the etcd
//! store of the `ctx-etcd` crate. Both answer reads from a shared [`Memory`] (map, history,
//! change feed); they differ in who orders and persists writes.
//!
//! Reads are plain calls on the memory (one virtual call to reach it: GET stays as fast);
//! writes return a boxed future, one allocation per write beside a commit that costs a
//! disk sync or a network round trip.

use crate::error::StoreError;
use crate::health::WriteHealth;
use crate::history::{HistoryPage, HistoryQuery};
use crate::memory::{Memory, Snapshot, Watch};
use crate::state::Record;
use crate::store::WriteOutcome;
use crate::txn::{LeaseId, LeaseInfo, Op, RevokeOutcome, Txn, TxnOutcome};
use crate::value::JsonValue;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which backend a store is, as `/ctx/status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Etcd,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Embedded => "embedded",
            StoreKind::Etcd => "etcd",
        }
    }
}

pub trait ContextStore: Send + Sync + 'static {
    fn kind(&self) -> StoreKind;

    /// The map, history and change feed every read is answered from.
    fn memory(&self) -> &Memory;

    /// Whether writes are taken now.
    fn write_health(&self) -> WriteHealth;

    /// Runs a transaction (see [`crate::Store::commit`]); answers once it is durable.
    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<TxnOutcome, StoreError>>;

    /// Sets `key`; answers once durable.
    fn set(
        &self,
        key: &str,
        value: JsonValue,
        who: &str,
    ) -> BoxFuture<'_, Result<WriteOutcome, StoreError>> {
        single(self.commit(Txn::ops(vec![Op::set(key, value)], who)))
    }

    /// Deletes `key`; answers once durable.
    fn delete(&self, key: &str, who: &str) -> BoxFuture<'_, Result<WriteOutcome, StoreError>> {
        single(self.commit(Txn::ops(vec![Op::delete(key)], who)))
    }

    fn grant_lease(&self, ttl: Duration) -> BoxFuture<'_, Result<LeaseInfo, StoreError>>;

    fn keep_alive(&self, id: LeaseId) -> BoxFuture<'_, Result<LeaseInfo, StoreError>>;

    fn revoke_lease(&self, id: LeaseId) -> BoxFuture<'_, Result<RevokeOutcome, StoreError>>;

    /// A live lease with its keys, sorted; `None` when it expired or never was.
    fn lease(&self, id: LeaseId) -> BoxFuture<'_, Result<Option<LeaseInfo>, StoreError>>;

    /// Completes once memory holds every change committed before the call (a read after
    /// it is current). Immediate for the embedded store, whose memory is the truth.
    fn caught_up(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// What a recovery found damaged and dropped at open, one sentence each.
    fn recovered(&self) -> &[String] {
        &[]
    }

    /// Finishes queued writes and releases the backend. Later writes fail with `Closed`.
    fn close(&self) -> BoxFuture<'_, ()>;
}

fn single(
    commit: BoxFuture<'_, Result<TxnOutcome, StoreError>>,
) -> BoxFuture<'_, Result<WriteOutcome, StoreError>> {
    Box::pin(async move { WriteOutcome::of(&commit.await?) })
}

/// Reads, straight from the memory, for callers holding a `dyn ContextStore`.
impl dyn ContextStore {
    pub fn validate_key(&self, key: &str) -> Result<(), StoreError> {
        self.memory().validate_key(key)
    }

    pub fn get(&self, key: &str) -> Option<Record> {
        self.memory().get(key)
    }

    pub fn revision(&self) -> u64 {
        self.memory().revision()
    }

    pub fn key_count(&self) -> usize {
        self.memory().key_count()
    }

    pub fn history_len(&self) -> usize {
        self.memory().history_len()
    }

    pub fn snapshot(&self, prefix: Option<&str>) -> Snapshot {
        self.memory().snapshot(prefix)
    }

    pub fn history(&self, query: &HistoryQuery) -> HistoryPage {
        self.memory().history(query)
    }

    pub fn watch(&self, since: Option<u64>) -> Result<Watch, StoreError> {
        self.memory().watch(since)
    }
}

impl ContextStore for crate::Store {
    fn kind(&self) -> StoreKind {
        StoreKind::Embedded
    }

    fn memory(&self) -> &Memory {
        crate::Store::memory(self)
    }

    fn write_health(&self) -> WriteHealth {
        crate::Store::write_health(self)
    }

    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<TxnOutcome, StoreError>> {
        Box::pin(crate::Store::commit(self, txn))
    }

    // One box per write: the default methods would box the commit a second time.
    fn set(
        &self,
        key: &str,
        value: JsonValue,
        who: &str,
    ) -> BoxFuture<'_, Result<WriteOutcome, StoreError>> {
        let txn = Txn::ops(vec![Op::set(key, value)], who);
        Box::pin(async move { WriteOutcome::of(&crate::Store::commit(self, txn).await?) })
    }

    fn delete(&self, key: &str, who: &str) -> BoxFuture<'_, Result<WriteOutcome, StoreError>> {
        let txn = Txn::ops(vec![Op::delete(key)], who);
        Box::pin(async move { WriteOutcome::of(&crate::Store::commit(self, txn).await?) })
    }

    fn grant_lease(&self, ttl: Duration) -> BoxFuture<'_, Result<LeaseInfo, StoreError>> {
        Box::pin(crate::Store::grant_lease(self, ttl))
    }

    fn keep_alive(&self, id: LeaseId) -> BoxFuture<'_, Result<LeaseInfo, StoreError>> {
        Box::pin(crate::Store::keep_alive(self, id))
    }

    fn revoke_lease(&self, id: LeaseId) -> BoxFuture<'_, Result<RevokeOutcome, StoreError>> {
        Box::pin(crate::Store::revoke_lease(self, id))
    }

    fn lease(&self, id: LeaseId) -> BoxFuture<'_, Result<Option<LeaseInfo>, StoreError>> {
        let lease = crate::Store::lease(self, id);
        Box::pin(std::future::ready(Ok(lease)))
    }

    fn caught_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn recovered(&self) -> &[String] {
        crate::Store::recovered(self)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(crate::Store::close(self))
    }
}
