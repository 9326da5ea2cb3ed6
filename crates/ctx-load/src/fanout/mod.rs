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

mod subscriber;
mod tracker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::{oneshot, watch};

pub use tracker::{Arrival, DeliveryTracker, SeqSet};

use crate::engine::{self, EngineConfig, Mode, Progress, Request, RunResult, Target};
use crate::error::LoadError;
use crate::model::{
    FanoutSummary, LatencySummary, PerformanceMetrics, RunMode, SubscriberSummary, Tally,
    new_histogram, percentile_curve, us_between,
};
use subscriber::{Stamp, Stop, SubscriberRun, epoch};

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

/// What [`run`] measured: the writers' engine result, the merged delivery
/// histogram and the summary.
pub struct FanoutRun {
    pub writes: RunResult,
    pub delivery: Histogram<u64>,
    pub summary: FanoutSummary,
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
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut set = tokio::task::JoinSet::new();
    let mut readies = Vec::new();
    for id in 0..subscribers {
        let (ready_tx, ready_rx) = oneshot::channel();
        readies.push(ready_rx);
        set.spawn(subscriber::subscriber(
            id,
            target.clone(),
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
    let mut delivery = new_histogram();
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

impl FanoutRun {
    /// The scenario's figures: the writers' run, except that the latency
    /// becomes write-to-delivery, and the writes' own latency and rates move
    /// into `fanout`.
    pub fn metrics(
        &self,
        name: &str,
        subscribers: u64,
        late_slack_ms: f64,
        resources: Option<crate::model::ResourceUsage>,
    ) -> PerformanceMetrics {
        let mut metrics =
            self.writes
                .metrics(name, subscribers, None, late_slack_ms, resources, None);
        metrics.mode = RunMode::Fanout;
        metrics.open_loop = None;
        metrics.latency = LatencySummary::from_histogram(&self.delivery);
        metrics.latency_curve = percentile_curve(&self.delivery);
        metrics.fanout = Some(self.summary.clone());
        metrics
    }
}
