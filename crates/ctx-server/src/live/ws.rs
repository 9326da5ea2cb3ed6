//! `GET /ws`: the native change feed (protocol in `docs/live.md`).
//!
//! Each connection is two tasks. The *connection loop* reads the client's messages, the
//! store's change feed and the dump feed, and queues outgoing frames on a bounded
//! per-connection queue; the *writer* drains that queue into the socket. Live events are
//! queued with `try_send`: a full queue (or a lagged store feed) means the client does not
//! keep up, and it is cut off with a reason and the last revision it was sent, rather than
//! buffered without bound. The replay backlog is one queue entry that the writer sends at
//! the pace the socket takes it; live events queue behind it, so replay and live never
//! interleave.

use std::borrow::Cow;

use super::protocol::{ChangeEvent, ClientMessage, Dumped, ServerMessage, encode, matches};
use super::{ClientGuard, LiveConfig};
use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::routes::coord::{self, SetOptions};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ctx_store::{Change, JsonValue, StoreError};
use ctx_wire::CONFLICT;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

/// `who` recorded for socket writes that do not name one.
const DEFAULT_WHO: &str = "ws_client";

pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let may_write = auth::may_write(&app.config, &headers);
    // Frames between the soft and hard limits are read and refused with an `error` event;
    // past the hard limit the socket layer stops reading and the connection closes (1009).
    let hard_limit = app.config.live.max_message_bytes.saturating_mul(4);
    ws.max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .protocols([auth::WS_PROTOCOL])
        .on_upgrade(move |socket| run(app, socket, may_write))
}

/// Work for the writer.
enum Outgoing {
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
    fn text(message: &ServerMessage<'_>, resume: Option<u64>) -> Self {
        Outgoing::Frame {
            message: Message::Text(encode(message).into()),
            resume,
        }
    }
}

/// Why the connection ends, and what (if anything) the client is told.
enum Farewell {
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
    fn slow_consumer(detail: String) -> Farewell {
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

async fn run(app: AppState, socket: WebSocket, may_write: bool) {
    let _counted = ClientGuard::websocket(app.clone());
    let config = app.config.live.clone();
    let (sink, stream) = socket.split();
    let (outbox, queued) = mpsc::channel(config.queue.max(1));
    let (say_goodbye, goodbye) = oneshot::channel();
    let sent = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        sink,
        queued,
        goodbye,
        sent.clone(),
        config.send_timeout,
    ));
    let mut connection = Connection {
        writes: Arc::new(Semaphore::new(config.max_inflight_writes.max(1))),
        app,
        config,
        outbox,
        may_write,
        prefixes: Vec::new(),
        feed: None,
        dumps: None,
        position: 0,
        sent,
    };
    let farewell = connection.serve(stream).await;
    let _ = say_goodbye.send(farewell);
    drop(connection);
    let _ = writer.await;
}

/// What woke the connection loop.
enum Event {
    Shutdown,
    Change(Result<Arc<Change>, RecvError>),
    Dump(Result<Arc<Dumped>, RecvError>),
    Frame(Option<Result<Message, axum::Error>>),
    Tick,
}

struct Connection {
    app: AppState,
    config: LiveConfig,
    outbox: mpsc::Sender<Outgoing>,
    may_write: bool,
    /// Followed prefixes; meaningful once `feed` is set (subscribed).
    prefixes: Vec<String>,
    feed: Option<broadcast::Receiver<Arc<Change>>>,
    dumps: Option<broadcast::Receiver<Arc<Dumped>>>,
    /// The last revision taken from the feed (sent or filtered out).
    position: u64,
    writes: Arc<Semaphore>,
    /// Text frames the writer has put on the socket: a client busy reading a long replay
    /// answers no pings in time, but is plainly alive.
    sent: Arc<AtomicU64>,
}

impl Connection {
    async fn serve(&mut self, mut stream: SplitStream<WebSocket>) -> Farewell {
        let mut shutdown = self.app.live.shutdown_signal();
        let interval = self.config.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let mut sent_seen = 0;
        loop {
            let event = tokio::select! {
                () = super::closing(&mut shutdown) => Event::Shutdown,
                change = recv(&mut self.feed) => Event::Change(change),
                dump = recv(&mut self.dumps) => Event::Dump(dump),
                frame = stream.next() => Event::Frame(frame),
                _ = ping.tick() => Event::Tick,
            };
            let outcome = match event {
                Event::Shutdown => Err(Farewell::Close {
                    code: close_code::AWAY,
                    reason: "server shutting down",
                    error: None,
                    error_code: None,
                }),
                Event::Change(change) => self.on_change(change),
                Event::Dump(dump) => self.on_dump(dump),
                Event::Frame(frame) => {
                    last_heard = Instant::now();
                    self.on_frame(frame).await
                }
                Event::Tick => {
                    let sent = self.sent.load(Ordering::Relaxed);
                    let reading = std::mem::replace(&mut sent_seen, sent) != sent;
                    if last_heard.elapsed() >= interval * 2 && !reading {
                        Err(Farewell::Close {
                            code: close_code::AWAY,
                            reason: "no answer to pings",
                            error: None,
                            error_code: None,
                        })
                    } else {
                        self.queue(Outgoing::Frame {
                            message: Message::Ping(Default::default()),
                            resume: None,
                        })
                    }
                }
            };
            if let Err(farewell) = outcome {
                return farewell;
            }
        }
    }

    /// Queues a frame without waiting: a full queue means the client is not keeping up.
    fn queue(&self, frame: Outgoing) -> Result<(), Farewell> {
        self.outbox.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Farewell::slow_consumer(format!(
                "more than {} messages were waiting to be sent",
                self.config.queue
            )),
            mpsc::error::TrySendError::Closed(_) => Farewell::Quiet,
        })
    }

    fn reply(&self, message: &ServerMessage<'_>) -> Result<(), Farewell> {
        self.queue(Outgoing::text(message, None))
    }

    fn on_change(&mut self, change: Result<Arc<Change>, RecvError>) -> Result<(), Farewell> {
        match change {
            Ok(change) => self.pass(&change),
            Err(RecvError::Lagged(missed)) => Err(Farewell::slow_consumer(format!(
                "fell {missed} changes behind the change feed"
            ))),
            Err(RecvError::Closed) => Err(Farewell::Close {
                code: close_code::AWAY,
                reason: "the store closed",
                error: None,
                error_code: None,
            }),
        }
    }

    /// Sends `change` if it matches the subscription.
    fn pass(&mut self, change: &Arc<Change>) -> Result<(), Farewell> {
        if change.revision <= self.position {
            return Ok(()); // never twice
        }
        self.position = change.revision;
        if matches(&self.prefixes, &change.key) {
            self.queue(event_frame(change))?;
        }
        Ok(())
    }

    fn on_dump(&mut self, dump: Result<Arc<Dumped>, RecvError>) -> Result<(), Farewell> {
        // A dump reflects changes already published: send those first, so the dump's
        // revision never runs ahead of the changes the client has seen.
        while let Some(feed) = self.feed.as_mut() {
            match feed.try_recv() {
                Ok(change) => self.pass(&change)?,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    return self.on_change(Err(RecvError::Lagged(missed)));
                }
                Err(_) => break,
            }
        }
        match dump {
            Ok(dump) => self.reply(&ServerMessage::ContextDumped(Cow::Borrowed(&dump))),
            // Dump notices carry no data a client needs to resume: a missed one is dropped.
            Err(_) => Ok(()),
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
    ) -> Result<(), Farewell> {
        let text = match frame {
            None | Some(Ok(Message::Close(_))) => return Err(Farewell::Quiet),
            Some(Err(e)) => return Err(read_failure(e, &self.config)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(()),
            Some(Ok(Message::Binary(_))) => {
                return self.reply(&ServerMessage::error(
                    "binary frames are not supported: send JSON text frames",
                ));
            }
            Some(Ok(Message::Text(text))) => text,
        };
        if text.len() > self.config.max_message_bytes {
            let error = format!(
                "message of {} bytes refused: the limit is {} bytes",
                text.len(),
                self.config.max_message_bytes
            );
            return self.reply(&ServerMessage::error(&error));
        }
        match ClientMessage::parse(&text) {
            Ok(message) => self.on_message(message).await,
            Err(error) => self.reply(&ServerMessage::error(&error)),
        }
    }

    async fn on_message(&mut self, message: ClientMessage) -> Result<(), Farewell> {
        match message {
            ClientMessage::Subscribe {
                prefixes,
                since_revision,
            } => self.subscribe(prefixes, since_revision),
            ClientMessage::Ping { id } => self.reply(&ServerMessage::Pong {
                id: id.as_ref().map(Cow::Borrowed),
            }),
            ClientMessage::Set {
                key,
                value,
                who,
                id,
                if_revision,
                lease,
            } => {
                let options = SetOptions {
                    if_revision,
                    lease,
                    ttl: None,
                };
                self.write(id, key, Write::Set(value, options), who).await
            }
            ClientMessage::Delete {
                key,
                who,
                id,
                if_revision,
            } => self.write(id, key, Write::Delete(if_revision), who).await,
        }
    }

    /// Starts a write; its confirmation is queued when durable.
    async fn write(
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
                    .set(&key, &value, who)
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

    fn subscribe(&mut self, prefixes: Vec<String>, since: Option<u64>) -> Result<(), Farewell> {
        let all = prefixes.is_empty() || prefixes.iter().any(String::is_empty);
        if self.feed.is_some() {
            if since.is_some() {
                return self.reply(&ServerMessage::error(
                    "since_revision is only accepted on a connection's first subscribe; open a new connection to replay",
                ));
            }
            if all {
                self.prefixes.clear();
            } else if !self.prefixes.is_empty() {
                for prefix in prefixes {
                    if !self.prefixes.contains(&prefix) {
                        self.prefixes.push(prefix);
                    }
                }
            }
            return self.reply(&ServerMessage::Subscribed {
                revision: self.position,
                prefixes: Cow::Borrowed(&self.prefixes),
            });
        }
        let watch = match self.app.store.watch(since) {
            Ok(watch) => watch,
            Err(StoreError::Compacted {
                requested,
                compacted_through,
                current,
            }) => {
                return self.reply(&ServerMessage::ResyncRequired {
                    requested,
                    compacted_through,
                    current_revision: current,
                    reason: "compacted".into(),
                });
            }
            Err(e) => return self.reply(&ServerMessage::error(e.to_string())),
        };
        if let Some(requested) = since.filter(|&s| s > watch.revision) {
            // Revisions never go back, so this client followed a different store.
            return self.reply(&ServerMessage::ResyncRequired {
                requested,
                compacted_through: 0,
                current_revision: watch.revision,
                reason: "ahead".into(),
            });
        }
        self.prefixes = if all { Vec::new() } else { prefixes };
        self.position = watch.revision;
        let backlog: Vec<_> = watch
            .backlog
            .into_iter()
            .filter(|c| matches(&self.prefixes, &c.key))
            .collect();
        self.feed = Some(watch.live);
        self.dumps = Some(self.app.live.dump_feed());
        self.queue(Outgoing::text(
            &ServerMessage::Subscribed {
                revision: watch.revision,
                prefixes: Cow::Borrowed(&self.prefixes),
            },
            Some(since.unwrap_or(watch.revision)),
        ))?;
        if backlog.is_empty() {
            return Ok(());
        }
        self.queue(Outgoing::Replay(backlog))
    }
}

fn event_message(change: &Change) -> Message {
    Message::Text(encode(&ServerMessage::from(ChangeEvent::of(change))).into())
}

fn event_frame(change: &Change) -> Outgoing {
    Outgoing::Frame {
        message: event_message(change),
        resume: Some(change.revision),
    }
}

/// Waits on an optional feed; never completes while there is none.
async fn recv<T: Clone>(feed: &mut Option<broadcast::Receiver<T>>) -> Result<T, RecvError> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}

fn read_failure(error: axum::Error, config: &LiveConfig) -> Farewell {
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

/// Drains the queue into the socket until the connection loop says goodbye (then sends
/// the farewell) or the socket stops taking frames within `send_timeout`.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut queued: mpsc::Receiver<Outgoing>,
    mut goodbye: oneshot::Receiver<Farewell>,
    sent: Arc<AtomicU64>,
    send_timeout: Duration,
) {
    let mut last_revision = None;
    let mut replay = VecDeque::<Arc<Change>>::new();
    loop {
        let (message, resume) = if let Some(change) = replay.pop_front() {
            // Between replayed changes, a farewell (e.g. shutdown) still gets through.
            match goodbye.try_recv() {
                Ok(farewell) => {
                    return say_goodbye(&mut sink, farewell, last_revision, send_timeout).await;
                }
                Err(oneshot::error::TryRecvError::Closed) => return,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            (event_message(&change), Some(change.revision))
        } else {
            let next = tokio::select! {
                biased;
                farewell = &mut goodbye => {
                    if let Ok(farewell) = farewell {
                        say_goodbye(&mut sink, farewell, last_revision, send_timeout).await;
                    }
                    return;
                }
                next = queued.recv() => next,
            };
            match next {
                Some(Outgoing::Frame { message, resume }) => (message, resume),
                Some(Outgoing::Replay(changes)) => {
                    replay = changes.into();
                    continue;
                }
                None => return,
            }
        };
        let text = matches!(message, Message::Text(_));
        match tokio::time::timeout(send_timeout, sink.send(message)).await {
            Ok(Ok(())) => {
                last_revision = resume.or(last_revision);
                if text {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!("dropping a WebSocket client that stopped reading");
                return;
            }
        }
    }
}

async fn say_goodbye(
    sink: &mut SplitSink<WebSocket, Message>,
    farewell: Farewell,
    last_revision: Option<u64>,
    send_timeout: Duration,
) {
    let Farewell::Close {
        code,
        reason,
        error,
        error_code,
    } = farewell
    else {
        return;
    };
    tracing::info!(code, reason, ?last_revision, "closing a WebSocket client");
    let mut frames = Vec::with_capacity(2);
    if let Some(error) = error {
        let message = ServerMessage::Error {
            error: error.into(),
            code: error_code.map(Cow::Borrowed),
            id: None,
            last_revision,
            key: None,
            revision: None,
            found: None,
        };
        frames.push(Message::Text(encode(&message).into()));
    }
    frames.push(Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })));
    let _ = tokio::time::timeout(send_timeout, async {
        for frame in frames {
            sink.send(frame).await?;
        }
        sink.close().await
    })
    .await;
}

/// A write a client asked for on `/ws`.
enum Write {
    Set(Value, SetOptions),
    /// With the revision the key must be at.
    Delete(Option<u64>),
}
