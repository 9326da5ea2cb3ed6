//! `ctx-wire`: the messages of the `/ws` live protocol (documented in
//! `docs/live.md`), defined once for both ends.
//!
//! - The server (`ctx-server`'s `live/`) reads [`ClientMessage`] and writes
//!   [`ServerMessage`] built from its own zero-copy store types.
//! - Its clients (`ctx watch`, `ctx load`'s `ws_fanout`) write
//!   [`ClientMessage`] and read [`Event`], the same enum over `serde_json` types.
//!
//! [`ServerMessage`] is generic over the JSON value type `V` and the timestamp
//! type `T` for that reason; everything else is plain serde. Serde only: no
//! I/O, no runtime.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client's message to `/ws`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Adds prefixes to follow; `since_revision` (first subscribe only) replays from there.
    Subscribe {
        #[serde(default)]
        prefixes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_revision: Option<u64>,
    },
    /// With `if_revision`, written only if the key is at that revision (0: absent); with
    /// `lease`, deleted when that lease ends.
    Set {
        key: String,
        value: Value,
        who: Option<String>,
        id: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        if_revision: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<u64>,
    },
    Delete {
        key: String,
        who: Option<String>,
        id: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        if_revision: Option<u64>,
    },
    Ping {
        id: Option<Value>,
    },
}

const CLIENT_TYPES: [&str; 4] = ["subscribe", "set", "delete", "ping"];

impl ClientMessage {
    /// A `subscribe` to `prefixes`, replaying from `since_revision` when given.
    pub fn subscribe(prefixes: Vec<String>, since_revision: Option<u64>) -> Self {
        ClientMessage::Subscribe {
            prefixes,
            since_revision,
        }
    }

    /// The frame text. A client message always serialises (string keys only).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one text frame, with an error message that says which rule it broke.
    pub fn parse(text: &str) -> Result<ClientMessage, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
        let kind = match value.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(_) => return Err("the message's \"type\" must be a string".into()),
            None if value.is_object() => {
                return Err("the message has no \"type\" field".into());
            }
            None => return Err("a message must be a JSON object".into()),
        };
        if !CLIENT_TYPES.contains(&kind.as_str()) {
            return Err(format!(
                "unknown message type {kind:?}: use subscribe, set, delete or ping"
            ));
        }
        // From the text, not from `value`: with serde_json's `arbitrary_precision` a tagged
        // enum read from a `Value` refuses integers between 2^64 and 2^128 (serde buffers
        // them as u128, which its buffer cannot hold); read from text they arrive exact.
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|e| format!("invalid {kind} message: {e}"))?;
        if let ClientMessage::Set {
            value: Value::Null, ..
        } = message
        {
            return Err("invalid set message: \"value\" must not be null".into());
        }
        Ok(message)
    }

    /// The request id to echo in an error, if the message carried one.
    pub fn id(&self) -> Option<&Value> {
        match self {
            ClientMessage::Set { id, .. }
            | ClientMessage::Delete { id, .. }
            | ClientMessage::Ping { id } => id.as_ref(),
            ClientMessage::Subscribe { .. } => None,
        }
    }
}

/// `context_updated`: a key was set.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Updated<'a, V, T> {
    pub revision: u64,
    pub key: Cow<'a, str>,
    pub value: V,
    pub before: Option<V>,
    pub who: Cow<'a, str>,
    pub timestamp: T,
}

/// `context_deleted`: a key was deleted.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Deleted<'a, V, T> {
    pub revision: u64,
    pub key: Cow<'a, str>,
    pub before: Option<V>,
    pub who: Cow<'a, str>,
    pub timestamp: T,
}

/// `context_dumped`: a dump was written; `revision` is the one the dump reflects.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Dumped<T> {
    pub revision: u64,
    pub filename: String,
    pub format: String,
    pub who: String,
    pub key_count: usize,
    pub timestamp: T,
}

/// Every message the server sends on `/ws`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a, V, T: Clone> {
    /// Changes after `revision` follow (after the replay, when `since_revision` was given).
    Subscribed {
        revision: u64,
        prefixes: Cow<'a, [String]>,
    },
    ContextUpdated(Updated<'a, V, T>),
    ContextDeleted(Deleted<'a, V, T>),
    ContextDumped(Cow<'a, Dumped<T>>),
    /// The asked revision can no longer be replayed: reload (`GET /ctx/all`) and subscribe
    /// again from the revision that answer carries.
    ResyncRequired {
        requested: u64,
        compacted_through: u64,
        current_revision: u64,
        reason: Cow<'a, str>,
    },
    SetConfirmed {
        id: Option<Cow<'a, Value>>,
        key: Cow<'a, str>,
        revision: u64,
        changed: bool,
        timestamp: T,
    },
    DeleteConfirmed {
        id: Option<Cow<'a, Value>>,
        key: Cow<'a, str>,
        revision: u64,
        changed: bool,
        timestamp: T,
    },
    Pong {
        id: Option<Cow<'a, Value>>,
    },
    Error {
        error: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<Cow<'a, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<Cow<'a, Value>>,
        /// On a disconnect: the last change delivered, to resume from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_revision: Option<u64>,
        /// On a `conflict` (an `if_revision` that did not hold): the key, its current
        /// revision (0: absent) and whether it exists.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Cow<'a, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        found: Option<bool>,
    },
}

/// The `code` of the error answering a write whose `if_revision` did not hold.
pub const CONFLICT: &str = "conflict";

/// A server message as a client reads it: values as `serde_json` values,
/// timestamps as the RFC 3339 text the server sends.
pub type Event = ServerMessage<'static, Value, String>;

/// The `code` of the error sent before a slow consumer is disconnected.
pub const SLOW_CONSUMER: &str = "slow_consumer";

impl<'a, V: Serialize, T: Serialize + Clone> ServerMessage<'a, V, T> {
    /// A plain error with no id or code.
    pub fn error(error: impl Into<Cow<'a, str>>) -> Self {
        ServerMessage::Error {
            error: error.into(),
            code: None,
            id: None,
            last_revision: None,
            key: None,
            revision: None,
            found: None,
        }
    }

    /// The frame text.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

impl Event {
    /// Parses one frame a server sent.
    pub fn parse(text: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscribe_without_since_has_no_since_field() {
        assert_eq!(
            ClientMessage::subscribe(vec!["a.".into()], None).encode(),
            r#"{"type":"subscribe","prefixes":["a."]}"#
        );
        assert_eq!(
            ClientMessage::subscribe(vec![], Some(7)).encode(),
            r#"{"type":"subscribe","prefixes":[],"since_revision":7}"#
        );
    }

    #[test]
    fn what_the_server_writes_a_client_reads_back() {
        let value = serde_json::json!({"seq": 1});
        let sent: ServerMessage<'_, &Value, &str> = ServerMessage::ContextUpdated(Updated {
            revision: 5,
            key: "k".into(),
            value: &value,
            before: None,
            who: "w".into(),
            timestamp: "2026-12-01T00:00:00Z",
        });
        let text = sent.encode().unwrap();
        assert_eq!(
            text,
            r#"{"type":"context_updated","revision":5,"key":"k","value":{"seq":1},"before":null,"who":"w","timestamp":"2026-12-01T00:00:00Z"}"#
        );
        let Event::ContextUpdated(read) = Event::parse(&text).unwrap() else {
            panic!("not an update: {text}");
        };
        assert_eq!((read.revision, read.key.as_ref()), (5, "k"));
        assert_eq!(read.value, value);
        let error: ServerMessage<'_, Value, String> = ServerMessage::error("bad");
        assert_eq!(error.encode().unwrap(), r#"{"type":"error","error":"bad"}"#);
    }

    #[test]
    fn integers_beyond_64_bits_survive_the_tagged_enums() {
        // serde_json's `arbitrary_precision` (on in this workspace) hands numbers to
        // internally tagged enums through a buffer; they must come out exact.
        let text = r#"{"type":"context_updated","revision":7,"key":"k","value":{"n":18446744073709551616,"f":1.5,"m":-1000000000000000000000000000000},"before":null,"who":"w","timestamp":"t"}"#;
        let Event::ContextUpdated(read) = Event::parse(text).unwrap() else {
            panic!("not an update: {text}");
        };
        assert_eq!(read.revision, 7);
        assert_eq!(
            read.value.to_string(),
            r#"{"f":1.5,"m":-1000000000000000000000000000000,"n":18446744073709551616}"#
        );
        let sent =
            r#"{"type":"set","key":"k","value":[18446744073709551616],"id":18446744073709551617}"#;
        let ClientMessage::Set { value, id, .. } = ClientMessage::parse(sent).unwrap() else {
            panic!("not a set");
        };
        assert_eq!(value.to_string(), "[18446744073709551616]");
        assert_eq!(
            id.map(|id| id.to_string()).as_deref(),
            Some("18446744073709551617")
        );
        let subscribe = r#"{"type":"subscribe","prefixes":[],"since_revision":42}"#;
        assert_eq!(
            ClientMessage::parse(subscribe).unwrap(),
            ClientMessage::subscribe(vec![], Some(42))
        );
    }

    #[test]
    fn client_messages_are_refused_with_the_rule_they_broke() {
        for (text, needle) in [
            ("nope", "malformed JSON"),
            ("[1]", "JSON object"),
            (r#"{"a":1}"#, "no \"type\""),
            (r#"{"type":3}"#, "must be a string"),
            (r#"{"type":"launch"}"#, "unknown message type"),
            (
                r#"{"type":"set","key":"k","value":null}"#,
                "must not be null",
            ),
        ] {
            let error = ClientMessage::parse(text).unwrap_err();
            assert!(error.contains(needle), "{text}: {error}");
        }
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping","id":1}"#)
                .unwrap()
                .id(),
            Some(&Value::from(1))
        );
    }
}
