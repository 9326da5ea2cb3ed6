//! The shared context: a map from string keys to JSON values, a revisioned history of every
//! change, and a live change feed — durable on disk. No HTTP lives here; the server crate
//! puts an API on top of a [`ContextStore`]: the embedded [`Store`] here, or another
//! backend (etcd, crate `ctx-etcd`) sharing the in-memory [`Memory`].
//!
//! Design in one paragraph: every read is served from memory (a `BTreeMap` behind a
//! read/write lock, so prefix scans come out sorted and reads never touch the disk). Every
//! write goes through one committer thread (`committer.rs`) which takes all writes waiting at
//! that moment, appends them to the write-ahead log (`wal.rs`) with one `fdatasync` for the
//! whole group, and only then applies them to memory, publishes them on the change feed and
//! answers the callers; an applier thread (`applier.rs`) copies each group into redb
//! without syncing (`disk.rs`), and a periodic checkpoint there makes redb durable and
//! deletes the log segments it covers. One writer means `before` values are always
//! right and revisions never go back; group commit means durability costs one sequential
//! sync per batch, not per write. docs/design.md has the longer story.

mod applier;
mod backend;
mod committer;
mod config;
mod disk;
mod error;
mod group;
mod health;
mod history;
mod lease_table;
mod leases;
mod manifest;
mod memory;
mod open;
mod state;
mod store;
mod txn;
mod value;
mod wal;

pub use backend::{BoxFuture, ContextStore, StoreKind};
pub use config::{CommitStats, StoreConfig};
pub use error::StoreError;
pub use health::WriteHealth;
pub use history::{HistoryPage, HistoryQuery};
pub use memory::{Evaluated, Memory, Snapshot, Watch};
pub use state::{Change, HistoryBound, Record};
pub use store::{Store, WriteOutcome, validate_lease_ttl, validate_txn};
pub use txn::{
    Compare, LeaseId, LeaseInfo, MAX_LEASE_TTL, MAX_TXN_OPS, MIN_LEASE_TTL, Op, OpResult,
    RevokeOutcome, Txn, TxnOutcome,
};
pub use value::{JsonValue, Timestamp};
