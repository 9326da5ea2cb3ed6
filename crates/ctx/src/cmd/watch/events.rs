//! What the [`Watcher`] does with each message: subscribes (resuming from the last
//! revision printed), prints changes once each, and follows a resync.

use super::notice;
use super::watcher::{BACKOFF_MIN, Socket, Watcher};
use crate::cmd::client::plain;
use crate::exit;
use ctx_wire::{ClientMessage, Deleted, Event, Updated};
use futures_util::{SinkExt, StreamExt};
use serde::de::IgnoredAny;
use std::io::Write;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The server pings every 20 s; this much silence means the connection is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(90);

/// How a connection ended.
pub(super) enum Ended {
    Interrupted,
    Lost(String),
}

impl Watcher {
    async fn subscribe(&self, socket: &mut Socket) -> Result<(), String> {
        let since = match self.last {
            Some(last) if !self.printed_at_last.is_empty() => Some(last.saturating_sub(1)),
            other => other,
        };
        let message = ClientMessage::subscribe(self.prefixes.clone(), since);
        socket
            .send(Message::text(message.encode()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Subscribes and prints events until the connection ends.
    pub(super) async fn follow(&mut self, socket: &mut Socket) -> Ended {
        if let Err(e) = self.subscribe(socket).await {
            return Ended::Lost(e);
        }
        loop {
            let frame = tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ended::Interrupted,
                frame = tokio::time::timeout(IDLE_LIMIT, socket.next()) => frame,
            };
            let text = match frame {
                Err(_) => return Ended::Lost("the server went silent".into()),
                Ok(None) => return Ended::Lost("closed".into()),
                Ok(Some(Err(e))) => return Ended::Lost(e.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Ended::Lost(match frame {
                        Some(f) if !f.reason.is_empty() => format!("server closed: {}", f.reason),
                        _ => "server closed the connection".into(),
                    });
                }
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
            };
            let event = match Event::parse(&text) {
                Ok(event) => event,
                // A message type (or field) this client does not know: a newer server's.
                Err(_) if serde_json::from_str::<IgnoredAny>(&text).is_ok() => continue,
                Err(_) => {
                    notice(&format!("ignoring a message that is not JSON: {text}"));
                    continue;
                }
            };
            if let Err(e) = self.on_event(socket, event, &text).await {
                return Ended::Lost(e);
            }
        }
    }

    async fn on_event(
        &mut self,
        socket: &mut Socket,
        event: Event,
        text: &str,
    ) -> Result<(), String> {
        match event {
            Event::Subscribed { revision, .. } => {
                self.pause = BACKOFF_MIN;
                self.down_since = None;
                // Without --since, "now" becomes a revision a reconnect can resume from.
                if self.last.is_none() {
                    self.last = Some(revision);
                }
            }
            Event::ContextUpdated(Updated {
                revision,
                key,
                value,
                who,
                ..
            }) => self.print_change(text, revision, &key, || {
                format!("{revision} {key} = {} ({who})", plain(&value))
            }),
            Event::ContextDeleted(Deleted {
                revision, key, who, ..
            }) => self.print_change(text, revision, &key, || {
                format!("{revision} {key} deleted ({who})")
            }),
            Event::ContextDumped(dump) => self.print(text, || {
                format!(
                    "{} dump {} ({}, {} keys, by {})",
                    dump.revision, dump.filename, dump.format, dump.key_count, dump.who
                )
            }),
            Event::ResyncRequired {
                requested,
                current_revision,
                ..
            } => {
                notice(&format!(
                    "resync needed: the server no longer keeps the changes after revision {requested}; some changes were missed; continuing from revision {current_revision}"
                ));
                if self.json {
                    self.print(text, String::new);
                }
                self.last = Some(current_revision);
                self.printed_at_last.clear();
                self.subscribe(socket).await?;
            }
            Event::Error { error, .. } => notice(&format!("server: {error}")),
            Event::SetConfirmed { .. } | Event::DeleteConfirmed { .. } | Event::Pong { .. } => {}
        }
        Ok(())
    }

    /// Prints a change unless it was already printed before a reconnect.
    fn print_change(
        &mut self,
        text: &str,
        revision: u64,
        key: &str,
        human: impl FnOnce() -> String,
    ) {
        match self.last {
            Some(last) if revision < last => return,
            Some(last) if revision == last => {
                if self.printed_at_last.iter().any(|printed| printed == key) {
                    return;
                }
            }
            _ => {
                self.last = Some(revision);
                self.printed_at_last.clear();
            }
        }
        self.printed_at_last.push(key.to_owned());
        self.print(text, human);
    }

    /// One stdout line: the event as received with `--json`, else `human()`.
    fn print(&self, text: &str, human: impl FnOnce() -> String) {
        let line = if self.json { text.to_owned() } else { human() };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // stdout closed (`ctx watch | head`): nothing left to do.
            std::process::exit(exit::OK.into());
        }
    }
}
