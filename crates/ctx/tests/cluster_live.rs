//! Cluster mode (`--features etcd`) answers the live API and the limits as the embedded
//! mode does: Socket.IO clients of one node see writes made on others, each sender gets
//! its own confirmations even when one etcd transaction carries several senders' writes;
//! `/ws` watchers are told `resync_required` when a node had to reload after etcd
//! compacted past it; `--max-keys` refuses new keys. Real etcd members and `ctx serve`
//! children on loopback, real python-socketio clients (`cluster_socketio_peer.py`; needs a
//! `python3` with python-socketio first on PATH, as .ci/run provides).
#![cfg(feature = "etcd")]

mod common;

use common::cluster::cluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
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
    let child = Command::new("python3")
        .args([peer, &a.url, &b.url, &c.url, &BURST.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let output = common::wait_output(child, PATIENCE);
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
    let create = |node: &common::ChildServer, key: &str| {
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
