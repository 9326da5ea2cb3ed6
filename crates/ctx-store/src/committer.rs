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
use crate::health::{Faults, LogFailure, PROBE_EVERY};
use crate::manifest::Ceiling;
use crate::state::{Change, Record};
use crate::store::{Shared, WriteOutcome};
use crate::value::{JsonValue, Timestamp};
use crate::wal::{AppendError, Wal};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

pub(crate) enum WriteOp {
    Set {
        key: String,
        value: JsonValue,
        who: String,
    },
    Delete {
        key: String,
        who: String,
    },
}

impl WriteOp {
    fn key(&self) -> &str {
        match self {
            WriteOp::Set { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }
}

pub(crate) type Reply = oneshot::Sender<Result<WriteOutcome, StoreError>>;

pub(crate) enum Command {
    Write(WriteOp, Reply),
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
    shared: Arc<Shared>,
    config: StoreConfig,
    rx: mpsc::Receiver<Command>,
) -> std::io::Result<()> {
    let faults = shared.faults.clone();
    let applier = Applier::spawn(disk, wal.dir().to_owned(), faults.clone())?;
    std::thread::Builder::new()
        .name("ctx-store-committer".into())
        .spawn(move || {
            Committer {
                wal,
                ceiling,
                applier,
                last_rotation: Instant::now(),
                shared,
                config,
                writers: HashSet::new(),
                faults,
                last_probe: Instant::now(),
            }
            .run(rx)
        })
        .map(|_| ())
}

struct Committer {
    wal: Wal,
    /// Raised before a revision passes it (see `manifest.rs`).
    ceiling: Ceiling,
    applier: Applier,
    last_rotation: Instant,
    shared: Arc<Shared>,
    config: StoreConfig,
    /// Writer names seen lately, so history entries share one allocation per writer
    /// instead of one per change. Cleared when it grows past [`MAX_WRITERS`].
    writers: HashSet<Arc<str>>,
    /// Storage faults here or in the applier, and what they mean for later writes
    /// (`health.rs`). After a failure a group may be in the log but not in memory (or in
    /// memory but never in redb), so every later write is refused until a restart replays
    /// the log into a consistent state.
    faults: Arc<Faults>,
    /// When a paused store last tried a fresh segment.
    last_probe: Instant,
}

/// A bound on the writer-name cache: a client inventing a name per write must not grow it.
const MAX_WRITERS: usize = 4096;

/// What a write in a batch will answer once the batch is durable.
enum Pending {
    Changed(usize),
    Unchanged(WriteOutcome),
}

impl Committer {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(self.config.max_batch);
        let mut shutdown = None;
        while shutdown.is_none() {
            match rx.blocking_recv() {
                Some(Command::Write(op, reply)) => batch.push((op, reply)),
                Some(Command::Shutdown(done)) => shutdown = Some(done),
                None => break,
            }
            while shutdown.is_none() && batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(Command::Write(op, reply)) => batch.push((op, reply)),
                    Ok(Command::Shutdown(done)) => shutdown = Some(done),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit_batch(std::mem::take(&mut batch));
            }
        }
        rx.close();
        while let Ok(command) = rx.try_recv() {
            if let Command::Write(_, reply) = command {
                let _ = reply.send(Err(StoreError::Closed));
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

    fn commit_batch(&mut self, batch: Vec<(WriteOp, Reply)>) {
        if let Some(refusal) = self.refusal() {
            for (_, reply) in batch {
                let _ = reply.send(Err(refusal.answer()));
            }
            return;
        }
        let started = Instant::now();
        let now = Timestamp::now();
        let mut changes: Vec<Arc<Change>> = Vec::new();
        let mut pending = Vec::with_capacity(batch.len());
        let compact_through;
        {
            let state = self.shared.state.read();
            // Values as this batch has left them so far, for writes to the same key.
            let mut overlay: HashMap<&str, Option<Record>> = HashMap::new();
            let mut revision = state.revision;
            for (op, _) in &batch {
                let existing = state.keys.get_key_value(op.key());
                let current = match overlay.get(op.key()) {
                    Some(value) => value.clone(),
                    None => existing.map(|(_, record)| record.clone()),
                };
                let (after, who) = match op {
                    WriteOp::Set { value, who, .. } => (Some(value.clone()), who),
                    WriteOp::Delete { who, .. } => (None, who),
                };
                let unchanged = match (&current, &after) {
                    (Some(cur), Some(new)) => cur.value == *new,
                    (None, None) => true,
                    _ => false,
                };
                if unchanged {
                    pending.push(Pending::Unchanged(WriteOutcome {
                        revision: current.as_ref().map_or(revision, |r| r.revision),
                        timestamp: current.as_ref().map_or(now, |r| r.timestamp),
                        changed: false,
                    }));
                    continue;
                }
                revision += 1;
                let key: Arc<str> = existing
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| Arc::from(op.key()));
                let change = Arc::new(Change {
                    revision,
                    timestamp: now,
                    key,
                    before: current.map(|r| r.value),
                    after: after.clone(),
                    who: intern_writer(&mut self.writers, who),
                });
                overlay.insert(
                    op.key(),
                    after.map(|value| Record {
                        value,
                        revision,
                        timestamp: now,
                    }),
                );
                pending.push(Pending::Changed(changes.len()));
                changes.push(change);
            }
            compact_through = self.config.history_bound().cutoff(&state, &changes);
        }

        let result = self.log(&changes);
        if let Err(failure) = &result {
            self.note(failure);
        } else if !changes.is_empty() {
            let mut state = self.shared.state.write();
            for change in &changes {
                state.apply(change);
                // Published under the write lock so a watcher that snapshots history and
                // subscribes under the read lock sees each change exactly once.
                let _ = self.shared.feed.send(change.clone());
            }
            if let Some(cutoff) = compact_through {
                state.compact_through(cutoff);
            }
        }
        if let Some(observer) = &self.config.commit_observer {
            observer(CommitStats {
                writes: batch.len(),
                duration: started.elapsed(),
            });
        }

        for ((_, reply), outcome) in batch.into_iter().zip(pending) {
            let answer = match (&result, outcome) {
                (Err(failure), _) => Err(failure.answer()),
                (Ok(()), Pending::Unchanged(outcome)) => Ok(outcome),
                (Ok(()), Pending::Changed(i)) => Ok(WriteOutcome {
                    revision: changes[i].revision,
                    timestamp: changes[i].timestamp,
                    changed: true,
                }),
            };
            let _ = reply.send(answer);
        }
        if result.is_ok() && !changes.is_empty() {
            self.hand_to_redb(changes, compact_through);
        }
    }

    /// The revision the next change will have: where a new log segment starts.
    fn next_revision(&self) -> u64 {
        self.shared.state.read().revision + 1
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
    fn log(&mut self, changes: &[Arc<Change>]) -> Result<(), LogFailure> {
        let Some(last) = changes.last() else {
            return Ok(());
        };
        self.ceiling
            .cover(last.revision)
            .map_err(|e| LogFailure::io(crate::manifest::MANIFEST_FILE, &e, false))?;
        let record = disk::encode_group(changes).map_err(|e| LogFailure::Failed(e.to_string()))?;
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
    fn hand_to_redb(&mut self, changes: Vec<Arc<Change>>, compact_through: Option<u64>) {
        let mut delivered = self.applier.send(Message::Group {
            changes,
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

fn intern_writer(writers: &mut HashSet<Arc<str>>, who: &str) -> Arc<str> {
    if let Some(known) = writers.get(who) {
        return known.clone();
    }
    if writers.len() >= MAX_WRITERS {
        writers.clear();
    }
    let who: Arc<str> = Arc::from(who);
    writers.insert(who.clone());
    who
}
