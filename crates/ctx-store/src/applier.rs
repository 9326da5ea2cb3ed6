//! The second writer thread: it owns redb and copies into it the groups the committer has
//! already made durable in the log, so neither redb's B-tree work nor its checkpoints
//! stand between a write and its answer.
//!
//! It takes every group waiting at once into one redb transaction (fewer, larger commits
//! when it falls behind), and when the committer reports a closed log segment it makes
//! redb durable and deletes the segments redb now covers. Its queue is bounded, so a
//! committer that outruns it waits instead of holding an unbounded backlog in memory.

use crate::disk::Disk;
use crate::state::Change;
use crate::wal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Groups the committer may be ahead of redb by.
const QUEUE: usize = 1024;

/// Groups are gathered this long before they go to redb in one transaction. Every
/// transaction copies each B-tree leaf it touches, so fewer, larger ones copy a leaf that
/// several groups write (always the history table's last leaf) once instead of per group.
const GATHER: Duration = Duration::from_millis(20);
/// ... or until this many changes are waiting, whichever comes first.
const GATHER_CHANGES: usize = 16 * 1024;

pub(crate) enum Message {
    /// One group, already in the log.
    Group {
        changes: Vec<Arc<Change>>,
        compact_through: Option<u64>,
    },
    /// Every group in log segments up to this one has been sent: once redb is durable,
    /// they can go.
    SegmentClosed(u64),
}

/// Set once by whichever writer thread first fails to store something; the committer then
/// refuses every write until a restart (see `Committer::failed`).
pub(crate) type Failure = Arc<OnceLock<String>>;

pub(crate) struct Applier {
    queue: SyncSender<Message>,
    thread: JoinHandle<()>,
}

impl Applier {
    pub fn spawn(disk: Disk, wal_dir: PathBuf, failure: Failure) -> std::io::Result<Applier> {
        let (queue, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("ctx-store-applier".into())
            .spawn(move || run(&disk, &wal_dir, &failure, &rx))?;
        Ok(Applier { queue, thread })
    }

    /// Queues a message, waiting while the queue is full. False when the applier is gone.
    pub fn send(&self, message: Message) -> bool {
        match self.queue.try_send(message) {
            Ok(()) => true,
            Err(TrySendError::Full(message)) => self.queue.send(message).is_ok(),
            Err(TrySendError::Disconnected(_)) => false,
        }
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

fn run(disk: &Disk, wal_dir: &Path, failure: &Failure, rx: &Receiver<Message>) {
    let mut changes: Vec<Arc<Change>> = Vec::new();
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + GATHER;
        let mut compact_through = None;
        let mut closed = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Group {
                    changes: group,
                    compact_through: cut,
                } => {
                    changes.extend(group);
                    compact_through = compact_through.max(cut);
                }
                Message::SegmentClosed(sequence) => closed = Some(sequence),
            }
            if closed.is_some() || changes.len() >= GATHER_CHANGES {
                break;
            }
            // A closed queue ends the outer loop at its next `recv`.
            next = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok();
        }
        if failure.get().is_some() {
            changes.clear();
            continue;
        }
        let result = disk
            .write(&changes, compact_through)
            .and_then(|()| match closed {
                Some(sequence) => disk.checkpoint().and_then(|()| {
                    wal::retire_through(wal_dir, sequence).map_err(crate::disk::log_error)
                }),
                None => Ok(()),
            });
        changes.clear();
        if let Err(e) = result {
            tracing::error!(error = %e, "storing into redb failed; refusing writes until a restart");
            let _ = failure.set(format!("{e}; writes are refused until the server restarts"));
        }
    }
}
