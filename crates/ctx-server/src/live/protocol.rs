//! The live protocol's messages (documented in `docs/live.md`).
//!
//! Event payloads ([`Updated`], [`Deleted`], [`Dumped`]) are shared: `/ws` sends them
//! tagged with `"type"`, Socket.IO sends the same fields as the event's data. Framework0
//! clients read the fields they know and ignore the extra `revision`/`before`.

use ctx_store::{Change, JsonValue, Timestamp};

pub use ctx_wire::ClientMessage;

/// A server message built from the store's own types (no copies of values).
pub type ServerMessage<'a> = ctx_wire::ServerMessage<'a, &'a JsonValue, Timestamp>;
/// `context_updated`'s payload.
pub type Updated<'a> = ctx_wire::Updated<'a, &'a JsonValue, Timestamp>;
/// `context_deleted`'s payload.
pub type Deleted<'a> = ctx_wire::Deleted<'a, &'a JsonValue, Timestamp>;
/// `context_dumped`'s payload.
pub type Dumped = ctx_wire::Dumped<Timestamp>;

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
                key: (&*change.key).into(),
                value,
                before: change.before.as_ref(),
                who: (&*change.who).into(),
                timestamp: change.timestamp,
            }),
            None => ChangeEvent::Deleted(Deleted {
                revision: change.revision,
                key: (&*change.key).into(),
                before: change.before.as_ref(),
                who: (&*change.who).into(),
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

impl<'a> From<ChangeEvent<'a>> for ServerMessage<'a> {
    fn from(event: ChangeEvent<'a>) -> Self {
        match event {
            ChangeEvent::Updated(e) => ServerMessage::ContextUpdated(e),
            ChangeEvent::Deleted(e) => ServerMessage::ContextDeleted(e),
        }
    }
}

/// The frame text of `message`. Our messages always serialise (string keys, no failing
/// types); should one not, the client gets an error frame and the log says why.
pub fn encode(message: &ServerMessage<'_>) -> String {
    message.encode().unwrap_or_else(|e| {
        tracing::error!("cannot encode a live message: {e}");
        r#"{"type":"error","error":"internal error encoding a message"}"#.to_owned()
    })
}

/// True when `key` is under one of `prefixes` (an empty list or `""` means every key).
pub fn matches(prefixes: &[String], key: &str) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p.as_str()))
}
