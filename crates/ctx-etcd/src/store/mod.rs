//! ctx-store's [`ContextStore`] on an etcd v3 cluster (`ctx serve --store etcd`).
//!
//! Each node keeps the shared in-memory part ([`Memory`]: map, history, change feed), fed
//! by one prefix-wide etcd watch (`feed.rs`), so reads and `/ws` fan-out are local and
//! scale with nodes. Writes are evaluated against that memory and committed as guarded
//! etcd transactions, batched, several batches in flight (`writer/`); they are answered once
//! etcd has committed them and this node's memory holds them. Leases are etcd leases.
//! Revisions are etcd's. Requests go to the members that have a leader (`rotation.rs`).
//! `health.rs` says whether this node can write now (`/health`); `progress.rs` waits until
//! memory holds a revision.
//! docs/cluster.md lists every rule that differs from the embedded store.

mod feed;
mod health;
mod key_limit;
mod layout;
mod progress;
mod rotation;
mod writer;

use ctx_store::{
    BoxFuture, CommitStats, ContextStore, HistoryBound, LeaseId, LeaseInfo, Memory, RevokeOutcome,
    StoreError, StoreKind, Timestamp, Txn, TxnOutcome, WriteHealth,
};
use etcd_client::{Client, ConnectOptions, LeaseTimeToLiveOptions};
pub(crate) use health::{Health, unavailable};
use health::{current_revision, probe};
use layout::{EtcdKey, Layout};
pub(crate) use progress::Progress;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "ctx/";
/// How long a node waits at start for its memory to catch up with etcd.
const OPEN_WAIT: Duration = Duration::from_secs(60);
/// How long `?consistent=true` waits for this node to catch up.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for one etcd request (see `open`): past an election (1 s) with margin.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Writes queued for the writer before callers wait.
const WRITE_QUEUE: usize = 16 * 1024;

#[derive(Clone)]
pub struct EtcdConfig {
    /// Client URLs of the etcd members (`http://host:2379`).
    pub endpoints: Vec<String>,
    /// Every ctx key `K` is the etcd key `<prefix>K`; nodes sharing a prefix share a context.
    pub prefix: String,
    /// History kept in each node's memory (etcd keeps its own until it compacts).
    pub history: HistoryBound,
    pub max_key_bytes: usize,
    /// `--max-keys` (`key_limit.rs`); `None`: no limit.
    pub max_keys: Option<usize>,
    /// Changes buffered per live subscriber before it is told it lagged.
    pub feed_capacity: usize,
    /// Told about every batch committed, e.g. to feed `/metrics`.
    pub commit_observer: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
}

impl EtcdConfig {
    pub fn new(endpoints: Vec<String>) -> EtcdConfig {
        EtcdConfig {
            endpoints,
            prefix: DEFAULT_PREFIX.to_owned(),
            history: HistoryBound {
                max_entries: 100_000,
                max_bytes: 256 * 1024 * 1024,
            },
            max_key_bytes: 1024,
            max_keys: None,
            feed_capacity: 4096,
            commit_observer: None,
        }
    }
}

pub struct EtcdStore {
    memory: Arc<Memory>,
    client: Client,
    layout: Layout,
    progress: Progress,
    health: Arc<Health>,
    writes: mpsc::Sender<writer::Pending>,
    tasks: Vec<JoinHandle<()>>,
    /// Dropped with the store: stops the feed.
    _stop: watch::Sender<bool>,
}

impl EtcdStore {
    /// Connects, loads the prefix through the watch, and returns once this node holds
    /// everything etcd had when it was opened.
    pub async fn open(config: EtcdConfig) -> Result<EtcdStore, StoreError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            // A request that reached a member as its leader died is not answered at all (the
            // proposal is lost): only this timeout ends it, and the node's batches in flight
            // hold every write of their keys behind them. 5 s made writes resume 5.0 s after the
            // leader was killed (tests/cluster_failures/etcd_members.rs); etcd's own puts take
            // 12 ms (p50) to 72 ms (p99) on a loaded 2-core machine.
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(1), Duration::from_secs(2))
            .with_require_leader(true);
        let endpoints = config.endpoints.join(",");
        let cannot = |e: &etcd_client::Error| {
            StoreError::Unavailable(format!(
                "cannot reach etcd at {endpoints}: {}",
                unavailable(e)
            ))
        };
        let client = Client::connect(&config.endpoints, Some(options.clone()))
            .await
            .map_err(|e| cannot(&e))?;
        let layout = Layout::new(&config.prefix);
        let current = current_revision(&client, &layout).await.map_err(|e| {
            StoreError::Unavailable(format!("cannot reach etcd at {endpoints}: {e}"))
        })?;
        let memory = Arc::new(Memory::new(config.feed_capacity, config.max_key_bytes));
        let health = Arc::new(Health::default());
        let (applied_tx, applied) = watch::channel(0);
        let (stop_tx, stop) = watch::channel(false);
        let (left_rotation, rotation) = watch::channel(0);
        let progress = Progress {
            applied,
            client: client.clone(),
            marker: layout.sync_key(&node_id()),
        };
        let feed = feed::Feed {
            client: client.clone(),
            memory: memory.clone(),
            layout: layout.clone(),
            bound: config.history,
            applied: applied_tx,
            health: health.clone(),
            stop,
            rotation,
        };
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        let writer = writer::Writer {
            client: client.clone(),
            memory: memory.clone(),
            layout: layout.clone(),
            progress: progress.clone(),
            health: health.clone(),
            observer: config.commit_observer.clone(),
            max_keys: config.max_keys,
        };
        let tasks = vec![
            tokio::spawn(feed.run()),
            tokio::spawn(writer.run(queue)),
            tokio::spawn(probe(client.clone(), layout.clone(), health.clone())),
            tokio::spawn(rotation::keep(
                client.clone(),
                config.endpoints.clone(),
                options,
                layout.prefix().to_owned(),
                left_rotation,
            )),
        ];
        let store = EtcdStore {
            memory,
            client,
            layout,
            progress,
            health,
            writes,
            tasks,
            _stop: stop_tx,
        };
        store.progress.sync(OPEN_WAIT).await?;
        tracing::info!(
            keys = store.memory.key_count(),
            history = store.memory.history_len(),
            revision = current,
            endpoints,
            prefix = %config.prefix,
            "etcd store opened"
        );
        Ok(store)
    }

    async fn lease_call<T>(
        &self,
        id: Option<LeaseId>,
        call: impl AsyncFnOnce(Client) -> Result<T, etcd_client::Error>,
    ) -> Result<T, StoreError> {
        call(self.client.clone()).await.map_err(|e| {
            let reason = unavailable(&e);
            match (id, reason.contains("lease not found")) {
                (Some(id), true) => StoreError::LeaseNotFound(id),
                _ => StoreError::Unavailable(reason),
            }
        })
    }
}

/// A name for this node's sync marker, unique enough among the nodes of one prefix.
fn node_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn lease_info(id: LeaseId, ttl_secs: i64) -> LeaseInfo {
    let ttl = Duration::from_secs(u64::try_from(ttl_secs).unwrap_or(0));
    let micros = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
    LeaseInfo {
        id,
        ttl,
        expires_at: Timestamp::from_micros(Timestamp::now().as_micros().saturating_add(micros)),
        keys: Vec::new(),
    }
}

fn etcd_id(id: LeaseId) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl ContextStore for EtcdStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Etcd
    }

    fn memory(&self) -> &Memory {
        &self.memory
    }

    fn write_health(&self) -> WriteHealth {
        self.health.get()
    }

    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<TxnOutcome, StoreError>> {
        Box::pin(async move {
            ctx_store::validate_txn(&self.memory, &txn)?;
            let (reply, answer) = oneshot::channel();
            self.writes
                .send(writer::Pending::new(txn, reply))
                .await
                .map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn grant_lease(&self, ttl: Duration) -> BoxFuture<'_, Result<LeaseInfo, StoreError>> {
        Box::pin(async move {
            ctx_store::validate_lease_ttl(ttl)?;
            // etcd counts whole seconds.
            let secs = i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0))
                .unwrap_or(i64::MAX);
            let granted = self
                .lease_call(None, async move |mut c| c.lease_grant(secs, None).await)
                .await?;
            Ok(lease_info(
                u64::try_from(granted.id()).unwrap_or(0),
                granted.ttl(),
            ))
        })
    }

    fn keep_alive(&self, id: LeaseId) -> BoxFuture<'_, Result<LeaseInfo, StoreError>> {
        Box::pin(async move {
            let answer = self
                .lease_call(Some(id), async move |mut c| {
                    let (mut keeper, mut stream) = c.lease_keep_alive(etcd_id(id)).await?;
                    keeper.keep_alive().await?;
                    stream.message().await
                })
                .await?;
            match answer {
                Some(answer) if answer.ttl() > 0 => Ok(lease_info(id, answer.ttl())),
                _ => Err(StoreError::LeaseNotFound(id)),
            }
        })
    }

    fn revoke_lease(&self, id: LeaseId) -> BoxFuture<'_, Result<RevokeOutcome, StoreError>> {
        Box::pin(async move {
            let deleted = self.memory.keys_of_lease(id).len();
            let answer = self
                .lease_call(Some(id), async move |mut c| {
                    c.lease_revoke(etcd_id(id)).await
                })
                .await?;
            let revision = answer
                .header()
                .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0));
            // Answered once this node's memory no longer shows the lease's keys.
            self.progress.sync(CATCH_UP_WAIT).await?;
            Ok(RevokeOutcome { deleted, revision })
        })
    }

    fn lease(&self, id: LeaseId) -> BoxFuture<'_, Result<Option<LeaseInfo>, StoreError>> {
        Box::pin(async move {
            let options = LeaseTimeToLiveOptions::new().with_keys();
            let answer = self
                .lease_call(Some(id), async move |mut c| {
                    c.lease_time_to_live(etcd_id(id), Some(options)).await
                })
                .await?;
            if answer.ttl() <= 0 {
                return Ok(None);
            }
            let mut info = lease_info(id, answer.granted_ttl());
            info.expires_at = lease_info(id, answer.ttl()).expires_at;
            info.keys = answer
                .keys()
                .iter()
                .filter_map(|key| match self.layout.classify(key) {
                    EtcdKey::Data(key) => Some(key.to_owned()),
                    _ => None,
                })
                .collect();
            info.keys.sort();
            Ok(Some(info))
        })
    }

    fn caught_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.progress.sync(CATCH_UP_WAIT).await })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        for task in &self.tasks {
            task.abort();
        }
        Box::pin(std::future::ready(()))
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
