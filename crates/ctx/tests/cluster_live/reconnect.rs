//! A Socket.IO client connecting to a node while writes go on (what a client of a dead
//! node does on the next one) gets its snapshot in order with that node's events: no
//! event of a write the snapshot lacks comes before it, or a client replacing its
//! context with the snapshot would lose that write (`reconnects.py`).

use super::Peer;
use crate::common::cluster::cluster;
use serde::Deserialize;

/// Connections, one after another, while 4 writers write through the other node.
const CONNECTS: usize = 40;
/// Keys written first: a bigger snapshot takes longer to send, the window a late
/// snapshot needs.
const PRELOAD: usize = 2000;

#[derive(Deserialize)]
struct Summary {
    connections: Vec<Connection>,
    failures: Vec<String>,
}

#[derive(Deserialize)]
struct Connection {
    /// The snapshot's revision.
    snapshot: u64,
    /// `context_updated` events that came before the snapshot.
    before: usize,
    /// Their revisions, of those the snapshot does not hold.
    undone: Vec<u64>,
}

#[test]
fn a_socketio_client_connecting_during_writes_gets_no_event_before_its_snapshot_that_it_lacks() {
    let cluster = cluster(2, &[]);
    let [a, b] = [&cluster.nodes[0], &cluster.nodes[1]];
    let peer = Peer::start(
        "reconnects.py",
        &[&a.url, &b.url, &CONNECTS.to_string(), &PRELOAD.to_string()],
    );
    let summary: Summary =
        serde_json::from_value(peer.json("the summary")).expect("the peer's summary");
    peer.finish();
    assert!(
        summary.failures.is_empty(),
        "writers failed: {:?}",
        summary.failures
    );

    let before: usize = summary.connections.iter().map(|c| c.before).sum();
    let undone: Vec<(u64, &[u64])> = summary
        .connections
        .iter()
        .filter(|c| !c.undone.is_empty())
        .map(|c| (c.snapshot, c.undone.as_slice()))
        .collect();
    println!(
        "{CONNECTS} connections during writes: {before} events came before their snapshot, \
         {} of them of writes the snapshot lacked",
        undone.iter().map(|(_, events)| events.len()).sum::<usize>()
    );
    assert!(
        undone.is_empty(),
        "{} of {CONNECTS} connections got, before their snapshot, events of writes it lacks \
         (snapshot revision, their revisions): {undone:?}",
        undone.len()
    );
}
