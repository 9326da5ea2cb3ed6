//! `--max-connections`: how many TCP connections the server holds open at once.
//!
//! Every accepted socket is counted for as long as it lives, also after an upgrade to a
//! WebSocket (`/ws`, Socket.IO): the count travels with the socket ([`Counted`]) and
//! drops when the socket is closed, whoever holds it then. Past the limit a new connection
//! is still read, but only for one request: `/health` is answered as usual (so an
//! orchestrator can tell a busy server from a dead one), anything else a fast 503 with
//! `Retry-After`, then the connection is closed. Connections already open are never
//! touched. Past the limit plus [`REFUSING_AT_ONCE`], new connections are closed unread:
//! the refusals themselves must not become the way to exhaust the server.

use crate::metrics::Metrics;
use prometheus_client::metrics::gauge::Gauge;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// About 40 MB of file descriptors, buffers and tasks on top of what the server needs: a
/// test farm or a few dashboards hold hundreds; a leak or a flood meets the limit first.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Connections over the limit that may be waiting for their 503 (or `/health` answer) at
/// once; each is closed after that one answer, or at the header timeout.
pub const REFUSING_AT_ONCE: usize = 256;

/// What to do with a connection just accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Serve,
    /// Answer `/health`, refuse the rest with 503, close after one request.
    Refuse {
        max: usize,
    },
    /// Close at once, unread.
    Drop,
}

/// The open-connection count and its limit.
pub(crate) struct Connections {
    open: Gauge,
    max: Option<usize>,
    metrics: Arc<Metrics>,
}

impl Connections {
    pub fn new(max: Option<usize>, metrics: Arc<Metrics>) -> Self {
        Self {
            open: metrics.connections(),
            max,
            metrics,
        }
    }

    /// Counts a connection just accepted (until the returned [`Open`] is dropped) and says
    /// what to do with it.
    pub fn admit(&self) -> (Open, Admission) {
        let open = usize::try_from(self.open.inc()).unwrap_or(0) + 1;
        let counted = Open {
            open: self.open.clone(),
        };
        let admission = match self.max {
            Some(max) if open > max.saturating_add(REFUSING_AT_ONCE) => {
                self.metrics.refused("max_connections");
                Admission::Drop
            }
            Some(max) if open > max => Admission::Refuse { max },
            _ => Admission::Serve,
        };
        (counted, admission)
    }
}

/// One open connection in the count.
pub(crate) struct Open {
    open: Gauge,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// A socket that stays in the count for as long as it lives (through an upgrade too).
/// Every call goes straight to the socket: no buffering, no extra work per read or write.
pub(crate) struct Counted<I> {
    io: I,
    _open: Open,
}

impl<I> Counted<I> {
    pub fn new(io: I, open: Open) -> Self {
        Self { io, _open: open }
    }

    pub fn get_ref(&self) -> &I {
        &self.io
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
