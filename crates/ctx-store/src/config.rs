use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a store is opened. `StoreConfig::new(dir)` gives the documented defaults.
#[derive(Clone)]
pub struct StoreConfig {
    /// Directory holding the data file (`context.redb`); created if missing.
    pub data_dir: PathBuf,
    /// History entries kept (memory and disk); the oldest are compacted first.
    pub history_limit: usize,
    /// Bytes of history kept (values, keys and writer names, plus a per-entry overhead;
    /// see `entry_bytes`), so memory stays bounded whatever the value sizes.
    pub history_max_bytes: usize,
    /// Longest key accepted, in bytes.
    pub max_key_bytes: usize,
    /// Most keys held: a write creating a key beyond it is refused whole
    /// ([`crate::StoreError::TooManyKeys`]); updates and deletes still work. `None`: no limit.
    pub max_keys: Option<usize>,
    /// Changes buffered per live subscriber before it is told it lagged.
    pub feed_capacity: usize,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// redb's page cache. Reads are served from memory, so the cache only serves the
    /// applier's writes: it keeps the B-tree pages written between checkpoints (with random
    /// keys, most leaves) from being written out and read back. redb's own default (1 GiB)
    /// would dwarf the data we hold; it fills only as writes touch pages.
    pub cache_bytes: usize,
    /// How often, while writes flow, the log starts a new segment and redb is made durable
    /// so the older segments can be deleted. Longer: fewer page write-backs (done beside
    /// the committer, not in its way), but more log to keep and to replay after a crash.
    pub checkpoint_every: Duration,
    /// Open even when the data directory is damaged: keep what is intact, set the rest
    /// aside and report it (`Store::recovered`), revisions never going back. Without it,
    /// damage found at open is [`crate::StoreError::Damaged`].
    pub recover: bool,
    /// Told about every commit, e.g. to feed `/metrics`.
    pub commit_observer: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
}

impl StoreConfig {
    pub fn history_bound(&self) -> crate::state::HistoryBound {
        crate::state::HistoryBound {
            max_entries: self.history_limit,
            max_bytes: self.history_max_bytes,
        }
    }

    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            history_limit: 100_000,
            history_max_bytes: 256 * 1024 * 1024,
            max_key_bytes: 1024,
            max_keys: None,
            feed_capacity: 4096,
            max_batch: 1024,
            cache_bytes: 64 * 1024 * 1024,
            checkpoint_every: Duration::from_secs(1),
            recover: false,
            commit_observer: None,
        }
    }
}

/// What one group commit did.
#[derive(Clone, Copy, Debug)]
pub struct CommitStats {
    /// Write requests answered by this commit (no-op writes included).
    pub writes: usize,
    /// Time to make the group durable (log append + fdatasync) and apply it to memory;
    /// redb takes it later, on the applier thread.
    pub duration: Duration,
}
