//! The one prefix-wide etcd watch that keeps a node's memory: every change under the
//! prefix from etcd's oldest retained revision, so history has `before` and `after` as in
//! the embedded store. Reads and `/ws` fan-out are then local.
//!
//! `before` (and the lease of a key a lease's end deleted) come from memory, which holds
//! every key as of the previous event (events come in revision order, from a snapshot or
//! from the start), not from etcd's `prev_kv`: with `prev_kv` each member reads the
//! previous version of every changed key for every node's watch, which halved etcd's put
//! rate with two watchers (4 050 → 2 150 puts/s, etcd's CPU per put 26 → 53 ticks per
//! 1 000, `ctx-bench etcd-rate` with two `etcdctl watch --prev-kv`).
//!
//! `applied` is the etcd revision up to which memory holds every change: the last event's
//! revision (events come in revision order). Writes and `?consistent=true` reads wait on
//! it. Not etcd's progress notifications: etcd 3.4.23 (Debian's) can send one with a
//! revision whose events are still to come (etcd issue 15220; seen here as a consistent
//! read missing a write), so a node syncs by writing a marker and waiting for it.

use super::Health;
use super::layout::{self, EtcdKey, Layout};
use ctx_store::{Change, HistoryBound, JsonValue, LeaseId, Memory, Record, Timestamp};
use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions, WatchResponse};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Wait before watching again after the stream failed.
const RETRY: Duration = Duration::from_millis(200);

pub struct Feed {
    pub client: Client,
    pub memory: Arc<Memory>,
    pub layout: Layout,
    pub bound: HistoryBound,
    pub applied: watch::Sender<u64>,
    pub health: Arc<Health>,
    /// Closed when the store is dropped.
    pub stop: watch::Receiver<bool>,
    /// Changes when a member leaves the client's rotation (rotation.rs): the watch may be on
    /// it, and a member cut off by a partition keeps the stream open but sends nothing
    /// until etcd cancels it, 1–2 election timeouts after it lost its leader; writes wait
    /// on the watch, so a node whose watch was there paused 3.4–4.1 s instead of 2.0 s.
    pub rotation: watch::Receiver<u64>,
}

impl Feed {
    pub async fn run(mut self) {
        // The next revision memory needs; 1 = everything etcd still has.
        let mut next = 1;
        loop {
            match self.watch_from(next).await {
                Ok(resume) => next = resume,
                Err(reason) => {
                    self.health
                        .set_feed(Some(format!("the etcd watch failed: {reason}")));
                    tracing::warn!(%reason, "etcd watch failed; watching again");
                    tokio::time::sleep(RETRY).await;
                }
            }
            if self.stop.has_changed().is_err() {
                return;
            }
            // `next` may have moved on (events applied before the failure).
            next = next.max(*self.applied.borrow() + 1);
        }
    }

    /// Watches from `start` until the stream ends; the revision to watch from next.
    async fn watch_from(&mut self, start: u64) -> Result<u64, String> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(i64::try_from(start).unwrap_or(i64::MAX));
        let mut stream = self
            .client
            .watch(self.layout.prefix(), Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let mut next = start;
        loop {
            tokio::select! {
                message = stream.message() => {
                    let Some(response) = message.map_err(|e| e.to_string())? else {
                        return Err("the watch stream ended".into());
                    };
                    self.health.set_feed(None);
                    if response.canceled() {
                        let compacted = u64::try_from(response.compact_revision()).unwrap_or(0);
                        if compacted == 0 {
                            return Err(format!("watch canceled: {}", response.cancel_reason()));
                        }
                        // etcd compacted what we asked for: start over from a snapshot
                        // there (history before it is gone, as etcd's is).
                        return self.reload(compacted).await;
                    }
                    if let Some(revision) = self.take(&response) {
                        next = revision + 1;
                    }
                }
                _ = self.stop.changed() => return Ok(next),
                // Watch again, from a member still in rotation; nothing is missed (from `next`).
                // (Only a change: were the rotation task gone, `changed` would be ready at once.)
                Ok(()) = self.rotation.changed() => return Ok(next),
            }
        }
    }

    /// Applies a watch response; the revision memory now holds everything up to.
    fn take(&self, response: &WatchResponse) -> Option<u64> {
        if response.events().is_empty() {
            return None;
        }
        let mut deletions: HashMap<(&str, i64), layout::Stored> = HashMap::new();
        for event in response.events() {
            if let (EventType::Put, Some(kv)) = (event.event_type(), event.kv())
                && let EtcdKey::Deleted(key) = self.layout.classify(kv.key())
            {
                deletions.insert((key, kv.mod_revision()), layout::read(kv.value()));
            }
        }
        // Keys changed earlier in this response: their value and lease after that change.
        let mut latest: HashMap<&str, (Option<JsonValue>, Option<LeaseId>)> = HashMap::new();
        let mut changes = Vec::with_capacity(response.events().len());
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let EtcdKey::Data(key) = self.layout.classify(kv.key()) else {
                continue;
            };
            let revision = u64::try_from(kv.mod_revision()).unwrap_or(0);
            let (before, lease_before) = latest.remove(key).unwrap_or_else(|| {
                self.memory
                    .get(key)
                    .map_or((None, None), |record| (Some(record.value), record.lease))
            });
            let change = match event.event_type() {
                EventType::Put => {
                    let stored = layout::read(kv.value());
                    Change {
                        revision,
                        timestamp: stored.at,
                        key: Arc::from(key),
                        before,
                        after: stored.value,
                        who: Arc::from(stored.who),
                        lease: lease_of(kv),
                    }
                }
                EventType::Delete => {
                    let (who, at) = match deletions.remove(&(key, kv.mod_revision())) {
                        Some(record) => (record.who, record.at),
                        None => {
                            let who = lease_before
                                .map_or_else(|| "etcd".to_owned(), |id| format!("lease:{id}"));
                            (who, Timestamp::now())
                        }
                    };
                    Change {
                        revision,
                        timestamp: at,
                        key: Arc::from(key),
                        before,
                        after: None,
                        who: Arc::from(who),
                        lease: None,
                    }
                }
            };
            latest.insert(key, (change.after.clone(), change.lease));
            changes.push(Arc::new(change));
        }
        // Deletion records count too: they share their deletion's revision.
        let last = response
            .events()
            .iter()
            .filter_map(|e| e.kv())
            .map(|kv| u64::try_from(kv.mod_revision()).unwrap_or(0))
            .max()
            .unwrap_or(0);
        self.memory.apply(&changes, self.bound);
        self.memory.advance(last);
        self.applied
            .send_if_modified(|applied| raise(applied, last));
        Some(last)
    }

    /// Memory becomes the prefix as it was at `revision` (history restarts there).
    async fn reload(&mut self, revision: u64) -> Result<u64, String> {
        let at = i64::try_from(revision).unwrap_or(i64::MAX);
        let options = GetOptions::new().with_prefix().with_revision(at);
        let response = self
            .client
            .get(self.layout.prefix(), Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let mut records: Vec<(Arc<str>, Record)> = Vec::with_capacity(response.kvs().len());
        for kv in response.kvs() {
            if let EtcdKey::Data(key) = self.layout.classify(kv.key()) {
                let stored = layout::read(kv.value());
                if let Some(value) = stored.value {
                    let record = Record {
                        value,
                        revision: u64::try_from(kv.mod_revision()).unwrap_or(0),
                        timestamp: stored.at,
                        lease: lease_of(kv),
                    };
                    records.push((Arc::from(key), record));
                }
            }
        }
        records.sort_by(|a, b| a.0.cmp(&b.0));
        tracing::info!(
            keys = records.len(),
            revision,
            "loaded the etcd prefix (history before it was compacted by etcd)"
        );
        self.memory.reset(records, revision);
        self.applied
            .send_if_modified(|applied| raise(applied, revision));
        Ok(revision + 1)
    }
}

fn raise(applied: &mut u64, revision: u64) -> bool {
    let raised = revision > *applied;
    *applied = (*applied).max(revision);
    raised
}

fn lease_of(kv: &KeyValue) -> Option<u64> {
    u64::try_from(kv.lease()).ok().filter(|id| *id != 0)
}
