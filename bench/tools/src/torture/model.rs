//! What the clients know: every acknowledged operation, and at most one operation per
//! writer whose outcome is unknown (it was in flight when the server died). The checks
//! compare a restarted server with this.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One operation by one writer: a set (with its unique value) or a delete.
#[derive(Clone, Debug)]
pub struct Op {
    pub key: String,
    /// `None` for a delete.
    pub value: Option<Value>,
}

/// One writer's keys as acknowledged, and its operation in flight at the kill.
#[derive(Default)]
pub struct WriterModel {
    pub keys: BTreeMap<String, Option<Value>>,
    pub in_flight: Option<Op>,
}

/// Everything the clients know, and what the checks found.
#[derive(Default)]
pub struct Model {
    pub writers: Vec<WriterModel>,
    /// The highest revision any acknowledged write was answered with.
    pub max_acknowledged_revision: u64,
    /// The highest revision the server ever reported (status or write answers).
    pub max_seen_revision: u64,
    pub unknown_applied: u64,
    pub unknown_not_applied: u64,
    pub violations: Vec<String>,
}

impl Model {
    pub fn new(writers: usize) -> Model {
        Model {
            writers: (0..writers).map(|_| WriterModel::default()).collect(),
            ..Model::default()
        }
    }

    /// Checks a restarted server's `/ctx/all` (its `context` object) against every
    /// acknowledged operation, settling each in-flight one by what the server has.
    pub fn check_context(&mut self, context: &serde_json::Map<String, Value>, cycle: u64) {
        for writer in &mut self.writers {
            let in_flight = writer.in_flight.take();
            for (key, expected) in &mut writer.keys {
                let actual = context.get(key).cloned();
                if actual == *expected {
                    if in_flight.as_ref().is_some_and(|op| &op.key == key) {
                        self.unknown_not_applied += 1;
                    }
                    continue;
                }
                match &in_flight {
                    Some(op) if &op.key == key && actual == op.value => {
                        // Applied, but the answer was lost with the server.
                        self.unknown_applied += 1;
                        *expected = actual;
                    }
                    _ => self.violations.push(format!(
                        "cycle {cycle}: key {key} is {} but the last acknowledged write left {}",
                        show(&actual),
                        show(expected)
                    )),
                }
            }
            // A key first written by the in-flight op is not in `keys` yet.
            if let Some(op) = in_flight
                && !writer.keys.contains_key(&op.key)
            {
                let actual = context.get(&op.key).cloned();
                if actual.is_some() && actual == op.value {
                    self.unknown_applied += 1;
                    writer.keys.insert(op.key, actual);
                } else if actual.is_none() {
                    self.unknown_not_applied += 1;
                } else {
                    self.violations.push(format!(
                        "cycle {cycle}: key {} is {} though no write of it was ever made",
                        op.key,
                        show(&actual)
                    ));
                }
            }
        }
    }

    /// A revision the server reports now must not be below anything reported before.
    pub fn check_revision(&mut self, revision: u64, cycle: u64, what: &str) {
        if revision < self.max_acknowledged_revision || revision < self.max_seen_revision {
            self.violations.push(format!(
                "cycle {cycle}: {what} revision {revision} is below the highest seen before ({}; acknowledged {})",
                self.max_seen_revision, self.max_acknowledged_revision
            ));
        }
        self.max_seen_revision = self.max_seen_revision.max(revision);
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.writers.iter().flat_map(|w| w.keys.keys())
    }
}

fn show(value: &Option<Value>) -> String {
    value
        .as_ref()
        .map_or_else(|| "absent".into(), |v| json!(v).to_string())
}
