//! Writes, reads and their rules: the equal-value rule, deletes, key checks and
//! limits, watches, concurrent writers, closed and doubly opened stores.

use super::*;

#[tokio::test]
async fn set_get_and_history_record_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store.set("a", &json!({"x": 1}), "alice").await.unwrap();
    let second = store.set("a", &json!([1, 2]), "bob").await.unwrap();
    assert!(first.changed && second.changed);
    assert_eq!((first.revision, second.revision), (1, 2));

    let record = store.get("a").unwrap();
    assert_eq!(record.value.as_str(), "[1,2]");
    assert_eq!(record.revision, 2);

    let page = store.history(&HistoryQuery::default());
    assert_eq!(page.entries.len(), 2);
    assert!(page.entries[0].before.is_none());
    assert_eq!(
        page.entries[0].after.as_ref().unwrap().as_str(),
        r#"{"x":1}"#
    );
    assert_eq!(
        page.entries[1].before.as_ref().unwrap().as_str(),
        r#"{"x":1}"#
    );
    assert_eq!(&*page.entries[1].who, "bob");
}

#[tokio::test]
async fn equal_value_adds_no_history_and_keeps_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.set("k", &json!({"b": 1, "a": 2}), "w").await.unwrap();
    // Same object, keys in another order: equal.
    let again = store.set("k", &json!({"a": 2, "b": 1}), "w").await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.revision, 1);
    assert_eq!(store.history(&HistoryQuery::default()).total_entries, 1);
    assert_eq!(store.revision(), 1);
}

#[tokio::test]
async fn delete_is_recorded_and_missing_delete_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.set("k", &json!("v"), "w").await.unwrap();
    let deleted = store.delete("k", "remover").await.unwrap();
    assert!(deleted.changed);
    assert!(store.get("k").is_none());
    let missing = store.delete("k", "remover").await.unwrap();
    assert!(!missing.changed);
    let page = store.history(&HistoryQuery::default());
    assert_eq!(page.entries.len(), 2);
    assert!(page.entries[1].after.is_none());
    assert_eq!(page.entries[1].before.as_ref().unwrap().as_str(), r#""v""#);
}

#[tokio::test]
async fn invalid_keys_are_rejected_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for key in ["", "a\u{0}b", "line\nbreak", &"x".repeat(1025)] {
        assert!(matches!(
            store.set(key, &json!(1), "w").await,
            Err(StoreError::InvalidKey(_))
        ));
    }
    assert_eq!(store.revision(), 0);
}

#[tokio::test]
async fn watch_replays_then_streams_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..5 {
        store.set("k", &json!(i), "w").await.unwrap();
    }
    let mut watch = store.watch(Some(2)).unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 5..20 {
                store.set("k", &json!(i), "w").await.unwrap();
            }
        })
    };
    let mut seen: Vec<u64> = watch.backlog.iter().map(|c| c.revision).collect();
    while seen.last() != Some(&20) {
        seen.push(watch.live.recv().await.unwrap().revision);
    }
    writer.await.unwrap();
    assert_eq!(seen, (3..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_closed_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.close().await;
    assert!(matches!(
        store.set("k", &json!(1), "w").await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    assert!(matches!(
        Store::open(StoreConfig::new(dir.path())),
        Err(StoreError::AlreadyOpen { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_leave_a_consistent_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    let key = if i % 2 == 0 {
                        format!("own.{t}.{i}")
                    } else {
                        format!("shared.{}", i % 7)
                    };
                    store
                        .set(&key, &json!({"t": t, "i": i}), &format!("task{t}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for t in 0..16 {
        for i in (0..200).step_by(2) {
            assert!(store.get(&format!("own.{t}.{i}")).is_some());
        }
    }
    let page = store.history(&HistoryQuery::default());
    let mut last: HashMap<Arc<str>, Option<String>> = HashMap::new();
    for (n, change) in page.entries.iter().enumerate() {
        assert_eq!(change.revision, n as u64 + 1, "revisions have no gaps");
        let before = change.before.as_ref().map(|v| v.as_str().to_owned());
        let previous = last.get(&change.key).cloned().unwrap_or(None);
        assert_eq!(
            before, previous,
            "before of {} equals the previous after",
            change.key
        );
        last.insert(
            change.key.clone(),
            change.after.as_ref().map(|v| v.as_str().to_owned()),
        );
    }
    for (key, after) in last {
        assert_eq!(store.get(&key).map(|r| r.value.as_str().to_owned()), after);
    }
}

#[tokio::test]
async fn the_key_limit_refuses_new_keys_whole_but_never_updates_or_deletes() {
    use ctx_store::{JsonValue, Op, Txn};
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &std::path::Path| {
        let mut config = StoreConfig::new(dir);
        config.max_keys = Some(3);
        config
    };
    let store = Store::open(config(dir.path())).unwrap();
    for key in ["a", "b", "c"] {
        store.set(key, &json!(1), "w").await.unwrap();
    }
    let refused = store.set("d", &json!(1), "w").await;
    assert!(
        matches!(refused, Err(StoreError::TooManyKeys { limit: 3 })),
        "{refused:?}"
    );
    let counter = store
        .commit(Txn::ops(
            vec![Op::Incr {
                key: "n".into(),
                by: 1,
            }],
            "w",
        ))
        .await;
    assert!(
        matches!(counter, Err(StoreError::TooManyKeys { .. })),
        "{counter:?}"
    );
    assert_eq!(
        (store.revision(), store.key_count()),
        (3, 3),
        "nothing done"
    );

    assert!(store.set("a", &json!(2), "w").await.unwrap().changed);
    // A transaction that deletes as many keys as it creates passes; one that creates
    // two while deleting one is refused whole.
    let set = |key: &str| Op::Set {
        key: key.into(),
        value: JsonValue::new(&json!(1)),
        lease: None,
    };
    let delete = |key: &str| Op::Delete { key: key.into() };
    let swap = store
        .commit(Txn::ops(vec![delete("b"), set("e")], "w"))
        .await;
    assert!(swap.is_ok(), "{swap:?}");
    let grow = store
        .commit(Txn::ops(vec![delete("c"), set("f"), set("g")], "w"))
        .await;
    assert!(
        matches!(grow, Err(StoreError::TooManyKeys { .. })),
        "{grow:?}"
    );
    assert!(
        store.get("c").is_some(),
        "the refused transaction deleted nothing"
    );

    assert!(store.delete("a", "w").await.unwrap().changed);
    store.set("d", &json!(1), "w").await.unwrap();

    // Concurrent creates racing for the last free places: exactly as many pass.
    store.delete("d", "w").await.unwrap();
    store.delete("e", "w").await.unwrap();
    let racers: Vec<_> = (0..20)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.set(&format!("r{n}"), &json!(n), "w").await })
        })
        .collect();
    let mut passed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => passed += 1,
            Err(StoreError::TooManyKeys { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((passed, store.key_count()), (2, 3));
    store.close().await;
    drop(store);

    // After a restart the count is the reloaded one.
    let store = Store::open(config(dir.path())).unwrap();
    assert!(matches!(
        store.set("z", &json!(1), "w").await,
        Err(StoreError::TooManyKeys { limit: 3 })
    ));
    store.close().await;
}
