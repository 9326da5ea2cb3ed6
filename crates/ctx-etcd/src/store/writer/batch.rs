//! One batch to etcd: one outer transaction holding one nested transaction per write, each
//! guarded by the `mod_revision` of every key the write read; answered once this node's
//! memory holds the batch's revision.

use super::super::layout::{self, Layout};
use super::super::{Health, Progress, unavailable};
use super::queue::Batch;
use super::{APPLY_WAIT, MAX_ATTEMPTS, Pending};
use ctx_store::{CommitStats, Evaluated, Op, StoreError, Timestamp, Txn, TxnOutcome};
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn as EtcdTxn, TxnOp, TxnOpResponse};
use std::sync::Arc;
use std::time::Instant;

/// What committing a batch needs; shared by the batches in flight.
pub struct Committer {
    pub client: Client,
    pub layout: Layout,
    pub progress: Progress,
    pub health: Arc<Health>,
    pub observer: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
}

impl Committer {
    /// Commits `batch` and answers each write that is done; the writes to try again.
    pub async fn commit(self: Arc<Self>, batch: Batch) -> Vec<Pending> {
        let Batch { members, now, .. } = batch;
        let started = Instant::now();
        let ops: Vec<TxnOp> = members
            .iter()
            .map(|(pending, evaluated)| TxnOp::txn(self.guarded(pending, evaluated, now)))
            .collect();
        let result = self.client.clone().txn(EtcdTxn::new().and_then(ops)).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => return self.refused(members, &error),
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
        if outcomes.len() != members.len() {
            // Not an answer to this transaction: no write of it can be told its outcome (it
            // may or may not be committed, as with a timeout).
            let reason = format!(
                "etcd answered {} of the {} writes of a transaction",
                outcomes.len(),
                members.len()
            );
            self.health.set_writes(Some(reason.clone()));
            for (pending, _) in members {
                let _ = pending
                    .reply
                    .send(Err(StoreError::Unavailable(reason.clone())));
            }
            return Vec::new();
        }
        let wrote = members
            .iter()
            .zip(&outcomes)
            .any(|((_, evaluated), held)| *held && !evaluated.changes.is_empty());
        // A batch that wrote is answered once memory has it (read-your-writes on this
        // node); one where a guard failed is tried again once memory has what beat it
        // (committed before this batch, so below its revision).
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
        let mut retry = Vec::new();
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
                retry.push(pending);
            }
        }
        retry
    }

    /// etcd refused the batch: a lease one write named is gone (each write goes again
    /// alone, so only that one fails), or etcd is unavailable (every write fails; it may
    /// or may not have been committed, as with any timeout).
    fn refused(
        &self,
        members: Vec<(Pending, Evaluated)>,
        error: &etcd_client::Error,
    ) -> Vec<Pending> {
        let lease_missing = error.to_string().contains("lease not found");
        if lease_missing && members.len() > 1 {
            return members
                .into_iter()
                .map(|(mut pending, _)| {
                    pending.alone = true;
                    pending
                })
                .collect();
        }
        let reason = unavailable(error);
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
        Vec::new()
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
