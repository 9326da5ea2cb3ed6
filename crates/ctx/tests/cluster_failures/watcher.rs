//! `ctx watch` following a node that is killed: it resumes on another node from its
//! revision, without gaps or duplicates.

use super::common::cluster::Watch;
use super::writers::Writers;
use super::{Cluster, PATIENCE, status_revision};
use std::collections::BTreeMap;
use std::time::Instant;

#[test]
fn a_watcher_of_a_killed_node_resumes_on_another_from_its_revision_without_gaps_or_duplicates() {
    let mut cluster = Cluster::start(3);
    let start = status_revision(&cluster.addr(2)).expect("status");
    let servers = format!("{},{}", cluster.nodes[0].url(), cluster.nodes[1].url());
    let watcher = Watch::of(&servers, Some("w"), start);

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
        let Some(event) = watcher.next_within(remaining) else {
            break;
        };
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
