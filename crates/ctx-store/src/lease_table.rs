//! Leases on disk: two redb tables beside the keys, and the part of a log record that
//! carries lease changes.
//!
//! `leases` maps an id to its ttl and expiry; `key_leases` maps a key to the lease that
//! will delete it. A log record is the group's changes (as before leases existed) followed,
//! only when the group touched a lease, by a [`LeaseTrailer`]: so a plain write's record is
//! unchanged, byte for byte, and costs nothing more.

use crate::error::StoreError;
use crate::leases::LeaseEvent;
use crate::state::{Change, State};
use crate::txn::LeaseId;
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

const LEASES: TableDefinition<u64, (u64, i64)> = TableDefinition::new("leases");
const KEY_LEASES: TableDefinition<&str, u64> = TableDefinition::new("key_leases");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_LAST_LEASE: &str = "last_lease";

/// What a log record holds after its changes when the group touched a lease.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct LeaseTrailer {
    /// (revision, lease) for each change that set a key with a lease.
    pub attachments: Vec<(u64, LeaseId)>,
    pub events: Vec<LeaseEvent>,
}

impl LeaseTrailer {
    /// `None` when the group has nothing for a trailer.
    pub fn of(changes: &[Arc<Change>], events: &[LeaseEvent]) -> Option<LeaseTrailer> {
        let attachments: Vec<(u64, LeaseId)> = changes
            .iter()
            .filter_map(|c| c.lease.map(|lease| (c.revision, lease)))
            .collect();
        (!attachments.is_empty() || !events.is_empty()).then(|| LeaseTrailer {
            attachments,
            events: events.to_vec(),
        })
    }

    pub fn lease_of(&self) -> HashMap<u64, LeaseId> {
        self.attachments.iter().copied().collect()
    }
}

pub(crate) fn ensure_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(LEASES)?;
    txn.open_table(KEY_LEASES)?;
    Ok(())
}

/// Reads the leases and attaches their keys (already loaded into `state.keys`).
pub(crate) fn load(txn: &ReadTransaction, state: &mut State) -> Result<(), StoreError> {
    state.leases.last_id = txn
        .open_table(META)?
        .get(META_LAST_LEASE)?
        .map(|v| v.value())
        .unwrap_or(0);
    for row in txn.open_table(LEASES)?.iter()? {
        let (id, value) = row?;
        let (ttl_ms, expires_micros) = value.value();
        state.leases.apply(&LeaseEvent::Put {
            id: id.value(),
            ttl_ms,
            expires_micros,
        });
    }
    for row in txn.open_table(KEY_LEASES)?.iter()? {
        let (key, lease) = row?;
        let lease = lease.value();
        if let Some((key, record)) = state.keys.get_key_value(key.value()) {
            let key = key.clone();
            let attached = state.leases.by_id.get_mut(&lease);
            if let Some(attached) = attached {
                attached.keys.insert(key.clone());
                if let Some(record) = state.keys.get_mut(&*key) {
                    record.lease = Some(lease);
                }
            } else {
                tracing::warn!(key = %key, lease, revision = record.revision, "a key names a lease that no longer exists; detached");
            }
        }
    }
    Ok(())
}

/// Gives a sequence of groups' lease changes to redb (in the applier's transaction).
pub(crate) fn write(
    txn: &WriteTransaction,
    changes: &[Arc<Change>],
    events: &[LeaseEvent],
) -> Result<(), StoreError> {
    let mut key_leases = txn.open_table(KEY_LEASES)?;
    // Most stores never use a lease: then no key needs a removal looked up.
    let mut any = !key_leases.is_empty()?;
    for change in changes {
        match change.lease {
            Some(lease) => {
                key_leases.insert(&*change.key, lease)?;
                any = true;
            }
            None if any => {
                key_leases.remove(&*change.key)?;
            }
            None => {}
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let mut leases = txn.open_table(LEASES)?;
    let mut meta = txn.open_table(META)?;
    for event in events {
        match *event {
            LeaseEvent::Put {
                id,
                ttl_ms,
                expires_micros,
            } => {
                leases.insert(id, (ttl_ms, expires_micros))?;
                let last = meta.get(META_LAST_LEASE)?.map_or(0, |v| v.value());
                if id > last {
                    meta.insert(META_LAST_LEASE, id)?;
                }
            }
            LeaseEvent::Ended { id } => {
                leases.remove(id)?;
            }
        }
    }
    Ok(())
}
