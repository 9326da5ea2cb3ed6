//! Cluster mode under failure (issue 13 §1–2): real `ctx serve --store etcd` child
//! processes in front of a real 3-member etcd cluster on loopback (crates/ctx-etcd's
//! launchers), members and nodes SIGKILLed while clients write and watch. Every check is a
//! condition polled with a deadline; the figures (outage lengths) are printed.

#![cfg(feature = "etcd")]

mod common;

use common::{CTX, try_http};
use ctx_etcd::local_cluster::LocalEtcdCluster;
use ctx_etcd::local_node::{LocalCtxNode, NodeConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Bound on every wait: generous, for a 2-core machine shared with builds.
const PATIENCE: Duration = Duration::from_secs(60);
/// Issue 13: writes resume "within a couple of seconds" after a member (the leader too)
/// dies. etcd's election timeout is 1 s; the margin is for a loaded machine.
const RESUME_BOUND: Duration = Duration::from_secs(5);

struct Cluster {
    etcd: LocalEtcdCluster,
    nodes: Vec<LocalCtxNode>,
    dir: TempDir,
}

impl Cluster {
    fn start(nodes: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let etcd = LocalEtcdCluster::start(3, &dir.path().join("etcd")).expect("etcd starts");
        let mut cluster = Cluster {
            etcd,
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..nodes {
            cluster.add_node();
        }
        cluster
    }

    /// Starts one more ctx node; returns its index.
    fn add_node(&mut self) -> usize {
        let index = self.nodes.len();
        let config = NodeConfig {
            program: CTX.into(),
            endpoints: self.etcd.endpoints(),
            prefix: None,
            port: 0,
            data_dir: self.dir.path().join(format!("node-{index}")),
            extra_args: Vec::new(),
        };
        self.nodes
            .push(LocalCtxNode::start(&config, PATIENCE).expect("ctx node starts"));
        index
    }

    fn addr(&self, node: usize) -> String {
        self.nodes[node].address().to_owned()
    }
}

fn post(addr: &str, key: &str, value: Value) -> std::io::Result<(u16, Value)> {
    try_http(
        addr,
        "POST",
        "/ctx",
        Some(&json!({"key": key, "value": value, "who": "cluster-test"})),
    )
}

fn status_revision(addr: &str) -> Option<u64> {
    let (status, body) = try_http(addr, "GET", "/ctx/status", None).ok()?;
    (status == 200).then(|| body["revision"].as_u64()).flatten()
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after PATIENCE.
#[track_caller]
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One write as a writer saw it.
#[derive(Clone, Debug)]
struct Attempt {
    key: String,
    value: u64,
    started: Instant,
    finished: Instant,
    /// The revision of an acknowledged write; None when refused, failed or cut.
    revision: Option<u64>,
}

/// Writers that each post new keys (`<prefix>w<writer>/<serial>` = serial) to one node, one
/// at a time, recording every attempt, until stopped.
struct Writers {
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Writers {
    fn start(prefix: &str, addresses: &[String]) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let threads = addresses
            .iter()
            .enumerate()
            .map(|(writer, addr)| {
                let (addr, stop, attempts) = (addr.clone(), stop.clone(), attempts.clone());
                let prefix = prefix.to_owned();
                std::thread::spawn(move || {
                    let mut serial = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        serial += 1;
                        let key = format!("{prefix}w{writer}/{serial}");
                        let started = Instant::now();
                        let answer = post(&addr, &key, json!(serial));
                        let revision = match answer {
                            Ok((200, body)) => body["revision"].as_u64(),
                            Ok(_) | Err(_) => {
                                // Refused or cut: back off a little so a dead node is not
                                // hammered in a tight loop.
                                std::thread::sleep(Duration::from_millis(20));
                                None
                            }
                        };
                        attempts.lock().expect("attempts").push(Attempt {
                            key,
                            value: serial,
                            started,
                            finished: Instant::now(),
                            revision,
                        });
                    }
                })
            })
            .collect();
        Writers {
            stop,
            attempts,
            threads,
        }
    }

    fn acknowledged_count(&self) -> usize {
        let attempts = self.attempts.lock().expect("attempts");
        attempts.iter().filter(|a| a.revision.is_some()).count()
    }

    /// Waits until `more` further writes have been acknowledged.
    #[track_caller]
    fn wait_for_acknowledged(&self, more: usize) {
        let target = self.acknowledged_count() + more;
        wait_for(&format!("{target} acknowledged writes"), || {
            self.acknowledged_count() >= target
        });
    }

    fn finish(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("writer thread");
        }
        let attempts = self.attempts.lock().expect("attempts");
        attempts.clone()
    }
}

/// Every acknowledged write is on `addr` with its value, once the node has caught up to the
/// highest acknowledged revision.
#[track_caller]
fn assert_all_present(addr: &str, attempts: &[Attempt]) {
    let acknowledged: Vec<&Attempt> = attempts.iter().filter(|a| a.revision.is_some()).collect();
    assert!(!acknowledged.is_empty(), "no write was acknowledged");
    let newest = acknowledged
        .iter()
        .filter_map(|a| a.revision)
        .max()
        .unwrap_or(0);
    wait_for(&format!("{addr} to reach revision {newest}"), || {
        status_revision(addr).is_some_and(|revision| revision >= newest)
    });
    let (status, all) = try_http(addr, "GET", "/ctx/all", None).expect("/ctx/all");
    assert_eq!(status, 200);
    let context = all["context"].as_object().expect("context");
    let lost: Vec<String> = acknowledged
        .iter()
        .filter(|a| context.get(&a.key) != Some(&json!(a.value)))
        .map(|a| format!("{} (revision {:?})", a.key, a.revision))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are missing on {addr}: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(10)]
    );
}

/// How long after `moment` the first write that *started* after it was acknowledged.
fn resumed_after(attempts: &[Attempt], moment: Instant) -> Option<Duration> {
    attempts
        .iter()
        .filter(|a| a.revision.is_some() && a.started >= moment)
        .map(|a| a.finished - moment)
        .min()
}

#[test]
fn killing_etcd_members_including_the_leader_pauses_writes_briefly_and_loses_none() {
    let mut cluster = Cluster::start(2);
    let addresses = vec![
        cluster.addr(0),
        cluster.addr(0),
        cluster.addr(1),
        cluster.addr(1),
    ];
    let writers = Writers::start("", &addresses);
    writers.wait_for_acknowledged(50);

    // The leader first: an election follows.
    let leader = cluster.etcd.leader().expect("a leader");
    let killed_leader_at = Instant::now();
    cluster.etcd.kill_member(leader).expect("kill the leader");
    writers.wait_for_acknowledged(50);
    cluster
        .etcd
        .restart_member(leader)
        .expect("restart the old leader");

    // Then a follower: no election, the leader loses a peer.
    let follower = (cluster.etcd.leader().expect("a leader") + 1) % 3;
    let killed_follower_at = Instant::now();
    cluster.etcd.kill_member(follower).expect("kill a follower");
    writers.wait_for_acknowledged(50);
    let attempts = writers.finish();

    let after_leader = resumed_after(&attempts, killed_leader_at).expect("writes resumed");
    let after_follower = resumed_after(&attempts, killed_follower_at).expect("writes resumed");
    println!(
        "writes resumed {after_leader:?} after the leader was killed, {after_follower:?} after a follower"
    );
    assert!(
        after_leader <= RESUME_BOUND,
        "{after_leader:?} after the leader's kill"
    );
    assert!(
        after_follower <= RESUME_BOUND,
        "{after_follower:?} after a follower's kill"
    );
    assert_all_present(&cluster.addr(0), &attempts);
    assert_all_present(&cluster.addr(1), &attempts);
}

#[test]
fn without_etcd_quorum_writes_answer_503_and_reads_keep_serving_flagged_stale() {
    let mut cluster = Cluster::start(2);
    let (status, answer) = post(&cluster.addr(0), "before", json!("kept")).expect("write");
    assert_eq!(status, 200, "{answer}");
    let revision = answer["revision"].as_u64().expect("revision");
    wait_for("node 1 to see the write", || {
        status_revision(&cluster.addr(1)).is_some_and(|seen| seen >= revision)
    });

    let leader = cluster.etcd.leader().expect("a leader");
    let other = (leader + 1) % 3;
    cluster.etcd.kill_member(leader).expect("kill");
    cluster.etcd.kill_member(other).expect("kill");

    for node in 0..2 {
        let addr = cluster.addr(node);
        let (status, answer) = post(&addr, "during", json!(1)).expect("an answer, not a hang");
        assert_eq!(status, 503, "node {node}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains("etcd"), "node {node}: {answer}");

        let (status, answer) = try_http(&addr, "GET", "/ctx/before", None).expect("read");
        assert_eq!(status, 200, "node {node}: {answer}");
        assert_eq!(answer["value"], json!("kept"), "node {node}: {answer}");

        // Reads go on from memory, which may be stale: both say so.
        wait_for(&format!("node {node} to flag its reads stale"), || {
            let (_, status) = try_http(&addr, "GET", "/ctx/status", None).expect("status");
            status["status"] == json!("degraded")
                && status["writes"] == json!("unavailable")
                && status["stale"] == json!(true)
        });
        let (code, health) = try_http(&addr, "GET", "/health", None).expect("health");
        assert_eq!(code, 503, "node {node}: {health}");
        assert_eq!(
            health["writes"],
            json!("unavailable"),
            "node {node}: {health}"
        );
        assert_eq!(health["stale"], json!(true), "node {node}: {health}");
    }

    cluster.etcd.restart_member(leader).expect("restart");
    cluster.etcd.restart_member(other).expect("restart");
    for node in 0..2 {
        let addr = cluster.addr(node);
        wait_for(&format!("node {node} to accept writes again"), || {
            matches!(post(&addr, "after", json!(node)), Ok((200, _)))
        });
        wait_for(&format!("node {node} to report healthy again"), || {
            matches!(try_http(&addr, "GET", "/health", None), Ok((200, _)))
        });
        let (_, status) = try_http(&addr, "GET", "/ctx/status", None).expect("status");
        assert_eq!(status["stale"], json!(false), "node {node}: {status}");
        let (_, answer) = try_http(&addr, "GET", "/ctx/before", None).expect("read");
        assert_eq!(answer["value"], json!("kept"));
    }
}

#[test]
fn a_killed_ctx_node_leaves_the_clients_of_the_other_nodes_unaffected() {
    let mut cluster = Cluster::start(3);
    let writers = Writers::start("", &[cluster.addr(1), cluster.addr(1)]);
    writers.wait_for_acknowledged(30);
    cluster.nodes[0].kill();
    writers.wait_for_acknowledged(60);
    let attempts = writers.finish();
    let failed: Vec<&Attempt> = attempts.iter().filter(|a| a.revision.is_none()).collect();
    assert!(failed.is_empty(), "writes to node 1 failed: {failed:?}");
    assert_all_present(&cluster.addr(2), &attempts);
    assert!(
        try_http(&cluster.addr(0), "GET", "/health", None).is_err(),
        "node 0 is dead"
    );
}

/// A child process killed when dropped, also when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ctx watch --json` as a child: its stdout lines on a channel.
fn watch(servers: &str, since: u64) -> (KillOnDrop, Receiver<String>) {
    let mut child = Command::new(CTX)
        .args([
            "watch",
            "--json",
            "w",
            "--since",
            &since.to_string(),
            "--server",
            servers,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ctx watch");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (KillOnDrop(child), lines)
}

#[test]
fn a_watcher_of_a_killed_node_resumes_on_another_from_its_revision_without_gaps_or_duplicates() {
    let mut cluster = Cluster::start(3);
    let start = status_revision(&cluster.addr(2)).expect("status");
    let servers = format!("{},{}", cluster.nodes[0].url(), cluster.nodes[1].url());
    let (watcher, lines) = watch(&servers, start);

    // Writes through node 2 before, during and after node 0's death; eight at a time, so
    // node 2 batches some into one etcd transaction (one revision, several changes).
    let writers = Writers::start("", &vec![cluster.addr(2); 8]);
    writers.wait_for_acknowledged(80);
    cluster.nodes[0].kill();
    writers.wait_for_acknowledged(80);
    let attempts = writers.finish();
    // A node batches concurrent writes into one etcd transaction: they share a revision,
    // so a change is (revision, key).
    let mut expected: Vec<(u64, String)> = attempts
        .iter()
        .filter_map(|a| Some((a.revision?, a.key.clone())))
        .collect();
    expected.sort_unstable();
    let newest = expected.last().expect("writes").0;

    let mut seen: BTreeMap<(u64, String), usize> = BTreeMap::new();
    let mut order: Vec<u64> = Vec::new();
    let started = Instant::now();
    while seen.len() < expected.len() || order.last().copied().unwrap_or(0) < newest {
        let remaining = PATIENCE.saturating_sub(started.elapsed());
        let Ok(line) = lines.recv_timeout(remaining) else {
            break;
        };
        let event: Value = serde_json::from_str(&line).expect("a JSON event");
        if let (Some(revision), Some(key)) = (event["revision"].as_u64(), event["key"].as_str()) {
            *seen.entry((revision, key.to_owned())).or_default() += 1;
            order.push(revision);
        }
    }
    drop(watcher);
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "printed twice: {duplicates:?}");
    assert!(
        order.windows(2).all(|pair| pair[0] <= pair[1]),
        "out of order"
    );
    let shared = expected
        .windows(2)
        .filter(|pair| pair[0].0 == pair[1].0)
        .count();
    println!(
        "{} changes watched across the kill, {shared} sharing a revision with the one before",
        expected.len()
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|change| !seen.contains_key(*change))
        .collect();
    let extra: Vec<_> = seen
        .keys()
        .filter(|change| !expected.contains(change))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the watcher missed {missing:?} and printed {extra:?} beyond the acknowledged writes"
    );
}

#[test]
fn acknowledged_writes_survive_ctx_nodes_killed_at_random_under_concurrent_writers() {
    let mut cluster = Cluster::start(2);
    let mut attempts = Vec::new();
    // xorshift, fixed seed: the same kill moments every run.
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    for round in 0..6 {
        let addresses = vec![
            cluster.addr(0),
            cluster.addr(0),
            cluster.addr(1),
            cluster.addr(1),
        ];
        // Each round's keys apart: writers restart their serials.
        let writers = Writers::start(&format!("r{round}/"), &addresses);
        writers.wait_for_acknowledged(10);
        std::thread::sleep(Duration::from_millis(next() % 300));
        let victim = (next() % 2) as usize;
        cluster.nodes[victim].kill();
        writers.wait_for_acknowledged(5);
        cluster.nodes[1 - victim].kill();
        attempts.extend(writers.finish());
        cluster.nodes.clear();
        cluster.add_node();
        cluster.add_node();
    }
    let acknowledged = attempts.iter().filter(|a| a.revision.is_some()).count();
    println!("{acknowledged} writes acknowledged over 6 rounds of node kills");
    // Fresh nodes (started after the last kill) hold every acknowledged write.
    assert_all_present(&cluster.addr(0), &attempts);
    assert_all_present(&cluster.addr(1), &attempts);
}
