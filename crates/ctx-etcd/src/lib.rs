//! ctx on an etcd v3 cluster.
//!
//! [`local_cluster`] starts a real etcd cluster of `/usr/bin/etcd` child processes on
//! loopback (free ports, its own data directories, torn down on drop) for the integration
//! tests, `ctx dev-cluster` and bench/run. It needs only the `etcd` binary on PATH, not the
//! gRPC client, so it builds without `protoc`.

pub mod local_cluster;
