//! A worker's recorder: everything one client task measures, merged with the
//! others' at the end (no shared state on the hot path; the progress line's
//! counters get a batch ten times a second).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::Progress;
use super::Request;
use super::client::Outcome;
use super::live::PendingProgress;
use crate::model::{
    ContentCheckTally, ErrorBreakdown, SecondBucket, TimelineTally, new_histogram, us_between,
};

/// Per-worker recorder: everything a worker measures, merged at the end.
pub(super) struct Recorder {
    pub(super) start: Instant,
    pub(super) latency: Histogram<u64>,
    /// Content-check tallies (empty without checks).
    pub(super) content: Vec<ContentCheckTally>,
    /// Connection set-up times (one per connection opened).
    pub(super) connect: Histogram<u64>,
    /// Open loop only: closed-loop latency is already "uncorrected".
    pub(super) uncorrected: Option<Histogram<u64>>,
    pub(super) success: u64,
    pub(super) attempted: u64,
    pub(super) late: u64,
    pub(super) errors: ErrorBreakdown,
    pub(super) per_second: Vec<SecondBucket>,
    pub(super) timeline: TimelineTally,
    pub(super) last_completion: Instant,
    /// Answers not yet shown to the progress line.
    pub(super) progress: PendingProgress,
    /// A staged run: the per-stage figures.
    pub(super) stages: Option<StageRecorder>,
}

/// The run's tallies, one per stage, that clients add theirs to.
pub(super) type SharedTallies = Arc<Mutex<Vec<StageTally>>>;

/// One stage's requests, success and latency.
pub(super) struct StageTally {
    pub(super) latency: Histogram<u64>,
    pub(super) requests: u64,
    pub(super) success: u64,
}

impl StageTally {
    pub(super) fn new() -> Self {
        StageTally {
            latency: new_histogram(),
            requests: 0,
            success: 0,
        }
    }

    fn add(&mut self, other: &StageTally) {
        // Same bounds on both sides: adding cannot go out of range.
        let _ = self.latency.add(&other.latency);
        self.requests += other.requests;
        self.success += other.success;
    }
}

/// A client's figures of the stage it is in, added to the run's (`shared`,
/// one tally per stage) when it moves on to the next stage and at the end.
/// A client's requests go through the stages in order, so each client holds
/// one stage's histogram at a time (a histogram per stage per client would
/// cost ~190 KB each: 100 clients × 5 stages ≈ 95 MB).
pub(super) struct StageRecorder {
    /// Stage ends, seconds from the start.
    ends: Arc<[f64]>,
    current: usize,
    tally: StageTally,
    shared: SharedTallies,
}

impl StageRecorder {
    pub(super) fn new(ends: Arc<[f64]>, shared: SharedTallies) -> Self {
        StageRecorder {
            ends,
            current: 0,
            tally: StageTally::new(),
            shared,
        }
    }

    fn tally_for(&mut self, offset_secs: f64) -> &mut StageTally {
        let stage = self
            .ends
            .iter()
            .position(|&end| offset_secs < end)
            .unwrap_or(self.ends.len().saturating_sub(1));
        if stage != self.current {
            self.flush();
            self.current = stage;
        }
        &mut self.tally
    }

    /// Adds this client's figures of its current stage to the run's.
    pub(super) fn flush(&mut self) {
        if self.tally.requests == 0 {
            return;
        }
        // A poisoned lock means another client panicked; the engine reports that.
        if let Ok(mut shared) = self.shared.lock()
            && let Some(total) = shared.get_mut(self.current)
        {
            total.add(&self.tally);
        }
        self.tally = StageTally::new();
    }
}

impl Recorder {
    pub(super) fn new(
        start: Instant,
        progress: Arc<Progress>,
        open_loop: bool,
        checks: &[String],
    ) -> Self {
        Recorder {
            start,
            latency: new_histogram(),
            connect: new_histogram(),
            content: checks
                .iter()
                .map(|name| ContentCheckTally::new(name))
                .collect(),
            uncorrected: open_loop.then(new_histogram),
            success: 0,
            attempted: 0,
            late: 0,
            errors: ErrorBreakdown::default(),
            per_second: Vec::new(),
            timeline: TimelineTally::default(),
            last_completion: start,
            progress: PendingProgress::new(progress, start),
            stages: None,
        }
    }

    /// Records one finished request. `timed_from` is the actual send time
    /// (closed loop) or the intended send time (open loop); `sent` is the
    /// actual send time (for the uncorrected histogram); `due` puts it in its
    /// stage: the open loop's due time, the closed loop's send time. Returns
    /// whether it succeeded.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record(
        &mut self,
        req: &Request,
        outcome: Outcome,
        due: Instant,
        timed_from: Instant,
        sent: Instant,
        done: Instant,
        connect: Option<Duration>,
    ) -> bool {
        self.attempted += 1;
        self.last_completion = self.last_completion.max(done);
        // Connection set-up is measured apart: latency starts once connected.
        let connect = connect.unwrap_or_default();
        if !connect.is_zero() {
            self.connect
                .saturating_record(us_between(sent, sent + connect));
        }
        let mut answered_in = None;
        let ok = match outcome {
            Outcome::Answered(status) => {
                let latency = us_between(timed_from + connect, done);
                answered_in = Some(latency);
                self.latency.saturating_record(latency);
                if let Some(h) = self.uncorrected.as_mut() {
                    h.saturating_record(us_between(sent + connect, done));
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
        let since_start = done.saturating_duration_since(self.start);
        self.timeline
            .record(since_start.as_micros() as u64, ok, answered_in);
        let sec = since_start.as_secs() as usize;
        if self.per_second.len() <= sec {
            self.per_second.resize_with(sec + 1, SecondBucket::default);
        }
        if let Some(stages) = self.stages.as_mut() {
            let offset = due.saturating_duration_since(self.start).as_secs_f64();
            let tally = stages.tally_for(offset);
            tally.requests += 1;
            if ok {
                tally.success += 1;
            }
            if let Some(latency) = answered_in {
                tally.latency.saturating_record(latency);
            }
        }
        let bucket = &mut self.per_second[sec];
        if ok {
            self.success += 1;
            bucket.ok += 1;
        } else {
            bucket.errors += 1;
        }
        self.progress.record(ok, answered_in, done);
        ok
    }
}
