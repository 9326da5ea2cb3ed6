//! The one task that carries store changes, rewrites of an equal value and dumps to every
//! Socket.IO client (all but the sender of a change, which `Origins` names).

use super::events::Snapshot;
use super::order::EmitOrder;
use super::origins::Origins;
use crate::app::AppState;
use crate::live::Rewrite;
use crate::live::protocol::{ChangeEvent, Dumped, Updated};
use crate::routes::Context;
use ctx_store::{Change, Timestamp};
use serde::Serialize;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Emits every store change and dump to Socket.IO clients until shutdown.
pub(super) async fn fan_out(
    app: AppState,
    io: SocketIo,
    origins: Arc<Origins>,
    order: Arc<EmitOrder>,
) {
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
            () = crate::live::closing(&mut shutdown) => return,
            // The store reloaded its memory (cluster mode): changes may have been skipped.
            // Before the feed, which steady writes keep ready, so it is never put off.
            Ok(()) = reset.changed() => {
                tracing::warn!("the store reloaded its memory; re-sending snapshots");
                resend_snapshots(&app, &io, &order).await;
            }
            change = feed.recv() => match change {
                Ok(change) => emit_change(&io, &origins, &order, &change).await,
                Err(RecvError::Lagged(missed)) => {
                    // Dashboards cannot replay: give them the whole context again.
                    tracing::warn!(missed, "Socket.IO fan-out fell behind; re-sending snapshots");
                    resend_snapshots(&app, &io, &order).await;
                }
                Err(RecvError::Closed) => return,
            },
            rewrite = rewrites.recv() => if let Ok(rewrite) = rewrite {
                let _order = order.hold().await;
                emit_rewrite(&app, &io, &rewrite);
            },
            dump = dumps.recv() => if let Ok(dump) = dump {
                broadcast_dump(&io, &dump).await;
            },
        }
    }
}

async fn emit_change(io: &SocketIo, origins: &Origins, order: &EmitOrder, change: &Change) {
    let origin = origins.origin_of(change).await;
    let event = ChangeEvent::of(change);
    let _order = order.hold().await;
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

async fn resend_snapshots(app: &AppState, io: &SocketIo, order: &EmitOrder) {
    let Some(ns) = io.of("/") else { return };
    let _order = order.hold().await;
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
