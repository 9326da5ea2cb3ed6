//! The writer task: drains a connection's queue into the socket.

use std::borrow::Cow;

use super::super::protocol::{ServerMessage, encode};
use super::frames::{Farewell, Outgoing, event_message};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use ctx_store::Change;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Drains the queue into the socket until the connection loop says goodbye (then sends
/// the farewell) or the socket stops taking frames within `send_timeout`.
pub(super) async fn write_loop(
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
