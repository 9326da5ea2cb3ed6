use ctx_store::{HistoryQuery, Store, StoreConfig, StoreError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(dir)).expect("open store")
}

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
async fn reopen_restores_keys_history_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for i in 0..50 {
            store
                .set(&format!("key.{i}"), &json!(i), "w")
                .await
                .unwrap();
        }
        store.delete("key.7", "w").await.unwrap();
        store.close().await;
    }
    let store = open(dir.path());
    assert_eq!(store.revision(), 51);
    assert_eq!(store.key_count(), 49);
    assert_eq!(store.get("key.9").unwrap().value.as_str(), "9");
    assert!(store.get("key.7").is_none());
    assert_eq!(store.history(&HistoryQuery::default()).total_entries, 51);
    let next = store.set("new", &json!(true), "w").await.unwrap();
    assert_eq!(next.revision, 52, "revisions never go back across restarts");
}

#[tokio::test]
async fn history_is_compacted_at_its_limit_in_memory_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = StoreConfig::new(dir.path());
        c.history_limit = 10;
        c
    };
    {
        let store = Store::open(config()).unwrap();
        for i in 0..25 {
            store.set("k", &json!(i), "w").await.unwrap();
        }
        let page = store.history(&HistoryQuery::default());
        assert_eq!(page.total_entries, 10);
        assert_eq!(page.entries[0].revision, 16);
        assert!(matches!(
            store.watch(Some(3)),
            Err(StoreError::Compacted { current: 25, .. })
        ));
        store.close().await;
    }
    let store = Store::open(config()).unwrap();
    let page = store.history(&HistoryQuery::default());
    assert_eq!(page.total_entries, 10);
    assert_eq!(page.entries[0].revision, 16);
    assert!(store.watch(Some(15)).is_ok());
    assert!(store.watch(Some(14)).is_err());
}

#[tokio::test]
async fn history_filters_and_paging() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..10 {
        let who = if i % 2 == 0 { "even" } else { "odd" };
        let key = if i < 5 { "a.one" } else { "b.two" };
        store.set(key, &json!(i), who).await.unwrap();
    }
    let by = |q: HistoryQuery| -> Vec<u64> {
        store
            .history(&q)
            .entries
            .iter()
            .map(|c| c.revision)
            .collect()
    };
    assert_eq!(
        by(HistoryQuery {
            who: Some("odd".into()),
            ..Default::default()
        }),
        vec![2, 4, 6, 8, 10]
    );
    assert_eq!(
        by(HistoryQuery {
            prefix: Some("b.".into()),
            ..Default::default()
        }),
        vec![6, 7, 8, 9, 10]
    );
    assert_eq!(
        by(HistoryQuery {
            limit: Some(3),
            ..Default::default()
        }),
        vec![8, 9, 10],
        "without since_revision, the newest N oldest first"
    );
    assert_eq!(
        by(HistoryQuery {
            since_revision: Some(4),
            limit: Some(3),
            ..Default::default()
        }),
        vec![5, 6, 7],
        "with since_revision, the first N after it"
    );
    let page = store.history(&HistoryQuery {
        key: Some("a.one".into()),
        limit: Some(2),
        ..Default::default()
    });
    assert_eq!(
        (
            page.total_entries,
            page.filtered_entries,
            page.entries.len()
        ),
        (10, 5, 2)
    );
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
async fn history_is_also_bounded_by_bytes_so_big_values_cannot_exhaust_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = StoreConfig::new(dir.path());
        c.history_max_bytes = 64 * 1024;
        c
    };
    let big = json!("x".repeat(4000));
    {
        let store = Store::open(config()).unwrap();
        for i in 0..100 {
            store.set(&format!("k{i}"), &big, "w").await.unwrap();
        }
        let page = store.history(&HistoryQuery::default());
        // Each entry counts about 4 KB: far fewer than 100 fit in 64 KiB.
        assert!(
            page.total_entries < 20,
            "{} entries kept",
            page.total_entries
        );
        assert!(
            page.total_entries > 5,
            "{} entries kept",
            page.total_entries
        );
        assert_eq!(
            page.entries.last().unwrap().revision,
            100,
            "the newest are kept"
        );
        assert_eq!(store.key_count(), 100, "keys are never compacted");
        store.close().await;
    }
    let store = Store::open(config()).unwrap();
    let page = store.history(&HistoryQuery::default());
    assert!(page.total_entries < 20);
    assert_eq!(page.entries.last().unwrap().revision, 100);
    assert!(store.watch(Some(100 - page.total_entries as u64)).is_ok());
    assert!(
        store.watch(Some(1)).is_err(),
        "older revisions need a resync"
    );
}

/// (revision, key, before, after, who) of one history entry, as text.
type EntryText = (u64, String, Option<String>, Option<String>, String);

#[tokio::test]
async fn reopen_rebuilds_every_history_entry_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = |store: &Store| -> Vec<EntryText> {
        store
            .history(&HistoryQuery::default())
            .entries
            .iter()
            .map(|c| {
                let text =
                    |v: &Option<ctx_store::JsonValue>| v.as_ref().map(|v| v.as_str().to_owned());
                (
                    c.revision,
                    c.key.to_string(),
                    text(&c.before),
                    text(&c.after),
                    c.who.to_string(),
                )
            })
            .collect()
    };
    let before_restart = {
        let store = open(dir.path());
        // Updates, a delete, a re-creation with an earlier value, and several writers.
        for (i, key) in ["a", "b", "a", "c", "a", "b"].iter().enumerate() {
            store
                .set(key, &json!({"v": i % 3}), &format!("w{}", i % 2))
                .await
                .unwrap();
        }
        store.delete("a", "cleaner").await.unwrap();
        store.set("a", &json!({"v": 0}), "w0").await.unwrap();
        store.delete("c", "cleaner").await.unwrap();
        let history = snapshot(&store);
        store.close().await;
        history
    };
    let store = open(dir.path());
    assert_eq!(snapshot(&store), before_restart);
    assert_eq!(store.get("a").unwrap().value.as_str(), r#"{"v":0}"#);
    assert!(store.get("c").is_none());
}

#[tokio::test]
async fn a_torn_log_tail_is_ignored_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.set("k", &json!("kept"), "w").await.unwrap();
        store.close().await;
    }
    // What a crash in the middle of appending an unacknowledged group leaves behind: the
    // newest segment ends in a record cut short (its header promises 200 bytes).
    let segment = newest_segment(dir.path());
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(segment)
        .unwrap();
    std::io::Write::write_all(&mut file, &[200, 0, 0, 0, 1, 2, 3, 4, b'p', b'a', b'r']).unwrap();
    let store = open(dir.path());
    assert_eq!(store.get("k").unwrap().value.as_str(), r#""kept""#);
    assert_eq!(store.revision(), 1);
    assert_eq!(store.set("k2", &json!(1), "w").await.unwrap().revision, 2);
}

/// The newest log segment's path.
fn newest_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("spare-"))
        .collect();
    names.sort();
    dir.join("wal").join(names.last().expect("a log segment"))
}

/// Live log segments (retired ones kept for reuse are named `spare-*`).
fn log_segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            !name.to_string_lossy().starts_with("spare-")
        })
        .count()
}

/// The applier catches up on its own thread; waits (bounded) for it to make redb durable
/// and retire every closed segment, leaving the one being written.
async fn wait_for_retirement(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while log_segments(dir) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} segments left",
            log_segments(dir)
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A store that closes its log segment (and checkpoints) after every group.
fn checkpointing_every_group(dir: &std::path::Path) -> (Store, StoreConfig) {
    let mut config = StoreConfig::new(dir);
    config.checkpoint_every = std::time::Duration::ZERO;
    (Store::open(config.clone()).unwrap(), config)
}

#[tokio::test]
async fn log_segments_are_retired_once_redb_is_durable_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = checkpointing_every_group(dir.path());
    for i in 0..50 {
        store.set(&format!("k{i}"), &json!(i), "w").await.unwrap();
    }
    wait_for_retirement(dir.path()).await;
    store.close().await;
    assert_eq!(
        log_segments(dir.path()),
        1,
        "a clean stop leaves one empty segment"
    );

    let store = Store::open(config).unwrap();
    assert_eq!(store.revision(), 50);
    assert_eq!(store.get("k49").unwrap().value.as_str(), "49");
    assert_eq!(store.history_len(), 50);
}

#[tokio::test]
async fn after_a_storage_failure_writes_are_refused_until_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Every group closes its segment, so the next group needs the log's directory.
    let (store, config) = checkpointing_every_group(dir.path());
    store.set("a", &json!(1), "w").await.unwrap();
    // Until its segment is retired (kept as a spare), "a" may be in the log alone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !dir.path().join("wal").join("spare-1.log").exists() {
        assert!(std::time::Instant::now() < deadline, "never retired");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The fault: the log's directory disappears, so starting the next segment fails.
    std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
    let _ = store.set("b", &json!(2), "w").await;

    let refused = store.set("c", &json!(3), "w").await;
    match refused {
        Err(error @ StoreError::WritesRefused(_)) => {
            let message = error.to_string();
            assert!(message.contains("until the server restarts"), "{message}");
            assert!(message.matches("storage error").count() <= 1, "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        store.write_health(),
        ctx_store::WriteHealth::Refused { .. }
    ));
    assert!(store.get("c").is_none(), "a refused write is not applied");
    assert!(matches!(
        store.delete("a", "w").await,
        Err(StoreError::WritesRefused(_))
    ));
    assert_eq!(store.get("a").unwrap().value.as_str(), "1");
    store.close().await;

    // The log's directory is gone, so a plain restart refuses; a recovery opens a fresh
    // log, keeps what redb has, and takes writes again.
    assert!(matches!(
        Store::open(config.clone()),
        Err(StoreError::Damaged(_))
    ));
    let store = Store::open(StoreConfig {
        recover: true,
        ..config
    })
    .unwrap();
    assert_eq!(store.get("a").unwrap().value.as_str(), "1");
    assert!(store.set("d", &json!(4), "w").await.unwrap().changed);
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
