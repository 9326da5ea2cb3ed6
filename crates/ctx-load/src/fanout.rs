//! `ws_fanout`: live-update fan-out over the server's `/ws` (protocol in
//! docs/live.md; this module knows only the wire protocol).
//!
//! S subscribers connect to `GET /ws` and subscribe to a prefix unique to the
//! run (`fanout.<token>.`) from the current revision. Once all are subscribed,
//! W writers `POST /ctx` at a fixed total rate with the engine's open loop.
//! Write number `seq` carries, in its value, its sequence number and its
//! **due time** (the open-loop schedule's `start + seq / rate`, in µs on this
//! process's monotonic clock), so each subscriber records, for every event it
//! receives, write-to-delivery latency = receive time − due time, into its own
//! HDR histogram (merged at the end). Timing from the due time rather than the
//! actual send keeps a stalled writer from hiding a stall (coordinated
//! omission, as in the engine's open loop).
//!
//! Completeness: the engine reports which writes got a 2xx; each of those must
//! reach every subscriber exactly once, in revision order. A
//! [`DeliveryTracker`] per subscriber counts what is missing, duplicated or
//! out of order. After the last write the subscribers wait at most
//! [`FanoutSpec::drain`] for what is still missing. A subscriber whose
//! connection ends early (slow-consumer cut-off, close, I/O error) or that
//! could not subscribe is a failure, with its reason in the report.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::engine::{self, EngineConfig, Mode, Progress, Request, RunResult, Target, us_between};
use crate::error::LoadError;
use crate::metrics::{LatencySummary, PercentilePoint, percentile_curve};

/// The shape of one fan-out run. `Scenario::clients` is the subscriber count.
#[derive(Clone, Debug, PartialEq)]
pub struct FanoutSpec {
    /// Writer connections (the open loop's clients).
    pub writers: u64,
    /// Writes per second, in total.
    pub rate: f64,
    /// How long the writers write.
    pub duration: Duration,
    /// Subscribed prefix; a token unique to the run is appended (`fanout.<token>.`),
    /// so runs against a shared server do not see each other.
    pub prefix: String,
    /// Writes cycle over this many keys under the prefix.
    pub keys: u64,
    /// After the last write, how long subscribers wait for events still missing
    /// (at most the run's per-request timeout).
    pub drain: Duration,
}

impl FanoutSpec {
    /// Writes the schedule holds: `floor(rate × duration)`.
    pub fn planned_writes(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).floor() as u64
    }

    /// e.g. "50 subscribers, 500 writes/s × 10 s".
    pub fn describe(&self, subscribers: u64) -> String {
        format!(
            "{subscribers} subscribers, {} writes/s × {} s",
            self.rate,
            self.duration.as_secs_f64()
        )
    }
}

/// A set of write sequence numbers (a bitmap: `planned / 8` bytes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeqSet {
    words: Vec<u64>,
    count: u64,
}

impl SeqSet {
    /// Adds `seq`; true when it was not there yet.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.count += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.words
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many members `self` and `other` share.
    pub fn common(&self, other: &SeqSet) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a & b).count_ones()))
            .sum()
    }
}

impl FromIterator<u64> for SeqSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut s = SeqSet::default();
        for seq in iter {
            s.insert(seq);
        }
        s
    }
}

/// How one event arrived, relative to those before it on the same connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// First delivery of this write, after every revision seen so far.
    InOrder,
    /// First delivery of this write, but its revision is not above one seen before.
    OutOfOrder,
    /// This write was delivered before.
    Duplicate,
}

/// One subscriber's completeness checker: fed each event's write sequence
/// number and revision in arrival order, it detects duplicates and revision
/// reordering as they happen, and gaps (missing writes) against the expected
/// set at the end.
#[derive(Clone, Debug, Default)]
pub struct DeliveryTracker {
    seen: SeqSet,
    highest_revision: Option<u64>,
    duplicates: u64,
    out_of_order: u64,
}

/// The completeness figures of one subscriber (or, summed, of all).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    /// Expected writes delivered (at least once).
    pub delivered: u64,
    /// Expected writes never delivered.
    pub missing: u64,
    /// Deliveries of a write already delivered.
    pub duplicates: u64,
    /// First deliveries whose revision was not above every revision before.
    pub out_of_order: u64,
    /// Events for writes that did not get a 2xx (e.g. timed out, yet committed):
    /// neither expected nor an error.
    pub unconfirmed: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.delivered += o.delivered;
        self.missing += o.missing;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.unconfirmed += o.unconfirmed;
    }

    /// Every expected write delivered exactly once, in revision order.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0
    }
}

impl DeliveryTracker {
    pub fn observe(&mut self, seq: u64, revision: u64) -> Arrival {
        if !self.seen.insert(seq) {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        match self.highest_revision {
            Some(h) if revision <= h => {
                self.out_of_order += 1;
                Arrival::OutOfOrder
            }
            _ => {
                self.highest_revision = Some(revision);
                Arrival::InOrder
            }
        }
    }

    /// Writes delivered so far, duplicates not counted.
    pub fn seen(&self) -> &SeqSet {
        &self.seen
    }

    pub fn tally(&self, expected: &SeqSet) -> Tally {
        let delivered = self.seen.common(expected);
        Tally {
            delivered,
            missing: expected.len() - delivered,
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            unconfirmed: self.seen.len() - delivered,
        }
    }
}

/// One subscriber, summarised.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SubscriberSummary {
    pub id: u64,
    #[serde(flatten)]
    pub tally: Tally,
    pub bad_frames: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Why the connection ended before the run did (slow consumer, closed,
    /// could not subscribe...); null when it lasted.
    pub disconnect: Option<String>,
}

/// The fan-out figures of a `ws_fanout` run. The delivery latency itself is
/// the scenario's `latency` (so `p99_ms` etc. thresholds apply to it).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FanoutSummary {
    pub subscribers: u64,
    pub writers: u64,
    /// The prefix subscribed to and written under.
    pub prefix: String,
    pub write_rate_target: f64,
    /// Writes completed per second of the writers' run.
    pub write_rate_achieved: f64,
    pub writes_planned: u64,
    pub writes_sent: u64,
    /// Writes answered 2xx: each must reach every subscriber.
    pub writes_ok: u64,
    /// Writes sent more than 10 ms after their due time.
    pub writes_late: u64,
    /// POST latency, from the due time (corrected).
    pub write_latency: LatencySummary,
    pub write_latency_curve: Vec<PercentilePoint>,
    /// writes_ok × subscribers.
    pub expected: u64,
    /// Totals over all subscribers.
    #[serde(flatten)]
    pub tally: Tally,
    /// delivered / expected × 100; null when nothing was expected.
    pub delivered_pct: Option<f64>,
    /// Frames that did not parse or were not expected (incl. `error` messages).
    pub bad_frames: u64,
    /// Subscribers whose connection ended early or that could not subscribe.
    pub disconnects: u64,
    /// Subscribers that got every expected write exactly once, in order, and stayed connected.
    pub complete_subscribers: u64,
    pub drain_secs: f64,
    /// The first problem seen (disconnect reason or bad frame), to make a failure diagnosable.
    pub first_problem: Option<String>,
    pub per_subscriber: Vec<SubscriberSummary>,
}

/// Columns of the reports' table of subscribers with a problem.
pub const PROBLEM_COLUMNS: [&str; 8] = [
    "subscriber",
    "delivered",
    "missing",
    "duplicates",
    "out of order",
    "bad frames",
    "p99 ms",
    "disconnected",
];

/// Rows of that table the Markdown and HTML reports show, at most (all are in report.json).
pub const MAX_PROBLEM_ROWS: usize = 20;

impl SubscriberSummary {
    /// Missed, repeated or reordered a write, got a bad frame, or was disconnected.
    pub fn has_problem(&self) -> bool {
        !self.tally.is_clean() || self.bad_frames > 0 || self.disconnect.is_some()
    }

    /// This subscriber's row of the problem table ([`PROBLEM_COLUMNS`]).
    pub fn problem_row(&self) -> [String; 8] {
        let t = &self.tally;
        [
            self.id.to_string(),
            t.delivered.to_string(),
            t.missing.to_string(),
            t.duplicates.to_string(),
            t.out_of_order.to_string(),
            self.bad_frames.to_string(),
            format!("{:.2}", self.p99_ms),
            self.disconnect.clone().unwrap_or_else(|| "—".into()),
        ]
    }
}

impl FanoutSummary {
    /// The subscribers with a problem (see [`SubscriberSummary::has_problem`]).
    pub fn problem_subscribers(&self) -> impl Iterator<Item = &SubscriberSummary> {
        self.per_subscriber.iter().filter(|s| s.has_problem())
    }

    /// One line for the terminal and the report, e.g.
    /// "delivered 250000/250000 (100.0%), 0 missing, 0 duplicate, 0 out of order, ...".
    pub fn delivery_line(&self, delivery: &LatencySummary) -> String {
        format!(
            "delivered {}/{} ({}), {} missing, {} duplicate, {} out of order, {} disconnected, {} bad frames; \
             delivery p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; writes {:.1}/s of {}/s",
            self.tally.delivered,
            self.expected,
            self.delivered_pct
                .map_or_else(|| "n/a".to_string(), |p| format!("{p:.1}%")),
            self.tally.missing,
            self.tally.duplicates,
            self.tally.out_of_order,
            self.disconnects,
            self.bad_frames,
            delivery.p50_ms,
            delivery.p99_ms,
            delivery.max_ms,
            self.write_rate_achieved,
            self.write_rate_target
        )
    }
}

/// What [`run`] measured: the writers' engine result, the merged delivery
/// histogram and the summary.
pub struct FanoutRun {
    pub writes: RunResult,
    pub delivery: Histogram<u64>,
    pub summary: FanoutSummary,
}

/// The monotonic clock the due times in write bodies are expressed on.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A write's value: the only part of an event a subscriber reads besides its revision.
#[derive(Debug, Deserialize, Serialize)]
struct Stamp {
    seq: u64,
    /// Due time, µs since [`epoch`].
    due_us: u64,
}

/// A server frame, read lazily: only what the fan-out needs is parsed.
#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    revision: Option<u64>,
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    last_revision: Option<u64>,
}

/// Sent to the subscribers when the writers are done.
struct Stop {
    expected: SeqSet,
    deadline: Instant,
}

/// What one subscriber task found.
struct SubscriberRun {
    id: u64,
    tracker: DeliveryTracker,
    latency: Histogram<u64>,
    bad_frames: u64,
    first_bad: Option<String>,
    disconnect: Option<String>,
}

impl SubscriberRun {
    fn bad(&mut self, why: impl FnOnce() -> String) {
        self.bad_frames += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some(format!("subscriber {}: {}", self.id, why()));
        }
    }

    /// Handles one text frame received at `at`. Returns true when the frame
    /// was a fresh delivery of a write in `expected`.
    fn on_text(
        &mut self,
        text: &str,
        at: Instant,
        prefix: &str,
        planned: u64,
        expected: Option<&SeqSet>,
    ) -> bool {
        let frame: Frame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                self.bad(|| format!("unparsable frame ({e}): {}", clip(text)));
                return false;
            }
        };
        match frame.kind.as_ref() {
            "context_updated" => {}
            // Dump notices go to every subscriber; pongs answer nothing we sent.
            "context_dumped" | "pong" | "subscribed" => return false,
            "error" if frame.code.as_deref() == Some("slow_consumer") => {
                self.disconnect.get_or_insert_with(|| {
                    format!(
                        "disconnected as a slow consumer (last_revision {}): {}",
                        frame
                            .last_revision
                            .map_or_else(|| "?".to_string(), |r| r.to_string()),
                        frame.error.as_deref().unwrap_or("")
                    )
                });
                return false;
            }
            _ => {
                self.bad(|| format!("unexpected frame: {}", clip(text)));
                return false;
            }
        }
        let stamp = match (&frame.key, frame.revision, frame.value) {
            (Some(k), Some(rev), Some(v)) if k.starts_with(prefix) => {
                serde_json::from_str::<Stamp>(v.get()).map(|s| (s, rev))
            }
            _ => {
                self.bad(|| format!("event outside the run or incomplete: {}", clip(text)));
                return false;
            }
        };
        let (stamp, revision) = match stamp {
            Ok(s) if s.0.seq < planned => s,
            _ => {
                self.bad(|| format!("event without a valid write stamp: {}", clip(text)));
                return false;
            }
        };
        let arrival = self.tracker.observe(stamp.seq, revision);
        if arrival == Arrival::Duplicate {
            return false;
        }
        let due = epoch() + Duration::from_micros(stamp.due_us);
        self.latency.saturating_record(us_between(due, at));
        expected.is_some_and(|e| e.contains(stamp.seq))
    }
}

fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and subscribes; returns once the `subscribed` answer arrived.
async fn subscribe(url: &str, prefix: &str) -> Result<Socket, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .map_err(|e| format!("connect to {url}: {e}"))?;
    let msg = json!({"type": "subscribe", "prefixes": [prefix]});
    ws.send(Message::text(msg.to_string()))
        .await
        .map_err(|e| format!("send subscribe: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                match serde_json::from_str::<Frame>(t.as_str()) {
                    Ok(f) if f.kind == "subscribed" => return Ok(ws),
                    // Nothing of ours can precede the answer; anything else is a refusal.
                    _ => return Err(format!("subscribe answered with {}", clip(t.as_str()))),
                }
            }
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed before subscribing: {}", close_reason(f)));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("before subscribing: {e}")),
            None => return Err("connection ended before subscribing".into()),
        }
    }
}

fn close_reason(f: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match f {
        Some(f) => format!("close {} {:?}", u16::from(f.code), f.reason.as_str()),
        None => "close without a reason".into(),
    }
}

/// One subscriber: subscribe, signal `ready`, then read until every expected
/// write arrived, the drain deadline passed, or the connection ended.
async fn subscriber(
    id: u64,
    url: String,
    prefix: String,
    planned: u64,
    setup_timeout: Duration,
    ready: oneshot::Sender<()>,
    mut stop: watch::Receiver<Option<Arc<Stop>>>,
) -> SubscriberRun {
    let mut me = SubscriberRun {
        id,
        tracker: DeliveryTracker::default(),
        latency: engine::new_histogram(),
        bad_frames: 0,
        first_bad: None,
        disconnect: None,
    };
    let ws = tokio::time::timeout(setup_timeout, subscribe(&url, &prefix)).await;
    let _ = ready.send(());
    let mut ws = match ws {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            me.disconnect = Some(format!("could not subscribe: {e}"));
            return me;
        }
        Err(_) => {
            me.disconnect = Some(format!(
                "could not subscribe within {} s",
                setup_timeout.as_secs_f64()
            ));
            return me;
        }
    };
    // Known once the writers are done: the expected set, and how many of it
    // are still missing here.
    let mut wanted: Option<(Arc<Stop>, u64)> = None;
    let drain = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(drain);
    loop {
        if matches!(wanted, Some((_, 0))) {
            break;
        }
        tokio::select! {
            msg = ws.next() => {
                let at = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let expected = wanted.as_ref().map(|(s, _)| &s.expected);
                        if me.on_text(t.as_str(), at, &prefix, planned, expected)
                            && let Some((_, missing)) = wanted.as_mut()
                        {
                            *missing -= 1;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => me.bad(|| "binary frame".into()),
                    Some(Ok(Message::Close(f))) => {
                        let reason = close_reason(f);
                        me.disconnect.get_or_insert_with(|| format!("closed by the server: {reason}"));
                        break;
                    }
                    Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                    Some(Err(e)) => {
                        me.disconnect.get_or_insert_with(|| format!("connection lost: {e}"));
                        break;
                    }
                    None => {
                        me.disconnect.get_or_insert_with(|| "connection ended".into());
                        break;
                    }
                }
            }
            changed = stop.changed(), if wanted.is_none() => {
                if changed.is_err() {
                    break; // the run is gone
                }
                let s = stop.borrow_and_update().clone();
                if let Some(s) = s {
                    let missing = s.expected.len() - me.tracker.seen().common(&s.expected);
                    drain.as_mut().reset(s.deadline.into());
                    wanted = Some((s, missing));
                }
            }
            () = &mut drain, if wanted.is_some() => break,
        }
    }
    if me.disconnect.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    me
}

/// A token unique to this run, so the subscribed prefix is ours alone.
fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff)
}

/// Runs the fan-out: subscribers first, then the writers, then the drain.
/// Per-write and per-frame failures are counted, never fatal.
pub async fn run(
    target: &Target,
    spec: &FanoutSpec,
    subscribers: u64,
    timeout: Duration,
    progress: Arc<Progress>,
) -> Result<FanoutRun, LoadError> {
    let spec = &FanoutSpec {
        drain: spec.drain.min(timeout),
        ..spec.clone()
    };
    // Fix the clock's origin before any due time is taken on it.
    let _ = epoch();
    let planned = spec.planned_writes();
    let prefix = format!("{}{}.", spec.prefix, run_token());
    let url = target.ws_url("ws");
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut set = tokio::task::JoinSet::new();
    let mut readies = Vec::new();
    for id in 0..subscribers {
        let (ready_tx, ready_rx) = oneshot::channel();
        readies.push(ready_rx);
        set.spawn(subscriber(
            id,
            url.clone(),
            prefix.clone(),
            planned,
            timeout,
            ready_tx,
            stop_rx.clone(),
        ));
    }
    // Each subscriber bounds its own set-up by `timeout`, then reports.
    for r in readies {
        let _ = r.await;
    }

    // Writers: the engine's open loop. The hook marks the writes that got a 2xx.
    let writers = spec.writers.max(1);
    let ok_bits: Arc<Vec<AtomicU64>> = Arc::new(
        (0..planned.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let mut cfg = EngineConfig::new(
        target.clone(),
        Mode::Open {
            clients: writers,
            rate: spec.rate,
            duration: spec.duration,
        },
    );
    cfg.timeout = timeout;
    let start = Instant::now();
    cfg.start = Some(start);
    let bits = ok_bits.clone();
    cfg.on_complete = Some(Arc::new(move |c, o, ok| {
        let seq = o * writers + c;
        if ok && let Some(w) = bits.get((seq / 64) as usize) {
            w.fetch_or(1 << (seq % 64), Ordering::Relaxed);
        }
    }));
    let (rate, keys, key_prefix) = (spec.rate, spec.keys.max(1), prefix.clone());
    let start_us = us_between(epoch(), start);
    // Write `seq` goes to writer `seq % writers` as its op `seq / writers`,
    // due at start + seq / rate: the engine's own schedule.
    let generator = Arc::new(move |c: u64, o: u64| {
        let seq = o * writers + c;
        let due_us = start_us + (seq as f64 * 1e6 / rate) as u64;
        Request::post_json(
            "ctx",
            &json!({
                "key": format!("{key_prefix}{}", seq % keys),
                "value": Stamp { seq, due_us },
                "who": format!("ws_fanout_writer_{c}"),
            }),
        )
    });
    let writes = engine::run(&cfg, generator, progress).await?;

    let mut expected = SeqSet::default();
    for (w, word) in ok_bits.iter().enumerate() {
        let mut v = word.load(Ordering::Relaxed);
        while v != 0 {
            expected.insert(w as u64 * 64 + u64::from(v.trailing_zeros()));
            v &= v - 1;
        }
    }
    let _ = stop_tx.send(Some(Arc::new(Stop {
        expected: expected.clone(),
        deadline: Instant::now() + spec.drain,
    })));
    let mut runs = Vec::new();
    while let Some(r) = set.join_next().await {
        runs.push(r.map_err(|e| LoadError::Internal(format!("fan-out subscriber failed: {e}")))?);
    }
    runs.sort_by_key(|r| r.id);
    Ok(summarise(
        spec,
        subscribers,
        prefix,
        writes,
        &expected,
        runs,
    ))
}

fn summarise(
    spec: &FanoutSpec,
    subscribers: u64,
    prefix: String,
    writes: RunResult,
    expected: &SeqSet,
    runs: Vec<SubscriberRun>,
) -> FanoutRun {
    let mut delivery = engine::new_histogram();
    let mut total = Tally::default();
    let (mut bad_frames, mut disconnects, mut complete) = (0, 0, 0);
    let mut first_problem = None;
    let mut per_subscriber = Vec::with_capacity(runs.len());
    for r in runs {
        // Same bounds on both sides: adding cannot go out of range.
        let _ = delivery.add(&r.latency);
        let tally = r.tracker.tally(expected);
        total.add(&tally);
        bad_frames += r.bad_frames;
        disconnects += u64::from(r.disconnect.is_some());
        complete += u64::from(tally.is_clean() && r.disconnect.is_none());
        if first_problem.is_none() {
            first_problem = r
                .disconnect
                .as_ref()
                .map(|d| format!("subscriber {}: {d}", r.id))
                .or_else(|| r.first_bad.clone());
        }
        let l = LatencySummary::from_histogram(&r.latency);
        per_subscriber.push(SubscriberSummary {
            id: r.id,
            tally,
            bad_frames: r.bad_frames,
            p50_ms: l.p50_ms,
            p99_ms: l.p99_ms,
            max_ms: l.max_ms,
            disconnect: r.disconnect,
        });
    }
    let expected_total = expected.len() * subscribers;
    let secs = writes.elapsed.as_secs_f64();
    let summary = FanoutSummary {
        subscribers,
        writers: spec.writers.max(1),
        prefix,
        write_rate_target: spec.rate,
        write_rate_achieved: if secs > 0.0 {
            writes.attempted as f64 / secs
        } else {
            0.0
        },
        writes_planned: spec.planned_writes(),
        writes_sent: writes.attempted,
        writes_ok: writes.success,
        writes_late: writes.open.as_ref().map_or(0, |o| o.late),
        write_latency: LatencySummary::from_histogram(&writes.latency),
        write_latency_curve: percentile_curve(&writes.latency),
        expected: expected_total,
        tally: total,
        delivered_pct: (expected_total > 0)
            .then(|| total.delivered as f64 / expected_total as f64 * 100.0),
        bad_frames,
        disconnects,
        complete_subscribers: complete,
        drain_secs: spec.drain.as_secs_f64(),
        first_problem,
        per_subscriber,
    };
    FanoutRun {
        writes,
        delivery,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_set() {
        let mut s = SeqSet::default();
        assert!(s.insert(3) && s.insert(200) && !s.insert(3));
        assert_eq!(s.len(), 2);
        assert!(s.contains(200) && !s.contains(199) && !s.contains(100_000));
        let t: SeqSet = [3, 4, 200].into_iter().collect();
        assert_eq!(s.common(&t), 2);
        assert_eq!(t.common(&s), 2);
    }

    #[test]
    fn frames_that_do_not_parse_are_counted_not_fatal() {
        let mut r = SubscriberRun {
            id: 7,
            tracker: DeliveryTracker::default(),
            latency: engine::new_histogram(),
            bad_frames: 0,
            first_bad: None,
            disconnect: None,
        };
        let now = Instant::now();
        let p = "fanout.x.";
        for bad in [
            "not json",
            "[1,2]",
            r#"{"no":"type"}"#,
            r#"{"type":"context_updated","revision":5,"key":"other.1","value":{"seq":1,"due_us":0}}"#,
            r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":"one"}}"#,
            r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":99,"due_us":0}}"#,
            r#"{"type":"context_updated","key":"fanout.x.1","value":{"seq":1,"due_us":0}}"#,
            r#"{"type":"launch"}"#,
        ] {
            assert!(!r.on_text(bad, now, p, 10, None), "{bad}");
        }
        assert_eq!(r.bad_frames, 8);
        assert!(
            r.first_bad
                .as_deref()
                .is_some_and(|f| f.contains("not json"))
        );
        assert!(!r.on_text(r#"{"type":"pong","id":1}"#, now, p, 10, None));
        let expected: SeqSet = [1].into_iter().collect();
        let ok = r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":1,"due_us":0},"before":null,"who":"w","timestamp":"t"}"#;
        assert!(r.on_text(ok, now, p, 10, Some(&expected)));
        assert!(!r.on_text(ok, now, p, 10, Some(&expected)), "a duplicate");
        assert_eq!(r.bad_frames, 8);
        assert_eq!(r.latency.len(), 1);
        let slow = r#"{"type":"error","error":"slow consumer: ...","code":"slow_consumer","last_revision":5}"#;
        r.on_text(slow, now, p, 10, None);
        assert!(
            r.disconnect
                .as_deref()
                .is_some_and(|d| d.contains("slow consumer") && d.contains("last_revision 5")),
            "{:?}",
            r.disconnect
        );
    }
}
