//! Writes a client sends over `/ws`.

use std::borrow::Cow;

use super::super::protocol::ServerMessage;
use super::connection::Connection;
use super::frames::{Farewell, Outgoing};
use crate::error::ApiError;
use crate::routes::coord::{self, SetOptions};
use axum::http::StatusCode;
use ctx_store::JsonValue;
use ctx_wire::CONFLICT;
use serde_json::Value;

/// `who` recorded for socket writes that do not name one.
const DEFAULT_WHO: &str = "ws_client";

impl Connection {
    /// Starts a write; its confirmation is queued when durable.
    pub(super) async fn write(
        &mut self,
        id: Option<Value>,
        key: String,
        write: Write,
        who: Option<String>,
    ) -> Result<(), Farewell> {
        if !self.may_write {
            return self.reply(&ServerMessage::Error {
                error:
                    "writes need an API key: connect with Authorization: Bearer <key> or X-API-Key"
                        .into(),
                code: Some("unauthorized".into()),
                id: id.as_ref().map(Cow::Borrowed),
                last_revision: None,
                key: None,
                revision: None,
                found: None,
            });
        }
        if let Write::Set(value, _) = &write
            && let Err(refused) =
                crate::limits::depth::check(value, self.app.config.max_value_depth)
        {
            return self.reply(&ServerMessage::Error {
                error: refused.message.into(),
                code: Some("value_too_deep".into()),
                id: id.as_ref().map(Cow::Borrowed),
                last_revision: None,
                key: None,
                revision: None,
                found: None,
            });
        }
        // Waiting here (not queueing) is the backpressure on a client that sends writes
        // faster than the store makes them durable.
        let Ok(permit) = self.writes.clone().acquire_owned().await else {
            return Err(Farewell::Quiet);
        };
        let app = self.app.clone();
        let outbox = self.outbox.clone();
        tokio::spawn(async move {
            let who = who.as_deref().unwrap_or(DEFAULT_WHO);
            let is_set = matches!(write, Write::Set(..));
            let result = match write {
                Write::Set(value, options) if options.is_plain() => app
                    .store
                    .set(&key, JsonValue::from(&value), who)
                    .await
                    .map_err(ApiError::from),
                Write::Set(value, options) => {
                    coord::set(&app, &key, JsonValue::from(value), who, options)
                        .await
                        .map(|(outcome, _)| outcome)
                }
                Write::Delete(None) => app.store.delete(&key, who).await.map_err(ApiError::from),
                Write::Delete(if_revision) => coord::delete(&app, &key, who, if_revision).await,
            };
            if let (Ok(outcome), true) = (&result, is_set) {
                app.live.written(&key, who, outcome, None);
            }
            let (id, key) = (id.as_ref().map(Cow::Borrowed), Cow::Borrowed(key.as_str()));
            let message = match result {
                Ok(o) if is_set => ServerMessage::SetConfirmed {
                    id,
                    key,
                    revision: o.revision,
                    changed: o.changed,
                    timestamp: o.timestamp,
                },
                Ok(o) => ServerMessage::DeleteConfirmed {
                    id,
                    key,
                    revision: o.revision,
                    changed: o.changed,
                    timestamp: o.timestamp,
                },
                Err(e) => {
                    // A condition that did not hold carries the key's current state.
                    let detail = |name: &str| e.details.as_ref().and_then(|d| d.get(name));
                    let revision = detail("revision").and_then(Value::as_u64);
                    let conflict = e.status == StatusCode::CONFLICT && revision.is_some();
                    let frame = Outgoing::text(
                        &ServerMessage::Error {
                            error: e.message.into(),
                            code: Some(if conflict { CONFLICT } else { "write_failed" }.into()),
                            id,
                            last_revision: None,
                            key: conflict.then_some(key),
                            revision,
                            found: detail("found").and_then(Value::as_bool),
                        },
                        None,
                    );
                    let _ = outbox.send(frame).await;
                    return;
                }
            };
            let _ = outbox.send(Outgoing::text(&message, None)).await;
            drop(permit);
        });
        Ok(())
    }
}

/// A write a client asked for on `/ws`.
pub(super) enum Write {
    Set(Value, SetOptions),
    /// With the revision the key must be at.
    Delete(Option<u64>),
}
