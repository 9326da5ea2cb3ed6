//! The connection loop: client messages, the change feed, dumps and pings.

use std::borrow::Cow;

use super::super::LiveConfig;
use super::super::protocol::{ClientMessage, Dumped, ServerMessage, matches};
use super::frames::{Farewell, Outgoing, event_frame, read_failure};
use super::write::Write;
use crate::app::AppState;
use crate::routes::coord::SetOptions;
use axum::extract::ws::{Message, WebSocket, close_code};
use ctx_store::{Change, StoreError};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// What woke the connection loop.
enum Event {
    Shutdown,
    Change(Result<Arc<Change>, RecvError>),
    /// The store replaced its memory (cluster mode): the subscription must resync.
    Reset,
    Dump(Result<Arc<Dumped>, RecvError>),
    Frame(Option<Result<Message, axum::Error>>),
    Tick,
}

pub(super) struct Connection {
    pub(super) app: AppState,
    pub(super) config: LiveConfig,
    pub(super) outbox: mpsc::Sender<Outgoing>,
    pub(super) may_write: bool,
    /// Followed prefixes; meaningful once `feed` is set (subscribed).
    pub(super) prefixes: Vec<String>,
    pub(super) feed: Option<broadcast::Receiver<Arc<Change>>>,
    /// Signals that the store replaced its memory under the subscription (`Watch::reset`).
    pub(super) reset: Option<watch::Receiver<u64>>,
    pub(super) dumps: Option<broadcast::Receiver<Arc<Dumped>>>,
    /// The last revision taken from the feed (sent or filtered out).
    pub(super) position: u64,
    /// The revision the subscription's replay ran to: the live feed's changes up to it were
    /// replayed already. Compared with this, not `position`: in cluster mode several
    /// changes share one revision (one etcd transaction, e.g. a node's batch of writes),
    /// and all but the first of them would look like repeats of the one before.
    pub(super) replayed_through: u64,
    pub(super) writes: Arc<Semaphore>,
    /// Text frames the writer has put on the socket: a client busy reading a long replay
    /// answers no pings in time, but is plainly alive.
    pub(super) sent: Arc<AtomicU64>,
}

impl Connection {
    pub(super) async fn serve(&mut self, mut stream: SplitStream<WebSocket>) -> Farewell {
        let mut shutdown = self.app.live.shutdown_signal();
        let interval = self.config.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let mut sent_seen = 0;
        loop {
            let event = tokio::select! {
                () = super::super::closing(&mut shutdown) => Event::Shutdown,
                change = recv(&mut self.feed) => Event::Change(change),
                () = reset(&mut self.reset) => Event::Reset,
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
                Event::Reset => self.resync(),
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
    pub(super) fn queue(&self, frame: Outgoing) -> Result<(), Farewell> {
        self.outbox.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Farewell::slow_consumer(format!(
                "more than {} messages were waiting to be sent",
                self.config.queue
            )),
            mpsc::error::TrySendError::Closed(_) => Farewell::Quiet,
        })
    }

    pub(super) fn reply(&self, message: &ServerMessage<'_>) -> Result<(), Farewell> {
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
        // A change published after a reset must not go out before the client is told:
        // it would resume past the changes the reset dropped.
        if self
            .reset
            .as_ref()
            .is_some_and(|r| r.has_changed().unwrap_or(false))
        {
            return self.resync();
        }
        if change.revision <= self.replayed_through {
            return Ok(()); // never twice
        }
        self.position = self.position.max(change.revision);
        if matches(&self.prefixes, &change.key) {
            self.queue(event_frame(change))?;
        }
        Ok(())
    }

    /// The store reloaded its memory (cluster mode: etcd compacted past what this node
    /// needed) so changes after `position` may be gone: `resync_required`, and the
    /// connection stays open, unsubscribed, as after a `since_revision` that is too old.
    fn resync(&mut self) -> Result<(), Farewell> {
        self.feed = None;
        self.dumps = None;
        self.reset = None;
        let memory = self.app.store.memory();
        self.reply(&ServerMessage::ResyncRequired {
            requested: self.position,
            compacted_through: memory.compacted_through(),
            current_revision: memory.revision(),
            reason: "compacted".into(),
        })
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
        self.replayed_through = watch.revision;
        let backlog: Vec<_> = watch
            .backlog
            .into_iter()
            .filter(|c| matches(&self.prefixes, &c.key))
            .collect();
        self.feed = Some(watch.live);
        self.reset = Some(watch.reset);
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

/// Completes when the store resets its memory; never while there is no subscription.
async fn reset(reset: &mut Option<watch::Receiver<u64>>) {
    let signalled = match reset {
        Some(reset) => reset.changed().await.is_ok(),
        None => false,
    };
    if !signalled {
        std::future::pending::<()>().await;
    }
}

/// Waits on an optional feed; never completes while there is none.
async fn recv<T: Clone>(feed: &mut Option<broadcast::Receiver<T>>) -> Result<T, RecvError> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}
