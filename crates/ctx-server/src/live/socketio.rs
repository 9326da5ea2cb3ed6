//! Socket.IO at `/socket.io/` (socketioxide) with Framework0's events, for old clients and
//! dashboards: `context_snapshot` and `client_stats` on connect, `client_register` →
//! `registration_confirmed`, `context_set` → `context_set_confirmed` to the sender and
//! `context_updated` to everyone else, `context_dumped`. Like Framework0, every successful
//! write emits `context_updated`, also one that stored an equal value (which is not a
//! change: no history entry, no revision, nothing on `/ws`).
//!
//! Every store change (from HTTP, `/ws` or Socket.IO) reaches Socket.IO clients through one
//! fan-out task reading the store's change feed. The only Socket.IO client that does not
//! get a change's `context_updated` is the one whose `context_set` made it: `Origins`
//! tells the fan-out which socket that was.

use super::protocol::{ChangeEvent, Dumped, Updated};
use super::{ClientGuard, Rewrite};
use crate::app::AppState;
use crate::auth;
use crate::routes::Context;
use ctx_store::{Change, JsonValue, Timestamp};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;

/// `who` recorded for Socket.IO writes that do not name one.
const DEFAULT_WHO: &str = "socketio_client";

/// Builds the Socket.IO layer, registers the handlers and starts the fan-out task.
pub fn layer(app: &AppState) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(app.config.live.queue.max(1))
        .max_payload(app.config.live.max_message_bytes as u64)
        // Engine.IO's WebSocket transport has its own limits (64 MiB by default): the same
        // one for both transports. A bigger message disconnects the client (over polling
        // the POST is answered 413).
        .ws_max_message_size(app.config.live.max_message_bytes)
        .ws_max_frame_size(app.config.live.max_message_bytes)
        .build_layer();
    let origins = Arc::new(Origins::default());
    let handler_app = app.clone();
    let handler_origins = origins.clone();
    io.ns("/", async move |socket: SocketRef| {
        on_connect(handler_app, handler_origins, socket).await;
    });
    let _ = app.live.io.set(io.clone());
    tokio::spawn(fan_out(app.clone(), io, origins));
    layer
}

#[derive(Serialize)]
struct Snapshot<'a> {
    context: &'a Context,
    timestamp: Timestamp,
    client_id: String,
    revision: u64,
}

#[derive(Serialize)]
struct ClientStats {
    count: usize,
}

#[derive(Deserialize)]
struct Register {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
}

#[derive(Serialize)]
struct Registered {
    client_id: String,
    #[serde(rename = "type")]
    kind: Value,
    name: Value,
    status: &'static str,
}

#[derive(Deserialize)]
struct SetRequest {
    key: Option<String>,
    value: Option<Value>,
    who: Option<String>,
}

#[derive(Serialize)]
struct SetConfirmed<'a> {
    key: &'a str,
    value: &'a Value,
    status: &'static str,
    revision: u64,
    changed: bool,
}

/// `error`: Framework0's clients read `message`; `error` is our API's usual field.
#[derive(Serialize)]
struct ErrorEvent<'a> {
    error: &'a str,
    status: &'static str,
    message: &'a str,
}

async fn on_connect(app: AppState, origins: Arc<Origins>, socket: SocketRef) {
    let headers = &socket.req_parts().headers;
    // A snapshot is a read (guarded with scope `all`).
    if auth::decide(&app.config, headers, auth::Role::Read).is_err() {
        let _ = socket.disconnect();
        return;
    }
    // Why this connection's writes are refused, decided once (the headers are the upgrade's).
    let write_refusal = auth::decide(&app.config, headers, auth::Role::Write)
        .err()
        .map(|denied| denied.message());
    let guard = Arc::new(Mutex::new(Some(ClientGuard::socket_io(app.clone()))));
    let snapshot = app.store.snapshot(None);
    let _ = socket.emit(
        "context_snapshot",
        &Snapshot {
            context: &Context(snapshot.records),
            timestamp: Timestamp::now(),
            client_id: socket.id.to_string(),
            revision: snapshot.revision,
        },
    );
    emit_stats(&app, &socket).await;

    socket.on(
        "client_register",
        async |socket: SocketRef, Data(data): Data<Value>| {
            let register = serde_json::from_value::<Register>(data).unwrap_or(Register {
                kind: None,
                name: None,
            });
            let _ = socket.emit(
                "registration_confirmed",
                &Registered {
                    client_id: socket.id.to_string(),
                    kind: register.kind.unwrap_or(Value::Null),
                    name: register.name.unwrap_or(Value::Null),
                    status: "registered",
                },
            );
        },
    );

    let set_app = app.clone();
    socket.on(
        "context_set",
        async move |socket: SocketRef, Data(data): Data<Value>| {
            context_set(&set_app, &origins, &socket, data, write_refusal.as_deref()).await;
        },
    );

    let stats_app = app.clone();
    socket.on_disconnect(async move |socket: SocketRef| {
        guard.lock().take();
        emit_stats(&stats_app, &socket).await;
    });
}

async fn emit_stats(app: &AppState, socket: &SocketRef) {
    let stats = ClientStats {
        count: app.connected_clients(),
    };
    // Everyone, the new client included (a leaving one can no longer be sent to).
    let _ = socket.emit("client_stats", &stats);
    let _ = socket.broadcast().emit("client_stats", &stats).await;
}

fn emit_error(socket: &SocketRef, error: &str) {
    let _ = socket.emit(
        "error",
        &ErrorEvent {
            error,
            status: "error",
            message: error,
        },
    );
}

async fn context_set(
    app: &AppState,
    origins: &Origins,
    socket: &SocketRef,
    data: Value,
    write_refusal: Option<&str>,
) {
    if let Some(refusal) = write_refusal {
        return emit_error(socket, &format!("context_set refused: {refusal}"));
    }
    let request = match serde_json::from_value::<SetRequest>(data) {
        Ok(request) => request,
        Err(e) => return emit_error(socket, &format!("invalid context_set: {e}")),
    };
    let Some(key) = request.key.filter(|k| !k.is_empty()) else {
        return emit_error(socket, "context_set needs a non-empty \"key\"");
    };
    let Some(value) = request.value.filter(|v| !v.is_null()) else {
        return emit_error(socket, "context_set needs a non-null \"value\"");
    };
    if let Err(refused) = crate::limits::depth::check(&value, app.config.max_value_depth) {
        return emit_error(socket, &refused.message);
    }
    let who = request.who.unwrap_or_else(|| DEFAULT_WHO.to_owned());
    let mut ticket = origins.begin(&key, socket.id);
    let result = app.store.set(&key, JsonValue::from(&value), &who).await;
    ticket.finish(
        result
            .as_ref()
            .ok()
            .filter(|o| o.changed)
            .map(|o| o.revision),
    );
    match result {
        Ok(outcome) => {
            app.live.written(&key, &who, &outcome, Some(socket.id));
            let _ = socket.emit(
                "context_set_confirmed",
                &SetConfirmed {
                    key: &key,
                    value: &value,
                    status: "success",
                    revision: outcome.revision,
                    changed: outcome.changed,
                },
            );
        }
        Err(e) => emit_error(socket, &e.to_string()),
    }
}

/// Emits every store change and dump to Socket.IO clients until shutdown.
async fn fan_out(app: AppState, io: SocketIo, origins: Arc<Origins>) {
    let Ok(watch) = app.store.watch(None) else {
        return;
    };
    let mut feed = watch.live;
    let mut reset = watch.reset;
    let mut dumps = app.live.dump_feed();
    let mut rewrites = app.live.rewrite_feed();
    let mut shutdown = app.live.shutdown_signal();
    loop {
        tokio::select! {
            // In this order: a rewrite is sent after every change published before it, so
            // the two reach clients in the order they happened.
            biased;
            () = super::closing(&mut shutdown) => return,
            change = feed.recv() => match change {
                Ok(change) => emit_change(&io, &origins, &change).await,
                Err(RecvError::Lagged(missed)) => {
                    // Dashboards cannot replay: give them the whole context again.
                    tracing::warn!(missed, "Socket.IO fan-out fell behind; re-sending snapshots");
                    resend_snapshots(&app, &io);
                }
                Err(RecvError::Closed) => return,
            },
            // The store reloaded its memory (cluster mode): changes may have been skipped.
            Ok(()) = reset.changed() => {
                tracing::warn!("the store reloaded its memory; re-sending snapshots");
                resend_snapshots(&app, &io);
            }
            rewrite = rewrites.recv() => if let Ok(rewrite) = rewrite {
                emit_rewrite(&app, &io, &rewrite);
            },
            dump = dumps.recv() => if let Ok(dump) = dump {
                broadcast_dump(&io, &dump).await;
            },
        }
    }
}

async fn emit_change(io: &SocketIo, origins: &Origins, change: &Change) {
    let origin = origins.origin_of(change).await;
    let event = ChangeEvent::of(change);
    match &event {
        ChangeEvent::Updated(e) => emit_to_all(io, origin, event.name(), e),
        ChangeEvent::Deleted(e) => emit_to_all(io, origin, event.name(), e),
    }
}

/// `context_updated` for a write of an equal value, unless the key changed since (that
/// change already went out, and this older value must not follow it).
fn emit_rewrite(app: &AppState, io: &SocketIo, rewrite: &Rewrite) {
    let Some(record) = app.store.get(&rewrite.key) else {
        return;
    };
    if record.revision != rewrite.revision {
        return;
    }
    let event = Updated {
        revision: record.revision,
        key: rewrite.key.as_str().into(),
        value: &record.value,
        before: Some(&record.value),
        who: rewrite.who.as_str().into(),
        timestamp: rewrite.timestamp,
    };
    emit_to_all(io, rewrite.origin, "context_updated", &event);
}

async fn broadcast_dump(io: &SocketIo, dump: &Dumped) {
    emit_to_all(io, None, "context_dumped", dump);
}

/// Emits to every socket but `except`. A socket whose send buffer is full is disconnected
/// rather than left to miss events silently: on reconnecting it gets a fresh snapshot.
fn emit_to_all<T: Serialize + ?Sized>(io: &SocketIo, except: Option<Sid>, event: &str, data: &T) {
    let Some(ns) = io.of("/") else { return };
    for socket in ns.sockets() {
        if Some(socket.id) == except {
            continue;
        }
        if let Err(SendError::Socket(SocketError::InternalChannelFull)) = socket.emit(event, data) {
            tracing::warn!(sid = %socket.id, "Socket.IO client not keeping up; disconnecting it");
            let _ = socket.disconnect();
        }
    }
}

fn resend_snapshots(app: &AppState, io: &SocketIo) {
    let Some(ns) = io.of("/") else { return };
    let snapshot = app.store.snapshot(None);
    let context = Context(snapshot.records);
    for socket in ns.sockets() {
        let _ = socket.emit(
            "context_snapshot",
            &Snapshot {
                context: &context,
                timestamp: Timestamp::now(),
                client_id: socket.id.to_string(),
                revision: snapshot.revision,
            },
        );
    }
}

/// Which socket's `context_set` made which change (revision and key).
///
/// A write is registered before it reaches the store and resolved when the store answers,
/// which is *after* the change was published. So when the fan-out sees a change to a key
/// with a Socket.IO write still unresolved, it waits (at most one commit) for the answer.
#[derive(Default)]
struct Origins {
    pending: Mutex<Vec<PendingWrite>>,
    resolved: Notify,
}

struct PendingWrite {
    ticket: u64,
    key: String,
    sid: Sid,
    /// `None` while the store has not answered; `Some(None)` for a write that changed nothing.
    revision: Option<Option<u64>>,
}

impl Origins {
    fn begin<'a>(&'a self, key: &str, sid: Sid) -> Ticket<'a> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let ticket = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pending.lock().push(PendingWrite {
            ticket,
            key: key.to_owned(),
            sid,
            revision: None,
        });
        Ticket {
            origins: self,
            ticket,
            done: false,
        }
    }

    async fn origin_of(&self, change: &Change) -> Option<Sid> {
        loop {
            let resolved = self.resolved.notified();
            tokio::pin!(resolved);
            resolved.as_mut().enable();
            {
                let mut pending = self.pending.lock();
                // Writes that changed nothing, or whose change this fan-out already passed
                // (after a lag), will never be asked for again.
                pending.retain(|p| match p.revision {
                    Some(Some(revision)) => revision >= change.revision,
                    Some(None) => false,
                    None => true,
                });
                // The key too, not the revision alone: in cluster mode one etcd transaction
                // (a node's batch) commits the writes of several sockets at one revision.
                if let Some(i) = pending
                    .iter()
                    .position(|p| p.revision == Some(Some(change.revision)) && p.key == *change.key)
                {
                    return Some(pending.swap_remove(i).sid);
                }
                if !pending
                    .iter()
                    .any(|p| p.revision.is_none() && p.key == *change.key)
                {
                    return None;
                }
            }
            resolved.await;
        }
    }
}

/// A registered Socket.IO write; resolves as "changed nothing" if dropped unfinished.
struct Ticket<'a> {
    origins: &'a Origins,
    ticket: u64,
    done: bool,
}

impl Ticket<'_> {
    fn finish(&mut self, revision: Option<u64>) {
        self.done = true;
        if let Some(p) = self
            .origins
            .pending
            .lock()
            .iter_mut()
            .find(|p| p.ticket == self.ticket)
        {
            p.revision = Some(revision);
        }
        self.origins.resolved.notify_waiters();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(None);
        }
    }
}
