//! ctx nodes killed under writes: the other nodes' clients go on, nothing acknowledged
//! is lost.

use super::Cluster;
use super::common::try_http;
use super::writers::{Attempt, Writers, assert_all_present};
use std::time::Duration;

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
