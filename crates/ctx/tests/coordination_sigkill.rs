//! Transactions and leases across SIGKILL of a real `ctx serve`: an acknowledged
//! transaction is all there after the crash, never half; leases and their keys come back,
//! and a lease whose time ran out while the server was dead is expired at start.

mod common;

use common::ChildServer;
use serde_json::json;

#[test]
fn acknowledged_transactions_and_leases_survive_sigkill() {
    transactions_and_leases_survive_sigkill(&[]);
}

/// With a checkpoint after nearly every group, so redb (not only the log) holds leases.
#[test]
fn acknowledged_transactions_and_leases_survive_sigkill_amid_checkpoints() {
    transactions_and_leases_survive_sigkill(&["--checkpoint-interval-ms", "1"]);
}

fn transactions_and_leases_survive_sigkill(serve_args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start_with(dir.path(), serve_args);
    let (status, long) = server.post("/ctx/lease", &json!({"ttl_secs": 3600}));
    assert_eq!(status, 200, "{long}");
    let long = long["lease_id"].as_u64().unwrap();
    let (status, short) = server.post(
        "/ctx",
        &json!({"key": "short.lived", "value": 1, "ttl_secs": 0.5}),
    );
    assert_eq!(status, 200, "{short}");
    let short_lease = short["lease"].as_u64().unwrap();

    // Eight concurrent writers, each transaction writing a pair and counting itself.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let txn = json!({"success": [
                        {"op": "set", "key": format!("w{w}.t{i}.a"), "value": i},
                        {"op": "set", "key": format!("w{w}.t{i}.b"), "value": i, "lease": long},
                    ]});
                    let (status, body) = common::http(&addr, "POST", "/ctx/txn", Some(&txn));
                    assert_eq!(status, 200, "{body}");
                    let incr = json!({"key": "count"});
                    let (status, body) = common::http(&addr, "POST", "/ctx/incr", Some(&incr));
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let (_, info) = server.get(&format!("/ctx/lease/{short_lease}"));
    let remaining = info["remaining_secs"].as_f64().unwrap_or(0.0);
    server.kill_hard();
    // Dead for longer than the short lease had left.
    std::thread::sleep(std::time::Duration::from_secs_f64(remaining + 0.2));

    let server = ChildServer::start(dir.path());
    let (_, all) = server.get("/ctx/all");
    for w in 0..8 {
        for i in 0..25 {
            for half in ["a", "b"] {
                assert_eq!(
                    all["context"][format!("w{w}.t{i}.{half}")],
                    json!(i),
                    "w{w}.t{i}.{half}"
                );
            }
        }
    }
    assert_eq!(all["context"]["count"], 200);
    assert_eq!(
        all["context"]["short.lived"],
        serde_json::Value::Null,
        "expired at start"
    );
    let (status, lease) = server.get(&format!("/ctx/lease/{long}"));
    assert_eq!(status, 200, "{lease}");
    assert_eq!(lease["keys"].as_array().unwrap().len(), 200);
    // Revoking the recovered lease deletes exactly its keys.
    let (status, revoked) =
        common::http(&server.addr, "DELETE", &format!("/ctx/lease/{long}"), None);
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["deleted"], 200);
    let (_, all) = server.get("/ctx/all");
    assert_eq!(all["key_count"], 201, "the a halves and the counter");
}
