//! The order of what a Socket.IO client receives: a new connection's snapshot, then the
//! events of changes it does not hold.

use tokio::sync::{Mutex, MutexGuard};

/// Held while the fan-out emits a change, a rewrite or re-sent snapshots, and while a new
/// connection takes and sends its snapshot. A socket is in the namespace (and gets the
/// fan-out's events) before its connect handler runs: without this, the event of a change
/// made just after the snapshot was taken could reach the client before the snapshot, and
/// a client replacing its context with the snapshot lost that change (19 of 40
/// connections made while another node took writes, tests/cluster_live/reconnect.rs).
/// Now an event that comes before a snapshot is of a change the snapshot holds.
#[derive(Default)]
pub(super) struct EmitOrder(Mutex<()>);

impl EmitOrder {
    /// An async lock: a connection waiting while another builds its snapshot (the whole
    /// context, serialized) parks its task, not a runtime thread.
    pub(super) async fn hold(&self) -> MutexGuard<'_, ()> {
        self.0.lock().await
    }
}
