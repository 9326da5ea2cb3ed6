//! History: compaction at its entry and byte limits, filters and paging.

use super::*;

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
