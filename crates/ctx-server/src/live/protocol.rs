//! The live protocol's messages (documented in `docs/live.md`).
//!
//! Event payloads ([`Updated`], [`Deleted`], [`Dumped`]) are shared: `/ws` sends them
//! tagged with `"type"`, Socket.IO sends the same fields as the event's data. Framework0
//! clients read the fields they know and ignore the extra `revision`/`before`.

use ctx_store::{Change, JsonValue, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client's message to `/ws`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Adds prefixes to follow; `since_revision` (first subscribe only) replays from there.
    Subscribe {
        #[serde(default)]
        prefixes: Vec<String>,
        since_revision: Option<u64>,
    },
    Set {
        key: String,
        value: Value,
        who: Option<String>,
        id: Option<Value>,
    },
    Delete {
        key: String,
        who: Option<String>,
        id: Option<Value>,
    },
    Ping {
        id: Option<Value>,
    },
}

const CLIENT_TYPES: [&str; 4] = ["subscribe", "set", "delete", "ping"];

impl ClientMessage {
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
        let message: ClientMessage =
            serde_json::from_value(value).map_err(|e| format!("invalid {kind} message: {e}"))?;
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
#[derive(Debug, Serialize)]
pub struct Updated<'a> {
    pub revision: u64,
    pub key: &'a str,
    pub value: &'a JsonValue,
    pub before: Option<&'a JsonValue>,
    pub who: &'a str,
    pub timestamp: Timestamp,
}

/// `context_deleted`: a key was deleted.
#[derive(Debug, Serialize)]
pub struct Deleted<'a> {
    pub revision: u64,
    pub key: &'a str,
    pub before: Option<&'a JsonValue>,
    pub who: &'a str,
    pub timestamp: Timestamp,
}

/// `context_dumped`: a dump was written; `revision` is the one the dump reflects.
#[derive(Clone, Debug, Serialize)]
pub struct Dumped {
    pub revision: u64,
    pub filename: String,
    pub format: String,
    pub who: String,
    pub key_count: usize,
    pub timestamp: Timestamp,
}

/// A store change as an event: its name and payload.
pub enum ChangeEvent<'a> {
    Updated(Updated<'a>),
    Deleted(Deleted<'a>),
}

impl<'a> ChangeEvent<'a> {
    pub fn of(change: &'a Change) -> Self {
        match &change.after {
            Some(value) => ChangeEvent::Updated(Updated {
                revision: change.revision,
                key: &change.key,
                value,
                before: change.before.as_ref(),
                who: &change.who,
                timestamp: change.timestamp,
            }),
            None => ChangeEvent::Deleted(Deleted {
                revision: change.revision,
                key: &change.key,
                before: change.before.as_ref(),
                who: &change.who,
                timestamp: change.timestamp,
            }),
        }
    }

    /// The event name, the same on `/ws` (`type`) and Socket.IO.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeEvent::Updated(_) => "context_updated",
            ChangeEvent::Deleted(_) => "context_deleted",
        }
    }
}

/// Every message the server sends on `/ws`.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// Changes after `revision` follow (after the replay, when `since_revision` was given).
    Subscribed {
        revision: u64,
        prefixes: &'a [String],
    },
    ContextUpdated(Updated<'a>),
    ContextDeleted(Deleted<'a>),
    ContextDumped(&'a Dumped),
    /// The asked revision can no longer be replayed: reload (`GET /ctx/all`) and subscribe
    /// again from the revision that answer carries.
    ResyncRequired {
        requested: u64,
        compacted_through: u64,
        current_revision: u64,
        reason: &'a str,
    },
    SetConfirmed {
        id: Option<&'a Value>,
        key: &'a str,
        revision: u64,
        changed: bool,
        timestamp: Timestamp,
    },
    DeleteConfirmed {
        id: Option<&'a Value>,
        key: &'a str,
        revision: u64,
        changed: bool,
        timestamp: Timestamp,
    },
    Pong {
        id: Option<&'a Value>,
    },
    Error {
        error: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        /// On a disconnect: the last change delivered, to resume from.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_revision: Option<u64>,
    },
}

impl<'a> From<ChangeEvent<'a>> for ServerMessage<'a> {
    fn from(event: ChangeEvent<'a>) -> Self {
        match event {
            ChangeEvent::Updated(e) => ServerMessage::ContextUpdated(e),
            ChangeEvent::Deleted(e) => ServerMessage::ContextDeleted(e),
        }
    }
}

impl ServerMessage<'_> {
    /// A plain error with no id or code.
    pub fn error(error: &str) -> ServerMessage<'_> {
        ServerMessage::Error {
            error,
            code: None,
            id: None,
            last_revision: None,
        }
    }

    /// The frame text. Our messages always serialise (string keys, no failing types).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!("cannot encode a live message: {e}");
            r#"{"type":"error","error":"internal error encoding a message"}"#.to_owned()
        })
    }
}

/// True when `key` is under one of `prefixes` (an empty list or `""` means every key).
pub fn matches(prefixes: &[String], key: &str) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p.as_str()))
}
