//! `ctx watch [PREFIX...] [--since REV]`: follow changes live over the server's `/ws`.
//!
//! One line per change on stdout (`REV KEY = VALUE (who)`, or the event's JSON with
//! `--json`). Notices (reconnects, resyncs) go to stderr so stdout stays data. After a
//! dropped connection it reconnects with a bounded backoff and resumes from the last
//! revision it printed, so nothing is missed or printed twice; if the server no longer
//! keeps that revision, it says so and continues from the server's current revision.
//! `--server` may name several servers, comma-separated (the nodes of a cluster, which
//! share one revision sequence): a reconnect that fails moves on to the next one, and
//! resumes there from the same revision.

use crate::cmd::client::{API_KEY_HEADER, ClientOptions, plain};
use crate::exit;
use ctx_wire::{ClientMessage, Deleted, Event, Updated};
use futures_util::{SinkExt, StreamExt};
use serde::de::IgnoredAny;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Only keys starting with one of these prefixes (none: every key).
    prefixes: Vec<String>,
    /// First replay the retained changes after this revision.
    #[arg(long)]
    since: Option<u64>,
    /// After a connection drops, give up once every server has been unreachable this long.
    /// (--server may list several cluster nodes, comma-separated: reconnects go round them.)
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    retry_for: u64,
    #[command(flatten)]
    options: ClientOptions,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// First and longest wait between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The server pings every 20 s; this much silence means the connection is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(90);

pub fn run(args: WatchArgs) -> ExitCode {
    let options = args.options;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(
                exit::COULD_NOT_RUN,
                &format!("cannot start the runtime: {e}"),
            );
        }
    };
    let servers: Vec<String> = options.server.split(',').map(str::to_owned).collect();
    let mut urls = Vec::with_capacity(servers.len());
    for server in &servers {
        match ws_url(server) {
            Ok(url) => urls.push(url),
            Err(reason) => {
                return fail(
                    exit::USAGE,
                    &format!(
                        "bad server URL {server:?}: {reason}; expected e.g. http://127.0.0.1:8080"
                    ),
                );
            }
        }
    }
    let tls = if urls.iter().any(|url| url.starts_with("wss://")) {
        match crate::tls::client_config(options.cacert.as_deref()) {
            Ok(config) => Some(Connector::Rustls(config)),
            Err(message) => return fail(exit::COULD_NOT_RUN, &message),
        }
    } else {
        None
    };
    let api_key = match options.auth.header() {
        Ok(key) => key,
        Err(message) => return fail(exit::USAGE, &message),
    };
    let mut watcher = Watcher {
        urls,
        servers,
        current: 0,
        tls,
        api_key,
        json: options.json,
        prefixes: args.prefixes,
        last: args.since,
        printed_at_last: Vec::new(),
        retry_for: Duration::from_secs(args.retry_for),
        pause: BACKOFF_MIN,
        down_since: None,
    };
    match runtime.block_on(watcher.watch()) {
        Ok(()) => exit::code(exit::OK),
        Err((code, message)) => fail(code, &message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "ctx: {message}");
    exit::code(code)
}

fn notice(message: &str) {
    let _ = writeln!(std::io::stderr(), "ctx watch: {message}");
}

/// `http://host:port[/prefix]` → `ws://host:port[/prefix]/ws` (`https` → `wss`).
fn ws_url(server: &str) -> Result<String, &'static str> {
    let (scheme, rest) = match server.split_once("://") {
        Some(("http", rest)) => ("ws", rest),
        Some(("https", rest)) => ("wss", rest),
        Some(_) => return Err("the scheme must be http:// or https://"),
        None => return Err("missing http:// or https:// scheme"),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err("missing host");
    }
    if rest.contains(['?', '#']) {
        return Err("a query string is not allowed");
    }
    Ok(format!("{scheme}://{rest}/ws"))
}

/// When the server answered the upgrade with an HTTP error: its status and `error` field
/// (e.g. plain `ws://` to a TLS port: "this server speaks HTTPS").
fn refusal(err: &tokio_tungstenite::tungstenite::Error) -> Option<String> {
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        return None;
    };
    let message = response
        .body()
        .as_deref()
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .and_then(|answer| answer.get("error").map(plain));
    Some(match message {
        Some(message) => format!("{}: {message}", response.status()),
        None => response.status().to_string(),
    })
}

struct Watcher {
    /// The `/ws` URL of every server, in `--server` order.
    urls: Vec<String>,
    servers: Vec<String>,
    /// The server followed now (an index into both lists).
    current: usize,
    /// The rustls connector for a `wss://` URL.
    tls: Option<Connector>,
    /// Sent as X-API-Key on every upgrade, as the other client commands send it.
    api_key: Option<HeaderValue>,
    json: bool,
    prefixes: Vec<String>,
    /// The last revision printed (or subscribed at): where a reconnect resumes.
    last: Option<u64>,
    /// The keys printed at revision `last`. In cluster mode several changes share one
    /// revision (one etcd transaction, e.g. a node's batch of writes), so a reconnect
    /// resumes *at* `last` and skips only these, rather than after it (which would lose
    /// the rest of that revision's changes).
    printed_at_last: Vec<String>,
    retry_for: Duration,
    /// The next pause before reconnecting; back to the minimum once subscribed again, so a
    /// server that accepts and at once closes (e.g. shutting down) is not hammered.
    pause: Duration,
    /// When the server was last followed successfully, while it is not.
    down_since: Option<Instant>,
}

/// How a connection ended.
enum Ended {
    Interrupted,
    Lost(String),
}

impl Watcher {
    /// Follows the server until Ctrl-C; an error carries its exit code: the server
    /// refusing the upgrade (401, 403, a plain `ws://` to a TLS port) is an answer like
    /// any other command's refusal (4), anything else means it could not run (3).
    async fn watch(&mut self) -> Result<(), (u8, String)> {
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

    async fn subscribe(&self, socket: &mut Socket) -> Result<(), String> {
        let since = match self.last {
            Some(last) if !self.printed_at_last.is_empty() => Some(last.saturating_sub(1)),
            other => other,
        };
        let message = ClientMessage::subscribe(self.prefixes.clone(), since);
        socket
            .send(Message::text(message.encode()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Subscribes and prints events until the connection ends.
    async fn follow(&mut self, socket: &mut Socket) -> Ended {
        if let Err(e) = self.subscribe(socket).await {
            return Ended::Lost(e);
        }
        loop {
            let frame = tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ended::Interrupted,
                frame = tokio::time::timeout(IDLE_LIMIT, socket.next()) => frame,
            };
            let text = match frame {
                Err(_) => return Ended::Lost("the server went silent".into()),
                Ok(None) => return Ended::Lost("closed".into()),
                Ok(Some(Err(e))) => return Ended::Lost(e.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Ended::Lost(match frame {
                        Some(f) if !f.reason.is_empty() => format!("server closed: {}", f.reason),
                        _ => "server closed the connection".into(),
                    });
                }
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
            };
            let event = match Event::parse(&text) {
                Ok(event) => event,
                // A message type (or field) this client does not know: a newer server's.
                Err(_) if serde_json::from_str::<IgnoredAny>(&text).is_ok() => continue,
                Err(_) => {
                    notice(&format!("ignoring a message that is not JSON: {text}"));
                    continue;
                }
            };
            if let Err(e) = self.on_event(socket, event, &text).await {
                return Ended::Lost(e);
            }
        }
    }

    async fn on_event(
        &mut self,
        socket: &mut Socket,
        event: Event,
        text: &str,
    ) -> Result<(), String> {
        match event {
            Event::Subscribed { revision, .. } => {
                self.pause = BACKOFF_MIN;
                self.down_since = None;
                // Without --since, "now" becomes a revision a reconnect can resume from.
                if self.last.is_none() {
                    self.last = Some(revision);
                }
            }
            Event::ContextUpdated(Updated {
                revision,
                key,
                value,
                who,
                ..
            }) => self.print_change(text, revision, &key, || {
                format!("{revision} {key} = {} ({who})", plain(&value))
            }),
            Event::ContextDeleted(Deleted {
                revision, key, who, ..
            }) => self.print_change(text, revision, &key, || {
                format!("{revision} {key} deleted ({who})")
            }),
            Event::ContextDumped(dump) => self.print(text, || {
                format!(
                    "{} dump {} ({}, {} keys, by {})",
                    dump.revision, dump.filename, dump.format, dump.key_count, dump.who
                )
            }),
            Event::ResyncRequired {
                requested,
                current_revision,
                ..
            } => {
                notice(&format!(
                    "resync needed: the server no longer keeps the changes after revision {requested}; some changes were missed; continuing from revision {current_revision}"
                ));
                if self.json {
                    self.print(text, String::new);
                }
                self.last = Some(current_revision);
                self.printed_at_last.clear();
                self.subscribe(socket).await?;
            }
            Event::Error { error, .. } => notice(&format!("server: {error}")),
            Event::SetConfirmed { .. } | Event::DeleteConfirmed { .. } | Event::Pong { .. } => {}
        }
        Ok(())
    }

    /// Prints a change unless it was already printed before a reconnect.
    fn print_change(
        &mut self,
        text: &str,
        revision: u64,
        key: &str,
        human: impl FnOnce() -> String,
    ) {
        match self.last {
            Some(last) if revision < last => return,
            Some(last) if revision == last => {
                if self.printed_at_last.iter().any(|printed| printed == key) {
                    return;
                }
            }
            _ => {
                self.last = Some(revision);
                self.printed_at_last.clear();
            }
        }
        self.printed_at_last.push(key.to_owned());
        self.print(text, human);
    }

    /// One stdout line: the event as received with `--json`, else `human()`.
    fn print(&self, text: &str, human: impl FnOnce() -> String) {
        let line = if self.json { text.to_owned() } else { human() };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // stdout closed (`ctx watch | head`): nothing left to do.
            std::process::exit(exit::OK.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ws_url;

    #[test]
    fn server_urls_map_to_the_ws_endpoint() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080").as_deref(),
            Ok("ws://127.0.0.1:8080/ws")
        );
        assert_eq!(
            ws_url("http://host:1/base/").as_deref(),
            Ok("ws://host:1/base/ws")
        );
        assert_eq!(ws_url("https://host:1").as_deref(), Ok("wss://host:1/ws"));
        assert!(ws_url("ftp://host").is_err());
        assert!(ws_url("host:8080").is_err());
        assert!(ws_url("http://").is_err());
        assert!(ws_url("http://h/?q=1").is_err());
    }
}
