use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("the data directory {path} is in use by another ctx server")]
    AlreadyOpen { path: String },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("the data file is damaged: {0}")]
    Corrupt(String),
    /// Found at open: the data directory is not as the store left it (see `open.rs`).
    #[error(
        "{0}. To start with what is intact (the rest is set aside, and reported), run `ctx serve --recover`; copy the data directory first to keep every byte"
    )]
    Damaged(String),
    /// The disk was full: nothing of the write was done; retry once space is freed.
    #[error(
        "the disk is full ({0}); the write was not done, and writes resume by themselves once space is freed"
    )]
    NoSpace(String),
    /// An earlier storage failure left the disk in an unknown state.
    #[error("writes are refused until the server restarts ({0})")]
    WritesRefused(String),
    #[error("lease {0} not found (it expired or was revoked)")]
    LeaseNotFound(u64),
    #[error("cannot increment {key:?}: {reason}")]
    NotAnInteger { key: String, reason: String },
    /// A write would create a key beyond `StoreConfig::max_keys`; nothing of it was done.
    #[error(
        "the store holds its limit of {limit} keys: a write that creates a new key is refused (updates and deletes still work)"
    )]
    TooManyKeys { limit: usize },
    #[error("invalid transaction: {0}")]
    InvalidTxn(String),
    /// A remote store (etcd) did not answer or could not commit: the write may not have
    /// been done.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store is shut down")]
    Closed,
    #[error(
        "changes after revision {requested} were compacted (history kept from {compacted_through}); resync from revision {current}"
    )]
    Compacted {
        requested: u64,
        compacted_through: u64,
        current: u64,
    },
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Corrupted(reason) => StoreError::Corrupt(reason),
            other => StoreError::Storage(other.to_string()),
        }
    }
}

macro_rules! redb_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::from(redb::Error::from(e)) }
        }
    )*};
}
redb_errors!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError,
    redb::SetDurabilityError
);
