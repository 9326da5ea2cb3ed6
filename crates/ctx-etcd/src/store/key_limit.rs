//! `--max-keys` on etcd: a write that would create keys past the limit is refused (507)
//! with the embedded store's rules: updates and deletes always pass, and so does a write
//! that deletes as many keys as it creates.
//!
//! A node counts on its memory (the keys it holds at the revision it has applied) plus
//! what the writes already admitted into the batch create; the deletes of other writes
//! do not make room until they are committed (they may fail their guard). Keys this node
//! does not hold yet (its own batches in flight, other nodes' creates) may exist, so near
//! the limit a creating write is also guarded in etcd: it commits only if no ctx key was
//! created after the revision the count stood at, so etcd holds at most the counted keys
//! and the limit is exact. "Near" is within [`GUARDED_MARGIN`] keys of the limit,
//! counting this node's own creates in flight: what may still be unseen is other nodes'
//! batches in flight (each at most `MAX_IN_FLIGHT × ETCD_MAX_TXN_OPS` creates, 512, so the
//! margin covers 8 other nodes creating at once) and a lagging watch (milliseconds when
//! live). The guard is a range compare over every ctx key (etcd reads them all: O(keys)
//! per guarded write), which is why it is kept to the last stretch.

use ctx_store::{Change, Memory, StoreError};
use std::sync::Arc;

/// How close to the limit creating writes are guarded in etcd (`writer/queue.rs` checks
/// that it covers the creates in flight of 8 other nodes).
pub const GUARDED_MARGIN: usize = 4096;

/// The keys a batch may still create.
pub struct KeyBudget {
    limit: Option<usize>,
    /// Keys once the writes admitted so far are committed (deletes not counted).
    keys: usize,
    /// The revision memory's count stands at.
    revision: u64,
    /// This node's creates in flight, not in memory yet: they bring the guard nearer.
    unseen: usize,
    /// `keys` before the first write was admitted.
    start: usize,
}

impl KeyBudget {
    /// A budget on memory's count, with `unseen` creates of this node in flight. They count
    /// only towards guarding, not refusing: a batch done but not yet released is in memory
    /// too, and counting it twice could refuse a create the limit has room for.
    pub fn new(limit: Option<usize>, memory: &Memory, unseen: usize) -> KeyBudget {
        let (keys, revision) = memory.key_count_at();
        KeyBudget {
            limit,
            keys,
            revision,
            unseen,
            start: keys,
        }
    }

    /// The keys the writes admitted so far create (net of their own deletes).
    pub fn admitted(&self) -> usize {
        self.keys - self.start
    }

    /// Admits a write's changes into the batch, or refuses it whole. `Some(revision)`:
    /// the write must be committed only if no ctx key was created after `revision`.
    pub fn admit(&mut self, changes: &[Arc<Change>]) -> Result<Option<u64>, StoreError> {
        let Some(limit) = self.limit else {
            return Ok(None);
        };
        let created = changes
            .iter()
            .filter(|c| c.before.is_none() && c.after.is_some())
            .count();
        if created == 0 {
            return Ok(None);
        }
        let deleted = changes
            .iter()
            .filter(|c| c.before.is_some() && c.after.is_none())
            .count();
        let after = (self.keys + created).saturating_sub(deleted);
        if after > limit {
            return Err(StoreError::TooManyKeys { limit });
        }
        self.keys = self.keys.max(after);
        let near = after + self.unseen > limit.saturating_sub(GUARDED_MARGIN);
        Ok(near.then_some(self.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctx_store::{JsonValue, Record, Timestamp};

    fn memory_with(keys: usize, revision: u64) -> Memory {
        let memory = Memory::new(16, 1024);
        let records = (0..keys)
            .map(|i| {
                let record = Record {
                    value: JsonValue::new(&serde_json::json!(i)),
                    revision,
                    timestamp: Timestamp::now(),
                    lease: None,
                };
                (Arc::from(format!("k{i:05}").as_str()), record)
            })
            .collect();
        memory.reset(records, revision);
        memory
    }

    fn change(key: &str, before: Option<i64>, after: Option<i64>) -> Arc<Change> {
        let value = |v: i64| JsonValue::new(&serde_json::json!(v));
        Arc::new(Change {
            revision: 0,
            timestamp: Timestamp::now(),
            key: Arc::from(key),
            before: before.map(value),
            after: after.map(value),
            who: Arc::from("t"),
            lease: None,
        })
    }

    #[test]
    fn creates_count_across_a_batch_and_deletes_only_within_their_write() {
        let memory = memory_with(3, 7);
        let mut budget = KeyBudget::new(Some(5), &memory, 0);
        assert_eq!(
            budget.admit(&[change("a", None, Some(1))]).ok(),
            Some(Some(7))
        );
        // An update and a delete pass, and the delete makes no room for others.
        assert!(budget.admit(&[change("k00000", Some(0), Some(1))]).is_ok());
        assert!(budget.admit(&[change("k00001", Some(1), None)]).is_ok());
        assert!(budget.admit(&[change("b", None, Some(1))]).is_ok());
        assert!(matches!(
            budget.admit(&[change("c", None, Some(1))]),
            Err(StoreError::TooManyKeys { limit: 5 })
        ));
        // A write that deletes as many keys as it creates passes.
        let swap = [change("c", None, Some(1)), change("k00002", Some(2), None)];
        assert!(budget.admit(&swap).is_ok());
    }

    #[test]
    fn only_creates_near_the_limit_are_guarded() {
        let memory = memory_with(10, 42);
        let far = GUARDED_MARGIN + 100;
        let mut budget = KeyBudget::new(Some(far), &memory, 0);
        assert_eq!(budget.admit(&[change("x", None, Some(1))]).ok(), Some(None));
        assert_eq!(budget.admitted(), 1);
        let mut budget = KeyBudget::new(None, &memory, 0);
        assert_eq!(budget.admit(&[change("x", None, Some(1))]).ok(), Some(None));
    }

    #[test]
    fn this_nodes_creates_in_flight_bring_the_guard_nearer_but_never_refuse() {
        let memory = memory_with(10, 42);
        let far = GUARDED_MARGIN + 100;
        // 100 creates of batches in flight: the next create is within the margin.
        let mut budget = KeyBudget::new(Some(far), &memory, 100);
        assert_eq!(
            budget.admit(&[change("x", None, Some(1))]).ok(),
            Some(Some(42))
        );
        // Counted twice (done, not yet released) they must not refuse: 11 keys of 12.
        let mut budget = KeyBudget::new(Some(12), &memory, 5);
        assert!(budget.admit(&[change("y", None, Some(1))]).is_ok());
    }
}
