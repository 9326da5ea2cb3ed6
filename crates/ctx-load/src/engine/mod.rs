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
//! Two modes, each also in stages (a ramping arrival rate, a ramping number
//! of clients: [`Ramp`]):
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

mod client;
mod lanes;
mod live;
mod loops;
pub mod monitor;
mod ramp;
mod recorder;
mod target;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;

pub use client::{one_shot, run_setup};
pub use lanes::default_lanes;
pub use live::Progress;
pub use ramp::Ramp;
pub(crate) use target::OpenError;
pub use target::{Target, parse_header};

use crate::error::LoadError;
use crate::model::{
    ContentCheckTally, ErrorBreakdown, LatencySummary, OpenLoopSummary, PerformanceMetrics,
    RawHistograms, ResourceUsage, RunMode, SecondBucket, SetupSummary, StageFigures, StagePlan,
    Timeline, TimelineTally, WorkerShare, encode_histogram, new_histogram, percentile_curve,
};

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

/// Open-loop settings: `rate` requests per second in total for `duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenLoop {
    pub rate: f64,
    pub duration: Duration,
}

/// Counts one answer (status, headers, body — empty unless `needs_body`)
/// into per-check tallies, in the order of [`Inspection::names`].
pub type ResponseJudge =
    Arc<dyn Fn(u16, &hyper::HeaderMap, &[u8], &mut [ContentCheckTally]) + Send + Sync>;

/// Content checks to run on every answer (k6-style). Without any, answer
/// bodies are dropped frame by frame, unread: the hot path pays nothing.
pub struct Inspection {
    pub names: Vec<String>,
    /// A check reads the body (JSON): collect it.
    pub needs_body: bool,
    pub judge: ResponseJudge,
}

/// How the load is offered.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Each of `clients` sends `ops_per_client` requests back to back.
    Closed { clients: u64, ops_per_client: u64 },
    /// Each of `clients` sends requests back to back for `duration`, op ids
    /// counting up (a generator that should repeat cycles them itself).
    ClosedFor { clients: u64, duration: Duration },
    /// `rate` requests per second in total, spread evenly over `clients`
    /// connections, for `duration`.
    Open {
        clients: u64,
        rate: f64,
        duration: Duration,
    },
    /// Open loop whose total arrival rate follows `plan` (a [`crate::model::StageKind::Rate`]
    /// plan), spread evenly over `clients` connections.
    OpenStaged { clients: u64, plan: StagePlan },
    /// Closed loop whose number of active clients follows `plan` (a
    /// [`crate::model::StageKind::Clients`] plan; as many connections as its peak).
    ClosedStaged { plan: StagePlan },
}

impl Mode {
    /// The stages of a staged mode.
    pub fn plan(&self) -> Option<&StagePlan> {
        match self {
            Mode::OpenStaged { plan, .. } | Mode::ClosedStaged { plan } => Some(plan),
            _ => None,
        }
    }

    /// How long the load is planned to last; None when bounded by a request count.
    pub fn planned_duration(&self) -> Option<Duration> {
        match self {
            Mode::Closed { .. } => None,
            Mode::ClosedFor { duration, .. } | Mode::Open { duration, .. } => Some(*duration),
            Mode::OpenStaged { plan, .. } | Mode::ClosedStaged { plan } => {
                Duration::try_from_secs_f64(plan.total_secs()).ok()
            }
        }
    }

    /// Whether requests are timed from their intended send (open loop).
    pub fn is_open(&self) -> bool {
        matches!(self, Mode::Open { .. } | Mode::OpenStaged { .. })
    }
}

/// Engine settings for one run.
#[derive(Clone)]
pub struct EngineConfig {
    pub target: Target,
    pub mode: Mode,
    /// Per-request timeout, connection set-up included (default 30 s, as the seed).
    pub timeout: Duration,
    /// Closed loop: each client's pause after each answer (None: none).
    pub think_time: Option<Duration>,
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
    /// See [`Inspection`].
    pub inspection: Option<Arc<Inspection>>,
    /// Open loop: send only this worker's requests of the schedule (see
    /// [`WorkerShare`]); the clients of `mode` are this worker's own.
    pub share: WorkerShare,
    /// Threads the clients run on, each with its own runtime (see `lanes.rs`);
    /// 1 = on the caller's runtime. Default: one per core.
    pub lanes: usize,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("target", &self.target)
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("think_time", &self.think_time)
            .field("late_slack", &self.late_slack)
            .field("send_grace", &self.send_grace)
            .field("start", &self.start)
            .field("on_complete", &self.on_complete.is_some())
            .field("inspection", &self.inspection.as_ref().map(|i| &i.names))
            .field("share", &self.share)
            .field("lanes", &self.lanes)
            .finish()
    }
}

impl EngineConfig {
    pub fn new(target: Target, mode: Mode) -> Self {
        EngineConfig {
            target,
            mode,
            timeout: Duration::from_secs(30),
            think_time: None,
            late_slack: Duration::from_millis(10),
            send_grace: Duration::from_secs(5),
            start: None,
            on_complete: None,
            inspection: None,
            share: WorkerShare::WHOLE,
            lanes: default_lanes(),
        }
    }
}

/// Open-loop specifics.
#[derive(Clone, Debug)]
pub struct OpenLoopResult {
    /// This process's rate (a worker's: its share).
    pub target_rate: f64,
    /// A worker's: the whole run's rate (see `OpenLoopSummary::run_target_rate`).
    pub run_target_rate: Option<f64>,
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
    /// Connection set-up (TCP connect + HTTP handshake) of every connection
    /// opened, in µs; never part of `latency`.
    pub connect: Histogram<u64>,
    /// Content checks, per check (empty without an [`Inspection`]).
    pub content_checks: Vec<ContentCheckTally>,
    /// Wall time from the first scheduled request to the last completion.
    pub elapsed: Duration,
    pub per_second: Vec<SecondBucket>,
    pub timeline: Timeline,
    pub open: Option<OpenLoopResult>,
    /// A staged run: each stage's figures (empty otherwise).
    pub stages: Vec<StageFigures>,
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
    let ramp = cfg.mode.plan().map(|plan| Arc::new(Ramp::new(plan)));
    let stage_tallies = ramp.as_ref().map(|ramp| {
        let ends: Arc<[f64]> = ramp.ends().into();
        let tallies: Vec<recorder::StageTally> =
            ends.iter().map(|_| recorder::StageTally::new()).collect();
        (ends, Arc::new(std::sync::Mutex::new(tallies)))
    });
    let stop = lanes::StopOnDrop(Arc::new(AtomicBool::new(false)));
    let shared = loops::Shared {
        cfg: Arc::new(cfg.clone()),
        generator,
        progress: progress.clone(),
        start,
        stages: stage_tallies.clone(),
        stop: stop.0.clone(),
    };
    let mut tasks: Vec<lanes::ClientTask> = Vec::new();
    let open = match cfg.mode {
        Mode::Closed {
            clients,
            ops_per_client,
        } => {
            progress
                .total
                .store(clients * ops_per_client, Ordering::Relaxed);
            for client_id in 0..clients {
                tasks.push(Box::pin(loops::closed(
                    shared.clone(),
                    client_id,
                    ops_per_client,
                    None,
                )));
            }
            None
        }
        Mode::ClosedFor { clients, duration } => {
            progress.plan_duration(duration);
            let deadline = start + duration;
            for client_id in 0..clients {
                tasks.push(Box::pin(loops::closed(
                    shared.clone(),
                    client_id,
                    u64::MAX,
                    Some(deadline),
                )));
            }
            None
        }
        Mode::ClosedStaged { .. } => {
            let ramp = ramp
                .clone()
                .ok_or_else(|| LoadError::Internal("no ramp".into()))?;
            progress.plan_duration(Duration::from_secs_f64(ramp.duration()));
            for client_id in 0..ramp::ramp_clients(&ramp) {
                tasks.push(Box::pin(loops::closed_staged(
                    shared.clone(),
                    client_id,
                    ramp.clone(),
                )));
            }
            None
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
            let planned = (rate * duration.as_secs_f64()).floor() as u64;
            let pace = loops::Pace::Even(rate);
            spawn_open(&mut tasks, &shared, clients, pace, planned, duration);
            Some((rate, cfg.share.requests(planned)))
        }
        Mode::OpenStaged { clients, .. } => {
            let ramp = ramp
                .clone()
                .ok_or_else(|| LoadError::Internal("no ramp".into()))?;
            let planned = ramp.total().floor() as u64;
            let duration = Duration::from_secs_f64(ramp.duration());
            // The rate asked of the run: its average over the stages.
            let rate = planned as f64 / ramp.duration();
            spawn_open(
                &mut tasks,
                &shared,
                clients,
                loops::Pace::Ramp(ramp),
                planned,
                duration,
            );
            Some((rate, cfg.share.requests(planned)))
        }
    };
    if let Some((_, planned)) = open {
        progress.total.store(planned, Ordering::Relaxed);
    }

    let mut latency = new_histogram();
    let mut connect = new_histogram();
    let mut content_checks: Vec<ContentCheckTally> = cfg
        .inspection
        .as_ref()
        .map(|i| {
            i.names
                .iter()
                .map(|name| ContentCheckTally::new(name))
                .collect()
        })
        .unwrap_or_default();
    let mut uncorrected = new_histogram();
    let mut errors = ErrorBreakdown::default();
    let mut per_second: Vec<SecondBucket> = Vec::new();
    let mut timeline = TimelineTally::default();
    let (mut success, mut attempted, mut late) = (0, 0, 0);
    let mut last = start;
    let recorders = lanes::run(tasks, cfg.lanes).await?;
    drop(stop);
    for rec in recorders {
        // Same bounds on both sides: adding cannot go out of range.
        let _ = latency.add(&rec.latency);
        let _ = connect.add(&rec.connect);
        if let Some(h) = &rec.uncorrected {
            let _ = uncorrected.add(h);
        }
        errors.merge(&rec.errors);
        for (total, worker) in content_checks.iter_mut().zip(&rec.content) {
            total.add(worker);
        }
        if let Some(mut stages) = rec.stages {
            stages.flush();
        }
        success += rec.success;
        attempted += rec.attempted;
        late += rec.late;
        last = last.max(rec.last_completion);
        if per_second.len() < rec.per_second.len() {
            per_second.resize_with(rec.per_second.len(), SecondBucket::default);
        }
        for (acc, bucket) in per_second.iter_mut().zip(&rec.per_second) {
            acc.ok += bucket.ok;
            acc.errors += bucket.errors;
        }
        timeline.merge(&rec.timeline);
    }
    for (i, bucket) in per_second.iter_mut().enumerate() {
        bucket.second = i as u64;
    }
    let open = open.map(|(rate, planned)| OpenLoopResult {
        target_rate: rate / cfg.share.workers as f64,
        run_target_rate: (!cfg.share.is_whole()).then_some(rate),
        planned,
        sent: attempted,
        late,
        uncorrected,
    });
    let stages = match (cfg.mode.plan(), stage_tallies) {
        (Some(plan), Some((_, tallies))) => {
            let tallies = tallies
                .lock()
                .map_err(|_| LoadError::Internal("a load worker panicked".into()))?;
            ramp::stage_figures(plan, &tallies)
        }
        _ => Vec::new(),
    };
    Ok(RunResult {
        attempted,
        success,
        errors,
        latency,
        connect,
        content_checks,
        elapsed: last.saturating_duration_since(start),
        per_second,
        timeline: timeline.timeline(),
        open,
        stages,
    })
}

/// Spawns the open loop's clients over the schedule `pace` × `planned`.
fn spawn_open(
    tasks: &mut Vec<lanes::ClientTask>,
    shared: &loops::Shared,
    clients: u64,
    pace: loops::Pace,
    planned: u64,
    duration: Duration,
) {
    let clients = clients.max(1);
    shared.progress.plan_duration(duration);
    let schedule = loops::Schedule {
        clients,
        pace,
        planned,
        share: shared.cfg.share,
        send_deadline: shared.start + duration + shared.cfg.send_grace,
    };
    for client_id in 0..clients {
        tasks.push(Box::pin(loops::open(
            shared.clone(),
            client_id,
            schedule.clone(),
        )));
    }
}

impl RunResult {
    /// The histograms behind the figures, encoded for report.json (see
    /// [`RawHistograms`]).
    pub fn raw_histograms(&self) -> Result<RawHistograms, String> {
        Ok(RawHistograms {
            latency: encode_histogram(&self.latency)?,
            connect: encode_histogram(&self.connect)?,
            uncorrected: match &self.open {
                Some(open) => Some(encode_histogram(&open.uncorrected)?),
                None => None,
            },
        })
    }

    /// The scenario's figures from this run and (optionally) the monitor's findings.
    pub fn metrics(
        &self,
        name: &str,
        clients: u64,
        ops_per_client: Option<u64>,
        late_slack_ms: f64,
        resources: Option<ResourceUsage>,
        setup: Option<SetupSummary>,
    ) -> PerformanceMetrics {
        let duration_secs = self.elapsed.as_secs_f64();
        let total_operations = match &self.open {
            Some(open) => open.planned,
            None => self.attempted,
        };
        let success_rate_pct = if total_operations == 0 {
            0.0
        } else {
            self.success as f64 / total_operations as f64 * 100.0
        };
        let throughput_ops_sec = if duration_secs > 0.0 {
            self.attempted as f64 / duration_secs
        } else {
            0.0
        };
        let open_loop = self.open.as_ref().map(|open| OpenLoopSummary {
            target_rate: open.target_rate,
            run_target_rate: open.run_target_rate,
            achieved_rate: throughput_ops_sec,
            planned: open.planned,
            sent: open.sent,
            late: open.late,
            late_slack_ms,
            dropped: self.errors.dropped,
            uncorrected: LatencySummary::from_histogram(&open.uncorrected),
            uncorrected_curve: percentile_curve(&open.uncorrected),
        });
        PerformanceMetrics {
            operation_type: name.to_string(),
            mode: if self.open.is_some() {
                RunMode::Open
            } else {
                RunMode::Closed
            },
            clients,
            ops_per_client,
            total_operations,
            duration_secs,
            success_count: self.success,
            error_count: self.errors.total(),
            errors: self.errors.clone(),
            success_rate_pct,
            throughput_ops_sec,
            latency: LatencySummary::from_histogram(&self.latency),
            connect: LatencySummary::from_histogram(&self.connect),
            latency_curve: percentile_curve(&self.latency),
            open_loop,
            peak_memory_mb: resources.as_ref().and_then(|r| r.peak_rss_mb),
            avg_cpu_percent: resources.as_ref().and_then(|r| r.avg_cpu_percent),
            resources,
            throughput_series: self.per_second.clone(),
            timeline: self.timeline.clone(),
            setup,
            content_checks: self.content_checks.clone(),
            fanout: None,
            stages: self.stages.clone(),
        }
    }
}
