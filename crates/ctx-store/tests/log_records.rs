//! The write-ahead log's record decoder against damage: random bytes, flipped bits,
//! overwritten ranges, cuts, and foreign segment files, all in a real log written by the
//! store. Whatever the damage, opening never panics, and a store that does open holds
//! exactly the state after some prefix of the acknowledged writes: a damaged record is
//! never taken for a different valid one, and what follows it is never applied out of
//! order.
//!
//! proptest (see model.rs for why not `cargo fuzz`).

use ctx_store::{Store, StoreConfig};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Writes in the image; each its own group, so each its own log record.
const WRITES: u64 = 24;
const KEYS: u64 = 5;

/// The state after the first `count` writes: write `i` sets `k{i % KEYS}` to `i`.
fn state_after(count: u64) -> BTreeMap<String, String> {
    (0..count)
        .map(|i| (format!("k{}", i % KEYS), i.to_string()))
        .collect()
}

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    // No checkpoint while the image is made: every write stays in the log.
    config.checkpoint_every = Duration::from_secs(3600);
    config
}

/// A data directory as a crash leaves it after `WRITES` acknowledged writes that were
/// never checkpointed: redb as created (copied before the first write, while the store
/// is idle) and the log holding every write (each record synced before its answer).
/// Made once; each case works on a copy.
fn image() -> &'static Path {
    static IMAGE: OnceLock<tempfile::TempDir> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let live = tempfile::tempdir().expect("temp dir");
            let image = tempfile::tempdir().expect("temp dir");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let store = Store::open(config(live.path())).expect("open");
                copy_tree(live.path(), image.path(), &|path| !is_log(path));
                for i in 0..WRITES {
                    let key = format!("k{}", i % KEYS);
                    store.set(&key, &json!(i), "w").await.expect("set");
                }
                copy_tree(live.path(), image.path(), &is_log);
                store.close().await;
            });
            image
        })
        .path()
}

fn is_log(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "log")
}

/// Copies the files under `from` that `pick` selects into `to`, keeping the layout.
fn copy_tree(from: &Path, to: &Path, pick: &dyn Fn(&Path) -> bool) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&path, &target, pick);
        } else if pick(&path) {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// The image's log segments (not spares), oldest first.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            is_log(path)
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("spare-"))
        })
        .collect();
    segments.sort();
    segments
}

#[derive(Clone, Debug)]
enum Damage {
    /// XOR these bytes in at these positions (fractions of the segment's length).
    Flip(Vec<(f64, u8)>),
    /// Overwrite from a position with these bytes.
    Overwrite(f64, Vec<u8>),
    /// Cut the segment at a position.
    Truncate(f64),
    /// Replace the whole segment with these bytes.
    Replace(Vec<u8>),
    /// Add a foreign file named like a segment, before or after the real one.
    Foreign { after: bool, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    let bytes = prop::collection::vec(any::<u8>(), 0..96);
    prop_oneof![
        prop::collection::vec((0.0..1.0f64, 1..=255u8), 1..4).prop_map(Damage::Flip),
        (0.0..1.0f64, bytes.clone()).prop_map(|(at, bytes)| Damage::Overwrite(at, bytes)),
        (0.0..1.0f64).prop_map(Damage::Truncate),
        bytes.clone().prop_map(Damage::Replace),
        (any::<bool>(), bytes).prop_map(|(after, bytes)| Damage::Foreign { after, bytes }),
    ]
}

fn position(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(dir: &Path, damage: &Damage) {
    let segment = segments(dir).pop().expect("the image has a log segment");
    let mut bytes = std::fs::read(&segment).expect("read segment");
    match damage {
        Damage::Flip(flips) => {
            for &(at, mask) in flips {
                let at = position(at, bytes.len());
                bytes[at] ^= mask;
            }
        }
        Damage::Overwrite(at, new) => {
            let at = position(*at, bytes.len());
            for (offset, byte) in new.iter().enumerate() {
                match bytes.get_mut(at + offset) {
                    Some(old) => *old = *byte,
                    None => bytes.push(*byte),
                }
            }
        }
        Damage::Truncate(at) => bytes.truncate(position(*at, bytes.len())),
        Damage::Replace(new) => bytes = new.clone(),
        Damage::Foreign {
            after,
            bytes: foreign,
        } => {
            let stem = segment.file_stem().expect("stem").to_string_lossy();
            let sequence: u64 = stem.parse().expect("numbered segment");
            let other = if *after {
                sequence + 1
            } else {
                sequence.saturating_sub(1)
            };
            if other != sequence {
                std::fs::write(dir.join("wal").join(format!("{other:020}.log")), foreign)
                    .expect("write foreign segment");
            }
        }
    }
    std::fs::write(&segment, bytes).expect("write segment");
}

/// Opens a damaged copy of the image; answers whether it opened (and then was right).
fn check(damage: Damage) -> Result<bool, TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(image(), dir.path(), &|_| true);
    apply(dir.path(), &damage);
    // Refusing to open is a correct answer to damage; a panic or a wrong state is not.
    let Ok(store) = Store::open(config(dir.path())) else {
        return Ok(false);
    };
    let revision = store.revision();
    prop_assert!(
        revision <= WRITES,
        "revision {revision} after {WRITES} writes"
    );
    let held: BTreeMap<String, String> = store
        .snapshot(None)
        .records
        .iter()
        .map(|(key, record)| (key.to_string(), record.value.as_str().to_owned()))
        .collect();
    prop_assert_eq!(
        &held,
        &state_after(revision),
        "the state after {} writes",
        revision
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let next = store.set("after", &json!(true), "w").await.expect("set");
        prop_assert_eq!(
            next.revision,
            revision + 1,
            "revisions continue, never repeat"
        );
        store.close().await;
        Ok(true)
    })
}

#[test]
fn the_undamaged_image_opens_with_every_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(image(), dir.path(), &|_| true);
    let store = Store::open(config(dir.path())).expect("open");
    assert_eq!(store.revision(), WRITES);
    assert_eq!(store.key_count() as u64, KEYS);
    let last_key = format!("k{}", (WRITES - 1) % KEYS);
    let last = store.get(&last_key).expect("the last key written");
    assert_eq!(last.value.as_str(), (WRITES - 1).to_string());
    assert_eq!(last.revision, WRITES);
}

#[test]
fn a_damaged_log_never_panics_and_never_yields_a_state_that_was_not_acknowledged() {
    // Each case copies a small image and opens a store: 48 cases take ~2 s of CPU in
    // debug (~8 s of wall time with the disk busy).
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let opened = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&damage(), |damage| {
            if check(damage)? {
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    // Not vacuous: some damage (a cut tail at least) leaves a store that opens.
    assert!(opened.into_inner() > 0, "no damaged image opened at all");
}
