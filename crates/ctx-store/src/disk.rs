//! The on-disk half: a redb database holding keys, history and counters, behind the
//! write-ahead log (`wal.rs`) that makes each group durable.
//!
//! redb was chosen because it is pure Rust (no C toolchain on a fresh machine), crash-safe
//! with copy-on-write B-trees and checksummed commits, with a real `Durability::Immediate`
//! for checkpoints and a file lock that stops two servers sharing a data directory. A group
//! is durable once the log has it ([`encode_group`] is its record); the applier thread then
//! gives it to redb with `Durability::None` ([`Disk::write`]) and now and then makes redb
//! durable ([`Disk::checkpoint`]) so the log's older segments can go. Records are encoded
//! with postcard: compact, and quick to decode at start.

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::lease_table::{self, LeaseTrailer};
use crate::leases::LeaseEvent;
use crate::state::{Change, Record, State};
use crate::value::{JsonValue, Timestamp};
use redb::Durability;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted_through";
const META_NEXT_SEGMENT: &str = "next_log_segment";

pub(crate) const DATA_FILE: &str = "context.redb";

/// redb's cache while the store is read back at start (see `open.rs`).
pub(crate) const LOAD_CACHE_BYTES: usize = 4 * 1024 * 1024;

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

/// One change as the log keeps it.
#[derive(Serialize, Deserialize)]
struct LoggedChange<'a> {
    revision: u64,
    #[serde(borrow)]
    entry: StoredChange<'a>,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Storage(e.to_string()))
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn stored_change(change: &Change) -> StoredChange<'_> {
    StoredChange {
        key: &change.key,
        before: change.before.as_ref().map(JsonValue::as_str),
        after: change.after.as_ref().map(JsonValue::as_str),
        who: &change.who,
        micros: change.timestamp.as_micros(),
    }
}

/// The log record for one group: its changes, then a [`LeaseTrailer`] when it has one.
pub(crate) fn encode_group(
    changes: &[Arc<Change>],
    events: &[LeaseEvent],
) -> Result<Vec<u8>, StoreError> {
    let group: Vec<LoggedChange> = changes
        .iter()
        .map(|change| LoggedChange {
            revision: change.revision,
            entry: stored_change(change),
        })
        .collect();
    let mut record = encode(&group)?;
    if let Some(trailer) = LeaseTrailer::of(changes, events) {
        record.extend(encode(&trailer)?);
    }
    Ok(record)
}

/// The changes (with the leases they attach keys to) and lease events in one log record.
pub(crate) fn decode_group(
    payload: &[u8],
) -> Result<(Vec<Arc<Change>>, Vec<LeaseEvent>), StoreError> {
    let (group, rest) = postcard::take_from_bytes::<Vec<LoggedChange>>(payload)
        .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?;
    let trailer: LeaseTrailer = match rest.is_empty() {
        true => LeaseTrailer::default(),
        false => decode(rest, "log record's lease part")?,
    };
    let lease_of = trailer.lease_of();
    let json = |text: Option<&str>| text.map(|t| stored_json(t, "log value")).transpose();
    let changes = group
        .into_iter()
        .map(|logged| {
            let entry = logged.entry;
            Ok(Arc::new(Change {
                revision: logged.revision,
                timestamp: Timestamp::from_micros(entry.micros),
                key: Arc::from(entry.key),
                before: json(entry.before)?,
                after: json(entry.after)?,
                who: Arc::from(entry.who),
                lease: lease_of.get(&logged.revision).copied(),
            }))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((changes, trailer.events))
}

pub(crate) fn log_error(e: std::io::Error) -> StoreError {
    StoreError::Storage(format!("write-ahead log: {e}"))
}

fn stored_json(text: &str, what: &str) -> Result<JsonValue, StoreError> {
    JsonValue::from_stored_text(text.to_owned())
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Disk {
    pub(crate) fn open_db(config: &StoreConfig, cache_bytes: usize) -> Result<Disk, StoreError> {
        Disk::open_at(config, &config.data_dir.join(DATA_FILE), cache_bytes)
    }

    fn open_at(config: &StoreConfig, path: &Path, cache_bytes: usize) -> Result<Disk, StoreError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
                    path: config.data_dir.display().to_string(),
                },
                // What redb says of a file that is not (or no longer) one of its databases.
                DatabaseError::Storage(redb::StorageError::Io(io))
                    if io.kind() == std::io::ErrorKind::InvalidData =>
                {
                    StoreError::Corrupt(io.to_string())
                }
                other => StoreError::from(other),
            })?;
        Ok(Disk { db })
    }

    /// Creates an empty data file with its tables, under a temporary name renamed into
    /// place once whole: a crash while redb writes a new file's header must not leave a
    /// `context.redb` that is neither absent nor a database.
    pub(crate) fn create(config: &StoreConfig) -> Result<(), StoreError> {
        let temporary = config.data_dir.join(format!("{DATA_FILE}.new"));
        let storage =
            |e: std::io::Error| StoreError::Storage(format!("cannot create {DATA_FILE}: {e}"));
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(storage(e)),
            _ => {}
        }
        let disk = Disk::open_at(config, &temporary, LOAD_CACHE_BYTES)?;
        disk.ensure_tables()?;
        drop(disk);
        std::fs::rename(&temporary, config.data_dir.join(DATA_FILE)).map_err(storage)?;
        std::fs::File::open(&config.data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(storage)
    }

    pub(crate) fn ensure_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(KEYS)?;
        txn.open_table(HISTORY)?;
        txn.open_table(META)?;
        lease_table::ensure_tables(&txn)?;
        txn.commit()?;
        Ok(())
    }

    pub(crate) fn load(&self, config: &StoreConfig) -> Result<State, StoreError> {
        let txn = self.db.begin_read()?;
        let mut state = State::default();
        let meta = txn.open_table(META)?;
        state.revision = meta.get(META_REVISION)?.map(|v| v.value()).unwrap_or(0);
        state.compacted_through = meta.get(META_COMPACTED)?.map(|v| v.value()).unwrap_or(0);

        // redb yields keys in order, so the map is built in bulk: `from_iter` on sorted
        // input packs every leaf full, where inserting one by one leaves them half empty.
        let keys = txn.open_table(KEYS)?;
        let mut records = Vec::with_capacity(usize::try_from(keys.len()?).unwrap_or(0));
        for row in keys.iter()? {
            let (key, bytes) = row?;
            let stored: StoredRecord = decode(bytes.value(), "key record")?;
            let record = Record {
                value: stored_json(stored.value, "key value")?,
                revision: stored.revision,
                timestamp: Timestamp::from_micros(stored.micros),
                lease: None,
            };
            records.push((Arc::<str>::from(key.value()), record));
        }
        state.keys = records.into_iter().collect();
        lease_table::load(&txn, &mut state)?;

        // History entries share their allocations as the live server's do: a key with
        // the live map, an `after` with the record it became (or the next entry's
        // `before`), and each writer's name with every entry it wrote.
        let mut latest: HashMap<Arc<str>, JsonValue> = HashMap::new();
        let mut writers: HashSet<Arc<str>> = HashSet::new();
        for row in txn.open_table(HISTORY)?.iter()? {
            let (revision, bytes) = row?;
            let stored: StoredChange = decode(bytes.value(), "history entry")?;
            let key = match (
                latest.get_key_value(stored.key),
                state.keys.get_key_value(stored.key),
            ) {
                (Some((key, _)), _) | (None, Some((key, _))) => key.clone(),
                (None, None) => Arc::from(stored.key),
            };
            let before = match stored.before {
                Some(text) => Some(match latest.get(&key) {
                    Some(previous) if previous.as_str() == text => previous.clone(),
                    _ => stored_json(text, "history value")?,
                }),
                None => None,
            };
            let after = match stored.after {
                Some(text) => Some(match state.keys.get(&*key) {
                    Some(record) if record.value.as_str() == text => record.value.clone(),
                    _ => stored_json(text, "history value")?,
                }),
                None => None,
            };
            match &after {
                Some(value) => latest.insert(key.clone(), value.clone()),
                None => latest.remove(&key),
            };
            let who = match writers.get(stored.who) {
                Some(who) => who.clone(),
                None => {
                    let who: Arc<str> = Arc::from(stored.who);
                    writers.insert(who.clone());
                    who
                }
            };
            let change = Change {
                revision: revision.value(),
                timestamp: Timestamp::from_micros(stored.micros),
                key,
                before,
                after,
                who,
                lease: None,
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

    /// Makes everything redb holds durable, recording that the log now continues in
    /// segment `next_segment` (0: no such promise), which the next open checks is there.
    pub fn checkpoint(&self, next_segment: u64) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.open_table(META)?
            .insert(META_NEXT_SEGMENT, next_segment)?;
        txn.commit()?;
        Ok(())
    }

    /// The log segment the last checkpoint said the log continues in (0: none said).
    pub(crate) fn next_segment(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(META_NEXT_SEGMENT)?.map_or(0, |v| v.value()))
    }

    /// Changes in the log that redb does not have yet (a crash came before the
    /// checkpoint): applied to memory and given to redb (made durable by the checkpoint
    /// that follows at open).
    ///
    /// Lease events are whole states (the last about an id wins), so replaying those redb
    /// already has is harmless; they are applied after the changes, and every key is then
    /// linked to its lease again (`State::relink_leases`).
    pub(crate) fn replay(
        &self,
        changes: Vec<Arc<Change>>,
        leases: &[LeaseEvent],
        state: &mut State,
        config: &StoreConfig,
    ) -> Result<(), StoreError> {
        let changes: Vec<_> = changes
            .into_iter()
            .filter(|change| change.revision > state.revision)
            .collect();
        for change in &changes {
            state.apply(change);
        }
        if !leases.is_empty() || changes.iter().any(|c| c.lease.is_some()) {
            for event in leases {
                state.leases.apply(event);
            }
            state.relink_leases();
        }
        if !changes.is_empty() || !leases.is_empty() {
            let cutoff = config.history_bound().cutoff(state, &[]);
            if let Some(cutoff) = cutoff {
                state.compact_through(cutoff);
            }
            self.write(&changes, leases, cutoff)?;
            tracing::info!(changes = changes.len(), "replayed the write-ahead log");
        }
        Ok(())
    }

    /// After a recovery that lost changes up to `revision`: the counter continues after
    /// them, and history before it counts as compacted, so a watcher resumes from a
    /// snapshot instead of missing them silently.
    pub(crate) fn skip_to(&self, state: &mut State, revision: u64) -> Result<(), StoreError> {
        state.revision = revision;
        state.compact_through(revision);
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(META_REVISION, revision)?;
            meta.insert(META_COMPACTED, revision)?;
            txn.open_table(HISTORY)?
                .retain_in(..=revision, |_, _| false)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Gives changes (already durable in the log) to redb without syncing, dropping
    /// history up to `compact_through` in the same transaction.
    pub fn write(
        &self,
        changes: &[Arc<Change>],
        leases: &[LeaseEvent],
        compact_through: Option<u64>,
    ) -> Result<(), StoreError> {
        if changes.is_empty() && leases.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
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
                let entry = stored_change(change);
                history.insert(change.revision, encode(&entry)?.as_slice())?;
            }
            if let Some(last) = changes.last() {
                meta.insert(META_REVISION, last.revision)?;
            }
            if let Some(through) = compact_through {
                history.retain_in(..=through, |_, _| false)?;
                meta.insert(META_COMPACTED, through)?;
            }
        }
        lease_table::write(&txn, changes, leases)?;
        txn.commit()?;
        Ok(())
    }
}
