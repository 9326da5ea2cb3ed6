//! The load engine: N concurrent clients, each a tokio task with its own
//! keep-alive HTTP/1.1 connection, driving requests from a generator.
//!
//! Why hand-rolled on `hyper::client::conn::http1` instead of a pooled client
//! (reqwest, hyper-util's legacy client)? A pool adds a lock, a map lookup and
//! an extra task hop per request, and hides which connection a request rode on.
//! One connection per client task keeps the hot loop to "build request, send,
//! drain body, record", which matters when the engine must not be the
//! bottleneck it is trying to measure.
//!
//! Two modes:
//! - **Closed loop** (the seed's model): each client sends its next request as
//!   soon as the previous answer arrived. Latency is measured from the actual
//!   send. Simple, but it hides queueing: if the server stalls for a second,
//!   the clients simply stop sending and the stall shows up as *one* slow
//!   request per client instead of the hundreds a real user population would
//!   have seen ("coordinated omission").
//! - **Open loop** (the wrk2 method): requests are scheduled at a fixed total
//!   arrival rate, and each one is timed from its *intended* send time. A stall
//!   then makes every request that should have been sent during it late, and
//!   the corrected histogram shows that. The uncorrected histogram (from the
//!   actual send) is kept alongside so the two can be compared.
//!
//! Latencies go into per-worker [`hdrhistogram::Histogram`]s (microseconds,
//! 3 significant digits) that are merged at the end: fixed memory however long
//! the run, and mergeable across workers and runs.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::error::LoadError;

/// Highest latency the histograms can hold (one hour, in microseconds);
/// anything above is clamped (`saturating_record`).
const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// A new empty latency histogram: microseconds, 1 µs .. 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail.
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3).expect("constant histogram bounds are valid")
}

/// Microseconds from `from` to `to`, as a histogram value: at least 1 (also
/// when `to` is earlier), at most the histogram's range.
pub fn us_between(from: Instant, to: Instant) -> u64 {
    let d = to.saturating_duration_since(from);
    (d.as_micros().min(u128::from(MAX_TRACKABLE_US)) as u64).max(1)
}

/// One HTTP request as produced by a generator. The path is relative to the
/// target's base URL and may carry a query string.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

impl Request {
    /// A `GET` without a body.
    pub fn get(path: impl Into<String>) -> Self {
        Request {
            method: Method::GET,
            path: path.into(),
            body: None,
        }
    }

    /// A `POST` with a JSON body.
    pub fn post_json(path: impl Into<String>, body: &serde_json::Value) -> Self {
        Request {
            method: Method::POST,
            path: path.into(),
            body: Some(Bytes::from(body.to_string())),
        }
    }
}

/// Maps `(client_id, op_id)` to the request that client sends as its op-th
/// operation. Shared by all workers, so it must be `Send + Sync`; it is called
/// on the hot path, so keep it cheap.
pub type RequestGenerator = Arc<dyn Fn(u64, u64) -> Request + Send + Sync>;

/// Called with `(client_id, op_id, success)` as each request completes
/// (answered or failed; never for dropped ones), for callers that need to
/// know *which* requests succeeded, not only how many (`ws_fanout` expects an
/// event for every successful write). Called on the hot path: keep it cheap.
pub type CompletionHook = Arc<dyn Fn(u64, u64, bool) + Send + Sync>;

/// Where the load goes: a plain `http://host:port[/base]` URL.
#[derive(Clone, Debug)]
pub struct Target {
    host: String,
    port: u16,
    /// Prefix prepended to every request path, without a trailing slash.
    base_path: String,
    /// Value of the `Host` header.
    authority: HeaderValue,
}

impl Target {
    /// Parses a base URL. Only `http` is supported (the suite talks to servers
    /// on this machine; TLS would only measure the TLS library).
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let bad = |why: &str| LoadError::InvalidOption(format!("bad target URL {url:?}: {why}"));
        let uri: hyper::Uri = url.trim().parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "scheme {other:?} is not supported, use http://"
                )));
            }
            None => return Err(bad("missing scheme, expected http://HOST:PORT")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("missing host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(80);
        if port == 0 {
            return Err(bad("port 0 is not a server port"));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL cannot carry a query string"));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let authority = HeaderValue::from_str(&authority)
            .map_err(|_| bad("host is not a valid header value"))?;
        Ok(Target {
            host,
            port,
            base_path,
            authority,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full path for a generator path (adds the base path and a leading `/`).
    fn full_path(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        format!("{}/{}", self.base_path, path)
    }

    /// The `ws://` URL of a path on this target (same host, port and base path).
    pub fn ws_url(&self, path: &str) -> String {
        // The authority was built from the parsed host and port: valid ASCII.
        let authority = self.authority.to_str().unwrap_or_default();
        format!("ws://{authority}{}", self.full_path(path))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}{}", self.host, self.port, self.base_path)
        } else {
            write!(f, "http://{}:{}{}", self.host, self.port, self.base_path)
        }
    }
}

/// How the load is offered.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Each of `clients` sends `ops_per_client` requests back to back.
    Closed { clients: u64, ops_per_client: u64 },
    /// `rate` requests per second in total, spread evenly over `clients`
    /// connections, for `duration`.
    Open {
        clients: u64,
        rate: f64,
        duration: Duration,
    },
}

/// Engine settings for one run.
#[derive(Clone)]
pub struct EngineConfig {
    pub target: Target,
    pub mode: Mode,
    /// Per-request timeout, connection set-up included (default 30 s, as the seed).
    pub timeout: Duration,
    /// Open loop: a request sent more than this after its intended time is "late".
    pub late_slack: Duration,
    /// Open loop: requests not yet sent `duration + send_grace` after the start
    /// are dropped (counted, never sent), so a dead server cannot stretch the run forever.
    pub send_grace: Duration,
    /// When the run (and the open-loop schedule) starts; None = when [`run`]
    /// is called. A caller that stamps due times into request bodies
    /// (`start + g / rate`) shares the engine's clock through it.
    pub start: Option<Instant>,
    /// See [`CompletionHook`].
    pub on_complete: Option<CompletionHook>,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("target", &self.target)
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("late_slack", &self.late_slack)
            .field("send_grace", &self.send_grace)
            .field("start", &self.start)
            .field("on_complete", &self.on_complete.is_some())
            .finish()
    }
}

impl EngineConfig {
    pub fn new(target: Target, mode: Mode) -> Self {
        EngineConfig {
            target,
            mode,
            timeout: Duration::from_secs(30),
            late_slack: Duration::from_millis(10),
            send_grace: Duration::from_secs(5),
            start: None,
            on_complete: None,
        }
    }
}

/// Live counters a progress display can read while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub errors: AtomicU64,
    pub total: AtomicU64,
}

/// Failures broken down by kind. A request is a success iff it got a 2xx.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ErrorBreakdown {
    /// Non-2xx answers, by status code.
    pub status: std::collections::BTreeMap<u16, u64>,
    /// No complete answer within the per-request timeout.
    pub timeout: u64,
    /// Could not open a TCP connection / HTTP handshake.
    pub connect: u64,
    /// The connection failed mid-request (reset, closed, malformed answer).
    pub io: u64,
    /// Open loop only: requests never sent because the run's send window closed.
    pub dropped: u64,
    /// The first error message seen, to make a failing run diagnosable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl ErrorBreakdown {
    pub fn total(&self) -> u64 {
        self.status.values().sum::<u64>() + self.timeout + self.connect + self.io + self.dropped
    }

    fn merge(&mut self, other: &ErrorBreakdown) {
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.timeout += other.timeout;
        self.connect += other.connect;
        self.io += other.io;
        self.dropped += other.dropped;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }
}

/// Completions in one second of the run (by completion time).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct SecondBucket {
    pub second: u64,
    pub ok: u64,
    pub errors: u64,
}

/// Open-loop specifics.
#[derive(Clone, Debug)]
pub struct OpenLoopResult {
    pub target_rate: f64,
    pub planned: u64,
    pub sent: u64,
    pub late: u64,
    /// Latency from the actual send time (what a closed-loop tool would report).
    pub uncorrected: Histogram<u64>,
}

/// Everything one engine run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Requests attempted (sent, or failed to connect). Dropped ones are not included.
    pub attempted: u64,
    pub success: u64,
    pub errors: ErrorBreakdown,
    /// Latency of every request that got an HTTP answer (any status), in µs.
    /// Closed loop: from the actual send. Open loop: from the intended send (corrected).
    pub latency: Histogram<u64>,
    /// Wall time from the first scheduled request to the last completion.
    pub elapsed: Duration,
    pub per_second: Vec<SecondBucket>,
    pub open: Option<OpenLoopResult>,
}

/// What happened to one request.
enum Outcome {
    Answered(u16),
    Timeout,
    Connect(String),
    Io(String),
}

/// The connection half of hyper's client: a future that drives the socket.
type ConnFuture = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One client's connection: opened lazily, reopened after any failure or
/// when the server closes it.
///
/// hyper splits a client connection into a `SendRequest` handle and a
/// `Connection` future that must be polled for anything to move. The usual
/// recipe spawns that future as its own task, which costs two cross-task
/// wake-ups per request. Here the client task polls it itself, alongside the
/// request it is waiting for: same behaviour, a shorter hot path.
struct Client {
    target: Target,
    conn: Option<(SendRequest<Full<Bytes>>, ConnFuture)>,
    /// The per-request timeout timer, reused across requests (see `execute`).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

async fn handshake(target: &Target) -> Result<(SendRequest<Full<Bytes>>, ConnFuture), String> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect to {}:{}: {e}", target.host, target.port))?;
    // Small request/response pairs: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {}:{}: {e}", target.host, target.port))?;
    Ok((sender, Box::pin(conn)))
}

fn build_request(target: &Target, req: &Request) -> Result<hyper::Request<Full<Bytes>>, String> {
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(target.full_path(&req.path))
        .header(HOST, target.authority.clone())
        .header(USER_AGENT, HeaderValue::from_static("ctx-load/0.1"));
    if req.body.is_some() {
        builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    builder
        .body(Full::new(req.body.clone().unwrap_or_default()))
        .map_err(|e| format!("cannot build request for {:?}: {e}", req.path))
}

/// Sends `http_req` and drains the answer's body; returns the status.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    http_req: hyper::Request<Full<Bytes>>,
) -> Result<u16, String> {
    let resp = sender
        .send_request(http_req)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // The answer is complete only when its last byte arrived, and the
    // connection can only be reused after that. Frames are dropped as they
    // come: nothing is kept.
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        frame.map_err(|e| format!("reading body: {e}"))?;
    }
    Ok(status)
}

impl Client {
    fn new(target: Target) -> Self {
        Client {
            target,
            conn: None,
            timer: None,
        }
    }

    /// Sends one request and drains its body, within `timeout`.
    ///
    /// `tokio::time::timeout` would insert and remove a timer-wheel entry per
    /// request. Instead each client keeps one timer armed at the deadline of
    /// an earlier request: deadlines only move forward, so when it fires we
    /// either have a real timeout or re-arm it at the current deadline. That
    /// is one timer operation per `timeout` period instead of one per
    /// request, with the same precision.
    async fn execute(&mut self, req: &Request, timeout: Duration) -> Outcome {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut timer = self
            .timer
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline)));
        let outcome = {
            let exchange = self.execute_inner(req);
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

    async fn execute_inner(&mut self, req: &Request) -> Outcome {
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
            match handshake(&self.target).await {
                Ok(c) => self.conn = Some(c),
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
            let exchange = exchange(sender, http_req);
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
        let msg = match client.execute(req, timeout).await {
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

/// Per-worker recorder: everything a worker measures, merged at the end.
struct Recorder {
    start: Instant,
    latency: Histogram<u64>,
    /// Open loop only: closed-loop latency is already "uncorrected".
    uncorrected: Option<Histogram<u64>>,
    success: u64,
    attempted: u64,
    late: u64,
    errors: ErrorBreakdown,
    per_second: Vec<SecondBucket>,
    last_completion: Instant,
    progress: Arc<Progress>,
}

impl Recorder {
    fn new(start: Instant, progress: Arc<Progress>, open_loop: bool) -> Self {
        Recorder {
            start,
            latency: new_histogram(),
            uncorrected: open_loop.then(new_histogram),
            success: 0,
            attempted: 0,
            late: 0,
            errors: ErrorBreakdown::default(),
            per_second: Vec::new(),
            last_completion: start,
            progress,
        }
    }

    /// Records one finished request. `timed_from` is the actual send time
    /// (closed loop) or the intended send time (open loop); `sent` is the
    /// actual send time (for the uncorrected histogram). Returns whether it
    /// succeeded.
    fn record(
        &mut self,
        req: &Request,
        outcome: Outcome,
        timed_from: Instant,
        sent: Instant,
        done: Instant,
    ) -> bool {
        self.attempted += 1;
        self.last_completion = self.last_completion.max(done);
        let ok = match outcome {
            Outcome::Answered(status) => {
                self.latency.saturating_record(us_between(timed_from, done));
                if let Some(h) = self.uncorrected.as_mut() {
                    h.saturating_record(us_between(sent, done));
                }
                if (200..300).contains(&status) {
                    true
                } else {
                    *self.errors.status.entry(status).or_default() += 1;
                    self.errors
                        .note(|| format!("{} {}: HTTP {status}", req.method, req.path));
                    false
                }
            }
            Outcome::Timeout => {
                self.errors.timeout += 1;
                self.errors
                    .note(|| format!("{} {}: timed out", req.method, req.path));
                false
            }
            Outcome::Connect(e) => {
                self.errors.connect += 1;
                self.errors.note(|| e);
                false
            }
            Outcome::Io(e) => {
                self.errors.io += 1;
                self.errors.note(|| e);
                false
            }
        };
        let sec = done.saturating_duration_since(self.start).as_secs() as usize;
        if self.per_second.len() <= sec {
            self.per_second.resize_with(sec + 1, SecondBucket::default);
        }
        let bucket = &mut self.per_second[sec];
        if ok {
            self.success += 1;
            bucket.ok += 1;
        } else {
            bucket.errors += 1;
            self.progress.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.progress.done.fetch_add(1, Ordering::Relaxed);
        ok
    }
}

/// Runs the load described by `cfg`, asking `generator` for each request.
/// Never fails as a whole: every failure is a counted per-request error, so a
/// half-broken server still yields a (bad) result.
pub async fn run(
    cfg: &EngineConfig,
    generator: RequestGenerator,
    progress: Arc<Progress>,
) -> Result<RunResult, LoadError> {
    let start = cfg.start.unwrap_or_else(Instant::now);
    let mut set = tokio::task::JoinSet::new();
    let (clients, open) = match cfg.mode {
        Mode::Closed {
            clients,
            ops_per_client,
        } => {
            progress
                .total
                .store(clients * ops_per_client, Ordering::Relaxed);
            for client_id in 0..clients {
                let target = cfg.target.clone();
                let generator = generator.clone();
                let progress = progress.clone();
                let timeout = cfg.timeout;
                let hook = cfg.on_complete.clone();
                set.spawn(async move {
                    let mut rec = Recorder::new(start, progress, false);
                    let mut client = Client::new(target);
                    for op_id in 0..ops_per_client {
                        let req = generator(client_id, op_id);
                        let sent = Instant::now();
                        let outcome = client.execute(&req, timeout).await;
                        let done = Instant::now();
                        let ok = rec.record(&req, outcome, sent, sent, done);
                        if let Some(hook) = &hook {
                            hook(client_id, op_id, ok);
                        }
                    }
                    rec
                });
            }
            (clients, None)
        }
        Mode::Open {
            clients,
            rate,
            duration,
        } => {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(LoadError::InvalidOption(format!(
                    "rate must be a positive number, got {rate}"
                )));
            }
            let clients = clients.max(1);
            let planned = (rate * duration.as_secs_f64()).floor() as u64;
            progress.total.store(planned, Ordering::Relaxed);
            let send_deadline = start + duration + cfg.send_grace;
            for client_id in 0..clients {
                let target = cfg.target.clone();
                let generator = generator.clone();
                let progress = progress.clone();
                let timeout = cfg.timeout;
                let slack = cfg.late_slack;
                let hook = cfg.on_complete.clone();
                set.spawn(async move {
                    let mut rec = Recorder::new(start, progress.clone(), true);
                    let mut client = Client::new(target);
                    // Global request g goes to client g % clients and is due at
                    // start + g / rate: an even, phase-shifted schedule per client.
                    let mut g = client_id;
                    let mut op_id = 0;
                    let mut prev_done = start;
                    while g < planned {
                        let intended = start + Duration::from_secs_f64(g as f64 / rate);
                        let req = generator(client_id, op_id);
                        if Instant::now() < intended {
                            tokio::time::sleep_until(intended.into()).await;
                        }
                        let sent = Instant::now();
                        if sent > send_deadline {
                            // The rest of this client's schedule can no longer be sent.
                            let remaining = (planned - g).div_ceil(clients);
                            rec.errors.dropped += remaining;
                            progress.done.fetch_add(remaining, Ordering::Relaxed);
                            progress.errors.fetch_add(remaining, Ordering::Relaxed);
                            break;
                        }
                        if sent.saturating_duration_since(intended) > slack {
                            rec.late += 1;
                        }
                        // Corrected latency counts from the due time, minus only
                        // the delay that was this client's own: time during which
                        // it was free (previous answer in, due time reached) but
                        // had not sent yet — timer granularity, scheduling. Time
                        // spent waiting for the server's previous answer counts.
                        let ready = intended.max(prev_done);
                        let timed_from = intended + sent.saturating_duration_since(ready);
                        let outcome = client.execute(&req, timeout).await;
                        let done = Instant::now();
                        let ok = rec.record(&req, outcome, timed_from, sent, done);
                        if let Some(hook) = &hook {
                            hook(client_id, op_id, ok);
                        }
                        prev_done = done;
                        g += clients;
                        op_id += 1;
                    }
                    rec
                });
            }
            (clients, Some((rate, planned)))
        }
    };

    let mut latency = new_histogram();
    let mut uncorrected = new_histogram();
    let mut errors = ErrorBreakdown::default();
    let mut per_second: Vec<SecondBucket> = Vec::new();
    let (mut success, mut attempted, mut late) = (0, 0, 0);
    let mut last = start;
    let mut joined = 0;
    while let Some(res) = set.join_next().await {
        let rec = res.map_err(|e| LoadError::Internal(format!("load worker failed: {e}")))?;
        joined += 1;
        // Same bounds on both sides: adding cannot go out of range.
        let _ = latency.add(&rec.latency);
        if let Some(h) = &rec.uncorrected {
            let _ = uncorrected.add(h);
        }
        errors.merge(&rec.errors);
        success += rec.success;
        attempted += rec.attempted;
        late += rec.late;
        last = last.max(rec.last_completion);
        if per_second.len() < rec.per_second.len() {
            per_second.resize_with(rec.per_second.len(), SecondBucket::default);
        }
        for (acc, b) in per_second.iter_mut().zip(&rec.per_second) {
            acc.ok += b.ok;
            acc.errors += b.errors;
        }
    }
    debug_assert_eq!(joined, clients);
    for (i, b) in per_second.iter_mut().enumerate() {
        b.second = i as u64;
    }
    let open = open.map(|(rate, planned)| OpenLoopResult {
        target_rate: rate,
        planned,
        sent: attempted,
        late,
        uncorrected,
    });
    Ok(RunResult {
        attempted,
        success,
        errors,
        latency,
        elapsed: last.saturating_duration_since(start),
        per_second,
        open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parsing() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((t.host(), t.port()), ("127.0.0.1", 8080));
        assert_eq!(t.full_path("ctx/a"), "/ctx/a");
        assert_eq!(t.full_path("/ctx/a"), "/ctx/a");
        let t = Target::parse("http://localhost:9/api/").unwrap();
        assert_eq!(t.full_path("ctx"), "/api/ctx");
        assert_eq!(t.to_string(), "http://localhost:9/api");
        assert_eq!(t.ws_url("ws"), "ws://localhost:9/api/ws");
        let t = Target::parse("http://[::1]:7000").unwrap();
        assert_eq!(t.host(), "::1");
        assert_eq!(t.to_string(), "http://[::1]:7000");
        assert_eq!(t.ws_url("/ws"), "ws://[::1]:7000/ws");
        for bad in [
            "",
            "localhost:80",
            "https://x:1",
            "http://:80",
            "not a url",
            "http://h:0",
            "http://h:1/?q=1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
