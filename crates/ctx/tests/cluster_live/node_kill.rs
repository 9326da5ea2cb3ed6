//! A ctx node SIGKILLed under Socket.IO clients and writers (issue 13: "a ctx node killed →
//! clients of the other nodes unaffected"), with `node_kill.py` as the clients.
//!
//! Socket.IO cannot replay: a client cut from a dead node catches up by the snapshot the
//! next node sends on connect, then follows that node's `context_updated`.

use super::Peer;
use crate::common::cluster::cluster;
use crate::common::try_http;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What `node_kill.py` prints at the end.
#[derive(Deserialize)]
struct Summary {
    writers: Vec<Writer>,
    fence: Write,
    /// When the peer asked for the kill (its monotonic clock, seconds).
    kill_at: f64,
    listeners: Vec<Client>,
    reconnected: Vec<Client>,
}

#[derive(Deserialize)]
struct Writer {
    name: String,
    node: usize,
    kind: String,
    acked: Vec<Write>,
    /// Tried without an answer: done or not.
    unacked: Vec<String>,
    failures: Vec<Failure>,
}

#[derive(Clone, Deserialize)]
struct Write {
    key: String,
    value: Value,
    revision: u64,
    #[serde(default)]
    before_kill: bool,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    before_kill: bool,
}

#[derive(Deserialize)]
struct Client {
    name: String,
    node: usize,
    snapshots: Vec<Snapshot>,
    updated: Vec<Updated>,
    disconnects: usize,
    connected: bool,
}

#[derive(Deserialize)]
struct Snapshot {
    revision: u64,
    context: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Updated {
    key: String,
    value: Value,
    revision: u64,
    /// When it arrived (the peer's monotonic clock, seconds).
    at: f64,
}

#[test]
fn a_sigkilled_node_leaves_socketio_clients_of_other_nodes_whole_and_its_own_catch_up_by_snapshot()
{
    let mut cluster = cluster(3, &[]);
    let urls: Vec<&str> = cluster.nodes.iter().map(|n| n.url.as_str()).collect();
    let mut peer = Peer::start("node_kill.py", &urls);
    peer.expect("kill");
    let node0 = cluster.nodes.remove(0);
    let addr0 = node0.addr.clone();
    node0.kill_hard();
    assert!(
        try_http(&addr0, "GET", "/health", None).is_err(),
        "node 0 is dead"
    );
    peer.send("killed");
    let summary: Summary =
        serde_json::from_value(peer.json("the summary")).expect("the peer's summary");
    peer.finish();

    // Every writer of a live node was answered every time; node 0's writers only lost
    // their node after the kill.
    for writer in &summary.writers {
        let unexpected: Vec<&str> = writer
            .failures
            .iter()
            .filter(|f| writer.node != 0 || f.before_kill)
            .map(|f| f.error.as_str())
            .collect();
        assert!(unexpected.is_empty(), "{}: {unexpected:?}", writer.name);
    }
    let acked: BTreeMap<&str, &Write> = summary
        .writers
        .iter()
        .flat_map(|w| &w.acked)
        .chain([&summary.fence])
        .map(|write| (write.key.as_str(), write))
        .collect();
    let in_doubt: BTreeSet<&str> = summary
        .writers
        .iter()
        .flat_map(|w| &w.unacked)
        .map(String::as_str)
        .collect();

    // Node 1's clients: never cut, never sent a second snapshot (which would say they
    // missed changes), every acknowledged write exactly once with its revision and value;
    // beyond those only writes in flight on node 0 when it died (done, unanswered).
    let mut seen_in_doubt = BTreeSet::new();
    for client in &summary.listeners {
        let name = &client.name;
        assert_eq!(client.disconnects, 0, "{name} was cut");
        assert!(client.connected, "{name} was cut");
        assert_eq!(
            client.snapshots.len(),
            1,
            "{name}: a snapshot besides the first"
        );
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for event in &client.updated {
            *count.entry(&event.key).or_default() += 1;
            match acked.get(event.key.as_str()) {
                Some(write) => assert_eq!(
                    (event.revision, &event.value),
                    (write.revision, &write.value),
                    "{name}: {}",
                    event.key
                ),
                None => {
                    assert!(
                        in_doubt.contains(event.key.as_str()),
                        "{name}: an event for {}, never written",
                        event.key
                    );
                    seen_in_doubt.insert(event.key.as_str());
                }
            }
        }
        let repeated: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "{name}: repeated {repeated:?}");
        let missed: Vec<&&str> = acked.keys().filter(|k| !count.contains_key(*k)).collect();
        assert!(
            missed.is_empty(),
            "{name} missed {} of {} acknowledged writes: {missed:?}",
            missed.len(),
            acked.len()
        );
    }

    // Node 0's Socket.IO clients, connected again to node 1 and node 2: the snapshot holds
    // every write acknowledged before the kill, and with the events after it every write
    // acknowledged at all.
    let before_kill: Vec<&Write> = acked.values().copied().filter(|w| w.before_kill).collect();
    let mut overlaps = Vec::new();
    for client in &summary.reconnected {
        let name = &client.name;
        assert_eq!(client.disconnects, 0, "{name} was cut again");
        assert!(client.connected, "{name} was cut again");
        let [snapshot] = client.snapshots.as_slice() else {
            panic!("{name}: {} snapshots", client.snapshots.len());
        };
        for write in &before_kill {
            assert_eq!(
                snapshot.context.get(&write.key),
                Some(&write.value),
                "{name} (node {}): {} acknowledged before the kill, not in the snapshot",
                client.node,
                write.key
            );
        }
        let mut after: BTreeMap<&str, usize> = BTreeMap::new();
        for event in &client.updated {
            *after.entry(&event.key).or_default() += 1;
        }
        let repeated: Vec<_> = after.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "{name}: repeated {repeated:?}");
        let missed: Vec<&&str> = acked
            .iter()
            .filter(|(key, write)| {
                snapshot.context.get(**key) != Some(&write.value) && !after.contains_key(**key)
            })
            .map(|(key, _)| key)
            .collect();
        assert!(missed.is_empty(), "{name} never got {missed:?}");
        // Events of writes the snapshot already held: harmless (same value), counted.
        overlaps.push(
            client
                .updated
                .iter()
                .filter(|event| event.revision <= snapshot.revision)
                .count(),
        );
    }

    // How long node 1's clients went without an event: at most, and across the kill.
    let pauses: Vec<(u128, u128)> = summary
        .listeners
        .iter()
        .map(|client| {
            let arrivals: Vec<f64> = client.updated.iter().map(|event| event.at).collect();
            let millis = |pair: &[f64]| ((pair[1] - pair[0]) * 1000.0) as u128;
            let longest = arrivals.windows(2).map(millis).max().unwrap_or(0);
            let across = arrivals
                .windows(2)
                .find(|pair| pair[0] <= summary.kill_at && summary.kill_at < pair[1])
                .map_or(0, millis);
            (longest, across)
        })
        .collect();

    let by_node = |node: usize| {
        summary
            .writers
            .iter()
            .filter(|w| w.node == node)
            .map(|w| w.acked.len())
            .sum::<usize>()
    };
    let by_socketio: usize = summary
        .writers
        .iter()
        .filter(|w| w.kind == "socketio")
        .map(|w| w.acked.len())
        .sum();
    println!(
        "{} writes acknowledged ({} through node 0, {} through node 2, the fence; {} by \
         Socket.IO), {} before the kill; {} in flight on node 0 when it died, {} of them \
         done; each of node 1's {} clients got {} events; node 0's clients caught up by \
         snapshots of {:?} keys, with {overlaps:?} events repeating them; longest pause \
         between two events at node 1's clients, and the pause across the kill (ms): \
         {pauses:?}",
        acked.len(),
        by_node(0),
        by_node(2),
        by_socketio,
        before_kill.len(),
        in_doubt.len(),
        seen_in_doubt.len(),
        summary.listeners.len(),
        summary.listeners.first().map_or(0, |c| c.updated.len()),
        summary
            .reconnected
            .iter()
            .map(|c| c.snapshots.first().map_or(0, |s| s.context.len()))
            .collect::<Vec<_>>(),
    );
}
