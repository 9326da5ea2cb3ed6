//! The accept loop: one task per connection, timeouts on slow and idle peers, and a
//! graceful stop.
//!
//! Written out (rather than `axum::serve`) for one reason: hyper only enforces its
//! header-read timeout when it has a timer, and `axum::serve` gives it none. With the
//! timer, a peer that sends its request head too slowly (slowloris) or sits idle on a
//! keep-alive connection longer than `idle_timeout` is disconnected, because hyper starts
//! that clock whenever it waits for a request head.
//!
//! Each connection is first admitted by the limits (`limits::Gatekeeper`: open connections,
//! the optional rate limit), which pick the gate its requests pass through and keep it in
//! the open-connection count until its socket closes.
//!
//! With TLS, each connection's handshake runs in its own task (a slow peer never holds up
//! the accept loop) and is bounded by `idle_timeout` too. The plain-HTTP path is the same
//! monomorphic code as without TLS: one `Option` test per accepted connection, no boxing
//! and no dynamic dispatch per request.

use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1::{self, UpgradeableConnection};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::limits::Gatekeeper;
use crate::limits::connections::Counted;
use crate::limits::gate::Gate;
use crate::tls::{HANDSHAKE_RECORD, PLAIN_HTTP_ANSWER};

/// After a failed `accept` (e.g. out of file descriptors), wait this long before the next
/// try instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The largest request head (request line and headers) accepted; hyper answers a bigger
/// one 431 and closes the connection. ctx's own requests need a few hundred bytes; 16 KiB
/// leaves room for long cookies or tokens, and a 200 KB head no longer ties up a worker.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A connection over `--max-connections` is answered one request, and must send it soon.
const REFUSING_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// What `serve` needs of the router: a cloneable, infallible tower service.
pub(crate) trait AppService:
    Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> AppService for S where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

pub(crate) async fn serve<S: AppService>(
    listener: TcpListener,
    service: S,
    idle_timeout: Duration,
    tls: Option<TlsAcceptor>,
    gatekeeper: Gatekeeper,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let mut refusing = http.clone();
    refusing
        .header_read_timeout(idle_timeout.min(REFUSING_HEADER_TIMEOUT))
        .keep_alive(false);
    let upkeep = gatekeeper.spawn_upkeep();
    // `stop` tells every connection to finish; each holds a `done` receiver, so
    // `done_tx.closed()` completes when the last connection has ended.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some((open, gate)) = gatekeeper.admit(&service, peer.ip()) else {
            continue; // dropping `tcp` closes it
        };
        // Small request/response pairs: Nagle's delay would dominate latency.
        let _ = tcp.set_nodelay(true);
        let next = Next {
            tcp: Counted::new(tcp, open),
            tls: tls.clone(),
            idle_timeout,
            stop: stop_rx.clone(),
            done: done_rx.clone(),
        };
        // A connection no limit applies to is served by the router itself, without the
        // gate: the same code per request as with no limits at all (callgrind: a gate in
        // front cost ~150-220 instructions per GET, 1-1.4 %).
        match gate {
            Gate::Open(service) => next.spawn(&http, service),
            gate @ Gate::RateLimited { .. } => next.spawn(&http, gate),
            gate @ Gate::Refusing { .. } => next.spawn(&refusing, gate),
        }
    }
    drop(listener);
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    drop(done_rx);
    let _ = stop_tx.send(());
    done_tx.closed().await;
}

/// A connection just admitted, and what serving it needs.
struct Next {
    tcp: Counted<TcpStream>,
    tls: Option<TlsAcceptor>,
    idle_timeout: Duration,
    stop: watch::Receiver<()>,
    done: watch::Receiver<()>,
}

impl Next {
    /// Serves the connection with `service` on its own task (after the TLS handshake,
    /// with TLS).
    fn spawn<S: AppService>(self, http: &http1::Builder, service: S) {
        let Next {
            tcp,
            tls,
            idle_timeout,
            stop,
            done,
        } = self;
        let service = TowerToHyperService::new(service);
        match tls {
            None => {
                let connection = http
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades();
                tokio::spawn(drive(connection, stop, done));
            }
            Some(acceptor) => {
                let http = http.clone();
                tokio::spawn(async move {
                    let handshake = handshake(acceptor, tcp);
                    let mut stop_early = stop.clone();
                    let stream = tokio::select! {
                        outcome = tokio::time::timeout(idle_timeout, handshake) => match outcome {
                            Ok(Some(stream)) => stream,
                            Ok(None) => return,
                            Err(_) => {
                                tracing::debug!("TLS handshake timed out");
                                return;
                            }
                        },
                        _ = stop_early.changed() => return,
                    };
                    let connection = http
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    drive(connection, stop, done).await;
                });
            }
        }
    }
}

/// Runs one connection to its end, or until `stop`: then it finishes the request in
/// flight (bounded by the request timeout) and closes; an idle connection closes at once.
async fn drive<I, S>(
    connection: UpgradeableConnection<TokioIo<I>, TowerToHyperService<S>>,
    mut stop: watch::Receiver<()>,
    done: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: AppService,
{
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(done);
}

/// The TLS handshake on a fresh connection; `None` (connection dropped) when it fails.
/// A peer that opens with plain HTTP instead gets [`PLAIN_HTTP_ANSWER`], so a client
/// using `http://` by mistake is told what to do instead of seeing a reset.
async fn handshake(
    acceptor: TlsAcceptor,
    mut tcp: Counted<TcpStream>,
) -> Option<tokio_rustls::server::TlsStream<Counted<TcpStream>>> {
    let mut first = [0u8; 1];
    match tcp.get_ref().peek(&mut first).await {
        Ok(1) if first[0] == HANDSHAKE_RECORD => {}
        Ok(1) if first[0].is_ascii_uppercase() => {
            let _ = tcp.write_all(PLAIN_HTTP_ANSWER).await;
            let _ = tcp.shutdown().await;
            return None;
        }
        // Anything else: let rustls refuse it with its own alert.
        Ok(_) | Err(_) => {}
    }
    match acceptor.accept(tcp).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}
