//! Whether this node can write now, for `/health` and `/ctx/status`: the last write's or
//! probe's failure, or the watch's; and etcd's errors as the one line clients see.

use super::layout::Layout;
use ctx_store::WriteHealth;
use etcd_client::{Client, GetOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a node checks that etcd answers (a linearizable read), for `/health`.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why writes may fail now: the last write's or probe's failure, or the watch's.
#[derive(Default)]
pub(crate) struct Health {
    writes: Mutex<Option<String>>,
    feed: Mutex<Option<String>>,
}

impl Health {
    pub fn set_writes(&self, reason: Option<String>) {
        if let Ok(mut slot) = self.writes.lock() {
            *slot = reason;
        }
    }

    pub fn set_feed(&self, reason: Option<String>) {
        if let Ok(mut slot) = self.feed.lock() {
            *slot = reason;
        }
    }

    pub fn get(&self) -> WriteHealth {
        let reasons = [&self.writes, &self.feed]
            .into_iter()
            .filter_map(|slot| slot.lock().ok().and_then(|r| r.clone()))
            .collect::<Vec<_>>();
        match reasons.is_empty() {
            true => WriteHealth::Accepting,
            false => WriteHealth::Unavailable {
                reason: format!("{}; reads may be stale", reasons.join("; ")),
            },
        }
    }
}

pub(crate) fn unavailable(error: &etcd_client::Error) -> String {
    match error {
        etcd_client::Error::GRpcStatus(status) => format!("etcd: {}", status.message()),
        other => format!("etcd: {other}"),
    }
}

/// etcd's current revision, by a linearizable read (one key at most, count only).
pub(super) async fn current_revision(client: &Client, layout: &Layout) -> Result<u64, String> {
    let options = GetOptions::new().with_prefix().with_count_only();
    let response = client
        .clone()
        .get(layout.prefix(), Some(options))
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(response
        .header()
        .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0)))
}

/// Keeps `/health` true while nothing is written: a linearizable read every second.
pub(super) async fn probe(client: Client, layout: Layout, health: Arc<Health>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        match current_revision(&client, &layout).await {
            Ok(_) => health.set_writes(None),
            Err(reason) => health.set_writes(Some(reason)),
        }
    }
}
