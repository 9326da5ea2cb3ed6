//! Whether the store takes writes, and the policy after a storage fault.
//!
//! - **Disk full** (`ENOSPC`/`EDQUOT` from the log's `write`, or from raising the revision
//!   ceiling): nothing of the group is durable, so its writes are answered "not written"
//!   ([`StoreError::NoSpace`]) and nothing else is lost. Writes pause; the first batch after
//!   [`PROBE_EVERY`] probes by starting a fresh log segment (never appending after the torn
//!   record the failed write may have left) and, if that works, writes resume by
//!   themselves — as Redis does after a failed `fsync`-less append.
//! - **Anything else** (a failed `fdatasync`, a segment that cannot be started, redb failing
//!   in the applier): what is on disk is unknown — after a failed fsync Linux may have
//!   dropped the pages and marked them clean — so every later write is refused
//!   ([`StoreError::WritesRefused`]) until a restart replays the log into a known state.

use crate::error::StoreError;
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often a paused store tries a fresh log segment.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Whether the store takes writes: what `/health` and `/ctx/status` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteHealth {
    Accepting,
    /// The disk was full at the last attempt; writes resume by themselves once it is not.
    DiskFull {
        reason: String,
    },
    /// A storage failure with an unknown outcome: writes are refused until a restart.
    Refused {
        reason: String,
    },
    /// A remote store (etcd) does not answer or has lost its quorum: writes fail, and
    /// reads may be stale, until it answers again.
    Unavailable {
        reason: String,
    },
}

/// Set once by whichever writer thread first fails with an unknown outcome.
pub(crate) type Failure = Arc<OnceLock<String>>;

/// The fault state both writer threads report into and readers look at.
#[derive(Default)]
pub(crate) struct Faults {
    pub failure: Failure,
    /// Why writes are paused for a full disk, while they are.
    pub no_space: Mutex<Option<String>>,
}

impl Faults {
    pub fn health(&self) -> WriteHealth {
        if let Some(reason) = self.failure.get() {
            return WriteHealth::Refused {
                reason: reason.clone(),
            };
        }
        match &*self.no_space.lock() {
            Some(reason) => WriteHealth::DiskFull {
                reason: reason.clone(),
            },
            None => WriteHealth::Accepting,
        }
    }

    /// Records a failure with an unknown outcome (the first one wins).
    pub fn fail(&self, reason: String) {
        tracing::error!(%reason, "storage failure; refusing writes until a restart");
        let _ = self.failure.set(reason);
    }
}

/// Why a group could not be logged.
pub(crate) enum LogFailure {
    /// Nothing of the group is durable: its writes were simply not done.
    NoSpace(String),
    /// What is on disk is unknown.
    Failed(String),
    /// An earlier failure stands: nothing was tried.
    Refused(String),
}

impl LogFailure {
    pub fn io(what: &str, error: &std::io::Error, may_be_durable: bool) -> LogFailure {
        let reason = format!("{what}: {error}");
        if !may_be_durable && crate::wal::is_no_space(error) {
            LogFailure::NoSpace(reason)
        } else {
            LogFailure::Failed(reason)
        }
    }

    /// The answer for each write of the group.
    pub fn answer(&self) -> StoreError {
        match self {
            LogFailure::NoSpace(reason) => StoreError::NoSpace(reason.clone()),
            LogFailure::Failed(reason) => StoreError::Storage(reason.clone()),
            LogFailure::Refused(reason) => StoreError::WritesRefused(reason.clone()),
        }
    }
}
