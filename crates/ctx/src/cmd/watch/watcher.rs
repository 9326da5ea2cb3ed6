//! The [`Watcher`]: which server it follows, and how it gets (back) a connection to it.
//! What it does with the messages is in `events`.

use super::events::Ended;
use super::notice;
use super::url::refusal;
use crate::cmd::client::API_KEY_HEADER;
use crate::exit;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// First and longest wait between reconnection attempts.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub(super) struct Watcher {
    /// The `/ws` URL of every server, in `--server` order.
    pub(super) urls: Vec<String>,
    pub(super) servers: Vec<String>,
    /// The server followed now (an index into both lists).
    pub(super) current: usize,
    /// The rustls connector for a `wss://` URL.
    pub(super) tls: Option<Connector>,
    /// Sent as X-API-Key on every upgrade, as the other client commands send it.
    pub(super) api_key: Option<HeaderValue>,
    pub(super) json: bool,
    pub(super) prefixes: Vec<String>,
    /// The last revision printed (or subscribed at): where a reconnect resumes.
    pub(super) last: Option<u64>,
    /// The keys printed at revision `last`. In cluster mode several changes share one
    /// revision (one etcd transaction, e.g. a node's batch of writes), so a reconnect
    /// resumes *at* `last` and skips only these, rather than after it (which would lose
    /// the rest of that revision's changes).
    pub(super) printed_at_last: Vec<String>,
    pub(super) retry_for: Duration,
    /// The next pause before reconnecting; back to the minimum once subscribed again, so a
    /// server that accepts and at once closes (e.g. shutting down) is not hammered.
    pub(super) pause: Duration,
    /// When the server was last followed successfully, while it is not.
    pub(super) down_since: Option<Instant>,
}

impl Watcher {
    /// Follows the server until Ctrl-C; an error carries its exit code: the server
    /// refusing the upgrade (401, 403, a plain `ws://` to a TLS port) is an answer like
    /// any other command's refusal (4), anything else means it could not run (3).
    pub(super) async fn watch(&mut self) -> Result<(), (u8, String)> {
        let mut socket = match self.connect_first().await {
            Ok(socket) => socket,
            Err(e) => {
                return Err(match (crate::tls::describe_failure(&e), refusal(&e)) {
                    (Some(reason), _) => (
                        exit::COULD_NOT_RUN,
                        format!("TLS with {}: {reason}", self.servers[self.current]),
                    ),
                    (None, Some(reason)) => (
                        exit::SERVER_ERROR,
                        format!(
                            "the server at {} refused the WebSocket connection ({reason})",
                            self.servers[self.current]
                        ),
                    ),
                    (None, None) => (
                        exit::COULD_NOT_RUN,
                        format!(
                            "cannot reach the server at {} ({}); is `ctx serve` running? Use --server or CTX_SERVER.",
                            self.servers[self.current],
                            crate::cmd::client::root_cause(&e)
                        ),
                    ),
                });
            }
        };
        loop {
            match self.follow(&mut socket).await {
                Ended::Interrupted => return Ok(()),
                Ended::Lost(reason) => {
                    let from = self
                        .last
                        .map_or("now".to_owned(), |r| format!("revision {r}"));
                    notice(&format!(
                        "connection lost ({reason}); reconnecting from {from}"
                    ));
                }
            }
            socket = self
                .reconnect()
                .await
                .map_err(|message| (exit::COULD_NOT_RUN, message))?;
            notice(&format!("reconnected to {}", self.servers[self.current]));
        }
    }

    /// The first connection: each server in turn while they are unreachable; a refusal
    /// or a TLS failure is an answer and ends the search.
    async fn connect_first(&mut self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        loop {
            match self.connect().await {
                Err(e)
                    if self.current + 1 < self.urls.len()
                        && crate::tls::describe_failure(&e).is_none()
                        && refusal(&e).is_none() =>
                {
                    self.current += 1;
                }
                answer => return answer,
            }
        }
    }

    async fn connect(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut request = self.urls[self.current].as_str().into_client_request()?;
        if let Some(key) = &self.api_key {
            request.headers_mut().insert(API_KEY_HEADER, key.clone());
        }
        let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            false,
            self.tls.clone(),
        )
        .await?;
        Ok(socket)
    }

    /// Retries with a doubling (bounded) pause until connected, Ctrl-C, or `retry_for`.
    async fn reconnect(&mut self) -> Result<Socket, String> {
        let started = *self.down_since.get_or_insert_with(Instant::now);
        loop {
            let pause = self.pause;
            self.pause = (pause * 2).min(BACKOFF_MAX);
            tokio::select! {
                _ = tokio::signal::ctrl_c() => std::process::exit(exit::OK.into()),
                () = tokio::time::sleep(pause) => {}
            }
            match self.connect().await {
                Ok(socket) => return Ok(socket),
                Err(e) if started.elapsed() >= self.retry_for => {
                    return Err(format!(
                        "gave up: {} has been unreachable for {} s ({})",
                        self.unreachable(),
                        started.elapsed().as_secs(),
                        crate::cmd::client::root_cause(&e)
                    ));
                }
                // The next server, if there are several (a killed cluster node).
                Err(_) => self.current = (self.current + 1) % self.urls.len(),
            }
        }
    }

    /// Who could not be reached, for the message when reconnecting gives up.
    fn unreachable(&self) -> String {
        match self.servers.as_slice() {
            [one] => format!("the server at {one}"),
            all => format!("every server ({})", all.join(", ")),
        }
    }
}
