//! Cluster mode (`--features etcd`) answers the live API and the limits as the embedded
//! mode does: Socket.IO clients of one node see writes made on others, each sender gets
//! its own confirmations even when one etcd transaction carries several senders' writes;
//! `/ws` watchers are told `resync_required` when a node had to reload after etcd
//! compacted past it, or asked for more than its bounded history holds; `--max-keys`
//! refuses new keys, exactly across nodes. Real etcd members and `ctx serve`
//! children on loopback, real python-socketio clients (`cluster_socketio_peer.py`; needs a
//! `python3` with python-socketio first on PATH, as .ci/run provides).
#![cfg(feature = "etcd")]

mod common;

use common::cluster::{Watch, cluster};
use common::{ChildServer, Reaped};
use ctx_etcd::local_cluster::LocalEtcdCluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(120);
/// `context_set` per Socket.IO client in the burst (four clients write at once).
const BURST: usize = 30;

#[test]
fn socketio_clients_of_one_node_see_every_node_and_only_their_own_confirmations() {
    let cluster = cluster(3, &[]);
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let (status, written) = b.post(
        "/ctx",
        &json!({"key": "pre/existing", "value": [1, 2], "who": "setup"}),
    );
    assert_eq!(status, 200, "{written}");
    let (_, seen) = a.get("/ctx/pre/existing?consistent=true");
    assert_eq!(seen["value"], json!([1, 2]), "{seen}");

    let peer = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cluster_socketio_peer.py"
    );
    let mut child = Reaped(
        Command::new("python3")
            .args([peer, &a.url, &b.url, &c.url, &BURST.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed"),
    );
    let output = common::wait_output(&mut child.0, PATIENCE);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'socketio'"),
        "python-socketio is missing: put a venv with python-socketio[client] first on PATH (.ci/run does)"
    );
    assert!(output.status.success(), "peer failed: {stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("peer summary");

    // The snapshot on connect is node A's context.
    let snapshot = &summary["snapshot"];
    assert_eq!(snapshot["context"], json!({"pre/existing": [1, 2]}));
    assert_eq!(snapshot["context"], summary["all_a"]["context"]);
    // At or past the last write (sync markers take etcd revisions too).
    assert!(
        snapshot["revision"].as_u64() >= written["revision"].as_u64(),
        "the snapshot stands after the last write: {snapshot}"
    );

    // An HTTP write on B and a Socket.IO write on C reach A's client with key/value/who.
    let http = &summary["updated_http"];
    assert_eq!(
        (&http["key"], &http["value"], &http["who"]),
        (&json!("http/b"), &json!({"n": 1}), &json!("curl-b")),
        "{http}"
    );
    let sio = &summary["updated_sio"];
    assert_eq!(
        (&sio["key"], &sio["value"], &sio["who"]),
        (&json!("sio/c"), &json!([1, "two"]), &json!("runner-c")),
        "{sio}"
    );
    let confirmed = &summary["confirmed_c"];
    assert_eq!(confirmed["status"], "success", "{confirmed}");
    assert_eq!(confirmed["revision"], sio["revision"], "{confirmed}");

    // The burst: each client got exactly its own confirmations and exactly the others'
    // updates, although writes of several clients shared etcd revisions.
    let burst = summary["burst"].as_array().expect("burst clients");
    let keys_of = |who: &str| -> BTreeSet<String> {
        let index = who.trim_start_matches('s');
        (0..BURST)
            .map(|serial| format!("burst/s{index}/{serial}"))
            .collect()
    };
    let mut writers_at: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for client in burst {
        let who = client["who"].as_str().expect("who");
        let confirmed: Vec<(String, u64)> =
            serde_json::from_value(client["confirmed"].clone()).expect("confirmations");
        let confirmed_keys: BTreeSet<String> = confirmed.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(confirmed.len(), BURST, "{who}: one confirmation per write");
        assert_eq!(
            confirmed_keys,
            keys_of(who),
            "{who}: its own keys confirmed"
        );
        for (_, revision) in &confirmed {
            writers_at
                .entry(*revision)
                .or_default()
                .insert(who.to_owned());
        }
        let updated: Vec<(String, String)> =
            serde_json::from_value(client["updated"].clone()).expect("updates");
        let updated_keys: BTreeSet<String> = updated.iter().map(|(k, _)| k.clone()).collect();
        let others: BTreeSet<String> = burst
            .iter()
            .filter_map(|other| other["who"].as_str())
            .filter(|other| *other != who)
            .flat_map(keys_of)
            .collect();
        assert_eq!(
            updated.len(),
            3 * BURST,
            "{who}: no update twice, none missed"
        );
        assert_eq!(
            updated_keys, others,
            "{who}: the others' writes, never its own"
        );
        assert!(
            updated
                .iter()
                .all(|(key, writer)| key.starts_with(&format!("burst/{writer}/"))),
            "{who}: every update names its writer"
        );
    }
    let shared = writers_at
        .values()
        .filter(|writers| writers.len() > 1)
        .count();
    println!(
        "burst: {} writes in {} etcd revisions, {shared} of them carrying several clients' writes",
        4 * BURST,
        writers_at.len()
    );
    assert!(
        shared > 0,
        "no etcd revision carried writes of two clients: the test did not exercise batching"
    );
}

#[test]
fn max_keys_holds_across_nodes_even_under_concurrent_creates() {
    let cluster = cluster(2, &["--max-keys", "6"]);
    let [a, b] = [&cluster.nodes[0], &cluster.nodes[1]];
    let create = |node: &ChildServer, key: &str| {
        node.post("/ctx", &json!({"key": key, "value": 1, "who": "t"}))
    };
    for (node, key) in [(a, "k1"), (a, "k2"), (b, "k3"), (b, "k4"), (a, "k5")] {
        let (status, answer) = create(node, key);
        assert_eq!(status, 200, "{key}: {answer}");
    }
    // A transaction creating two keys when one is left: refused whole, on either node.
    let (status, refused) = b.post(
        "/ctx/txn",
        &json!({"success": [
            {"op": "set", "key": "t1", "value": 1},
            {"op": "set", "key": "t2", "value": 2},
        ]}),
    );
    assert_eq!(status, 507, "{refused}");
    assert_eq!(refused["limit"], 6, "{refused}");
    let (status, k6) = create(b, "k6");
    assert_eq!(status, 200, "the sixth key: {k6}");

    // Full: a new key is refused on both nodes (B wrote the last one, A may not have it
    // yet), by every path; updates and deletes pass.
    for node in [a, b] {
        let (status, refused) = create(node, "k7");
        assert_eq!(status, 507, "{refused}");
        assert_eq!(refused["limit"], 6, "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("limit of 6 keys")),
            "{refused}"
        );
        let (status, refused) = node.post("/ctx/incr", &json!({"key": "counter"}));
        assert_eq!(status, 507, "incr of a new key: {refused}");
        let (status, updated) = node.post("/ctx", &json!({"key": "k1", "value": 2}));
        assert_eq!(status, 200, "an update: {updated}");
    }
    let (status, deleted) = common::http(&a.addr, "DELETE", "/ctx/k1", None);
    assert_eq!(
        (status, &deleted["deleted"]),
        (200, &json!(true)),
        "{deleted}"
    );

    // Room for one: eight creates at once on two nodes, one wins.
    let outcomes: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|racer| {
                let node = [a, b][racer % 2];
                scope.spawn(move || create(node, &format!("race/{racer}")).0)
            })
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().expect("racer"))
            .collect()
    });
    let won = outcomes.iter().filter(|status| **status == 200).count();
    let full = outcomes.iter().filter(|status| **status == 507).count();
    assert_eq!((won, full), (1, 7), "{outcomes:?}");
    for node in [a, b] {
        let (_, all) = node.get("/ctx/all?consistent=true");
        let keys = all["context"]
            .as_object()
            .map_or(0, |context| context.len());
        assert_eq!(keys, 6, "the limit holds on every node: {all}");
    }
}

/// Polls `check` every 20 ms until it holds; fails the test after PATIENCE.
#[track_caller]
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGSTOP or SIGCONT to a node.
fn signal(node: &ChildServer, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &node.pid().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {signal}");
}

/// Whether member `index` refuses to read revision 1 because it was compacted.
fn compacted_on(etcd: &LocalEtcdCluster, index: usize) -> bool {
    // "test/" in base64: the gateway takes keys in base64.
    let range = json!({"key": "dGVzdC8=", "revision": "1"});
    match etcd.gateway(index, "/v3/kv/range", &range) {
        Ok(_) => false,
        Err(refused) => format!("{refused:?}").contains("compacted"),
    }
}

#[test]
fn a_node_reloading_after_etcd_compacted_past_it_tells_ws_watchers_to_resync() {
    let mut cluster = cluster(2, &[]);
    let first = cluster.nodes[0]
        .post("/ctx", &json!({"key": "r/1", "value": 1, "who": "t"}))
        .1;
    let r1 = first["revision"].as_u64().expect("revision");
    let watcher = Watch::start(&cluster.nodes[0], 0);
    assert_eq!(watcher.change()["key"], "r/1");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cluster_socketio_snapshots.py"
    );
    let mut dashboard = Reaped(
        Command::new("python3")
            .args([script, &cluster.nodes[0].url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed"),
    );
    let mut dashboard_out = BufReader::new(dashboard.0.stdout.take().expect("stdout"));
    let mut ready = String::new();
    dashboard_out
        .read_line(&mut ready)
        .expect("the Socket.IO client's first line");
    assert_eq!(
        ready.trim(),
        "ready",
        "python-socketio on PATH (.ci/run's venv)?"
    );

    // Node A stops; every etcd member restarts (one at a time, quorum kept), which cuts
    // A's watch stream (what etcd sent before sits unread in A's socket). Then B writes
    // and etcd compacts past everything A has: when A runs again it must watch again,
    // from a revision etcd no longer has.
    signal(&cluster.nodes[0], "-STOP");
    for member in 0..3 {
        cluster
            .etcd
            .restart_member(member)
            .expect("member restarts");
    }
    let mut last = 0;
    for n in 2..=4 {
        let write = json!({"key": format!("r/{n}"), "value": n, "who": "t"});
        // B's own connections were cut too: a write may fail once while it reconnects.
        wait_until("B takes a write", || {
            let (status, answer) = cluster.nodes[1].post("/ctx", &write);
            last = answer["revision"].as_u64().unwrap_or(0);
            status == 200
        });
    }
    let compact = json!({"revision": last.to_string(), "physical": true});
    cluster
        .etcd
        .gateway(0, "/v3/kv/compaction", &compact)
        .expect("compaction");
    for member in 0..3 {
        assert!(
            compacted_on(&cluster.etcd, member),
            "member {member} still serves revision 1"
        );
    }
    signal(&cluster.nodes[0], "-CONT");

    // The live watcher on A is told, then follows from where A reloaded.
    let resync = watcher.change();
    assert_eq!(resync["type"], "resync_required", "{resync}");
    assert_eq!(resync["reason"], "compacted", "{resync}");
    assert_eq!(resync["compacted_through"].as_u64(), Some(last), "{resync}");
    assert!(
        resync["requested"].as_u64() >= Some(r1) && resync["requested"].as_u64() < Some(last),
        "{resync}"
    );
    let a = &cluster.nodes[0];
    let (_, reloaded) = a.get("/ctx/r/4?consistent=true");
    assert_eq!(
        reloaded["value"],
        json!(4),
        "A reloaded B's writes: {reloaded}"
    );
    let (status, fifth) = cluster.nodes[1].post("/ctx", &json!({"key": "r/5", "value": 5}));
    assert_eq!(status, 200, "{fifth}");
    let live = watcher.change();
    assert_eq!(
        (live["key"].as_str(), live["revision"].as_u64()),
        (Some("r/5"), fifth["revision"].as_u64()),
        "the watcher follows after the resync: {live}"
    );

    // A Socket.IO client of A got a fresh snapshot: it cannot replay.
    let mut context = String::new();
    dashboard_out
        .read_line(&mut context)
        .expect("the second snapshot");
    let output = common::wait_output(&mut dashboard.0, PATIENCE);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let context: Value = serde_json::from_str(&context).expect("a snapshot's context");
    assert_eq!(context["r/4"], json!(4), "{context}");

    // A new watcher asking for a revision A's history no longer holds: resync_required.
    let late = Watch::start(a, r1);
    let resync = late.change();
    assert_eq!(resync["type"], "resync_required", "{resync}");
    assert_eq!(
        (
            resync["requested"].as_u64(),
            resync["compacted_through"].as_u64()
        ),
        (Some(r1), Some(last)),
        "{resync}"
    );
    // From the reload on, A's history replays.
    let resumed = Watch::start(a, last);
    assert_eq!(resumed.change()["key"], "r/5");
}

#[test]
fn a_since_revision_older_than_a_nodes_bounded_history_gets_resync_required() {
    let cluster = cluster(1, &["--history-limit", "3"]);
    let node = &cluster.nodes[0];
    let revisions: Vec<u64> = (1..=6)
        .map(|n| {
            let (status, answer) = node.post("/ctx", &json!({"key": format!("h/{n}"), "value": n}));
            assert_eq!(status, 200, "{answer}");
            answer["revision"].as_u64().expect("revision")
        })
        .collect();
    // The node keeps the last 3 changes: from the first, a resync; from the third, a replay.
    let resync = Watch::start(node, revisions[0]).change();
    assert_eq!(resync["type"], "resync_required", "{resync}");
    assert_eq!(resync["requested"].as_u64(), Some(revisions[0]), "{resync}");
    let replay = Watch::start(node, revisions[2]);
    let replayed: Vec<u64> = (0..3)
        .map(|_| replay.change()["revision"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(replayed, revisions[3..].to_vec());
}
