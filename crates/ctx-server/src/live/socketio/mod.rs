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
//! tells the fan-out which socket that was. A new connection's snapshot is taken and sent
//! in turn with the fan-out's events (`EmitOrder`).
//!
//! Here: the layer, the connection and its handlers. `events`: the payloads only
//! Socket.IO sends or reads. `fan_out`: the task broadcasting changes, rewrites and
//! dumps. `order`: a new connection's snapshot in turn with the events. `origins`: which
//! socket's write made a change.

mod events;
mod fan_out;
mod order;
mod origins;

use super::ClientGuard;
use crate::app::AppState;
use crate::auth;
use crate::routes::Context;
use ctx_store::{JsonValue, Timestamp};
use events::{ClientStats, ErrorEvent, Register, Registered, SetConfirmed, SetRequest, Snapshot};
use fan_out::fan_out;
use order::EmitOrder;
use origins::Origins;
use parking_lot::Mutex;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use std::sync::Arc;

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
    let order = Arc::new(EmitOrder::default());
    let handler_app = app.clone();
    let handler_origins = origins.clone();
    let handler_order = order.clone();
    let gate_app = app.clone();
    let handler = async move |socket: SocketRef| {
        on_connect(handler_app, handler_origins, &handler_order, socket).await;
    };
    io.ns(
        "/",
        handler.with(async move |socket: SocketRef| read_allowed(&gate_app, &socket)),
    );
    let _ = app.live.io.set(io.clone());
    tokio::spawn(fan_out(app.clone(), io, origins, order));
    layer
}

/// The connect middleware: a connection is a read (guarded with scope `all`). It runs
/// before the socket joins the namespace, so a refused client never gets an event (it
/// gets a `connect_error` naming why); in the handler, the fan-out could reach it first.
fn read_allowed(app: &AppState, socket: &SocketRef) -> Result<(), String> {
    auth::decide(&app.config, &socket.req_parts().headers, auth::Role::Read)
        .map_err(|denied| denied.message())
}

async fn on_connect(app: AppState, origins: Arc<Origins>, order: &EmitOrder, socket: SocketRef) {
    let headers = &socket.req_parts().headers;
    // Why this connection's writes are refused, decided once (the headers are the upgrade's).
    let write_refusal = auth::decide(&app.config, headers, auth::Role::Write)
        .err()
        .map(|denied| denied.message());
    let guard = Arc::new(Mutex::new(Some(ClientGuard::socket_io(app.clone()))));
    {
        // The socket already gets the fan-out's events: none of a change after the
        // snapshot may reach it first.
        let _order = order.hold().await;
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
    }
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
    let mut ticket = origins.begin(&key, socket.id, app.store.revision());
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
