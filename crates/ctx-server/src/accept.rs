//! The accept loop: one task per connection, timeouts on slow and idle peers, and a
//! graceful stop.
//!
//! Written out (rather than `axum::serve`) for one reason: hyper only enforces its
//! header-read timeout when it has a timer, and `axum::serve` gives it none. With the
//! timer, a peer that sends its request head too slowly (slowloris) or sits idle on a
//! keep-alive connection longer than `idle_timeout` is disconnected, because hyper starts
//! that clock whenever it waits for a request head.

use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

/// After a failed `accept` (e.g. out of file descriptors), wait this long before the next
/// try instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub(crate) async fn serve<S>(
    listener: TcpListener,
    service: S,
    idle_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .keep_alive(true);
    // `stop` tells every connection to finish; each holds a `done` receiver, so
    // `done_tx.closed()` completes when the last connection has ended.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small request/response pairs: Nagle's delay would dominate latency.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        let connection = http
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    // Finish the request in flight (bounded by the request timeout),
                    // then close; an idle connection closes at once.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = stop_tx.send(());
    done_tx.closed().await;
}
