//! Writes on etcd: each ctx transaction is evaluated against this node's memory (the same
//! rules as the embedded store: equal value = no change, missing key = nothing to delete,
//! conditions, increments), then committed as a nested etcd transaction guarded by the
//! `mod_revision` of every key it read. If a guard fails (another node wrote first), the
//! node waits until its memory has that write and evaluates again: the outcome is always
//! the one the write would have had at the revision etcd committed it.
//!
//! Writes waiting at the same moment go to etcd together, one outer transaction holding
//! one nested transaction per write (keys disjoint), so a node makes one round trip per
//! batch, not per write. Up to [`MAX_IN_FLIGHT`] batches are in flight at once, with
//! disjoint keys (`queue.rs` keeps a write back while an earlier write of one of its keys
//! is waiting or in flight); each is answered once this node's memory holds it, so a read
//! on the same node after the answer sees the write.

mod batch;
mod queue;

use super::layout::Layout;
use super::{Health, Progress};
use batch::Committer;
use ctx_store::{CommitStats, Memory, StoreError, Txn, TxnOutcome};
use etcd_client::Client;
use queue::Queue;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};

/// etcd's default `--max-txn-ops`, which a batch's writes and its widest write share (at
/// most 127 writes per batch; 128 made etcd refuse whole batches, "too many operations in
/// txn request", at 256 connections).
const ETCD_MAX_TXN_OPS: usize = 128;
/// Bytes of values per etcd transaction, under etcd's default 1.5 MiB request limit.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Batches in flight at once per node. Each costs etcd a request, a raft entry and a
/// watch response, so on a CPU-bound machine big batches beat many: on the shared 2-core
/// machine (3 members and 2 nodes, load average 11 to 14, `ctx-bench etcd-rate` beside
/// it) writes ÷ etcd's put rate at 64 connections were 1.25× with 1 batch in flight,
/// 1.06× with 2, 0.97× with 4 and 0.80× with 8 (each sent as soon as a slot was free).
const MAX_IN_FLIGHT: usize = 4;
/// Writes waiting before a further batch goes while one is in flight (a quarter of a full
/// batch), so batches stay big: with it, 4 in flight gave 1.23× to 1.29× at 64 connections
/// (1 in flight: 1.15× to 1.25×) and 1.21× to 1.25× at 256 (1 in flight: 1.42×; waiting
/// for 64: 1.27× to 1.38×): even on a saturated machine it stays above etcd's own rate,
/// and a node whose round trips are slow (etcd on other machines) overlaps them.
const MIN_BEHIND: usize = 32;
/// Writes taken off the channel ahead of the batches; beyond, callers wait (back-pressure).
const MAX_WAITING: usize = 4 * ETCD_MAX_TXN_OPS * MAX_IN_FLIGHT;
/// Evaluations of one write before it gives up: only other nodes writing the same keys
/// without pause can make a guard fail this often.
const MAX_ATTEMPTS: u32 = 64;
/// How long an answer waits for this node's memory to show a committed write before it is
/// given anyway (the write is committed; only read-your-writes on this node would lag).
const APPLY_WAIT: Duration = Duration::from_secs(10);

pub struct Pending {
    pub txn: Txn,
    pub reply: oneshot::Sender<Result<TxnOutcome, StoreError>>,
    /// Every key the write names (`queue::keys_of`).
    keys: Vec<String>,
    /// Acceptance order on this node (`Queue::push`).
    seq: u64,
    attempts: u32,
    /// Committed in a batch of its own (after its batch was refused whole).
    alone: bool,
    /// Near `--max-keys`: commit only if no key was created after this revision.
    created_through: Option<u64>,
}

impl Pending {
    pub fn new(txn: Txn, reply: oneshot::Sender<Result<TxnOutcome, StoreError>>) -> Pending {
        Pending {
            keys: queue::keys_of(&txn),
            txn,
            reply,
            seq: 0,
            attempts: 0,
            alone: false,
            created_through: None,
        }
    }
}

pub struct Writer {
    pub client: Client,
    pub memory: Arc<Memory>,
    pub layout: Layout,
    pub progress: Progress,
    pub health: Arc<Health>,
    pub observer: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
    pub max_keys: Option<usize>,
}

impl Writer {
    pub async fn run(self, mut rx: mpsc::Receiver<Pending>) {
        let committer = Arc::new(Committer {
            client: self.client,
            layout: self.layout,
            progress: self.progress,
            health: self.health,
            observer: self.observer,
        });
        let mut queue = Queue::default();
        let mut in_flight: JoinSet<Vec<Pending>> = JoinSet::new();
        // The keys each batch in flight holds and the keys it creates, to free them even if
        // its task panicked.
        let mut held: HashMap<Id, (Vec<String>, usize)> = HashMap::new();
        let mut open = true;
        loop {
            while in_flight.len() < MAX_IN_FLIGHT
                && (in_flight.is_empty() || queue.len() >= MIN_BEHIND)
                && let Some(mut batch) = queue.take_batch(&self.memory, self.max_keys)
            {
                let keys = std::mem::take(&mut batch.keys);
                let batch_creates = batch.creates;
                let task = in_flight.spawn(committer.clone().commit(batch));
                held.insert(task.id(), (keys, batch_creates));
            }
            if !open && in_flight.is_empty() && queue.is_empty() {
                return;
            }
            tokio::select! {
                pending = rx.recv(), if open && queue.len() < MAX_WAITING => match pending {
                    Some(pending) => {
                        queue.push(pending);
                        while queue.len() < MAX_WAITING && let Ok(pending) = rx.try_recv() {
                            queue.push(pending);
                        }
                    }
                    None => open = false,
                },
                Some(done) = in_flight.join_next_with_id() => {
                    let (id, done) = match done {
                        Ok((id, done)) => (id, Some(done)),
                        Err(error) => (error.id(), None),
                    };
                    if let Some((keys, creates)) = held.remove(&id) {
                        queue.release(&keys, creates);
                    }
                    if let Some(retry) = done {
                        queue.requeue(retry);
                    }
                }
                // Unreachable: with no batch in flight, every waiting write can go.
                else => return,
            }
        }
    }
}
