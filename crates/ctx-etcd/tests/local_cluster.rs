//! The launcher against real etcd processes: start-up, replication, a killed leader, a
//! restart with its data, a leader cut off from its peers, and tear-down.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ctx_etcd::local_cluster::{ClusterError, LocalEtcdCluster};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn put(cluster: &LocalEtcdCluster, member: usize, key: &str, value: &str) -> i64 {
    let answer = cluster
        .gateway(
            member,
            "/v3/kv/put",
            &json!({"key": STANDARD.encode(key), "value": STANDARD.encode(value)}),
        )
        .expect("put through the gateway");
    revision(&answer)
}

/// A linearizable read on `member`: the value of `key`, or None.
fn get(cluster: &LocalEtcdCluster, member: usize, key: &str) -> Option<String> {
    let answer = cluster
        .gateway(
            member,
            "/v3/kv/range",
            &json!({"key": STANDARD.encode(key)}),
        )
        .expect("range through the gateway");
    let value = answer["kvs"][0]["value"].as_str()?;
    Some(String::from_utf8(STANDARD.decode(value).expect("base64 value")).expect("utf-8 value"))
}

fn revision(answer: &Value) -> i64 {
    answer["header"]["revision"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("a revision")
}

fn refuses_connections(url: &str) -> bool {
    let address = url.trim_start_matches("http://");
    TcpStream::connect(address).is_err()
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn three_members_start_healthy_agree_on_one_leader_and_replicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = LocalEtcdCluster::start(3, dir.path()).expect("cluster starts");
    assert_eq!(cluster.len(), 3);
    let urls = cluster.client_urls();
    assert_eq!(urls.len(), 3);
    assert_eq!(cluster.endpoints(), urls.join(","));
    assert!(
        urls.iter().all(|url| url.starts_with("http://127.0.0.1:")),
        "{urls:?}"
    );

    let leader = cluster.leader().expect("a leader");
    let statuses: Vec<_> = (0..3)
        .map(|index| cluster.member_status(index).expect("status"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|status| status.is_leader()).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses[leader].is_leader());
    assert!(
        statuses
            .iter()
            .all(|status| status.leader_id == statuses[leader].member_id)
    );

    put(&cluster, 0, "greeting", "hello");
    assert_eq!(get(&cluster, 2, "greeting").as_deref(), Some("hello"));
}

#[test]
fn a_killed_leader_is_replaced_and_rejoins_with_its_data_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = LocalEtcdCluster::start(3, dir.path()).expect("cluster starts");
    let old_leader = cluster.leader().expect("a leader");
    let survivor = (old_leader + 1) % 3;
    put(&cluster, old_leader, "before", "1");

    cluster.kill_member(old_leader).expect("kill");
    assert!(!cluster.is_running(old_leader).expect("member exists"));
    assert!(refuses_connections(
        &cluster.client_url(old_leader).expect("url")
    ));
    let new_leader = cluster.leader().expect("a new leader is elected");
    assert_ne!(new_leader, old_leader);
    let written_without_it = put(&cluster, survivor, "during", "2");

    cluster.restart_member(old_leader).expect("restart");
    assert!(cluster.is_running(old_leader).expect("member exists"));
    // Linearizable reads on the restarted member: its old data and what it missed.
    assert_eq!(get(&cluster, old_leader, "before").as_deref(), Some("1"));
    assert_eq!(get(&cluster, old_leader, "during").as_deref(), Some("2"));
    let status = cluster.member_status(old_leader).expect("status");
    assert!(
        status.revision >= written_without_it,
        "{status:?} vs {written_without_it}"
    );
}

/// Polls `condition` every 50 ms until it holds; panics after 60 s.
#[track_caller]
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_leader_cut_off_from_its_peers_is_replaced_and_catches_up_after_the_heal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = LocalEtcdCluster::start_partitionable(3, dir.path()).expect("starts");
    let old_leader = cluster.leader().expect("a leader");
    let old_id = cluster.member_status(old_leader).expect("status").member_id;
    put(&cluster, old_leader, "before", "1");

    cluster.isolate(old_leader).expect("cut the leader off");
    let others: Vec<usize> = (0..3).filter(|&index| index != old_leader).collect();
    wait_for("the other two to elect one of them", || {
        others.iter().all(|&index| {
            cluster
                .member_status(index)
                .is_ok_and(|status| status.leader_id != 0 && status.leader_id != old_id)
        })
    });
    // Still running and answering its clients, but it hears no peer: it steps down.
    wait_for("the cut-off member to know no leader", || {
        cluster
            .member_status(old_leader)
            .is_ok_and(|status| status.leader_id == 0)
    });
    let written_without_it = put(&cluster, others[0], "during", "2");
    let status = cluster.member_status(old_leader).expect("status");
    assert!(status.revision < written_without_it, "{status:?}");

    cluster.heal().expect("heal");
    cluster.wait_healthy().expect("all healthy again");
    assert_eq!(get(&cluster, old_leader, "during").as_deref(), Some("2"));
}

#[test]
fn dropping_the_cluster_kills_every_member() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = LocalEtcdCluster::start(3, dir.path()).expect("cluster starts");
    let pids: Vec<u32> = (0..3)
        .map(|index| cluster.pid(index).expect("member exists").expect("running"))
        .collect();
    let urls = cluster.client_urls();
    assert!(pids.iter().all(|pid| process_exists(*pid)));
    drop(cluster);
    // Drop kills and reaps, so the processes are gone when it returns.
    for pid in pids {
        assert!(!process_exists(pid), "etcd {pid} still runs");
    }
    for url in urls {
        assert!(refuses_connections(&url), "{url} still answers");
    }
}

#[test]
fn asking_for_a_member_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = LocalEtcdCluster::start(1, dir.path()).expect("a one-member cluster starts");
    assert_eq!(cluster.leader().expect("a leader"), 0);
    let error = cluster.kill_member(3).expect_err("no member 3");
    assert!(
        matches!(
            error,
            ClusterError::NoSuchMember {
                index: 3,
                members: 1
            }
        ),
        "{error}"
    );
    assert_eq!(error.to_string(), "no member 3: the cluster has 1");
    let error = cluster.isolate(0).expect_err("started without relays");
    assert!(matches!(error, ClusterError::NotPartitionable), "{error}");
}
