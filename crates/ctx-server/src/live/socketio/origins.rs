//! Matches a Socket.IO sender's `context_set` to the change it made, so the fan-out
//! leaves that sender out (it gets `context_set_confirmed` instead).

use ctx_store::Change;
use parking_lot::Mutex;
use socketioxide::socket::Sid;
use tokio::sync::Notify;

/// Which socket's `context_set` made which change (revision and key).
///
/// A write is registered before it reaches the store and resolved when the store answers,
/// which is *after* the change was published. So when the fan-out sees a change to a key
/// with a Socket.IO write still unresolved that could have made it (registered before the
/// change's revision), it waits (at most one commit) for the answer. Writes registered
/// after it are never waited for: in cluster mode one write can take seconds (etcd's
/// request timeout), and the fan-out serves every client.
#[derive(Default)]
pub(super) struct Origins {
    pending: Mutex<Vec<PendingWrite>>,
    resolved: Notify,
}

struct PendingWrite {
    ticket: u64,
    key: String,
    sid: Sid,
    /// The store's revision when the write was registered: its change comes after it.
    since: u64,
    /// `None` while the store has not answered; `Some(None)` for a write that changed nothing.
    revision: Option<Option<u64>>,
}

impl Origins {
    pub(super) fn begin<'a>(&'a self, key: &str, sid: Sid, since: u64) -> Ticket<'a> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let ticket = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pending.lock().push(PendingWrite {
            ticket,
            key: key.to_owned(),
            sid,
            since,
            revision: None,
        });
        Ticket {
            origins: self,
            ticket,
            done: false,
        }
    }

    pub(super) async fn origin_of(&self, change: &Change) -> Option<Sid> {
        loop {
            let resolved = self.resolved.notified();
            tokio::pin!(resolved);
            resolved.as_mut().enable();
            {
                let mut pending = self.pending.lock();
                // Writes that changed nothing, or whose change this fan-out already passed
                // (after a lag), will never be asked for again.
                pending.retain(|p| match p.revision {
                    Some(Some(revision)) => revision >= change.revision,
                    Some(None) => false,
                    None => true,
                });
                // The key too, not the revision alone: in cluster mode one etcd transaction
                // (a node's batch) commits the writes of several sockets at one revision.
                if let Some(i) = pending
                    .iter()
                    .position(|p| p.revision == Some(Some(change.revision)) && p.key == *change.key)
                {
                    return Some(pending.swap_remove(i).sid);
                }
                if !pending.iter().any(|p| {
                    p.revision.is_none() && p.since < change.revision && p.key == *change.key
                }) {
                    return None;
                }
            }
            resolved.await;
        }
    }
}

/// A registered Socket.IO write; resolves as "changed nothing" if dropped unfinished.
pub(super) struct Ticket<'a> {
    origins: &'a Origins,
    ticket: u64,
    done: bool,
}

impl Ticket<'_> {
    pub(super) fn finish(&mut self, revision: Option<u64>) {
        self.done = true;
        if let Some(p) = self
            .origins
            .pending
            .lock()
            .iter_mut()
            .find(|p| p.ticket == self.ticket)
        {
            p.revision = Some(revision);
        }
        self.origins.resolved.notify_waiters();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(None);
        }
    }
}
