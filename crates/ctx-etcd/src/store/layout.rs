//! How ctx's data sits in etcd: keys under the prefix, values in a small envelope.
//!
//! - A key `K` is the etcd key `<prefix>K`. Its value is the envelope
//!   `{"ts":<µs since the epoch>,"who":"<writer>","v":<the JSON value>}`: etcd keeps no
//!   writer or time, and history needs both. The lease and revisions come from etcd itself
//!   (the key's lease, `mod_revision`), `before` from the node's memory (`feed.rs`).
//! - A delete of `K` also puts `<prefix>\0deleted/K` = `{"ts":…,"who":…}` in the same
//!   transaction, so every node's history names who deleted (a ctx key cannot hold a
//!   control character, so no ctx key collides). One such small record stays per deleted
//!   key. A delete without it (a lease ending, another etcd client) is named
//!   `lease:<id>` or `etcd`.
//! - `<prefix>\0sync/<node>` is a node's sync marker: a node that sees its own put of it
//!   come back through its watch knows it has every change before (`Progress::sync`).

use ctx_store::{JsonValue, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;

const DELETED: &str = "\0deleted/";
const SYNC: &str = "\0sync/";

#[derive(Clone, Debug)]
pub struct Layout {
    prefix: String,
}

/// What an etcd key under the prefix is to ctx.
pub enum EtcdKey<'a> {
    Data(&'a str),
    /// The deletion record of this ctx key.
    Deleted(&'a str),
    /// A node's sync marker.
    Marker,
    /// Not ctx's (not UTF-8, or not under the prefix).
    Foreign,
}

impl Layout {
    pub fn new(prefix: &str) -> Layout {
        Layout {
            prefix: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn data_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn deleted_key(&self, key: &str) -> String {
        format!("{}{DELETED}{key}", self.prefix)
    }

    pub fn sync_key(&self, node: &str) -> String {
        format!("{}{SYNC}{node}", self.prefix)
    }

    /// The etcd key range `[start, end)` of every ctx key: past the records and markers
    /// (`<prefix>\0…`; a ctx key starts with no control character), up to the prefix's end.
    pub fn data_range(&self) -> (Vec<u8>, Vec<u8>) {
        let start = format!("{}\u{1}", self.prefix).into_bytes();
        let mut end = self.prefix.as_bytes().to_vec();
        while end.last() == Some(&u8::MAX) {
            end.pop();
        }
        match end.last_mut() {
            Some(last) => *last += 1,
            // Every key (etcd's "\0" range end).
            None => end.push(0),
        }
        (start, end)
    }

    pub fn classify<'a>(&self, etcd_key: &'a [u8]) -> EtcdKey<'a> {
        let Some(rest) = std::str::from_utf8(etcd_key)
            .ok()
            .and_then(|k| k.strip_prefix(self.prefix.as_str()))
        else {
            return EtcdKey::Foreign;
        };
        if rest.starts_with(SYNC) {
            return EtcdKey::Marker;
        }
        match rest.strip_prefix(DELETED) {
            Some(key) => EtcdKey::Deleted(key),
            None if rest.is_empty() => EtcdKey::Foreign,
            None => EtcdKey::Data(rest),
        }
    }
}

/// The envelope of a value.
pub fn envelope(value: &JsonValue, who: &str, at: Timestamp) -> String {
    let who = serde_json::Value::from(who);
    format!(
        r#"{{"ts":{},"who":{who},"v":{}}}"#,
        at.as_micros(),
        value.as_str()
    )
}

/// The record of a deletion.
pub fn deletion(who: &str, at: Timestamp) -> String {
    let who = serde_json::Value::from(who);
    format!(r#"{{"ts":{},"who":{who}}}"#, at.as_micros())
}

#[derive(Deserialize)]
struct Envelope<'a> {
    ts: i64,
    who: String,
    #[serde(borrow)]
    v: Option<&'a RawValue>,
}

/// A value read back: the value, who wrote it and when.
pub struct Stored {
    pub value: Option<JsonValue>,
    pub who: String,
    pub at: Timestamp,
}

/// Reads an envelope (or a deletion record). A value some other etcd client wrote under
/// the prefix is taken as it is: its JSON, else its text as a JSON string, by `etcd`.
pub fn read(bytes: &[u8]) -> Stored {
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(bytes) {
        let value = envelope
            .v
            .and_then(|raw| JsonValue::from_stored_text(raw.get().to_owned()).ok());
        return Stored {
            value,
            who: envelope.who,
            at: Timestamp::from_micros(envelope.ts),
        };
    }
    let text = String::from_utf8_lossy(bytes);
    let value = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(json) => JsonValue::new(&json),
        Err(_) => JsonValue::new(&serde_json::Value::from(text.into_owned())),
    };
    Stored {
        value: Some(value),
        who: "etcd".into(),
        at: Timestamp::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_range_holds_every_ctx_key_and_no_record_or_marker() {
        let layout = Layout::new("ctx/");
        let (start, end) = layout.data_range();
        let inside =
            |key: &str| start.as_slice() <= key.as_bytes() && key.as_bytes() < end.as_slice();
        assert!(inside(&layout.data_key("a")));
        assert!(inside(&layout.data_key(" spaced")));
        assert!(inside(&layout.data_key("\u{10FFFF}")));
        assert!(!inside(&layout.deleted_key("a")));
        assert!(!inside(&layout.sync_key("node")));
        assert!(!inside("ctx0"));
        assert_eq!(end, b"ctx0");
    }

    #[test]
    fn the_range_end_of_an_empty_prefix_is_every_key() {
        assert_eq!(Layout::new("").data_range().1, b"\0");
    }
}
