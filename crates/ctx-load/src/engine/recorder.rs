//! A worker's recorder: everything one client task measures, merged with the
//! others' at the end (no shared state on the hot path but the progress counters).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::Progress;
use super::Request;
use super::client::Outcome;
use crate::model::{ContentCheckTally, ErrorBreakdown, SecondBucket, new_histogram, us_between};

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
    pub(super) last_completion: Instant,
    pub(super) progress: Arc<Progress>,
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
            last_completion: start,
            progress,
        }
    }

    /// Records one finished request. `timed_from` is the actual send time
    /// (closed loop) or the intended send time (open loop); `sent` is the
    /// actual send time (for the uncorrected histogram). Returns whether it
    /// succeeded.
    pub(super) fn record(
        &mut self,
        req: &Request,
        outcome: Outcome,
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
        let ok = match outcome {
            Outcome::Answered(status) => {
                self.latency
                    .saturating_record(us_between(timed_from + connect, done));
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
