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
//!
//! `connection.rs` is the connection loop, `write.rs` the writes a client sends,
//! `writer.rs` the writer task, `frames.rs` what they pass each other.

mod connection;
mod frames;
mod write;
mod writer;

use super::ClientGuard;
use crate::app::AppState;
use crate::auth;
use axum::extract::State;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use connection::Connection;
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::{Semaphore, mpsc, oneshot};
use writer::write_loop;

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
        reset: None,
        dumps: None,
        position: 0,
        replayed_through: 0,
        sent,
    };
    let farewell = connection.serve(stream).await;
    let _ = say_goodbye.send(farewell);
    drop(connection);
    let _ = writer.await;
}
