//! Writes waiting on this node, in the order they were accepted, and the keys of the
//! batches in flight. A batch takes waiting writes in order, skipping any that shares a key
//! with a batch in flight, with the batch itself or with a write left waiting before it:
//! so batches in flight have disjoint keys, every write is evaluated against memory that
//! already holds this node's earlier writes of its keys, and two writes of one key from
//! this node commit in the order they were accepted.

use super::super::key_limit::{GUARDED_MARGIN, KeyBudget};
use super::{ETCD_MAX_TXN_OPS, MAX_BATCH_BYTES, MAX_IN_FLIGHT, Pending};
use ctx_store::{Evaluated, Memory, StoreError, Timestamp, Txn};
use std::collections::{HashSet, VecDeque};

// `--max-keys` is exact while the creates this node cannot see (other nodes' batches in
// flight) stay within the guarded margin: 8 other nodes creating at once.
const _: () = assert!(8 * MAX_IN_FLIGHT * ETCD_MAX_TXN_OPS <= GUARDED_MARGIN);

/// The writes of one batch, evaluated, with the keys they hold busy until it is done.
pub struct Batch {
    pub members: Vec<(Pending, Evaluated)>,
    pub keys: Vec<String>,
    /// Keys its writes create (`key_limit.rs`), in flight until it is released.
    pub creates: usize,
    pub now: Timestamp,
}

#[derive(Default)]
pub struct Queue {
    /// Sorted by `Pending::seq`.
    waiting: VecDeque<Pending>,
    /// Keys of the batches in flight (disjoint, so a set).
    busy: HashSet<String>,
    /// Keys the batches in flight create.
    creating: usize,
    next_seq: u64,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A newly accepted write: after every write accepted before it.
    pub fn push(&mut self, mut pending: Pending) {
        pending.seq = self.next_seq;
        self.next_seq += 1;
        self.waiting.push_back(pending);
    }

    /// Writes back from a batch (a guard failed, or they go again alone): each at the
    /// place its acceptance gave it, ahead of later writes of its keys.
    pub fn requeue(&mut self, writes: Vec<Pending>) {
        for pending in writes {
            let at = self.waiting.partition_point(|w| w.seq < pending.seq);
            self.waiting.insert(at, pending);
        }
    }

    /// A batch is done: its keys are free (memory holds its outcome, or it failed).
    pub fn release(&mut self, keys: &[String], creates: usize) {
        for key in keys {
            self.busy.remove(key);
        }
        self.creating -= creates;
    }

    /// The next batch of waiting writes that can go now (its keys become busy), or None.
    /// A write whose evaluation fails (e.g. an increment of a text) or that would create
    /// keys past `max_keys` is answered here. The key budget counts memory and this batch,
    /// and guards sooner by the creates of this node's other batches in flight.
    pub fn take_batch(&mut self, memory: &Memory, max_keys: Option<usize>) -> Option<Batch> {
        let now = Timestamp::now();
        let mut batch = Batch {
            members: Vec::new(),
            keys: Vec::new(),
            creates: 0,
            now,
        };
        // Keys of writes left waiting in this pass: later writes of them wait too.
        let mut blocked: HashSet<String> = HashSet::new();
        let mut bytes = 0;
        // The most operations (or conditions) of one write's nested transaction.
        let mut widest = 0;
        let mut full = false;
        let mut later = VecDeque::with_capacity(self.waiting.len());
        let mut budget = KeyBudget::new(max_keys, memory, self.creating);
        while let Some(mut pending) = self.waiting.pop_front() {
            let taken = |key: &String| self.busy.contains(key) || blocked.contains(key);
            // A write that goes alone (its batch was refused whole) waits for an empty
            // batch, and nothing joins it.
            let alone_later = pending.alone && !batch.members.is_empty();
            if full {
                // Nothing more joins this batch: the rest waits as it is, unscanned.
                later.push_back(pending);
                later.extend(self.waiting.drain(..));
                break;
            }
            if alone_later || pending.keys.iter().any(taken) {
                blocked.extend(pending.keys.iter().cloned());
                later.push_back(pending);
                continue;
            }
            let evaluated = match memory.evaluate(&pending.txn, now) {
                Ok(evaluated) => evaluated,
                Err(error) => {
                    let _ = pending.reply.send(Err(error));
                    continue;
                }
            };
            // Counting the `--max-keys` guard whenever there is a limit: known only once admitted.
            let width = nested_width(&evaluated, max_keys.is_some());
            if width >= ETCD_MAX_TXN_OPS {
                let _ = pending.reply.send(Err(too_wide(width)));
                continue;
            }
            // etcd counts a nested transaction's operations against what its parent left
            // of `--max-txn-ops`: the writes in the batch plus the widest of them must fit.
            if !batch.members.is_empty()
                && batch.members.len() + 1 + widest.max(width) > ETCD_MAX_TXN_OPS
            {
                full = true;
                blocked.extend(pending.keys.iter().cloned());
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
            widest = widest.max(width);
            bytes += evaluated
                .changes
                .iter()
                .map(|c| c.key.len() + c.after.as_ref().map_or(0, |v| v.as_str().len()))
                .sum::<usize>();
            full = pending.alone || bytes >= MAX_BATCH_BYTES;
            self.busy.extend(pending.keys.iter().cloned());
            batch.keys.extend(pending.keys.iter().cloned());
            batch.members.push((pending, evaluated));
        }
        self.waiting = later;
        batch.creates = budget.admitted();
        self.creating += batch.creates;
        (!batch.members.is_empty()).then_some(batch)
    }
}

/// The operations (or conditions, if more) of a write's nested etcd transaction
/// (`batch.rs`): a put per set, a delete and its record per delete; a compare per guard.
fn nested_width(evaluated: &Evaluated, key_guard: bool) -> usize {
    let ops: usize = evaluated
        .changes
        .iter()
        .map(|c| if c.after.is_some() { 1 } else { 2 })
        .sum();
    ops.max(evaluated.guards.len() + usize::from(key_guard))
}

/// A write that cannot fit one etcd transaction even alone (one level for the batch),
/// refused before etcd would refuse it (and mark the node's writes unavailable).
fn too_wide(width: usize) -> StoreError {
    StoreError::InvalidTxn(format!(
        "in cluster mode a write is at most {} etcd operations and as many keys read \
         (a delete is 2 operations); this one needs {width}",
        ETCD_MAX_TXN_OPS - 1
    ))
}

/// Every key a transaction names, in its conditions and both branches: a superset of the
/// keys its evaluation depends on, whatever memory holds.
pub fn keys_of(txn: &Txn) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let named = txn
        .compare
        .iter()
        .map(|c| c.key())
        .chain(txn.success.iter().chain(&txn.failure).map(|op| op.key()));
    for key in named {
        if !keys.iter().any(|known| known == key) {
            keys.push(key.to_owned());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctx_store::{JsonValue, Op};
    use tokio::sync::oneshot;

    fn write(keys: &[&str]) -> Pending {
        let value = JsonValue::new(&serde_json::json!("v"));
        let ops = keys.iter().map(|k| Op::set(k, value.clone())).collect();
        let (reply, _) = oneshot::channel();
        Pending::new(Txn::ops(ops, "test"), reply)
    }

    fn keys_of_batch(batch: &Batch) -> Vec<Vec<String>> {
        batch.members.iter().map(|(p, _)| p.keys.clone()).collect()
    }

    #[test]
    fn a_key_in_flight_holds_back_later_writes_of_it_and_only_those() {
        let memory = Memory::new(16, 1024);
        let mut queue = Queue::default();
        queue.push(write(&["a"]));
        queue.push(write(&["a", "b"]));
        queue.push(write(&["c"]));
        queue.push(write(&["b"]));
        let first = queue.take_batch(&memory, None).expect("a batch");
        // The second write shares `a` with the first; the fourth shares `b` with the
        // second, left waiting before it.
        assert_eq!(keys_of_batch(&first), vec![vec!["a"], vec!["c"]]);
        assert!(queue.take_batch(&memory, None).is_none(), "a is in flight");
        queue.release(&first.keys, first.creates);
        let second = queue.take_batch(&memory, None).expect("a batch");
        assert_eq!(keys_of_batch(&second), vec![vec!["a", "b"]]);
        queue.release(&second.keys, second.creates);
        let third = queue.take_batch(&memory, None).expect("a batch");
        assert_eq!(keys_of_batch(&third), vec![vec!["b"]]);
    }

    #[test]
    fn a_write_tried_again_goes_before_later_writes_of_its_keys() {
        let memory = Memory::new(16, 1024);
        let mut queue = Queue::default();
        queue.push(write(&["k"]));
        let mut batch = queue.take_batch(&memory, None).expect("a batch");
        queue.push(write(&["k"]));
        // Its guard failed: back in the queue, then freed.
        let (retried, _) = batch.members.remove(0);
        let retried_seq = retried.seq;
        queue.requeue(vec![retried]);
        queue.release(&batch.keys, batch.creates);
        let next = queue.take_batch(&memory, None).expect("a batch");
        assert_eq!(next.members.len(), 1);
        assert_eq!(next.members[0].0.seq, retried_seq);
    }

    #[test]
    fn a_batch_and_its_widest_write_fit_etcds_operation_limit() {
        let memory = Memory::new(16, 1024);
        let mut queue = Queue::default();
        for index in 0..200 {
            queue.push(write(&[&format!("k{index}")]));
        }
        let batch = queue.take_batch(&memory, None).expect("a batch");
        assert_eq!(batch.members.len(), ETCD_MAX_TXN_OPS - 1);
        // A write of 10 keys: 10 puts and 10 guards in its nested transaction.
        let mut queue = Queue::default();
        let wide: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
        queue.push(write(&wide.iter().map(String::as_str).collect::<Vec<_>>()));
        for index in 0..200 {
            queue.push(write(&[&format!("k{index}")]));
        }
        let batch = queue.take_batch(&memory, None).expect("a batch");
        assert_eq!(batch.members.len(), ETCD_MAX_TXN_OPS - 10);
    }

    #[test]
    fn a_write_too_wide_for_etcd_alone_is_refused_as_invalid() {
        let memory = Memory::new(16, 1024);
        let mut queue = Queue::default();
        let keys: Vec<String> = (0..ETCD_MAX_TXN_OPS).map(|i| format!("k{i}")).collect();
        let value = JsonValue::new(&serde_json::json!("v"));
        let ops = keys.iter().map(|k| Op::set(k, value.clone())).collect();
        let (reply, mut answer) = oneshot::channel();
        queue.push(Pending::new(Txn::ops(ops, "test"), reply));
        queue.push(write(&["next"]));
        let batch = queue.take_batch(&memory, None).expect("the next write");
        assert_eq!(keys_of_batch(&batch), vec![vec!["next"]]);
        match answer.try_recv() {
            Ok(Err(StoreError::InvalidTxn(message))) => {
                assert!(message.contains("needs 128"), "{message}")
            }
            other => panic!("expected InvalidTxn, got {other:?}"),
        }
    }
}
