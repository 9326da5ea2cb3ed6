//! Transactions, compare-and-set, counters and leases at the store level.

use ctx_store::{Compare, HistoryQuery, JsonValue, Op, Store, StoreConfig, StoreError, Txn};
use serde_json::json;
use std::time::{Duration, Instant};

fn open(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(dir)).expect("open store")
}

fn set(key: &str, value: serde_json::Value) -> Op {
    Op::Set {
        key: key.into(),
        value: JsonValue::new(&value),
        lease: None,
    }
}

/// Waits (with a deadline) until `key` is gone, following the change feed.
async fn until_deleted(store: &Store, key: &str, within: Duration) {
    let mut watch = store.watch(None).unwrap();
    if store.get(key).is_none() {
        return;
    }
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, watch.live.recv()).await {
            Ok(Ok(change)) if &*change.key == key && change.after.is_none() => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("feed: {e}"),
            Err(_) => panic!("{key} still there after {within:?}"),
        }
    }
}

#[tokio::test]
async fn a_transaction_runs_one_branch_as_one_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.set("a", &json!(1), "w").await.unwrap();
    let txn = Txn {
        compare: vec![Compare::Value {
            key: "a".into(),
            value: JsonValue::new(&json!(1)),
        }],
        success: vec![set("b", json!(2)), Op::Delete { key: "a".into() }],
        failure: vec![set("c", json!(3))],
        who: "t".into(),
    };
    let outcome = store.commit(txn.clone()).await.unwrap();
    assert!(outcome.succeeded);
    assert_eq!(outcome.revision, 3);
    assert_eq!(outcome.results.len(), 2);
    assert!(store.get("a").is_none() && store.get("b").is_some() && store.get("c").is_none());

    // Now the condition fails: the failure branch runs instead.
    let outcome = store.commit(txn).await.unwrap();
    assert!(!outcome.succeeded);
    assert_eq!(store.get("c").unwrap().revision, 4);
}

#[tokio::test]
async fn a_transaction_that_cannot_complete_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.set("text", &json!("x"), "w").await.unwrap();
    let txn = Txn::ops(
        vec![
            set("first", json!(1)),
            Op::Incr {
                key: "text".into(),
                by: 1,
            },
        ],
        "t",
    );
    let error = store.commit(txn).await.unwrap_err();
    assert!(matches!(error, StoreError::NotAnInteger { .. }), "{error}");
    assert!(store.get("first").is_none());
    assert_eq!(store.revision(), 1);

    let twice = Txn::ops(vec![set("k", json!(1)), set("k", json!(2))], "t");
    assert!(matches!(
        store.commit(twice).await,
        Err(StoreError::InvalidTxn(_))
    ));
    let too_many = Txn::ops(
        (0..=ctx_store::MAX_TXN_OPS)
            .map(|i| set(&format!("k{i}"), json!(i)))
            .collect(),
        "t",
    );
    assert!(matches!(
        store.commit(too_many).await,
        Err(StoreError::InvalidTxn(_))
    ));
    assert_eq!(store.revision(), 1);
}

#[tokio::test]
async fn compare_and_set_on_revision_zero_claims_an_absent_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let claim = |who: &str| Txn {
        compare: vec![Compare::Revision {
            key: "job".into(),
            revision: 0,
        }],
        success: vec![set("job", json!(who))],
        failure: vec![Op::Get { key: "job".into() }],
        who: who.into(),
    };
    let first = store.commit(claim("a")).await.unwrap();
    let second = store.commit(claim("b")).await.unwrap();
    assert!(first.succeeded && !second.succeeded);
    assert_eq!(second.results[0].revision, first.revision);
    assert_eq!(second.results[0].value.as_ref().unwrap().as_str(), "\"a\"");
}

#[tokio::test]
async fn increments_start_at_zero_and_refuse_non_integers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let incr = |by| {
        Txn::ops(
            vec![Op::Incr {
                key: "n".into(),
                by,
            }],
            "w",
        )
    };
    let value = |outcome: ctx_store::TxnOutcome| outcome.results[0].value.clone().unwrap();
    assert_eq!(value(store.commit(incr(1)).await.unwrap()).as_str(), "1");
    assert_eq!(value(store.commit(incr(-5)).await.unwrap()).as_str(), "-4");
    store.set("n", &json!(i64::MAX), "w").await.unwrap();
    assert!(matches!(
        store.commit(incr(1)).await,
        Err(StoreError::NotAnInteger { .. })
    ));
}

#[tokio::test]
async fn a_revoked_lease_deletes_its_keys_as_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let lease = store.grant_lease(Duration::from_secs(60)).await.unwrap();
    let with_lease = |key: &str| Op::Set {
        key: key.into(),
        value: JsonValue::new(&json!(1)),
        lease: Some(lease.id),
    };
    store
        .commit(Txn::ops(vec![with_lease("x"), with_lease("y")], "w"))
        .await
        .unwrap();
    // A plain set detaches a key from its lease.
    store.set("y", &json!(2), "w").await.unwrap();
    assert_eq!(store.lease(lease.id).unwrap().keys, vec!["x".to_owned()]);

    let revoked = store.revoke_lease(lease.id).await.unwrap();
    assert_eq!(revoked.deleted, 1);
    assert!(store.get("x").is_none() && store.get("y").is_some());
    let page = store.history(&HistoryQuery {
        key: Some("x".into()),
        ..Default::default()
    });
    assert_eq!(
        &*page.entries.last().unwrap().who,
        format!("lease:{}", lease.id)
    );
    assert!(store.lease(lease.id).is_none());
    assert!(matches!(
        store.keep_alive(lease.id).await,
        Err(StoreError::LeaseNotFound(_))
    ));
    assert!(matches!(
        store.commit(Txn::ops(vec![with_lease("z")], "w")).await,
        Err(StoreError::LeaseNotFound(_))
    ));
}

#[tokio::test]
async fn a_lease_expires_unless_kept_alive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ttl = Duration::from_secs(2);
    let lease = store.grant_lease(ttl).await.unwrap();
    let op = Op::Set {
        key: "alive".into(),
        value: JsonValue::new(&json!(true)),
        lease: Some(lease.id),
    };
    store.commit(Txn::ops(vec![op], "w")).await.unwrap();
    // Kept alive (every 100 ms, as a client would) for 1.5 TTLs: the key stays.
    let started = Instant::now();
    while started.elapsed() < ttl * 3 / 2 {
        let kept = store.keep_alive(lease.id).await.unwrap();
        assert!(kept.expires_at.as_micros() > lease.expires_at.as_micros());
        assert!(store.get("alive").is_some());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_deleted(&store, "alive", Duration::from_secs(10)).await;
    assert!(store.lease(lease.id).is_none());
}

#[tokio::test]
async fn a_lease_that_ran_out_while_closed_is_expired_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = Duration::from_millis(300);
    let expires_at;
    {
        let store = open(dir.path());
        let lease = store.grant_lease(ttl).await.unwrap();
        expires_at = lease.expires_at;
        let op = Op::Set {
            key: "held".into(),
            value: JsonValue::new(&json!(1)),
            lease: Some(lease.id),
        };
        store.commit(Txn::ops(vec![op], "w")).await.unwrap();
        store.close().await;
    }
    // Closed past the expiry (a wait on the clock, which is what is being tested).
    while ctx_store::Timestamp::now() <= expires_at {
        std::thread::sleep(Duration::from_millis(20));
    }
    let store = open(dir.path());
    assert!(store.get("held").is_none(), "expired before any read");
    let last = store.history(&HistoryQuery::default()).entries;
    assert!(last.last().unwrap().who.starts_with("lease:"));
}

#[tokio::test]
async fn leases_and_attachments_survive_a_reopen_from_the_log() {
    let live = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        // No checkpoint while it runs, so redb stays as opened and a copy of the directory
        // is what a crash would leave: everything after open comes back from the log.
        let mut config = StoreConfig::new(live.path());
        config.checkpoint_every = Duration::from_secs(3600);
        let store = Store::open(config).unwrap();
        let lease = store.grant_lease(Duration::from_secs(600)).await.unwrap();
        id = lease.id;
        let op = Op::Set {
            key: "held".into(),
            value: JsonValue::new(&json!(1)),
            lease: Some(id),
        };
        store.commit(Txn::ops(vec![op], "w")).await.unwrap();
        copy_dir(live.path(), dir.path());
        store.close().await;
    }
    let store = open(dir.path());
    let lease = store.lease(id).expect("the lease is back");
    assert_eq!(lease.keys, vec!["held".to_owned()]);
    let next = store.grant_lease(Duration::from_secs(1)).await.unwrap();
    assert!(next.id > id, "ids are not reused");
    store.revoke_lease(id).await.unwrap();
    store.close().await;
    drop(store);
    // And from redb after a clean stop.
    let store = open(dir.path());
    assert!(store.get("held").is_none() && store.lease(id).is_none());
    assert!(store.lease(next.id).is_some() || ctx_store::Timestamp::now() >= next.expires_at);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
