//! Waiting until this node's memory holds a revision: what makes a write's answer, and a
//! `?consistent=true` read, see everything etcd committed before them.

use super::unavailable;
use ctx_store::StoreError;
use etcd_client::Client;
use std::time::Duration;
use tokio::sync::watch;

/// Waiting until memory holds every change up to a revision.
#[derive(Clone)]
pub(crate) struct Progress {
    pub applied: watch::Receiver<u64>,
    pub client: Client,
    /// This node's sync marker (`layout.rs`).
    pub marker: String,
}

impl Progress {
    /// Waits until memory holds every change up to `revision`, which must be the revision
    /// of a change under the prefix (or below the last one): only events move `applied`.
    pub async fn wait_applied(&self, revision: u64, within: Duration) -> Result<(), StoreError> {
        let mut applied = self.applied.clone();
        match tokio::time::timeout(within, applied.wait_for(|applied| *applied >= revision)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StoreError::Closed),
            Err(_) => Err(StoreError::Unavailable(format!(
                "this node has applied etcd revision {}, not yet {revision}",
                *self.applied.borrow()
            ))),
        }
    }

    /// Waits until memory holds every change committed before the call: puts this node's
    /// marker and waits for it to come back through the watch (events come in order).
    pub async fn sync(&self, within: Duration) -> Result<(), StoreError> {
        let answer = self
            .client
            .clone()
            .put(self.marker.as_str(), "", None)
            .await
            .map_err(|e| StoreError::Unavailable(unavailable(&e)))?;
        let revision = answer
            .header()
            .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0));
        self.wait_applied(revision, within).await
    }
}
