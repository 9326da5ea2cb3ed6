//! The single writer. It drains every write waiting in its queue, appends them to the
//! write-ahead log as one record with one `fdatasync`, then applies them to memory and the
//! change feed, answers, and hands the group to the applier thread for redb.
//!
//! Because it is the only code that changes state, it can compute `before` values and
//! assign revisions without any lock held across the disk write: readers keep reading the
//! old state until the new one is durable, and never see a write that could still be lost.

use crate::applier::{Applier, Message};
use crate::config::{CommitStats, StoreConfig};
use crate::disk::{self, Disk};
use crate::error::StoreError;
use crate::group::Group;
use crate::health::{Faults, LogFailure, PROBE_EVERY};
use crate::leases::LeaseEvent;
use crate::manifest::Ceiling;
use crate::memory::Memory;
use crate::state::Change;
use crate::txn::{LeaseId, LeaseInfo, RevokeOutcome, Txn, TxnOutcome};
use crate::value::Timestamp;
use crate::wal::{AppendError, Wal};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum LeaseCommand {
    Grant(Duration),
    KeepAlive(LeaseId),
    Revoke(LeaseId),
    /// Ends every lease past its expiry (sent by the reaper).
    ExpireDue,
}

pub(crate) enum LeaseAnswer {
    Lease(LeaseInfo),
    Revoked(RevokeOutcome),
    Expired,
}

pub(crate) enum Command {
    Txn(Txn, Reply<TxnOutcome>),
    /// Committed as a group of its own: lease groups are rare, and alone they never see a
    /// key attached by a transaction that is not applied yet.
    Lease(LeaseCommand, Reply<LeaseAnswer>),
    /// Finish what is queued before this, close the database, then signal.
    Shutdown(oneshot::Sender<()>),
}

/// A log segment this long is closed at once, whatever the time: it bounds replay work and
/// the redb pages held dirty in memory.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) fn spawn(
    disk: Disk,
    wal: Wal,
    ceiling: Ceiling,
    memory: Arc<Memory>,
    faults: Arc<Faults>,
    config: StoreConfig,
    rx: mpsc::Receiver<Command>,
) -> std::io::Result<()> {
    let applier = Applier::spawn(disk, wal.dir().to_owned(), faults.clone())?;
    let mut committer = Committer {
        wal,
        ceiling,
        applier,
        last_rotation: Instant::now(),
        memory,
        config,
        writers: HashSet::new(),
        faults,
        last_probe: Instant::now(),
    };
    // Before the store is handed out, so no read sees a key whose lease ran out while the
    // server was down.
    let (reply, _) = oneshot::channel();
    committer.commit_lease(LeaseCommand::ExpireDue, reply);
    std::thread::Builder::new()
        .name("ctx-store-committer".into())
        .spawn(move || committer.run(rx))
        .map(|_| ())
}

struct Committer {
    wal: Wal,
    /// Raised before a revision passes it (see `manifest.rs`).
    ceiling: Ceiling,
    applier: Applier,
    last_rotation: Instant,
    memory: Arc<Memory>,
    config: StoreConfig,
    /// Writer names seen lately, so history entries share one allocation per writer
    /// instead of one per change. Bounded in `Group::intern`.
    writers: HashSet<Arc<str>>,
    /// Storage faults here or in the applier, and what they mean for later writes
    /// (`health.rs`). After a failure a group may be in the log but not in memory (or in
    /// memory but never in redb), so every later write is refused until a restart replays
    /// the log into a consistent state.
    faults: Arc<Faults>,
    /// When a paused store last tried a fresh segment.
    last_probe: Instant,
}

impl Committer {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(self.config.max_batch);
        let mut held = None;
        let mut shutdown = None;
        while shutdown.is_none() {
            let command = match held.take() {
                Some(command) => command,
                None => match rx.blocking_recv() {
                    Some(command) => command,
                    None => break,
                },
            };
            match command {
                Command::Txn(txn, reply) => {
                    batch.push((txn, reply));
                    // Every transaction waiting now joins the group; anything else waits
                    // for the next turn.
                    while batch.len() < self.config.max_batch {
                        match rx.try_recv() {
                            Ok(Command::Txn(txn, reply)) => batch.push((txn, reply)),
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit_txns(std::mem::take(&mut batch));
                }
                Command::Lease(command, reply) => self.commit_lease(command, reply),
                Command::Shutdown(done) => shutdown = Some(done),
            }
        }
        rx.close();
        while let Ok(command) = rx.try_recv() {
            match command {
                Command::Txn(_, reply) => drop(reply.send(Err(StoreError::Closed))),
                Command::Lease(_, reply) => drop(reply.send(Err(StoreError::Closed))),
                Command::Shutdown(done) => drop(done.send(())),
            }
        }
        // A clean stop leaves redb durable and the log one empty segment: the segment being
        // written is closed too, since nothing more will be appended to it, and the next
        // one is where the last checkpoint says the log continues.
        if self.faults.failure.get().is_none() {
            match self.wal.rotate(self.next_revision()) {
                Ok(closed) => {
                    self.applier.send(Message::SegmentClosed(closed));
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot close the log at shutdown; it will be replayed at the next start");
                }
            }
        }
        self.applier.finish();
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    fn commit_txns(&mut self, batch: Vec<(Txn, Reply<TxnOutcome>)>) {
        if let Some(refusal) = self.refusal() {
            for (_, reply) in batch {
                let _ = reply.send(Err(refusal.answer()));
            }
            return;
        }
        let started = Instant::now();
        let (outcomes, changes, compact_through) = {
            let state = self.memory.state.read();
            let mut group = Group::new(&state, Timestamp::now(), &mut self.writers)
                .with_key_limit(self.config.max_keys);
            let outcomes: Vec<_> = batch.iter().map(|(txn, _)| group.txn(txn)).collect();
            let changes = group.changes;
            let compact_through = self.config.history_bound().cutoff(&state, &changes);
            (outcomes, changes, compact_through)
        };
        let result = self.make_durable(&changes, &[], compact_through);
        if let Some(observer) = &self.config.commit_observer {
            observer(CommitStats {
                writes: batch.len(),
                duration: started.elapsed(),
            });
        }
        for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
            let answer = match &result {
                Err(failure) => Err(failure.answer()),
                Ok(()) => outcome,
            };
            let _ = reply.send(answer);
        }
        if result.is_ok() && !changes.is_empty() {
            self.hand_to_redb(changes, Vec::new(), compact_through);
        }
    }

    /// A lease command as a group of its own: the lease's event, and for an end the
    /// deletion of its keys.
    fn commit_lease(&mut self, command: LeaseCommand, reply: Reply<LeaseAnswer>) {
        if let Some(refusal) = self.refusal() {
            let _ = reply.send(Err(refusal.answer()));
            return;
        }
        let (answer, changes, events, compact_through) = {
            let state = self.memory.state.read();
            let mut group = Group::new(&state, Timestamp::now(), &mut self.writers);
            let now = group.now;
            let put = |id: LeaseId, ttl: Duration| {
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                let expires_micros = now
                    .as_micros()
                    .saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX));
                let info = LeaseInfo {
                    id,
                    ttl,
                    expires_at: Timestamp::from_micros(expires_micros),
                    keys: Vec::new(),
                };
                let event = LeaseEvent::Put {
                    id,
                    ttl_ms,
                    expires_micros,
                };
                (info, event)
            };
            let answer = match command {
                LeaseCommand::Grant(ttl) => {
                    let (info, event) = put(state.leases.last_id + 1, ttl);
                    group.lease_events.push(event);
                    Ok(LeaseAnswer::Lease(info))
                }
                LeaseCommand::KeepAlive(id) => match state.leases.alive(id, now) {
                    Some(lease) => {
                        let (info, event) = put(id, Duration::from_millis(lease.ttl_ms));
                        group.lease_events.push(event);
                        Ok(LeaseAnswer::Lease(info))
                    }
                    None => Err(StoreError::LeaseNotFound(id)),
                },
                LeaseCommand::Revoke(id) => match state.leases.by_id.contains_key(&id) {
                    true => {
                        let deleted = group.end_lease(id);
                        Ok(LeaseAnswer::Revoked(RevokeOutcome {
                            deleted,
                            revision: group.revision,
                        }))
                    }
                    false => Err(StoreError::LeaseNotFound(id)),
                },
                LeaseCommand::ExpireDue => {
                    for id in state.leases.due(now) {
                        group.end_lease(id);
                    }
                    Ok(LeaseAnswer::Expired)
                }
            };
            let changes = group.changes;
            let events = group.lease_events;
            let compact_through = self.config.history_bound().cutoff(&state, &changes);
            (answer, changes, events, compact_through)
        };
        let result = self.make_durable(&changes, &events, compact_through);
        let _ = reply.send(match &result {
            Err(failure) => Err(failure.answer()),
            Ok(()) => answer,
        });
        if result.is_ok() && !(changes.is_empty() && events.is_empty()) {
            self.hand_to_redb(changes, events, compact_through);
        }
    }

    /// Logs a group (one record, one `fdatasync`), then applies it to memory and the
    /// change feed under one write lock: no reader sees part of it. A failure's meaning for
    /// later writes is noted (`note`).
    fn make_durable(
        &mut self,
        changes: &[Arc<Change>],
        events: &[LeaseEvent],
        compact_through: Option<u64>,
    ) -> Result<(), LogFailure> {
        if changes.is_empty() && events.is_empty() {
            return Ok(());
        }
        if let Err(failure) = self.log(changes, events) {
            self.note(&failure);
            return Err(failure);
        }
        let mut state = self.memory.state.write();
        state.apply_group(changes, events, |change| {
            // Published under the write lock so a watcher that snapshots history and
            // subscribes under the read lock sees each change exactly once.
            let _ = self.memory.feed.send(change.clone());
        });
        if let Some(cutoff) = compact_through {
            state.compact_through(cutoff);
        }
        Ok(())
    }

    /// The revision the next change will have: where a new log segment starts.
    fn next_revision(&self) -> u64 {
        self.memory.state.read().revision + 1
    }

    /// Why the next batch cannot be written, if it cannot: a failure (until a restart),
    /// or a full disk that a probe — a fresh log segment, at most every [`PROBE_EVERY`] —
    /// has not found space on yet.
    fn refusal(&mut self) -> Option<LogFailure> {
        if let Some(reason) = self.faults.failure.get() {
            return Some(LogFailure::Refused(reason.clone()));
        }
        let reason = self.faults.no_space.lock().clone()?;
        if self.last_probe.elapsed() < PROBE_EVERY {
            return Some(LogFailure::NoSpace(reason));
        }
        self.last_probe = Instant::now();
        // A new segment, since the failed append may have left a torn record in the
        // current one; nothing acknowledged is in the probe, so its failing is harmless.
        match self.wal.rotate(self.next_revision()) {
            Ok(_) => {
                tracing::info!("the disk has space again; taking writes");
                *self.faults.no_space.lock() = None;
                None
            }
            Err(e) => Some(LogFailure::NoSpace(format!("write-ahead log: {e}"))),
        }
    }

    /// Makes a group durable: one log record, one `fdatasync`.
    fn log(&mut self, changes: &[Arc<Change>], events: &[LeaseEvent]) -> Result<(), LogFailure> {
        if let Some(last) = changes.last() {
            self.ceiling
                .cover(last.revision)
                .map_err(|e| LogFailure::io(crate::manifest::MANIFEST_FILE, &e, false))?;
        }
        let record =
            disk::encode_group(changes, events).map_err(|e| LogFailure::Failed(e.to_string()))?;
        self.wal.append(&record).map_err(|e| match e {
            AppendError::Write(e) => LogFailure::io("write-ahead log", &e, false),
            AppendError::Sync(e) => LogFailure::io("write-ahead log fdatasync", &e, true),
        })
    }

    /// Records what a failed group means for later writes.
    fn note(&mut self, failure: &LogFailure) {
        match failure {
            LogFailure::NoSpace(reason) => {
                tracing::warn!(%reason, "disk full: writes pause until a fresh log segment fits");
                self.last_probe = Instant::now();
                *self.faults.no_space.lock() = Some(reason.clone());
            }
            LogFailure::Failed(reason) | LogFailure::Refused(reason) => {
                self.faults.fail(reason.clone())
            }
        }
    }

    /// Queues a logged group for redb, and closes the log segment when a checkpoint is due
    /// so the applier can make redb durable and retire it.
    fn hand_to_redb(
        &mut self,
        changes: Vec<Arc<Change>>,
        leases: Vec<LeaseEvent>,
        compact_through: Option<u64>,
    ) {
        let mut delivered = self.applier.send(Message::Group {
            changes,
            leases,
            compact_through,
        });
        if self.last_rotation.elapsed() >= self.config.checkpoint_every
            || self.wal.len() >= SEGMENT_BYTES
        {
            self.last_rotation = Instant::now();
            match self.wal.rotate(self.next_revision()) {
                Ok(closed) => delivered &= self.applier.send(Message::SegmentClosed(closed)),
                // The current segment is whole: a full disk only pauses writes.
                Err(e) => self.note(&LogFailure::io("write-ahead log: new segment", &e, false)),
            }
        }
        if !delivered {
            self.faults.fail("the redb applier stopped".into());
        }
    }
}
