//! Durability: reopening restores everything, a torn log tail is ignored, log
//! segments are retired once redb is durable past them, a storage failure refuses
//! writes until a restart.

use super::*;

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
