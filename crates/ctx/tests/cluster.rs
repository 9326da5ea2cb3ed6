//! Cluster mode end to end (`--features etcd`): a real 3-member etcd cluster on loopback
//! and three `ctx serve --store etcd` child processes in front of it. A write on one node
//! is read on another and pushed over /ws to a watcher on the third; history keeps
//! before/after/who; the per-key rules of the embedded store hold (equal value: no history
//! entry; missing key: 200 null; stale if_revision: 409); a watcher resumes from a
//! revision. Counters, transactions and leases hold across nodes. Cluster mode is chosen
//! by the TOML config or the environment as by flags.
#![cfg(feature = "etcd")]

mod common;

use common::cluster::{Watch, cluster};
use common::{CTX, ChildServer, http, wait_output, wait_until};
use ctx_etcd::local_cluster::LocalEtcdCluster;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

fn set(node: &ChildServer, key: &str, value: Value, who: &str) -> Value {
    let (status, answer) = node.post("/ctx", &json!({"key": key, "value": value, "who": who}));
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn three_nodes_on_one_etcd_cluster_answer_the_same_api() {
    let cluster = cluster(3, &[]);
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let (status, answer) = a.get("/ctx/status");
    assert_eq!(
        (status, answer["store"].as_str()),
        (200, Some("etcd")),
        "{answer}"
    );
    let watcher = Watch::start(c, 0);

    // A write on A is read on B and pushed to the watcher on C.
    let first = set(a, "job/1", json!({"state": "queued"}), "alice");
    assert_eq!(first["changed"], true, "{first}");
    let r1 = first["revision"].as_u64().expect("revision");
    let (status, read) = b.get("/ctx/job/1?consistent=true");
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["value"], json!({"state": "queued"}));
    assert_eq!(read["revision"].as_u64(), Some(r1));
    let event = watcher.change();
    assert_eq!(event["key"], "job/1", "{event}");
    assert_eq!(event["revision"].as_u64(), Some(r1), "{event}");
    assert_eq!(event["value"], json!({"state": "queued"}), "{event}");

    // Equal value: answered unchanged at the same revision, no history entry.
    let same = set(b, "job/1", json!({"state": "queued"}), "bob");
    assert_eq!(
        (same["changed"].as_bool(), same["revision"].as_u64()),
        (Some(false), Some(r1)),
        "{same}"
    );

    // A second value from C: history on A has before/after/who.
    let second = set(c, "job/1", json!({"state": "running"}), "carol");
    let r2 = second["revision"].as_u64().expect("revision");
    assert!(r2 > r1, "{second}");
    let (_, history) = a.get("/ctx/history?key=job/1&consistent=true");
    let entries = history["history"].as_array().expect("history entries");
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[0]["before"], Value::Null);
    assert_eq!(entries[0]["after"], json!({"state": "queued"}));
    assert_eq!(entries[0]["who"], "alice");
    assert_eq!(entries[1]["before"], json!({"state": "queued"}));
    assert_eq!(entries[1]["after"], json!({"state": "running"}));
    assert_eq!(entries[1]["who"], "carol");
    assert_eq!(entries[1]["revision"].as_u64(), Some(r2));

    // Compare-and-set with a stale revision: 409, nothing written.
    let (status, refused) = a.post(
        "/ctx",
        &json!({"key": "job/1", "value": {"state": "stolen"}, "who": "mallory", "if_revision": r1}),
    );
    assert_eq!(status, 409, "{refused}");
    let (status, won) = b.post(
        "/ctx",
        &json!({"key": "job/1", "value": {"state": "done"}, "who": "bob", "if_revision": r2}),
    );
    assert_eq!(status, 200, "{won}");
    let r3 = won["revision"].as_u64().expect("revision");

    // A missing key: 200 with null, on any node.
    let (status, missing) = c.get("/ctx/nobody/wrote/this?consistent=true");
    assert_eq!(status, 200, "{missing}");
    assert_eq!(
        (missing["value"].clone(), missing["found"].clone()),
        (Value::Null, json!(false))
    );

    // A delete on B: history on C names who deleted.
    let (status, deleted) = http(&b.addr, "DELETE", "/ctx/job/1?who=dave", None);
    assert_eq!(
        (status, deleted["deleted"].as_bool()),
        (200, Some(true)),
        "{deleted}"
    );
    let r4 = deleted["revision"].as_u64().expect("revision");
    let (_, history) = c.get("/ctx/history?key=job/1&consistent=true");
    let last = history["history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .expect("an entry");
    assert_eq!(
        (last["after"].clone(), last["who"].clone()),
        (Value::Null, json!("dave")),
        "{history}"
    );
    assert_eq!(last["before"], json!({"state": "done"}));

    // The live watcher saw every change in order, none twice.
    let seen: Vec<u64> = (0..3)
        .map(|_| watcher.change()["revision"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(seen, vec![r2, r3, r4]);

    // A watcher on A resuming after r2 gets exactly what came after it.
    let resumed = Watch::start(a, r2);
    let replayed: Vec<u64> = (0..2)
        .map(|_| resumed.change()["revision"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(replayed, vec![r3, r4]);
    let after = set(c, "job/2", json!(1), "erin");
    let live = resumed.change();
    assert_eq!(
        (live["key"].as_str(), live["revision"].as_u64()),
        (Some("job/2"), after["revision"].as_u64()),
        "{live}"
    );
}

#[test]
fn counters_transactions_and_leases_hold_across_nodes() {
    let cluster = cluster(3, &[]);
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];

    // Increments on two nodes at once are exact: each is a guarded etcd Txn, retried
    // when the other node got there first.
    std::thread::scope(|scope| {
        for node in [a, b] {
            scope.spawn(move || {
                for _ in 0..20 {
                    let (status, answer) = node.post("/ctx/incr", &json!({"key": "runs"}));
                    assert_eq!(status, 200, "{answer}");
                }
            });
        }
    });
    let (_, total) = c.get("/ctx/runs?consistent=true");
    assert_eq!(total["value"], json!(40), "{total}");
    let (status, refused) = c.post("/ctx/incr", &json!({"key": "runs", "by": i64::MAX}));
    assert_eq!(status, 409, "an overflowing sum: {refused}");

    // The same claim from two nodes: one transaction wins, the other sees the winner.
    let claim = |node: &ChildServer, who: &str| {
        node.post(
            "/ctx/txn",
            &json!({
                "compare": [{"key": "leader", "revision": 0}],
                "success": [{"op": "set", "key": "leader", "value": who}],
                "failure": [{"op": "get", "key": "leader"}],
                "who": who,
            }),
        )
    };
    let (status, first) = claim(a, "runner-a");
    assert_eq!(
        (status, first["succeeded"].as_bool()),
        (200, Some(true)),
        "{first}"
    );
    let (status, second) = claim(b, "runner-b");
    assert_eq!(
        (status, second["succeeded"].as_bool()),
        (200, Some(false)),
        "{second}"
    );
    assert_eq!(second["results"][0]["value"], "runner-a", "{second}");

    // A lease granted on A holds a key everyone reads; kept alive on B, revoked on C,
    // and its key is gone on A with the lease named as who deleted it.
    let (status, lease) = a.post("/ctx/lease", &json!({"ttl_secs": 30}));
    assert_eq!(status, 200, "{lease}");
    let id = lease["lease_id"].as_u64().expect("lease id");
    let (status, held) = a.post(
        "/ctx",
        &json!({"key": "lock/db", "value": "a", "lease": id}),
    );
    assert_eq!(status, 200, "{held}");
    let (status, alive) = b.post(&format!("/ctx/lease/{id}/keepalive"), &json!({}));
    assert_eq!(status, 200, "{alive}");
    let (status, info) = b.get(&format!("/ctx/lease/{id}"));
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["keys"], json!(["lock/db"]), "{info}");
    let (status, revoked) = http(&c.addr, "DELETE", &format!("/ctx/lease/{id}"), None);
    assert_eq!(status, 200, "{revoked}");
    let (_, gone) = a.get("/ctx/lock/db?consistent=true");
    assert_eq!(gone["found"], json!(false), "{gone}");
    let (_, history) = a.get("/ctx/history?key=lock/db&consistent=true");
    let last = history["history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .expect("an entry");
    assert_eq!(last["who"], json!(format!("lease:{id}")), "{history}");
    let (status, _) = b.post(&format!("/ctx/lease/{id}/keepalive"), &json!({}));
    assert_eq!(status, 404, "a revoked lease cannot be kept alive");

    // A key with a short time to live and no keepalive disappears on every node.
    let (status, short) = b.post(
        "/ctx",
        &json!({"key": "heartbeat", "value": 1, "ttl_secs": 2}),
    );
    assert_eq!(status, 200, "{short}");
    wait_until(PATIENCE, "the expired key gone on C", || {
        c.get("/ctx/heartbeat").1["found"] == json!(false)
    });
}

#[test]
fn cluster_mode_comes_from_the_config_file_or_the_environment_as_from_flags() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let etcd = LocalEtcdCluster::start(3, &dir.path().join("etcd")).expect("start etcd");
    let endpoints = etcd.endpoints();
    let listed: Vec<String> = etcd
        .client_urls()
        .iter()
        .map(|url| format!("{url:?}"))
        .collect();
    let config = dir.path().join("ctx.toml");
    std::fs::write(
        &config,
        format!(
            "store = \"etcd\"\netcd_endpoints = [{}]\netcd_prefix = \"shared/\"\n",
            listed.join(", ")
        ),
    )
    .expect("write the config");
    let config = config.to_str().expect("a UTF-8 temp path");
    let from_file = ChildServer::start_with(&dir.path().join("file"), &["--config", config]);
    let from_env = ChildServer::start_with_env(
        &dir.path().join("env"),
        &[],
        &[
            ("CTX_STORE", "etcd"),
            ("CTX_ETCD_ENDPOINTS", &endpoints),
            ("CTX_ETCD_PREFIX", "shared/"),
        ],
    );
    // The environment beats the file: this node's context is another prefix.
    let env_over_file = ChildServer::start_with_env(
        &dir.path().join("other"),
        &["--config", config],
        &[("CTX_ETCD_PREFIX", "other/")],
    );
    for node in [&from_file, &from_env, &env_over_file] {
        let (status, answer) = node.get("/ctx/status");
        assert_eq!(
            (status, answer["store"].as_str()),
            (200, Some("etcd")),
            "{answer}"
        );
    }
    set(&from_file, "job", json!("queued"), "file");
    let (_, read) = from_env.get("/ctx/job?consistent=true");
    assert_eq!(
        read["value"],
        json!("queued"),
        "same prefix, same context: {read}"
    );
    let (_, elsewhere) = env_over_file.get("/ctx/job?consistent=true");
    assert_eq!(
        elsewhere["found"],
        json!(false),
        "other prefix: {elsewhere}"
    );

    // What cannot work is refused before anything starts: one line, exit code 2.
    for (args, because) in [
        (vec!["--store", "etcd"], "--etcd-endpoints"),
        (
            vec![
                "--store",
                "etcd",
                "--etcd-endpoints",
                &endpoints,
                "--etcd-prefix",
                "",
            ],
            "--etcd-prefix must not be empty",
        ),
        (vec!["--store", "zookeeper"], "zookeeper"),
    ] {
        let mut child = Command::new(CTX)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(dir.path().join("refused"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ctx serve");
        // Bounded: a refusal that regressed would leave a server running.
        let out = wait_output(&mut child, PATIENCE);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(because), "{args:?}: {stderr}");
    }
}
