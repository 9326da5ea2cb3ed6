//! Live updates: the native WebSocket change feed at `/ws` ([`ws`]), the Framework0
//! Socket.IO events at `/socket.io/` ([`socketio`]), the event payloads both share
//! ([`protocol`]), and the [`Hub`] that carries server-side events (dumps, shutdown) to them.
//!
//! Store changes reach each `/ws` connection straight from the store's own change feed
//! (`Store::watch`), so replay and live events join without a gap. Socket.IO clients are
//! fed by one task (`socketio/fan_out.rs`) from the same feed.

pub mod protocol;
pub mod socketio;
pub mod ws;

use crate::app::App;
use ctx_store::{Timestamp, WriteOutcome};
use parking_lot::Mutex;
use protocol::Dumped;
use socketioxide::socket::Sid;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Tuning for live connections. The defaults suit a LAN of test runners and dashboards.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Messages queued for one `/ws` client before it counts as a slow consumer and is
    /// disconnected. This (with the store's feed buffer) bounds memory per client.
    pub queue: usize,
    /// How often the server pings each `/ws` client; a client silent for two intervals
    /// is dropped as dead.
    pub ping_interval: Duration,
    /// A single frame the socket will not accept for this long ends the connection: the
    /// peer is not reading at all.
    pub send_timeout: Duration,
    /// Largest client message answered normally; bigger ones get an `error` event. Four
    /// times this closes the connection (1009), since it cannot be read without holding it.
    pub max_message_bytes: usize,
    /// Writes over one socket awaiting durability at once; more wait (backpressure).
    pub max_inflight_writes: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            queue: 1024,
            ping_interval: Duration::from_secs(20),
            send_timeout: Duration::from_secs(10),
            max_message_bytes: 1024 * 1024,
            max_inflight_writes: 64,
        }
    }
}

/// A write that stored a value equal to the current one: not a change (no history entry,
/// no revision, no `/ws` event), but Framework0 emitted Socket.IO `context_updated` for
/// every successful write, so its clients get one.
#[derive(Debug)]
pub(crate) struct Rewrite {
    pub key: String,
    pub who: String,
    /// The key's last change when the write was answered: the event is sent only while the
    /// key still has it, so a later change is never followed by this older value.
    pub revision: u64,
    pub timestamp: Timestamp,
    /// The Socket.IO client whose `context_set` it was (it gets `context_set_confirmed`).
    pub origin: Option<Sid>,
}

/// Server-side state for live clients, kept in `App`.
pub struct Hub {
    /// Dumps are not store changes (no history entry), so they travel on their own feed.
    dumps: broadcast::Sender<Arc<Dumped>>,
    /// Rewrites of an equal value, for Socket.IO's fan-out.
    rewrites: broadcast::Sender<Arc<Rewrite>>,
    /// Flips to `true` once when the server starts shutting down.
    shutdown: watch::Sender<bool>,
    /// Open `/ws` connections, so shutdown can wait for their close frames to go out.
    ws_open: watch::Sender<usize>,
    /// Socket.IO's own close, started by [`Hub::begin_shutdown`].
    io_closing: Mutex<Option<JoinHandle<()>>>,
    /// Set once the router is built (the Socket.IO layer creates it).
    pub(crate) io: OnceLock<socketioxide::SocketIo>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            dumps: broadcast::channel(64).0,
            rewrites: broadcast::channel(1024).0,
            shutdown: watch::channel(false).0,
            ws_open: watch::channel(0).0,
            io_closing: Mutex::new(None),
            io: OnceLock::new(),
        }
    }
}

impl Hub {
    /// Tells every live client about a dump (called once the file is written).
    pub fn dumped(&self, event: Dumped) {
        let event = Arc::new(event);
        // No receivers is fine: nobody is listening.
        let _ = self.dumps.send(event);
    }

    pub(crate) fn dump_feed(&self) -> broadcast::Receiver<Arc<Dumped>> {
        self.dumps.subscribe()
    }

    /// Called after every successful set: tells Socket.IO clients about a write that
    /// changed nothing (a changed value reaches them through the store's change feed).
    pub(crate) fn written(
        &self,
        key: &str,
        who: &str,
        outcome: &WriteOutcome,
        origin: Option<Sid>,
    ) {
        if outcome.changed || self.rewrites.receiver_count() == 0 {
            return;
        }
        let _ = self.rewrites.send(Arc::new(Rewrite {
            key: key.to_owned(),
            who: who.to_owned(),
            revision: outcome.revision,
            timestamp: Timestamp::now(),
            origin,
        }));
    }

    pub(crate) fn rewrite_feed(&self) -> broadcast::Receiver<Arc<Rewrite>> {
        self.rewrites.subscribe()
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every live connection to close: 1001 "going away" for `/ws`, a disconnect for
    /// Socket.IO (whose long-polling requests would otherwise hold up axum's graceful
    /// shutdown until they time out).
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
        if let Some(io) = self.io.get().cloned() {
            *self.io_closing.lock() = Some(tokio::spawn(async move { io.close().await }));
        }
    }

    /// Waits up to `grace` for every live connection to be closed.
    pub async fn wait_closed(&self, grace: Duration) {
        let io_closing = self.io_closing.lock().take();
        let mut ws_open = self.ws_open.subscribe();
        let _ = tokio::time::timeout(grace, async {
            if let Some(io_closing) = io_closing {
                let _ = io_closing.await;
            }
            let _ = ws_open.wait_for(|open| *open == 0).await;
        })
        .await;
    }
}

/// Completes once the server is shutting down.
pub(crate) async fn closing(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|closing| *closing).await;
}

/// Counts one connected client for as long as it lives.
pub(crate) struct ClientGuard {
    app: Arc<App>,
    websocket: bool,
}

impl ClientGuard {
    pub fn websocket(app: Arc<App>) -> Self {
        app.live.ws_open.send_modify(|open| *open += 1);
        Self::counted(app, true)
    }

    pub fn socket_io(app: Arc<App>) -> Self {
        Self::counted(app, false)
    }

    fn counted(app: Arc<App>, websocket: bool) -> Self {
        app.clients.fetch_add(1, Ordering::Relaxed);
        Self { app, websocket }
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.app.clients.fetch_sub(1, Ordering::Relaxed);
        if self.websocket {
            self.app.live.ws_open.send_modify(|open| *open -= 1);
        }
    }
}

/// The `context_dumped` payload for a dump just written.
pub fn dump_event(info: &crate::dump::DumpInfo) -> Dumped {
    Dumped {
        revision: info.revision,
        filename: info.filename.clone(),
        format: info.format.name().to_owned(),
        who: info.who.clone(),
        key_count: info.key_count,
        timestamp: info.timestamp,
    }
}
