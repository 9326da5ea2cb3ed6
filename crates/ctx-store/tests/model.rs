//! The store against a model: random sets, deletes, equal-value sets and restarts (close
//! and reopen the real on-disk store), checked after every step against a `BTreeMap` and
//! a list of changes kept by hand.
//!
//! proptest rather than `cargo fuzz`: fuzzing needs a nightly toolchain, which these
//! machines do not have, and proptest runs inside `cargo test` with shrinking, so a
//! failure comes back as a short sequence of operations.

use ctx_store::{HistoryQuery, Store, StoreConfig, WriteOutcome};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Few keys, so sets overwrite, deletes hit, and equal values come up often.
const KEYS: &[&str] = &["a", "a/b", "ключ", "k with spaces", "%2F"];
/// Small, so compaction happens within a run.
const HISTORY_LIMIT: usize = 12;

#[derive(Clone, Debug)]
enum Op {
    Set {
        key: usize,
        value: Value,
        who: usize,
    },
    /// Set a key to the value it already has, its object keys listed in another order.
    SetSame {
        key: usize,
    },
    Delete {
        key: usize,
    },
    Restart,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[a-z\u{e9}\u{1F600}\"\\\\]{0,6}".prop_map(Value::from),
        (0u8..3, 0u8..3).prop_map(|(x, y)| json!({"x": x, "y": [y, "t"]})),
        prop::collection::vec(any::<i32>(), 0..4).prop_map(Value::from),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        5 => (key.clone(), value(), 0usize..2).prop_map(|(key, value, who)| Op::Set { key, value, who }),
        2 => key.clone().prop_map(|key| Op::SetSame { key }),
        2 => key.prop_map(|key| Op::Delete { key }),
        1 => Just(Op::Restart),
    ]
}

/// One change as the model expects it in the history.
#[derive(Debug, PartialEq)]
struct Entry {
    revision: u64,
    key: String,
    before: Option<Value>,
    after: Option<Value>,
    who: String,
}

#[derive(Default)]
struct Model {
    /// Each key's value and the revision of its last change.
    keys: BTreeMap<String, (Value, u64)>,
    revision: u64,
    history: Vec<Entry>,
}

impl Model {
    /// Applies a write; answers what the store must answer (revision, changed).
    fn write(&mut self, key: &str, after: Option<Value>, who: &str) -> (u64, bool) {
        let before = self.keys.get(key).map(|(value, _)| value.clone());
        if before == after {
            let revision = self.keys.get(key).map_or(self.revision, |(_, rev)| *rev);
            return (revision, false);
        }
        self.revision += 1;
        match &after {
            Some(value) => self
                .keys
                .insert(key.to_owned(), (value.clone(), self.revision)),
            None => self.keys.remove(key),
        };
        self.history.push(Entry {
            revision: self.revision,
            key: key.to_owned(),
            before,
            after,
            who: who.to_owned(),
        });
        (self.revision, true)
    }
}

fn open(dir: &std::path::Path) -> Store {
    let mut config = StoreConfig::new(dir);
    config.history_limit = HISTORY_LIMIT;
    Store::open(config).expect("open store")
}

/// Everything the store shows equals the model: values, each key's revision, the
/// store's revision, and the retained history (the model's newest entries).
fn check(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.revision(), model.revision);
    let snapshot = store.snapshot(None);
    prop_assert_eq!(snapshot.revision, model.revision);
    let stored: BTreeMap<String, (Value, u64)> = snapshot
        .records
        .iter()
        .map(|(key, record)| (key.to_string(), (record.value.to_value(), record.revision)))
        .collect();
    prop_assert_eq!(&stored, &model.keys);
    for (key, (value, revision)) in &model.keys {
        let record = store.get(key).expect("a key the model has");
        prop_assert_eq!(&record.value.to_value(), value);
        prop_assert_eq!(record.revision, *revision);
    }

    let page = store.history(&HistoryQuery::default());
    let retained: Vec<Entry> = page
        .entries
        .iter()
        .map(|change| Entry {
            revision: change.revision,
            key: change.key.to_string(),
            before: change.before.as_ref().map(|v| v.to_value()),
            after: change.after.as_ref().map(|v| v.to_value()),
            who: change.who.to_string(),
        })
        .collect();
    prop_assert!(
        retained.len() <= HISTORY_LIMIT,
        "{} entries kept",
        retained.len()
    );
    prop_assert!(
        model.history.ends_with(&retained),
        "the history kept is the newest part of the model's"
    );
    // Compaction drops the oldest only: nothing newer than the limit is lost.
    prop_assert_eq!(retained.len(), model.history.len().min(HISTORY_LIMIT));
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        let mut store = open(dir.path());
        let mut model = Model::default();
        for op in ops {
            let (outcome, expected): (WriteOutcome, (u64, bool)) = match op {
                Op::Restart => {
                    store.close().await;
                    drop(store);
                    store = open(dir.path());
                    check(&store, &model)?;
                    continue;
                }
                Op::Set { key, value, who } => {
                    let who = ["alice", "bob"][who];
                    let expected = model.write(KEYS[key], Some(value.clone()), who);
                    (
                        store.set(KEYS[key], &value, who).await.expect("set"),
                        expected,
                    )
                }
                Op::SetSame { key } => {
                    let Some((value, _)) = model.keys.get(KEYS[key]).cloned() else {
                        continue;
                    };
                    // The same value as a reordered object, when it is one.
                    let text = match &value {
                        Value::Object(map) if map.len() == 2 => {
                            format!(r#"{{"y":{},"x":{}}}"#, map["y"], map["x"])
                        }
                        other => other.to_string(),
                    };
                    let same: Value = serde_json::from_str(&text).expect("JSON");
                    let expected = model.write(KEYS[key], Some(same.clone()), "carol");
                    prop_assert!(!expected.1, "the model sees an equal value");
                    (
                        store.set(KEYS[key], &same, "carol").await.expect("set"),
                        expected,
                    )
                }
                Op::Delete { key } => {
                    let expected = model.write(KEYS[key], None, "dave");
                    (
                        store.delete(KEYS[key], "dave").await.expect("delete"),
                        expected,
                    )
                }
            };
            prop_assert_eq!((outcome.revision, outcome.changed), expected);
            check(&store, &model)?;
        }
        store.close().await;
        Ok(())
    })
}

proptest! {
    // Each case writes up to 40 changes (one fdatasync each) and restarts a few times:
    // 24 cases take ~1 s of CPU in a debug build, ~10 s of wall time on a busy disk.
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_store_matches_a_model_map_across_writes_and_restarts(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        run(ops)?;
    }

}

#[test]
fn key_validation_refuses_exactly_empty_overlong_and_control_character_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let keys = prop_oneof![
        "\\PC{0,8}",
        "[\\x00-\\x1f\\x7f\u{85}]{1,3}",
        ".{0,3}\\p{Cc}.{0,3}",
        "a{1020,1030}",
        "\u{e9}{510,514}",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&keys, |key| {
            let valid = !key.is_empty() && key.len() <= 1024 && !key.chars().any(char::is_control);
            prop_assert_eq!(store.validate_key(&key).is_ok(), valid, "{:?}", key);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
