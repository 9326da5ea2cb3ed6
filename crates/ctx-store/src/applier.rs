//! The second writer thread: it owns redb and copies into it the groups the committer has
//! already made durable in the log, so neither redb's B-tree work nor its checkpoints
//! stand between a write and its answer.
//!
//! It gathers the groups of one log segment (one checkpoint interval) and, when the
//! committer reports the segment closed, writes them to redb in one transaction, makes
//! redb durable and retires the segments redb now covers. One transaction per interval
//! rather than one per group or per few milliseconds: every transaction copies each B-tree
//! leaf it touches, and with random keys a leaf is touched by many groups in a second
//! (POST +16–18 % side by side against 20 ms batches). redb lags memory by up to an interval,
//! which costs nothing: reads come from memory, and the log covers redb after a crash.
//! Its queue is bounded, so a committer that outruns it waits instead of holding an
//! unbounded backlog in memory.

use crate::disk::Disk;
use crate::health::Faults;
use crate::leases::LeaseEvent;
use crate::state::Change;
use crate::wal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

/// Groups the committer may be ahead of the applier by. Large enough to take the writes
/// that arrive while a checkpoint's transaction runs: with 1 024, the committer waited
/// and POST p99 rose from ~6 ms to 60–80 ms.
const QUEUE: usize = 4096;

/// Changes held for one transaction at most, whatever the checkpoint interval.
const MAX_CHANGES: usize = 256 * 1024;

pub(crate) enum Message {
    /// One group, already in the log.
    Group {
        changes: Vec<Arc<Change>>,
        leases: Vec<LeaseEvent>,
        compact_through: Option<u64>,
    },
    /// Every group in log segments up to this one has been sent: once redb is durable,
    /// they can go.
    SegmentClosed(u64),
}

pub(crate) struct Applier {
    queue: SyncSender<Message>,
    thread: JoinHandle<()>,
}

impl Applier {
    pub fn spawn(disk: Disk, wal_dir: PathBuf, faults: Arc<Faults>) -> std::io::Result<Applier> {
        let (queue, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("ctx-store-applier".into())
            .spawn(move || run(&disk, &wal_dir, &faults, &rx))?;
        Ok(Applier { queue, thread })
    }

    /// Queues a message, waiting while the queue is full. False when the applier is gone.
    pub fn send(&self, message: Message) -> bool {
        self.queue.send(message).is_ok()
    }

    /// Waits until everything sent has been applied and redb is closed.
    pub fn finish(self) {
        drop(self.queue);
        if self.thread.join().is_err() {
            tracing::error!(
                "the applier thread panicked; the log will be replayed at the next start"
            );
        }
    }
}

fn run(disk: &Disk, wal_dir: &Path, faults: &Faults, rx: &Receiver<Message>) {
    let mut changes: Vec<Arc<Change>> = Vec::new();
    let mut leases: Vec<LeaseEvent> = Vec::new();
    let mut compact_through = None;
    // The committer closes its last segment before it hangs up, so nothing is left here
    // when the queue closes (unless a failure stopped it, and then the log has it all).
    while let Ok(message) = rx.recv() {
        let closed = match message {
            Message::Group {
                changes: group,
                leases: events,
                compact_through: cut,
            } => {
                changes.extend(group);
                leases.extend(events);
                compact_through = compact_through.max(cut);
                None
            }
            Message::SegmentClosed(sequence) => Some(sequence),
        };
        if closed.is_none() && changes.len() < MAX_CHANGES {
            continue;
        }
        let result = match faults.failure.get() {
            Some(_) => Ok(()),
            None => disk
                .write(&changes, &leases, compact_through)
                .and_then(|()| match closed {
                    Some(sequence) => disk.checkpoint(sequence + 1).and_then(|()| {
                        wal::retire_through(wal_dir, sequence).map_err(crate::disk::log_error)
                    }),
                    None => Ok(()),
                }),
        };
        changes.clear();
        leases.clear();
        compact_through = None;
        if let Err(e) = result {
            faults.fail(e.to_string());
        }
    }
}
