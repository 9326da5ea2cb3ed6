//! The client loops (closed, staged closed, open). Each is one tokio task
//! with its own connection and recorder; the hot path is "generate, send,
//! drain, record" and nothing more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::{Client, Inspect};
use super::ramp::Ramp;
use super::recorder::{Recorder, SharedTallies, StageRecorder};
use super::{CompletionHook, EngineConfig, Progress, RequestGenerator};
use crate::model::{ContentCheckTally, WorkerShare};

/// What every client task of a run shares.
#[derive(Clone)]
pub(super) struct Shared {
    pub cfg: Arc<EngineConfig>,
    pub generator: RequestGenerator,
    pub progress: Arc<Progress>,
    pub start: Instant,
    /// A staged run: stage ends (seconds from `start`) and the run's per-stage tallies.
    pub stages: Option<(Arc<[f64]>, SharedTallies)>,
    /// Set when the run is abandoned (see `lanes::StopOnDrop`): clients stop
    /// before their next request.
    pub stop: Arc<AtomicBool>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn recorder(&self, open_loop: bool) -> Recorder {
        let mut recorder =
            Recorder::new(self.start, self.progress.clone(), open_loop, self.checks());
        recorder.stages = self
            .stages
            .as_ref()
            .map(|(ends, shared)| StageRecorder::new(ends.clone(), shared.clone()));
        recorder
    }

    /// A closed-loop client's pause between two requests (`think_time`).
    async fn think(&self) {
        if let Some(think) = self.cfg.think_time {
            tokio::time::sleep(think).await;
        }
    }

    fn hook(&self) -> Option<&CompletionHook> {
        self.cfg.on_complete.as_ref()
    }

    fn checks(&self) -> &[String] {
        self.cfg.inspection.as_ref().map_or(&[], |i| &i.names)
    }

    /// One closed-loop request, sent now and timed from its send; returns
    /// when it was answered.
    async fn send_now(
        &self,
        client: &mut Client,
        recorder: &mut Recorder,
        client_id: u64,
        op_id: u64,
    ) -> Instant {
        let request = (self.generator)(client_id, op_id);
        let sent = Instant::now();
        let inspect = self.inspect(&mut recorder.content);
        let outcome = client.execute(&request, self.cfg.timeout, inspect).await;
        let done = Instant::now();
        let connect = client.take_connect_time();
        let ok = recorder.record(&request, outcome, sent, sent, sent, done, connect);
        if let Some(hook) = self.hook() {
            hook(client_id, op_id, ok);
        }
        done
    }

    /// The content checks for one answer, counted into `tallies`.
    fn inspect<'a>(&'a self, tallies: &'a mut [ContentCheckTally]) -> Inspect<'a> {
        self.cfg.inspection.as_deref().map(|i| (i, tallies))
    }
}

/// Closed loop: `ops_per_client` requests back to back (or until
/// `deadline`), each timed from its actual send.
pub(super) async fn closed(
    shared: Shared,
    client_id: u64,
    ops_per_client: u64,
    deadline: Option<Instant>,
) -> Recorder {
    let mut recorder = shared.recorder(false);
    let mut client = Client::new(shared.cfg.target.clone());
    for op_id in 0..ops_per_client {
        if shared.stopped() {
            break;
        }
        if op_id > 0 {
            shared.think().await;
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                break;
            }
        }
        let done = shared
            .send_now(&mut client, &mut recorder, client_id, op_id)
            .await;
        if deadline.is_some_and(|deadline| done >= deadline) {
            break;
        }
    }
    recorder
}

/// Staged closed loop: client `client_id` sends back to back (with its think
/// time) while the plan's level is above its id, so the number of active
/// clients follows the plan; a client whose turn is over finishes its request
/// and waits until it is needed again, or stops when it never will be.
pub(super) async fn closed_staged(shared: Shared, client_id: u64, ramp: Arc<Ramp>) -> Recorder {
    let mut recorder = shared.recorder(false);
    let mut client = Client::new(shared.cfg.target.clone());
    let start = shared.start;
    let end = ramp.duration();
    let needed = (client_id + 1) as f64;
    let mut op_id = 0;
    loop {
        let now = Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64();
        if now >= end || shared.stopped() {
            break;
        }
        let Some(active_from) = ramp.first_reaching(needed, now) else {
            break;
        };
        if active_from > now {
            // Not needed yet (or any more, for a while): no request meanwhile.
            tokio::time::sleep_until((start + Duration::from_secs_f64(active_from)).into()).await;
            if active_from >= end {
                break;
            }
        }
        shared
            .send_now(&mut client, &mut recorder, client_id, op_id)
            .await;
        op_id += 1;
        shared.think().await;
    }
    recorder
}

/// When each request of an open loop is due.
#[derive(Clone)]
pub(super) enum Pace {
    /// `rate` requests per second: request `g` at `g / rate`.
    Even(f64),
    /// A staged rate: request `g` when the rate's integral reaches `g`.
    Ramp(Arc<Ramp>),
}

impl Pace {
    /// When request `g` is due, from the start of the run.
    fn due(&self, g: u64) -> Duration {
        let secs = match self {
            Pace::Even(rate) => g as f64 / rate,
            Pace::Ramp(ramp) => ramp.due(g as f64),
        };
        Duration::from_secs_f64(secs)
    }
}

/// The open-loop schedule: `planned` requests in all, request `g` due at
/// `start + pace.due(g)`, dealt round-robin to the workers of `share` (worker I
/// sends the `g` with `g % workers == I`) and, within a worker, to its
/// `clients` in turn.
#[derive(Clone)]
pub(super) struct Schedule {
    pub clients: u64,
    pub pace: Pace,
    pub planned: u64,
    pub share: WorkerShare,
    /// Requests not sent by then are dropped.
    pub send_deadline: Instant,
}

/// Open loop: this client sends the schedule's requests
/// `g = index + workers × (client_id + k × clients)` (an even, phase-shifted
/// schedule per client); each is timed from its due time.
pub(super) async fn open(shared: Shared, client_id: u64, schedule: Schedule) -> Recorder {
    let Schedule {
        pace,
        planned,
        send_deadline,
        ..
    } = &schedule;
    let (planned, send_deadline) = (*planned, *send_deadline);
    let step = schedule.clients * schedule.share.workers;
    let start = shared.start;
    let mut recorder = shared.recorder(true);
    let mut client = Client::new(shared.cfg.target.clone());
    let (timeout, slack) = (shared.cfg.timeout, shared.cfg.late_slack);
    let mut g = schedule.share.index + client_id * schedule.share.workers;
    let mut op_id = 0;
    let mut prev_done = start;
    while g < planned && !shared.stopped() {
        let intended = start + pace.due(g);
        let request = (shared.generator)(client_id, op_id);
        if Instant::now() < intended {
            tokio::time::sleep_until(intended.into()).await;
        }
        let sent = Instant::now();
        if sent > send_deadline {
            // The rest of this client's schedule can no longer be sent.
            let remaining = (planned - g).div_ceil(step);
            recorder.errors.dropped += remaining;
            recorder.progress.add_dropped(remaining);
            break;
        }
        if sent.saturating_duration_since(intended) > slack {
            recorder.late += 1;
        }
        // Corrected latency counts from the due time, minus only the delay
        // that was this client's own: time during which it was free (previous
        // answer in, due time reached) but had not sent yet — timer
        // granularity, scheduling. Time spent waiting for the server's
        // previous answer counts.
        let ready = intended.max(prev_done);
        let timed_from = intended + sent.saturating_duration_since(ready);
        let inspect = shared.inspect(&mut recorder.content);
        let outcome = client.execute(&request, timeout, inspect).await;
        let done = Instant::now();
        let connect = client.take_connect_time();
        let ok = recorder.record(&request, outcome, intended, timed_from, sent, done, connect);
        if let Some(hook) = shared.hook() {
            hook(client_id, op_id, ok);
        }
        prev_done = done;
        g += step;
        op_id += 1;
    }
    recorder
}
