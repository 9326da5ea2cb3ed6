//! Every kind of damage the open must refuse, on real data directories, and what
//! `recover` keeps. The log beyond redb is written here segment by segment as a crash
//! leaves it (the committer would checkpoint it away before a clean stop).

use crate::disk::encode_group;
use crate::state::Change;
use crate::value::{JsonValue, Timestamp};
use crate::wal::{Wal, segment_path};
use crate::{Store, StoreConfig, StoreError};
use std::path::Path;
use std::sync::Arc;

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.checkpoint_every = std::time::Duration::from_secs(3600);
    config
}

fn recovering(dir: &Path) -> StoreConfig {
    StoreConfig {
        recover: true,
        ..config(dir)
    }
}

/// A data directory as a crash leaves it: revisions `1..=checkpointed` durable in redb,
/// then `segments` log segments of `per_segment` changes each that redb never got.
/// Returns the log segments' sequence numbers, oldest first.
async fn crashed(dir: &Path, checkpointed: u64, segments: u64, per_segment: u64) -> Vec<u64> {
    let store = Store::open(config(dir)).unwrap();
    for revision in 1..=checkpointed {
        store
            .set(&format!("k{revision}"), &serde_json::json!(revision), "w")
            .await
            .unwrap();
    }
    store.close().await;
    drop(store);
    // A clean stop leaves one empty segment, where the last checkpoint says the log goes on.
    let first = newest_segment(dir);
    let mut wal = Wal::start(dir, first, checkpointed + 1).unwrap();
    let mut revision = checkpointed;
    let mut sequences = vec![first];
    for segment in 0..segments {
        if segment > 0 {
            sequences.push(wal.rotate(revision + 1).unwrap() + 1);
        }
        for _ in 0..per_segment {
            revision += 1;
            let change = Arc::new(Change {
                revision,
                timestamp: Timestamp::now(),
                key: Arc::from(format!("k{revision}")),
                before: None,
                after: Some(JsonValue::new(&serde_json::json!(revision))),
                who: Arc::from("w"),
                lease: None,
            });
            wal.append(&encode_group(&[change], &[]).unwrap()).unwrap();
        }
    }
    sequences
}

/// Where each record of a segment file ends (a reused file holds older bytes after them).
fn record_ends(bytes: &[u8]) -> Vec<usize> {
    let sequence = &bytes[8..16];
    let mut ends = Vec::new();
    let mut at = crate::wal::HEADER_BYTES;
    while bytes.get(at + 8..at + 16) == Some(sequence) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 16 + len;
        ends.push(at);
    }
    ends
}

fn newest_segment(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".log")?.parse().ok()
        })
        .max()
        .expect("a log segment")
}

fn segment(dir: &Path, sequence: u64) -> std::path::PathBuf {
    segment_path(&dir.join("wal"), sequence)
}

/// Opens `dir` expecting a refusal whose message says `what`.
fn refused(dir: &Path, what: &str) -> String {
    match Store::open(config(dir)) {
        Err(StoreError::Damaged(problem)) => {
            assert!(problem.contains(what), "{problem}");
            let message = StoreError::Damaged(problem).to_string();
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(message.contains("--recover"), "{message}");
            message
        }
        Err(other) => panic!("expected damage ({what}), got {other}"),
        Ok(_) => panic!("expected damage ({what}), but the store opened"),
    }
}

#[tokio::test]
async fn an_intact_crash_image_replays_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    crashed(dir.path(), 10, 3, 5).await;
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.revision(), 25);
    assert!(store.recovered().is_empty());
    assert_eq!(store.get("k25").unwrap().value.as_str(), "25");
}

#[tokio::test]
async fn a_deleted_data_file_is_refused_and_recovery_keeps_the_log() {
    let dir = tempfile::tempdir().unwrap();
    crashed(dir.path(), 10, 1, 5).await;
    std::fs::remove_file(dir.path().join("context.redb")).unwrap();
    refused(dir.path(), "context.redb is missing");
    assert!(
        !dir.path().join("context.redb").exists(),
        "a refusal writes nothing"
    );

    let store = Store::open(recovering(dir.path())).unwrap();
    assert!(store.revision() > 15, "revisions never go back");
    assert_eq!(store.key_count(), 5, "what the log held");
    assert!(store.get("k3").is_none());
    assert!(
        store.recovered().iter().any(|r| r.contains("lost")),
        "{:?}",
        store.recovered()
    );
    // A watcher from before the loss is told to resync rather than served a gap.
    assert!(matches!(
        store.watch(Some(2)),
        Err(StoreError::Compacted { .. })
    ));
    let next = store.set("new", &serde_json::json!(1), "w").await.unwrap();
    assert_eq!(next.revision, store.revision());
}

#[tokio::test]
async fn an_emptied_data_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    crashed(dir.path(), 10, 0, 0).await;
    std::fs::write(dir.path().join("context.redb"), b"").unwrap();
    refused(dir.path(), "context.redb is empty");
}

#[tokio::test]
async fn a_newest_segment_cut_to_nothing_is_refused_and_recovery_keeps_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 10, 2, 5).await;
    std::fs::write(segment(dir.path(), sequences[1]), b"").unwrap();
    refused(dir.path(), "has no valid header");

    let store = Store::open(recovering(dir.path())).unwrap();
    assert!(store.get("k15").is_some(), "the first segment is intact");
    assert!(store.revision() > 20, "past anything the lost segment held");
    assert!(store.recovered().iter().any(|r| r.contains("moved to")));
}

#[tokio::test]
async fn a_flipped_bit_mid_segment_is_refused_and_recovery_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 10, 1, 20).await;
    let path = segment(dir.path(), sequences[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    // Inside the tenth record's payload.
    let tenth = record_ends(&bytes)[9];
    bytes[tenth - 3] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    refused(dir.path(), "damaged record");

    let store = Store::open(recovering(dir.path())).unwrap();
    let kept = (11..=30)
        .take_while(|r| store.get(&format!("k{r}")).is_some())
        .count();
    assert!(
        (5..19).contains(&kept),
        "the changes before the flip: {kept}"
    );
    assert!(
        store.revision() > 30,
        "the counter passes every revision the log showed"
    );
    let recovered_revision = store.revision();
    assert!(store.recovered().iter().any(|r| r.contains("were dropped")));
    assert_eq!(
        store
            .set("next", &serde_json::json!(1), "w")
            .await
            .unwrap()
            .revision,
        recovered_revision + 1
    );
    store.close().await;
    // The recovered directory is consistent again: a plain open accepts it.
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.revision(), recovered_revision + 1);
}

#[tokio::test]
async fn a_missing_segment_in_the_middle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 10, 3, 5).await;
    std::fs::remove_file(segment(dir.path(), sequences[1])).unwrap();
    refused(dir.path(), "are missing");

    let store = Store::open(recovering(dir.path())).unwrap();
    assert!(store.get("k15").is_some() && store.get("k16").is_none());
    assert!(store.revision() > 25, "past the segment after the gap");
}

#[tokio::test]
async fn a_missing_segment_the_checkpoint_names_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 10, 1, 5).await;
    std::fs::remove_file(segment(dir.path(), sequences[0])).unwrap();
    refused(
        dir.path(),
        "the last checkpoint wrote that the log continues in it",
    );
}

#[tokio::test]
async fn a_segment_that_does_not_continue_the_one_before_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 10, 2, 5).await;
    // The first segment loses its last records at a record boundary: only the next
    // segment's start revision shows it.
    let path = segment(dir.path(), sequences[0]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..record_ends(&bytes)[2]]).unwrap();
    refused(
        dir.path(),
        "starts at revision 16 but the log before it ends at revision 13",
    );
}

#[tokio::test]
async fn a_foreign_file_named_like_a_segment_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sequences = crashed(dir.path(), 3, 1, 2).await;
    let foreign = segment(dir.path(), sequences[0] + 1);
    std::fs::write(&foreign, b"not a log, and not ours to overwrite").unwrap();
    refused(dir.path(), "not a ctx log segment");
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        b"not a log, and not ours to overwrite"
    );
}

#[tokio::test]
async fn damaged_redb_pages_are_an_error_never_a_panic() {
    let mut refusals = 0;
    for pattern in [0x00u8, 0xff, 0x5a] {
        let dir = tempfile::tempdir().unwrap();
        crashed(dir.path(), 200, 0, 0).await;
        let path = dir.path().join("context.redb");
        let mut bytes = std::fs::read(&path).unwrap();
        // Everything after redb's header region, where the B-tree pages live.
        for byte in bytes.iter_mut().skip(4096) {
            *byte = pattern;
        }
        std::fs::write(&path, &bytes).unwrap();
        match Store::open(config(dir.path())) {
            Err(StoreError::Damaged(problem)) => {
                assert!(problem.contains("context.redb is damaged"), "{problem}");
                refusals += 1;
                let store = Store::open(recovering(dir.path())).unwrap();
                assert!(
                    store
                        .recovered()
                        .iter()
                        .any(|r| r.contains("context.redb was damaged"))
                );
            }
            Err(other) => panic!("expected damage, got {other}"),
            Ok(store) => assert!(store.get("k200").is_some(), "opened, so it must be whole"),
        }
    }
    assert!(
        refusals > 0,
        "at least one pattern damages pages redb reads"
    );
}

#[tokio::test]
async fn a_directory_from_a_build_without_manifest_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    crashed(dir.path(), 5, 0, 0).await;
    let manifest = dir.path().join(crate::manifest::MANIFEST_FILE);
    std::fs::remove_file(&manifest).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.revision(), 5);
    assert!(manifest.exists(), "written on adoption");
}

#[tokio::test]
async fn a_crash_while_creating_the_data_file_leaves_a_directory_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    // What a kill during the very first start leaves: redb's file half written, under
    // the name it is created with.
    std::fs::write(dir.path().join("context.redb.new"), b"half a header").unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.revision(), 0);
    assert!(!dir.path().join("context.redb.new").exists());
}

#[tokio::test]
async fn a_data_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    crashed(dir.path(), 3, 0, 0).await;
    std::fs::write(dir.path().join("context.redb"), vec![b'x'; 8192]).unwrap();
    refused(dir.path(), "context.redb is damaged");
}
