//! The two client loops. Each is one tokio task with its own connection and
//! recorder; the hot path is "generate, send, drain, record" and nothing more.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::client::{Client, Inspect};
use super::recorder::Recorder;
use super::{CompletionHook, EngineConfig, Progress, RequestGenerator};
use crate::model::{ContentCheckTally, WorkerShare};

/// What every client task of a run shares.
#[derive(Clone)]
pub(super) struct Shared {
    pub cfg: Arc<EngineConfig>,
    pub generator: RequestGenerator,
    pub progress: Arc<Progress>,
    pub start: Instant,
}

impl Shared {
    fn hook(&self) -> Option<&CompletionHook> {
        self.cfg.on_complete.as_ref()
    }

    fn checks(&self) -> &[String] {
        self.cfg.inspection.as_ref().map_or(&[], |i| &i.names)
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
    let mut recorder = Recorder::new(
        shared.start,
        shared.progress.clone(),
        false,
        shared.checks(),
    );
    let mut client = Client::new(shared.cfg.target.clone());
    let timeout = shared.cfg.timeout;
    for op_id in 0..ops_per_client {
        let request = (shared.generator)(client_id, op_id);
        let sent = Instant::now();
        let inspect = shared.inspect(&mut recorder.content);
        let outcome = client.execute(&request, timeout, inspect).await;
        let done = Instant::now();
        let connect = client.take_connect_time();
        let ok = recorder.record(&request, outcome, sent, sent, done, connect);
        if let Some(hook) = shared.hook() {
            hook(client_id, op_id, ok);
        }
        if deadline.is_some_and(|deadline| done >= deadline) {
            break;
        }
    }
    recorder
}

/// The open-loop schedule: `planned` requests in all, request `g` due at
/// `start + g / rate`, dealt round-robin to the workers of `share` (worker I
/// sends the `g` with `g % workers == I`) and, within a worker, to its
/// `clients` in turn.
#[derive(Clone, Copy)]
pub(super) struct Schedule {
    pub clients: u64,
    pub rate: f64,
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
        rate,
        planned,
        send_deadline,
        ..
    } = schedule;
    let step = schedule.clients * schedule.share.workers;
    let start = shared.start;
    let mut recorder = Recorder::new(start, shared.progress.clone(), true, shared.checks());
    let mut client = Client::new(shared.cfg.target.clone());
    let (timeout, slack) = (shared.cfg.timeout, shared.cfg.late_slack);
    let mut g = schedule.share.index + client_id * schedule.share.workers;
    let mut op_id = 0;
    let mut prev_done = start;
    while g < planned {
        let intended = start + Duration::from_secs_f64(g as f64 / rate);
        let request = (shared.generator)(client_id, op_id);
        if Instant::now() < intended {
            tokio::time::sleep_until(intended.into()).await;
        }
        let sent = Instant::now();
        if sent > send_deadline {
            // The rest of this client's schedule can no longer be sent.
            let remaining = (planned - g).div_ceil(step);
            recorder.errors.dropped += remaining;
            shared.progress.done.fetch_add(remaining, Ordering::Relaxed);
            shared
                .progress
                .errors
                .fetch_add(remaining, Ordering::Relaxed);
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
        let ok = recorder.record(&request, outcome, timed_from, sent, done, connect);
        if let Some(hook) = shared.hook() {
            hook(client_id, op_id, ok);
        }
        prev_done = done;
        g += step;
        op_id += 1;
    }
    recorder
}
