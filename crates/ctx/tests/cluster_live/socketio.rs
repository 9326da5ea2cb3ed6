//! Socket.IO across nodes: a client of one node sees writes made on every node, and each
//! sender gets exactly its own confirmations when one etcd transaction (a node's batch)
//! carries several senders' writes (`socketio_peer.py`).

use super::Peer;
use crate::common::cluster::cluster;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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

    let peer = Peer::start(
        "socketio_peer.py",
        &[&a.url, &b.url, &c.url, &BURST.to_string()],
    );
    let summary = peer.json("the summary");
    peer.finish();

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
