//! The load engine: N concurrent clients, each a tokio task with its own
//! keep-alive HTTP/1.1 connection, driving requests from a generator.
//!
//! Why a hand-rolled HTTP/1.1 exchange ([`http1`]) instead of a pooled client
//! (reqwest, hyper-util's legacy client) or hyper's connection API? A pool adds
//! a lock, a map lookup and an extra task hop per request, and hides which
//! connection a request rode on; hyper's connection passes each request and
//! answer through channels. One connection per client task keeps the hot loop
//! to "encode request, send, read answer, record", which matters when the
//! engine must not be the bottleneck it is trying to measure.
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
mod config;
mod http1;
mod lanes;
mod live;
mod loops;
pub mod monitor;
mod ramp;
mod recorder;
mod result;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use client::{one_shot, run_setup};
pub use config::{
    CompletionHook, EngineConfig, Inspection, Mode, OpenLoop, Request, RequestGenerator,
    ResponseJudge,
};
pub use lanes::default_lanes;
pub use live::Progress;
pub use ramp::Ramp;
pub use result::{OpenLoopResult, RunResult};
pub(crate) use target::OpenError;
pub use target::{Target, parse_header};

use crate::error::LoadError;
use crate::model::{ContentCheckTally, ErrorBreakdown, SecondBucket, TimelineTally, new_histogram};

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
    let (stages, stage_latency) = match (cfg.mode.plan(), stage_tallies) {
        (Some(plan), Some((_, tallies))) => {
            let tallies = tallies
                .lock()
                .map_err(|_| LoadError::Internal("a load worker panicked".into()))?;
            let latency = tallies.iter().map(|t| t.latency.clone()).collect();
            (ramp::stage_figures(plan, &tallies), latency)
        }
        _ => (Vec::new(), Vec::new()),
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
        stage_latency,
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
