//! The on-disk half: a redb database holding keys, history and counters.
//!
//! redb was chosen because it is pure Rust (no C toolchain on a fresh machine), crash-safe
//! with copy-on-write B-trees and checksummed commits, and a commit with
//! `Durability::Immediate` returns only after the data is on disk — exactly the
//! "acknowledged means durable" promise the API makes. Records are encoded with postcard:
//! compact, and quick to decode when a large store is reloaded at start.

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::state::{Change, Record, State};
use crate::value::{JsonValue, Timestamp};
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted_through";

pub(crate) const DATA_FILE: &str = "context.redb";

#[derive(Serialize, Deserialize)]
struct StoredRecord<'a> {
    value: &'a str,
    revision: u64,
    micros: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredChange<'a> {
    key: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    who: &'a str,
    micros: i64,
}

pub(crate) struct Disk {
    db: Database,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Storage(e.to_string()))
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn stored_json(text: &str, what: &str) -> Result<JsonValue, StoreError> {
    JsonValue::from_stored_text(text.to_owned())
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Disk {
    /// Opens (or creates) the database and reads everything back into memory.
    pub fn open(config: &StoreConfig) -> Result<(Disk, State), StoreError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StoreError::Storage(format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let path = config.data_dir.join(DATA_FILE);
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
                    path: config.data_dir.display().to_string(),
                },
                other => StoreError::from(other),
            })?;
        let disk = Disk { db };
        disk.ensure_tables()?;
        let state = disk.load(config)?;
        Ok((disk, state))
    }

    fn ensure_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(KEYS)?;
        txn.open_table(HISTORY)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(())
    }

    fn load(&self, config: &StoreConfig) -> Result<State, StoreError> {
        let txn = self.db.begin_read()?;
        let mut state = State::default();
        let meta = txn.open_table(META)?;
        state.revision = meta.get(META_REVISION)?.map(|v| v.value()).unwrap_or(0);
        state.compacted_through = meta.get(META_COMPACTED)?.map(|v| v.value()).unwrap_or(0);

        let mut key_names: std::collections::HashMap<String, Arc<str>> = Default::default();
        for row in txn.open_table(KEYS)?.iter()? {
            let (key, bytes) = row?;
            let stored: StoredRecord = decode(bytes.value(), "key record")?;
            let key: Arc<str> = Arc::from(key.value());
            key_names.insert(key.to_string(), key.clone());
            let record = Record {
                value: stored_json(stored.value, "key value")?,
                revision: stored.revision,
                timestamp: Timestamp::from_micros(stored.micros),
            };
            state.keys.insert(key, record);
        }

        for row in txn.open_table(HISTORY)?.iter()? {
            let (revision, bytes) = row?;
            let stored: StoredChange = decode(bytes.value(), "history entry")?;
            // Share the key's allocation with the live map where the key still exists.
            let key = key_names
                .get(stored.key)
                .cloned()
                .unwrap_or_else(|| Arc::from(stored.key));
            let change = Change {
                revision: revision.value(),
                timestamp: Timestamp::from_micros(stored.micros),
                key,
                before: stored
                    .before
                    .map(|t| stored_json(t, "history value"))
                    .transpose()?,
                after: stored
                    .after
                    .map(|t| stored_json(t, "history value"))
                    .transpose()?,
                who: Arc::from(stored.who),
            };
            state.history_bytes += crate::state::entry_bytes(&change);
            state.history.push_back(Arc::new(change));
        }
        // A lowered bound applies in memory at once; the disk follows at the next commit,
        // whose compaction removes every revision up to its cut-off.
        if let Some(cutoff) = config.history_bound().cutoff(&state, &[]) {
            state.compact_through(cutoff);
        }
        Ok(state)
    }

    /// Writes one group of changes in one durable transaction, and drops history up to
    /// `compact_through` in the same transaction.
    pub fn commit(
        &self,
        changes: &[Arc<Change>],
        compact_through: Option<u64>,
    ) -> Result<(), StoreError> {
        let Some(last) = changes.last() else {
            return Ok(());
        };
        let txn = self.db.begin_write()?;
        {
            let mut keys = txn.open_table(KEYS)?;
            let mut history = txn.open_table(HISTORY)?;
            let mut meta = txn.open_table(META)?;
            for change in changes {
                match &change.after {
                    Some(value) => {
                        let record = StoredRecord {
                            value: value.as_str(),
                            revision: change.revision,
                            micros: change.timestamp.as_micros(),
                        };
                        keys.insert(&*change.key, encode(&record)?.as_slice())?;
                    }
                    None => {
                        keys.remove(&*change.key)?;
                    }
                }
                let entry = StoredChange {
                    key: &change.key,
                    before: change.before.as_ref().map(JsonValue::as_str),
                    after: change.after.as_ref().map(JsonValue::as_str),
                    who: &change.who,
                    micros: change.timestamp.as_micros(),
                };
                history.insert(change.revision, encode(&entry)?.as_slice())?;
            }
            meta.insert(META_REVISION, last.revision)?;
            if let Some(through) = compact_through {
                history.retain_in(..=through, |_, _| false)?;
                meta.insert(META_COMPACTED, through)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}
