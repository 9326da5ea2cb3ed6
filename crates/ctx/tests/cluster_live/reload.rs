//! A node reloading its memory after etcd compacted past it (a long disconnection) tells
//! its `/ws` watchers `resync_required` and sends its Socket.IO clients a fresh snapshot
//! (`snapshots.py`).

use super::{PATIENCE, Peer};
use crate::common::cluster::{Watch, cluster};
use crate::common::{ChildServer, wait_until};
use ctx_etcd::local_cluster::LocalEtcdCluster;
use serde_json::json;
use std::process::Command;

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
    let dashboard = Peer::start("snapshots.py", &[&cluster.nodes[0].url]);
    dashboard.expect("ready");

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
        wait_until(PATIENCE, "B takes a write", || {
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
    let context = dashboard.json("the second snapshot's context");
    dashboard.finish();
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
