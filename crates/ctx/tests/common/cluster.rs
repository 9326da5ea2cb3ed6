//! ctx nodes on a real 3-member etcd cluster on loopback, for the cluster-mode tests
//! (`--features etcd`).

use super::{CTX, ChildServer};
use ctx_etcd::local_cluster::LocalEtcdCluster;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;
use tempfile::TempDir;

/// Bound on waiting for a watcher's next line.
const PATIENCE: Duration = Duration::from_secs(60);

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

/// `ctx watch --json` on a node: its stdout lines as JSON; killed when dropped.
pub struct Watch {
    child: Child,
    lines: Receiver<Value>,
}

impl Watch {
    pub fn start(node: &ChildServer, since: u64) -> Watch {
        Watch::of(&node.url, None, since)
    }

    /// `ctx watch --json [KEY] --since SINCE --server SERVERS` (comma-separated: it moves to
    /// the next when one dies).
    pub fn of(servers: &str, key: Option<&str>, since: u64) -> Watch {
        let mut child = Command::new(CTX)
            .args(["watch", "--json"])
            .args(key)
            .args(["--since", &since.to_string(), "--server", servers])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ctx watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// The next line (a change, or `resync_required`).
    #[track_caller]
    pub fn change(&self) -> Value {
        self.next_within(PATIENCE)
            .unwrap_or_else(|| panic!("no event within {PATIENCE:?}"))
    }

    /// The next line, or None when none comes within `limit`.
    pub fn next_within(&self, limit: Duration) -> Option<Value> {
        self.lines.recv_timeout(limit).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
