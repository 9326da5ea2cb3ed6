//! etcd members killed under writes: the leader, a follower, then a quorum.

use super::common::try_http;
use super::writers::{Writers, assert_all_present, resumed_after};
use super::{Cluster, PATIENCE, RESUME_BOUND, post, status_revision, wait_until};
use serde_json::json;
use std::time::Instant;

#[test]
fn killing_etcd_members_including_the_leader_pauses_writes_briefly_and_loses_none() {
    let mut cluster = Cluster::start(2);
    let addresses = vec![
        cluster.addr(0),
        cluster.addr(0),
        cluster.addr(1),
        cluster.addr(1),
    ];
    let writers = Writers::start("", &addresses);
    writers.wait_for_acknowledged(50);

    // The leader first: an election follows.
    let leader = cluster.etcd.leader().expect("a leader");
    let killed_leader_at = Instant::now();
    cluster.etcd.kill_member(leader).expect("kill the leader");
    writers.wait_for_acknowledged(50);
    cluster
        .etcd
        .restart_member(leader)
        .expect("restart the old leader");

    // Then a follower: no election, the leader loses a peer.
    let follower = (cluster.etcd.leader().expect("a leader") + 1) % 3;
    let killed_follower_at = Instant::now();
    cluster.etcd.kill_member(follower).expect("kill a follower");
    writers.wait_for_acknowledged(50);
    let attempts = writers.finish();

    let after_leader = resumed_after(&attempts, killed_leader_at).expect("writes resumed");
    let after_follower = resumed_after(&attempts, killed_follower_at).expect("writes resumed");
    println!(
        "writes resumed {after_leader:?} after the leader was killed, {after_follower:?} after a follower"
    );
    assert!(
        after_leader <= RESUME_BOUND,
        "{after_leader:?} after the leader's kill"
    );
    assert!(
        after_follower <= RESUME_BOUND,
        "{after_follower:?} after a follower's kill"
    );
    assert_all_present(&cluster.addr(0), &attempts);
    assert_all_present(&cluster.addr(1), &attempts);
}

#[test]
fn without_etcd_quorum_writes_answer_503_and_reads_keep_serving_flagged_stale() {
    let mut cluster = Cluster::start(2);
    let (status, answer) = post(&cluster.addr(0), "before", json!("kept")).expect("write");
    assert_eq!(status, 200, "{answer}");
    let revision = answer["revision"].as_u64().expect("revision");
    wait_until(PATIENCE, "node 1 to see the write", || {
        status_revision(&cluster.addr(1)).is_some_and(|seen| seen >= revision)
    });

    let leader = cluster.etcd.leader().expect("a leader");
    let other = (leader + 1) % 3;
    cluster.etcd.kill_member(leader).expect("kill");
    cluster.etcd.kill_member(other).expect("kill");

    for node in 0..2 {
        let addr = cluster.addr(node);
        let (status, answer) = post(&addr, "during", json!(1)).expect("an answer, not a hang");
        assert_eq!(status, 503, "node {node}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains("etcd"), "node {node}: {answer}");

        let (status, answer) = try_http(&addr, "GET", "/ctx/before", None).expect("read");
        assert_eq!(status, 200, "node {node}: {answer}");
        assert_eq!(answer["value"], json!("kept"), "node {node}: {answer}");

        // Reads go on from memory, which may be stale: both say so.
        wait_until(
            PATIENCE,
            &format!("node {node} to flag its reads stale"),
            || {
                let (_, status) = try_http(&addr, "GET", "/ctx/status", None).expect("status");
                status["status"] == json!("degraded")
                    && status["writes"] == json!("unavailable")
                    && status["stale"] == json!(true)
            },
        );
        let (code, health) = try_http(&addr, "GET", "/health", None).expect("health");
        assert_eq!(code, 503, "node {node}: {health}");
        assert_eq!(
            health["writes"],
            json!("unavailable"),
            "node {node}: {health}"
        );
        assert_eq!(health["stale"], json!(true), "node {node}: {health}");
    }

    cluster.etcd.restart_member(leader).expect("restart");
    cluster.etcd.restart_member(other).expect("restart");
    for node in 0..2 {
        let addr = cluster.addr(node);
        wait_until(
            PATIENCE,
            &format!("node {node} to accept writes again"),
            || matches!(post(&addr, "after", json!(node)), Ok((200, _))),
        );
        wait_until(
            PATIENCE,
            &format!("node {node} to report healthy again"),
            || matches!(try_http(&addr, "GET", "/health", None), Ok((200, _))),
        );
        let (_, status) = try_http(&addr, "GET", "/ctx/status", None).expect("status");
        assert_eq!(status["stale"], json!(false), "node {node}: {status}");
        let (_, answer) = try_http(&addr, "GET", "/ctx/before", None).expect("read");
        assert_eq!(answer["value"], json!("kept"));
    }
}
