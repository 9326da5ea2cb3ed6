//! One client's keep-alive connection and the exchange of one request on it;
//! also the unmeasured one-off requests (set-up writes, health polls).

use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::http1::Connection;
use super::{Inspection, Request, Target};
use crate::model::ContentCheckTally;

/// What happened to one request.
pub(super) enum Outcome {
    Answered(u16),
    Timeout,
    Connect(String),
    Io(String),
}

/// One client's connection: opened lazily, reopened after any failure or
/// when the server closes it. The exchange itself is [`Connection`]'s.
pub(super) struct Client {
    target: Target,
    conn: Option<Connection>,
    /// The per-request timeout timer, reused across requests (see `execute`).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How long opening the connection took, when the last request had to
    /// open one (TCP connect, TLS handshake for https): reported apart from latency,
    /// as k6's `http_req_connecting`. A connect that waited on a full listen
    /// backlog (a 1 s SYN retry) would otherwise be one request's "latency".
    connect_time: Option<Duration>,
}

async fn connect(target: &Target) -> Result<Connection, String> {
    let stream = target.open().await.map_err(|e| e.to_string())?;
    Ok(Connection::new(stream))
}

/// Content checks to apply to an answer, and where to count them.
pub(super) type Inspect<'a> = Option<(&'a Inspection, &'a mut [ContentCheckTally])>;

impl Client {
    pub(super) fn new(target: Target) -> Self {
        Client {
            target,
            conn: None,
            timer: None,
            connect_time: None,
        }
    }

    /// The connection set-up time of the last request, if it opened a connection.
    pub(super) fn take_connect_time(&mut self) -> Option<Duration> {
        self.connect_time.take()
    }

    /// Sends one request and drains its body, within `timeout`.
    ///
    /// `tokio::time::timeout` would insert and remove a timer-wheel entry per
    /// request. Instead each client keeps one timer armed at the deadline of
    /// an earlier request: deadlines only move forward, so when it fires we
    /// either have a real timeout or re-arm it at the current deadline. That
    /// is one timer operation per `timeout` period instead of one per
    /// request, with the same precision.
    pub(super) async fn execute(
        &mut self,
        req: &Request,
        timeout: Duration,
        inspect: Inspect<'_>,
    ) -> Outcome {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut timer = self
            .timer
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline)));
        let outcome = {
            let exchange = self.execute_inner(req, inspect);
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    o = &mut exchange => break Some(o),
                    _ = timer.as_mut() => {
                        if tokio::time::Instant::now() >= deadline {
                            break None;
                        }
                        timer.as_mut().reset(deadline);
                    }
                }
            }
        };
        self.timer = Some(timer);
        match outcome {
            Some(o) => o,
            None => {
                // The connection is in an unknown state (a response may still
                // arrive on it): never reuse it.
                self.conn = None;
                Outcome::Timeout
            }
        }
    }

    async fn execute_inner(&mut self, req: &Request, inspect: Inspect<'_>) -> Outcome {
        // A kept-alive connection the server has since closed: replace it
        // before sending rather than failing the request.
        if let Some(conn) = self.conn.as_mut()
            && conn.closed().await
        {
            self.conn = None;
        }
        let conn = match self.conn.as_mut() {
            Some(conn) => conn,
            None => {
                let connecting = Instant::now();
                match connect(&self.target).await {
                    Ok(conn) => {
                        self.connect_time = Some(connecting.elapsed());
                        self.conn.insert(conn)
                    }
                    Err(e) => return Outcome::Connect(e),
                }
            }
        };
        match conn.exchange(&self.target, req, inspect).await {
            Ok(answer) => {
                if !answer.reusable {
                    self.conn = None;
                }
                Outcome::Answered(answer.status)
            }
            Err(e) => {
                self.conn = None;
                Outcome::Io(format!("{} {}: {e}", req.method, req.path))
            }
        }
    }
}

/// Sends a single request on a fresh connection: used for set-up writes and
/// health polls, outside any measurement. Returns the status code and body.
pub async fn one_shot(
    target: &Target,
    req: &Request,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    let fut = async {
        let mut conn = connect(target).await?;
        let (answer, body) = conn.fetch(target, req).await?;
        Ok((answer.status, Bytes::from(body)))
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Sends a batch of set-up requests sequentially on one connection (outside
/// the measurement). Returns how many did not get a 2xx.
pub async fn run_setup(
    target: &Target,
    reqs: &[Request],
    timeout: Duration,
) -> (u64, Option<String>) {
    let mut client = Client::new(target.clone());
    let mut failures = 0;
    let mut first = None;
    for req in reqs {
        let msg = match client.execute(req, timeout, None).await {
            Outcome::Answered(s) if (200..300).contains(&s) => continue,
            Outcome::Answered(s) => format!("{} {}: HTTP {s}", req.method, req.path),
            Outcome::Timeout => format!("{} {}: timed out", req.method, req.path),
            Outcome::Connect(e) | Outcome::Io(e) => e,
        };
        failures += 1;
        first.get_or_insert(msg);
    }
    (failures, first)
}
