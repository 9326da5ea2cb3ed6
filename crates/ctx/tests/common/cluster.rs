//! ctx nodes on a real 3-member etcd cluster on loopback, for the cluster-mode tests
//! (`--features etcd`).

use super::ChildServer;
use ctx_etcd::local_cluster::LocalEtcdCluster;
use tempfile::TempDir;

/// `ctx serve --store etcd` children in front of one etcd cluster, all under one prefix.
pub struct Cluster {
    pub nodes: Vec<ChildServer>,
    // Dropped after the nodes (fields drop in order): members outlive their clients.
    pub etcd: LocalEtcdCluster,
    _dir: TempDir,
}

/// Three etcd members and `nodes` ctx nodes, each started with `extra` arguments.
pub fn cluster(nodes: usize, extra: &[&str]) -> Cluster {
    let dir = TempDir::new().expect("temp dir");
    let etcd = LocalEtcdCluster::start(3, &dir.path().join("etcd")).expect("start etcd");
    let endpoints = etcd.endpoints();
    let nodes = (0..nodes)
        .map(|node| {
            let mut args = vec![
                "--store",
                "etcd",
                "--etcd-endpoints",
                &endpoints,
                "--etcd-prefix",
                "test/",
            ];
            args.extend_from_slice(extra);
            ChildServer::start_with(&dir.path().join(format!("node-{node}")), &args)
        })
        .collect();
    Cluster {
        nodes,
        etcd,
        _dir: dir,
    }
}
