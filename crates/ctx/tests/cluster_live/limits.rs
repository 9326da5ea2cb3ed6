//! Limits in cluster mode: a node's bounded history (`--history-limit`) and `--max-keys`,
//! exact across nodes even under concurrent creates.

use crate::common::cluster::{Watch, cluster};
use crate::common::{ChildServer, http};
use serde_json::json;

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
    let (status, deleted) = http(&a.addr, "DELETE", "/ctx/k1", None);
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
