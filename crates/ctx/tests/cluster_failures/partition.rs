//! A network partition: the etcd leader cut off from the other two members (relays in
//! front of their peer ports, `LocalEtcdCluster::start_partitionable`) while writers write
//! through both ctx nodes, then healed. Unlike a kill, the cut-off member keeps running and
//! keeps answering its clients, ctx's nodes among them.

use super::writers::{Attempt, Writers, assert_all_present, resumed_after};
use super::{Cluster, PATIENCE, RESUME_BOUND, wait_until};
use std::time::{Duration, Instant};

/// From the majority's election on, how long ctx may still send requests to the cut-off
/// member: it leaves a node's rotation at its next probe (every 0.2 s) that finds it
/// without a leader (crates/ctx-etcd/src/store/rotation.rs), and a write sent to it just
/// before answers at once. The margin is for a loaded machine.
const SETTLE: Duration = Duration::from_secs(1);

#[test]
fn cutting_the_etcd_leader_off_keeps_writes_acknowledged_and_loses_none() {
    let mut cluster = Cluster::start_partitionable(2);
    let nodes = [cluster.addr(0), cluster.addr(1)];
    // Writers 0 and 1 on node 0, 2 and 3 on node 1.
    let addresses = [&nodes[0], &nodes[0], &nodes[1], &nodes[1]].map(|addr| addr.to_string());
    let writers = Writers::start("", &addresses);
    writers.wait_for_acknowledged(50);

    let isolated = cluster.etcd.leader().expect("a leader");
    let old_leader_id = cluster
        .etcd
        .member_status(isolated)
        .expect("status")
        .member_id;
    let cut_at = Instant::now();
    cluster.etcd.isolate(isolated).expect("cut the leader off");
    let majority: Vec<usize> = (0..3).filter(|&member| member != isolated).collect();
    wait_until(PATIENCE, "the majority to elect one of its own", || {
        majority.iter().all(|&member| {
            cluster
                .etcd
                .member_status(member)
                .is_ok_and(|status| status.leader_id != 0 && status.leader_id != old_leader_id)
        })
    });
    let elected_at = Instant::now();
    // Long enough after SETTLE for a node still sending a share of its requests to the
    // cut-off member to show it: 400 writes take ~4 s here.
    writers.wait_for_acknowledged(400);
    let healed_at = Instant::now();
    cluster.etcd.heal().expect("heal");

    // The cut-off member rejoins and catches up with everything committed without it.
    cluster.etcd.wait_healthy().expect("every member healthy");
    writers.wait_for_acknowledged(50);
    let attempts = writers.finish();
    let ended_at = Instant::now();
    let newest = attempts
        .iter()
        .filter_map(|a| a.revision)
        .max()
        .unwrap_or(0);
    wait_until(PATIENCE, "the cut-off member to catch up", || {
        cluster
            .etcd
            .member_status(isolated)
            .is_ok_and(|status| u64::try_from(status.revision).is_ok_and(|r| r >= newest))
    });

    let started_in = |from: Instant, to: Instant| {
        attempts
            .iter()
            .filter(move |a| (from..to).contains(&a.started))
    };
    let failed_in = |from: Instant, to: Instant| {
        started_in(from, to)
            .filter(|a| a.revision.is_none())
            .collect::<Vec<&Attempt>>()
    };
    let acknowledged = started_in(cut_at, healed_at)
        .filter(|a| a.revision.is_some())
        .count();
    let resumed = resumed_after(&attempts, cut_at).expect("writes resumed");
    let pauses = [0..2, 2..4].map(|writers| longest_pause(&attempts, writers, cut_at, ended_at));
    let settled_at = elected_at + SETTLE;
    println!(
        "partition of {:?}: the majority elected a leader {:?} after the cut; first write \
         started after the cut acknowledged {resumed:?} after it; during the partition \
         {acknowledged} writes acknowledged, {} failed ({} after the election + {SETTLE:?}), \
         {} failed after the heal; longest pause per node from the cut to the end {pauses:?}; \
         {} acknowledged in all",
        healed_at - cut_at,
        elected_at - cut_at,
        failed_in(cut_at, healed_at).len(),
        failed_in(settled_at, healed_at).len(),
        failed_in(healed_at, ended_at).len(),
        attempts.iter().filter(|a| a.revision.is_some()).count(),
    );
    assert!(
        resumed <= RESUME_BOUND,
        "writes resumed {resumed:?} after the cut"
    );
    for (node, pause) in pauses.iter().enumerate() {
        assert!(
            *pause <= RESUME_BOUND,
            "node {node}: no write acknowledged for {pause:?}"
        );
    }
    // Before the fix a third of them kept failing (`no leader` from the cut-off member).
    let failed: Vec<&Option<String>> = failed_in(settled_at, healed_at)
        .iter()
        .map(|a| &a.refusal)
        .collect();
    assert!(
        failed.is_empty(),
        "{} writes failed once the majority had a leader: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    for addr in &nodes {
        assert_all_present(addr, &attempts);
    }
}

/// The longest stretch between `from` and `to` in which none of the writers `writers`
/// (indices in `Writers::start`'s addresses) had a write acknowledged.
fn longest_pause(
    attempts: &[Attempt],
    writers: std::ops::Range<usize>,
    from: Instant,
    to: Instant,
) -> Duration {
    let mut acknowledged: Vec<Instant> = attempts
        .iter()
        .filter(|a| a.revision.is_some() && writers.contains(&a.writer))
        .map(|a| a.finished)
        .filter(|finished| (from..to).contains(finished))
        .collect();
    acknowledged.sort();
    let mut previous = from;
    let mut longest = Duration::ZERO;
    for finished in acknowledged.into_iter().chain([to]) {
        longest = longest.max(finished - previous);
        previous = finished;
    }
    longest
}
