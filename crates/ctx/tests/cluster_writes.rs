//! Cluster-mode writes under concurrency (`--features etcd`): two ctx nodes on a real
//! 3-member etcd, each with many writers at once, so each node has several batches in
//! flight to etcd (ctx-etcd's store/writer/). Every per-key rule must survive that:
//! increments from both nodes each get a distinct value and sum exactly, one of several
//! compare-and-set contenders wins, a key's history holds every acknowledged write once in
//! revision order, and a read on the node right after an acknowledgement sees the write.
#![cfg(feature = "etcd")]

mod common;

use common::ChildServer;
use common::cluster::cluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Writer threads per node, each with its own connection per request: enough that more
/// than ctx-etcd's `store::writer::MIN_BEHIND` (32, store/writer/mod.rs) writes wait while a batch is in flight.
const WRITERS_PER_NODE: usize = 48;
/// Rounds per writer; each round writes four ways.
const ROUNDS: usize = 6;
/// Counters the writers share (writer w increments `count/{w % COUNTERS}`).
const COUNTERS: usize = 3;

/// What one writer was answered.
#[derive(Default)]
struct Seen {
    /// Counter → the values its increments were answered.
    increments: BTreeMap<String, Vec<i64>>,
    /// (revision, value) of each set of `shared` that changed it.
    shared: Vec<(u64, String)>,
    /// Rounds whose claim this writer won.
    claims_won: Vec<usize>,
    /// Its own key's answered revisions, in order.
    own: Vec<u64>,
}

fn ok(node: &ChildServer, path: &str, body: Value) -> Value {
    let (status, answer) = node.post(path, &body);
    assert_eq!(status, 200, "{path} {body}: {answer}");
    answer
}

fn revision(answer: &Value) -> u64 {
    answer["revision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no revision in {answer}"))
}

/// One writer: per round, its own key (then read back on the node), an increment (read
/// back), a set of the shared key and a claim of the round's key.
fn writer(node: &ChildServer, name: &str, index: usize) -> Seen {
    let mut seen = Seen::default();
    let own = format!("own/{name}");
    let counter = format!("count/{}", index % COUNTERS);
    for round in 0..ROUNDS {
        let set = ok(
            node,
            "/ctx",
            json!({"key": own, "value": round, "who": name}),
        );
        assert_eq!(set["changed"], json!(true), "{set}");
        let written = revision(&set);
        let (_, read) = node.get(&format!("/ctx/{own}"));
        assert_eq!(
            (read["value"].clone(), read["revision"].as_u64()),
            (json!(round), Some(written)),
            "read-your-writes on {name}'s node after revision {written}"
        );
        seen.own.push(written);

        let incr = ok(node, "/ctx/incr", json!({"key": counter, "who": name}));
        let value = incr["value"].as_i64().expect("an integer");
        let (_, read) = node.get(&format!("/ctx/{counter}"));
        let read_revision = read["revision"].as_u64().unwrap_or(0);
        assert!(
            read_revision >= revision(&incr) && read["value"].as_i64() >= Some(value),
            "read-your-writes: {read} after {incr}"
        );
        seen.increments
            .entry(counter.clone())
            .or_default()
            .push(value);

        let mine = format!("{name}/{round}");
        let set = ok(
            node,
            "/ctx",
            json!({"key": "shared", "value": mine, "who": name}),
        );
        assert_eq!(set["changed"], json!(true), "{set}");
        seen.shared.push((revision(&set), mine));

        let (status, claim) = node.post(
            "/ctx",
            &json!({"key": format!("claim/{round}"), "value": name, "who": name, "if_revision": 0}),
        );
        match status {
            200 => seen.claims_won.push(round),
            409 => {}
            _ => panic!("claim of round {round}: {status} {claim}"),
        }
    }
    seen
}

#[test]
fn concurrent_writers_on_two_nodes_keep_every_per_key_rule() {
    let cluster = cluster(2, &[]);
    let nodes = [&cluster.nodes[0], &cluster.nodes[1]];
    let seen: Vec<(String, Seen)> = std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            for index in 0..WRITERS_PER_NODE {
                let name = format!("node{n}-w{index}");
                threads.push(scope.spawn(move || {
                    let seen = writer(node, &name, index);
                    (name, seen)
                }));
            }
        }
        threads
            .into_iter()
            .map(|t| t.join().expect("a writer panicked"))
            .collect()
    });
    let check = nodes[1];
    let history = |key: &str| -> Vec<Value> {
        let (status, answer) = check.get(&format!("/ctx/history?key={key}&consistent=true"));
        assert_eq!(status, 200, "{answer}");
        answer["history"].as_array().expect("entries").clone()
    };

    // Increments: every answer distinct, together exactly 1..=n per counter.
    let mut increments: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (_, writer) in &seen {
        for (counter, values) in &writer.increments {
            increments
                .entry(counter.clone())
                .or_default()
                .extend(values);
        }
    }
    let writers = 2 * WRITERS_PER_NODE;
    let mut total = 0;
    for (counter, mut values) in increments {
        values.sort_unstable();
        let count = i64::try_from(values.len()).expect("count");
        assert_eq!(values, (1..=count).collect::<Vec<_>>(), "{counter}");
        let (_, read) = check.get(&format!("/ctx/{counter}?consistent=true"));
        assert_eq!(read["value"], json!(count), "{counter}: {read}");
        total += values.len();
    }
    assert_eq!(total, writers * ROUNDS);

    // Claims: exactly one winner per round, and every node holds the winner's name.
    for round in 0..ROUNDS {
        let winners: Vec<&str> = seen
            .iter()
            .filter(|(_, w)| w.claims_won.contains(&round))
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        for node in nodes {
            let (_, read) = node.get(&format!("/ctx/claim/{round}?consistent=true"));
            assert_eq!(read["value"], json!(winners[0]), "{read}");
        }
    }

    // Own keys: history is the writer's rounds in order, at the answered revisions.
    for (name, writer) in &seen {
        let entries = history(&format!("own/{name}"));
        let revisions: Vec<u64> = entries.iter().map(revision).collect();
        let values: Vec<Value> = entries.iter().map(|e| e["after"].clone()).collect();
        assert_eq!(revisions, writer.own, "{name}");
        assert_eq!(values, (0..ROUNDS).map(|r| json!(r)).collect::<Vec<_>>());
    }

    // The shared key: every acknowledged set once, revisions strictly increasing, each
    // entry's before the previous entry's after.
    let entries = history("shared");
    let acknowledged: BTreeSet<(u64, String)> =
        seen.iter().flat_map(|(_, w)| w.shared.clone()).collect();
    let recorded: Vec<(u64, String)> = entries
        .iter()
        .map(|e| (revision(e), e["after"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert!(
        recorded.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "revisions not strictly increasing: {recorded:?}"
    );
    assert_eq!(recorded.len(), writers * ROUNDS);
    assert_eq!(recorded.into_iter().collect::<BTreeSet<_>>(), acknowledged);
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["before"], pair[0]["after"], "{}", pair[1]);
    }
}
