//! ctx on an etcd v3 cluster.
//!
//! [`store`] (feature `store`) is ctx-store's `ContextStore` on etcd: each node keeps the
//! shared in-memory map and history, fed by one prefix-wide etcd watch, and commits
//! writes as etcd transactions.
//!
//! [`local_cluster`] starts a real etcd cluster of `/usr/bin/etcd` child processes on
//! loopback (free ports, its own data directories, torn down on drop) for the integration
//! tests, `ctx dev-cluster` and bench/run. It needs only the `etcd` binary on PATH, not the
//! gRPC client, so it builds without `protoc`. [`local_node`] starts `ctx serve --store
//! etcd` nodes in front of it.

pub mod local_cluster;
pub mod local_node;

/// The last 4 KiB of a child's log file, for error messages ("" when unreadable).
fn log_tail(path: &std::path::Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL_BYTES: u64 = 4096;
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The etcd backend (`ctx serve --store etcd`): see docs/cluster.md.
#[cfg(feature = "store")]
pub mod store;
