//! What the connection loop and the writer pass each other: frames and farewells.

use super::super::LiveConfig;
use super::super::protocol::{ChangeEvent, ServerMessage, encode};
use axum::extract::ws::{Message, close_code};
use ctx_store::Change;
use std::sync::Arc;

/// Work for the writer.
pub(super) enum Outgoing {
    /// One frame. `resume` is the revision a client that has read it can resume from
    /// (events and `subscribed`), so a farewell can say where to pick up.
    Frame {
        message: Message,
        resume: Option<u64>,
    },
    /// The replay (already filtered), encoded and sent one change at a time.
    Replay(Vec<Arc<Change>>),
}

impl Outgoing {
    pub(super) fn text(message: &ServerMessage<'_>, resume: Option<u64>) -> Self {
        Outgoing::Frame {
            message: Message::Text(encode(message).into()),
            resume,
        }
    }
}

/// Why the connection ends, and what (if anything) the client is told.
pub(super) enum Farewell {
    /// The client closed or the socket broke: nothing more to say.
    Quiet,
    /// An `error` event (with the last revision sent) and a close frame.
    Close {
        code: u16,
        reason: &'static str,
        error: Option<String>,
        error_code: Option<&'static str>,
    },
}

impl Farewell {
    pub(super) fn slow_consumer(detail: String) -> Farewell {
        Farewell::Close {
            code: close_code::POLICY,
            reason: "slow consumer",
            error: Some(format!(
                "slow consumer: {detail}; resume with since_revision = last_revision"
            )),
            error_code: Some("slow_consumer"),
        }
    }
}

pub(super) fn event_message(change: &Change) -> Message {
    Message::Text(encode(&ServerMessage::from(ChangeEvent::of(change))).into())
}

pub(super) fn event_frame(change: &Change) -> Outgoing {
    Outgoing::Frame {
        message: event_message(change),
        resume: Some(change.revision),
    }
}

pub(super) fn read_failure(error: axum::Error, config: &LiveConfig) -> Farewell {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match error.into_inner().downcast::<WsError>().map(|e| *e) {
        Ok(WsError::Capacity(e)) => Farewell::Close {
            code: close_code::SIZE,
            reason: "message too big",
            error: Some(format!(
                "{e}; messages are limited to {} bytes",
                config.max_message_bytes
            )),
            error_code: Some("too_big"),
        },
        Ok(WsError::Protocol(e)) => Farewell::Close {
            code: close_code::PROTOCOL,
            reason: "protocol error",
            error: Some(format!("WebSocket protocol error: {e}")),
            error_code: Some("protocol"),
        },
        _ => Farewell::Quiet,
    }
}
