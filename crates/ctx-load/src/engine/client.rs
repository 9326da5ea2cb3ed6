//! One client's keep-alive connection and the exchange of one request on it;
//! also the unmeasured one-off requests (set-up writes, health polls).

use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;

use super::target::Stream;
use super::{Inspection, Request, Target};
use crate::model::ContentCheckTally;

/// What happened to one request.
pub(super) enum Outcome {
    Answered(u16),
    Timeout,
    Connect(String),
    Io(String),
}

/// The connection half of hyper's client: a future that drives the socket.
type ConnFuture = Pin<Box<Connection<TokioIo<Stream>, Full<Bytes>>>>;

/// One client's connection: opened lazily, reopened after any failure or
/// when the server closes it.
///
/// hyper splits a client connection into a `SendRequest` handle and a
/// `Connection` future that must be polled for anything to move. The usual
/// recipe spawns that future as its own task, which costs two cross-task
/// wake-ups per request. Here the client task polls it itself, alongside the
/// request it is waiting for: same behaviour, a shorter hot path.
pub(super) struct Client {
    target: Target,
    conn: Option<(SendRequest<Full<Bytes>>, ConnFuture)>,
    /// The per-request timeout timer, reused across requests (see `execute`).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How long opening the connection took, when the last request had to
    /// open one (TCP connect + HTTP handshake): reported apart from latency,
    /// as k6's `http_req_connecting`. A connect that waited on a full listen
    /// backlog (a 1 s SYN retry) would otherwise be one request's "latency".
    connect_time: Option<Duration>,
}

async fn handshake(target: &Target) -> Result<(SendRequest<Full<Bytes>>, ConnFuture), String> {
    let stream = target.open().await.map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {}:{}: {e}", target.host, target.port))?;
    Ok((sender, Box::pin(conn)))
}

/// The request as hyper takes it. Built field by field: `http::request::Builder`
/// moves its whole `Result<Parts>` through every step (~460 instructions of
/// memcpy per request), and hashing each header name into an empty map costs
/// more than cloning the target's ready-made map (see [`Target::base_headers`]).
fn build_request(target: &Target, req: &Request) -> Result<hyper::Request<Full<Bytes>>, String> {
    let uri = target
        .uri_of(&req.path)
        .map_err(|e| format!("cannot build request for {:?}: {e}", req.path))?;
    let mut http_req = hyper::Request::new(Full::new(req.body.clone().unwrap_or_default()));
    *http_req.method_mut() = req.method.clone();
    *http_req.uri_mut() = uri;
    *http_req.headers_mut() = target.base_headers(req.body.is_some()).clone();
    Ok(http_req)
}

/// Sends `http_req` and drains the answer's body; returns the status.
/// Content checks to apply to an answer, and where to count them.
pub(super) type Inspect<'a> = Option<(&'a Inspection, &'a mut [ContentCheckTally])>;

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    http_req: hyper::Request<Full<Bytes>>,
    inspect: Inspect<'_>,
) -> Result<u16, String> {
    let resp = sender
        .send_request(http_req)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    if let Some((inspection, tallies)) = inspect {
        let (parts, body) = resp.into_parts();
        let body = if inspection.needs_body {
            body.collect()
                .await
                .map_err(|e| format!("reading body: {e}"))?
                .to_bytes()
        } else {
            drain(body).await?;
            Bytes::new()
        };
        (inspection.judge)(status, &parts.headers, &body, tallies);
        return Ok(status);
    }
    drain(resp.into_body()).await?;
    Ok(status)
}

/// Reads an answer's body to its end, dropping frames as they come: the
/// answer is complete only when its last byte arrived, and the connection can
/// only be reused after that.
async fn drain(mut body: hyper::body::Incoming) -> Result<(), String> {
    while let Some(frame) = body.frame().await {
        frame.map_err(|e| format!("reading body: {e}"))?;
    }
    Ok(())
}

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
        // A kept-alive connection the server has since closed: polling its
        // future once processes the EOF and completes it. Replace it before
        // sending rather than failing the request.
        if let Some((sender, conn)) = self.conn.as_mut() {
            let closed = tokio::select! {
                biased;
                _ = conn.as_mut() => true,
                _ = std::future::ready(()) => sender.is_closed(),
            };
            if closed {
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            let connecting = Instant::now();
            match handshake(&self.target).await {
                Ok(c) => {
                    self.conn = Some(c);
                    self.connect_time = Some(connecting.elapsed());
                }
                Err(e) => return Outcome::Connect(e),
            }
        }
        let http_req = match build_request(&self.target, req) {
            Ok(r) => r,
            Err(e) => return Outcome::Io(e),
        };
        let Some((sender, conn)) = self.conn.as_mut() else {
            return Outcome::Connect("no connection".into());
        };
        let mut conn_done = false;
        let result = {
            let exchange = exchange(sender, http_req, inspect);
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    r = &mut exchange => break r,
                    // When the connection ends first, the exchange fails next poll.
                    _ = conn.as_mut(), if !conn_done => conn_done = true,
                }
            }
        };
        if conn_done || result.is_err() {
            self.conn = None;
        }
        match result {
            Ok(status) => Outcome::Answered(status),
            Err(e) => Outcome::Io(format!("{} {}: {e}", req.method, req.path)),
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
        let (mut sender, conn) = handshake(target).await?;
        // Outside the hot path: the simple recipe, the connection on its own task.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let http_req = build_request(target, req)?;
        let resp = sender
            .send_request(http_req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
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
