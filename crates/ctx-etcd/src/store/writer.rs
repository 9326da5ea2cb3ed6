//! Writes on etcd: each ctx transaction is evaluated against this node's memory (the same
//! rules as the embedded store: equal value = no change, missing key = nothing to delete,
//! conditions, increments), then committed as a nested etcd transaction guarded by the
//! `mod_revision` of every key it read. If a guard fails (another node wrote first), the
//! node waits until its memory has that write and evaluates again: the outcome is always
//! the one the write would have had at the revision etcd committed it.
//!
//! Writes waiting at the same moment go to etcd together, one outer transaction holding
//! one nested transaction per write (keys disjoint: a write touching a key already in the
//! batch waits for the next one), so a node makes one round trip per batch, not per write.
//! One batch is in flight at a time; it is answered once this node's memory holds it, so
//! a read on the same node after the answer sees the write.

use super::key_limit::KeyBudget;
use super::layout::{self, Layout};
use super::{Health, Progress, unavailable};
use ctx_store::{CommitStats, Evaluated, Memory, Op, StoreError, Timestamp, Txn, TxnOutcome};
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn as EtcdTxn, TxnOp, TxnOpResponse};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Writes per etcd transaction: etcd's default `--max-txn-ops` is 128 per level.
pub const MAX_BATCH: usize = 128;
/// Bytes of values per etcd transaction, under etcd's default 1.5 MiB request limit.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Evaluations of one write before it gives up: only other nodes writing the same keys
/// without pause can make a guard fail this often.
const MAX_ATTEMPTS: u32 = 64;
/// How long an answer waits for this node's memory to show a committed write before it is
/// given anyway (the write is committed; only read-your-writes on this node would lag).
const APPLY_WAIT: Duration = Duration::from_secs(10);

pub struct Pending {
    pub txn: Txn,
    pub reply: oneshot::Sender<Result<TxnOutcome, StoreError>>,
    attempts: u32,
    /// Committed in a batch of its own (after its batch was refused whole).
    alone: bool,
    /// Near `--max-keys`: commit only if no key was created after this revision.
    created_through: Option<u64>,
}

impl Pending {
    pub fn new(txn: Txn, reply: oneshot::Sender<Result<TxnOutcome, StoreError>>) -> Pending {
        Pending {
            txn,
            reply,
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
    pub async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut queue: VecDeque<Pending> = VecDeque::new();
        loop {
            if queue.is_empty() {
                match rx.recv().await {
                    Some(pending) => queue.push_back(pending),
                    None => return,
                }
            }
            while queue.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(pending) => queue.push_back(pending),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut queue).await;
        }
    }

    /// Commits what of `queue` fits one batch; leaves the rest (and retries) in it.
    async fn commit_batch(&mut self, queue: &mut VecDeque<Pending>) {
        let now = Timestamp::now();
        let mut members: Vec<(Pending, Evaluated)> = Vec::new();
        let mut keys: HashSet<String> = HashSet::new();
        let mut bytes = 0;
        let mut later = VecDeque::new();
        let mut budget = KeyBudget::new(self.max_keys, &self.memory);
        while let Some(mut pending) = queue.pop_front() {
            let full = members.len() >= MAX_BATCH
                || bytes >= MAX_BATCH_BYTES
                || members.first().is_some_and(|(p, _)| p.alone)
                || (pending.alone && !members.is_empty());
            if full {
                later.push_back(pending);
                continue;
            }
            let evaluated = match self.memory.evaluate(&pending.txn, now) {
                Ok(evaluated) => evaluated,
                Err(error) => {
                    let _ = pending.reply.send(Err(error));
                    continue;
                }
            };
            if evaluated.guards.iter().any(|(key, _)| keys.contains(key)) {
                later.push_back(pending);
                continue;
            }
            pending.created_through = match budget.admit(&evaluated.changes) {
                Ok(created_through) => created_through,
                Err(error) => {
                    let _ = pending.reply.send(Err(error));
                    continue;
                }
            };
            keys.extend(evaluated.guards.iter().map(|(key, _)| key.clone()));
            bytes += evaluated
                .changes
                .iter()
                .map(|c| c.key.len() + c.after.as_ref().map_or(0, |v| v.as_str().len()))
                .sum::<usize>();
            members.push((pending, evaluated));
        }
        *queue = later;
        if members.is_empty() {
            return;
        }
        let started = Instant::now();
        let ops: Vec<TxnOp> = members
            .iter()
            .map(|(pending, evaluated)| TxnOp::txn(self.guarded(pending, evaluated, now)))
            .collect();
        let result = self.client.txn(EtcdTxn::new().and_then(ops)).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let lease_missing = error.to_string().contains("lease not found");
                if lease_missing && members.len() > 1 {
                    // One write named a lease that is gone and etcd refused the batch:
                    // each goes again alone, so only that one fails.
                    for (mut pending, _) in members.into_iter().rev() {
                        pending.alone = true;
                        queue.push_front(pending);
                    }
                    return;
                }
                let reason = unavailable(&error);
                if !lease_missing {
                    self.health.set_writes(Some(reason.clone()));
                }
                for (pending, _) in members {
                    let failure = match lease_missing {
                        true => StoreError::LeaseNotFound(lease_of(&pending.txn)),
                        false => StoreError::Unavailable(reason.clone()),
                    };
                    let _ = pending.reply.send(Err(failure));
                }
                return;
            }
        };
        self.health.set_writes(None);
        let revision = response
            .header()
            .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0));
        let outcomes: Vec<bool> = response
            .op_responses()
            .iter()
            .map(|op| matches!(op, TxnOpResponse::Txn(nested) if nested.succeeded()))
            .collect();
        let wrote = members
            .iter()
            .zip(&outcomes)
            .any(|((_, evaluated), held)| *held && !evaluated.changes.is_empty());
        // A batch that wrote is answered once memory has it (read-your-writes on this
        // node); one where a guard failed is tried again once memory has what beat it.
        let caught_up = match (wrote, outcomes.iter().any(|held| !held)) {
            (true, _) => self.progress.wait_applied(revision, APPLY_WAIT).await,
            (false, true) => self.progress.sync(APPLY_WAIT).await,
            (false, false) => Ok(()),
        };
        if let Err(error) = caught_up {
            tracing::warn!(%error, revision, "this node has not applied the batch's revision yet");
        }
        if let Some(observer) = &self.observer {
            observer(CommitStats {
                writes: members.len(),
                duration: started.elapsed(),
            });
        }
        for ((mut pending, evaluated), held) in members.into_iter().zip(outcomes) {
            if held {
                let outcome = committed(evaluated, revision);
                let _ = pending.reply.send(Ok(outcome));
            } else if pending.attempts + 1 >= MAX_ATTEMPTS {
                let _ = pending.reply.send(Err(StoreError::Unavailable(format!(
                    "other writers changed the keys of this write {MAX_ATTEMPTS} times while it was tried"
                ))));
            } else {
                pending.attempts += 1;
                queue.push_back(pending);
            }
        }
    }

    /// The nested etcd transaction of one write: its changes, if every key it read is
    /// still at the revision it read (and, near `--max-keys`, no key was created since).
    fn guarded(&self, pending: &Pending, evaluated: &Evaluated, now: Timestamp) -> EtcdTxn {
        let mut compares: Vec<Compare> = evaluated
            .guards
            .iter()
            .map(|(key, revision)| {
                let revision = i64::try_from(*revision).unwrap_or(i64::MAX);
                Compare::mod_revision(self.layout.data_key(key), CompareOp::Equal, revision)
            })
            .collect();
        if let Some(revision) = pending.created_through {
            let (start, end) = self.layout.data_range();
            let after = i64::try_from(revision).map_or(i64::MAX, |r| r.saturating_add(1));
            compares.push(Compare::create_revision(start, CompareOp::Less, after).with_range(end));
        }
        let mut ops = Vec::with_capacity(evaluated.changes.len());
        for change in &evaluated.changes {
            let key = self.layout.data_key(&change.key);
            match &change.after {
                Some(value) => {
                    let options = change
                        .lease
                        .map(|id| PutOptions::new().with_lease(i64::try_from(id).unwrap_or(0)));
                    ops.push(TxnOp::put(
                        key,
                        layout::envelope(value, &change.who, now),
                        options,
                    ));
                }
                None => {
                    ops.push(TxnOp::delete(key, None));
                    let record = layout::deletion(&change.who, now);
                    ops.push(TxnOp::put(
                        self.layout.deleted_key(&change.key),
                        record,
                        None,
                    ));
                }
            }
        }
        EtcdTxn::new().when(compares).and_then(ops)
    }
}

/// The outcome as committed at `revision`: every change of an etcd transaction has its
/// revision (the evaluation numbered them provisionally).
fn committed(evaluated: Evaluated, revision: u64) -> TxnOutcome {
    let mut outcome = evaluated.outcome;
    if !evaluated.changes.is_empty() {
        for result in outcome.results.iter_mut().filter(|r| r.changed) {
            result.revision = revision;
        }
        outcome.revision = revision;
    }
    outcome
}

/// The lease a refused write named.
fn lease_of(txn: &Txn) -> u64 {
    txn.success
        .iter()
        .chain(&txn.failure)
        .find_map(|op| match op {
            Op::Set { lease, .. } => *lease,
            _ => None,
        })
        .unwrap_or(0)
}
