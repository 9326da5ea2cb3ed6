//! What a progress display reads while a run goes on: shared atomic counters
//! that each client task adds its answers to in batches ([`PendingProgress`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::model::{LATENCY_BIN_COUNT, bin_middle_us, bin_of};

/// Live counters of one scenario.
#[derive(Debug)]
pub struct Progress {
    /// Requests finished (answered, failed or dropped).
    pub done: AtomicU64,
    pub errors: AtomicU64,
    /// Requests planned; 0 when the run is bounded by time instead.
    pub total: AtomicU64,
    /// How long the load is planned to last, in ms; 0 when bounded by a request count.
    pub planned_ms: AtomicU64,
    /// Answers by latency bin (see [`crate::model::bin_of`]).
    latency: Box<[AtomicU64]>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total: AtomicU64::new(0),
            planned_ms: AtomicU64::new(0),
            latency: (0..LATENCY_BIN_COUNT).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Progress {
    /// Counts one answer's latency, in microseconds.
    pub fn record_latency(&self, us: u64) {
        self.latency[bin_of(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency (ms) at quantile `q` of every answer so far; None before the first.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        counts.iter().enumerate().find_map(|(bin, &count)| {
            seen += count;
            (seen >= rank).then(|| bin_middle_us(bin) / 1000.0)
        })
    }

    /// Notes that the load is planned to last `planned` (for time remaining).
    pub fn plan_duration(&self, planned: Duration) {
        self.planned_ms
            .store(planned.as_millis() as u64, Ordering::Relaxed);
    }
}

/// How often a client adds its answers to the shared [`Progress`]: the line
/// is redrawn once a second at most, so this is invisible there.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// One client's answers since it last added them to the shared [`Progress`].
///
/// Adding each answer to the shared atomics as it came made the two lanes'
/// threads fight over those cache lines ~140 000 times a second against the
/// bench baseline; a client now touches them ten times a second.
pub(super) struct PendingProgress {
    shared: Arc<Progress>,
    done: u64,
    errors: u64,
    /// Answers by latency bin, and the range of bins that has any.
    latency: Box<[u32]>,
    touched: Option<(usize, usize)>,
    next_flush: Instant,
}

impl PendingProgress {
    pub(super) fn new(shared: Arc<Progress>, now: Instant) -> Self {
        PendingProgress {
            shared,
            done: 0,
            errors: 0,
            latency: vec![0; LATENCY_BIN_COUNT].into_boxed_slice(),
            touched: None,
            next_flush: now + FLUSH_EVERY,
        }
    }

    /// Counts one finished request (`latency_us` when it got an answer) that
    /// finished `at`; passes the batch on when it is due.
    pub(super) fn record(&mut self, ok: bool, latency_us: Option<u64>, at: Instant) {
        self.done += 1;
        if !ok {
            self.errors += 1;
        }
        if let Some(us) = latency_us {
            let bin = bin_of(us);
            self.latency[bin] = self.latency[bin].saturating_add(1);
            self.touched = Some(match self.touched {
                Some((low, high)) => (low.min(bin), high.max(bin)),
                None => (bin, bin),
            });
        }
        if at >= self.next_flush {
            self.flush();
            self.next_flush = at + FLUSH_EVERY;
        }
    }

    /// Counts `count` requests dropped unsent (finished, as errors) and
    /// passes the batch on at once: the client sends nothing more, and its
    /// recorder is kept until every client is done.
    pub(super) fn add_dropped(&mut self, count: u64) {
        self.done += count;
        self.errors += count;
        self.flush();
    }

    /// Adds the batch to the shared counters.
    pub(super) fn flush(&mut self) {
        let shared = &self.shared;
        if self.done > 0 {
            shared.done.fetch_add(self.done, Ordering::Relaxed);
        }
        if self.errors > 0 {
            shared.errors.fetch_add(self.errors, Ordering::Relaxed);
        }
        if let Some((low, high)) = self.touched.take() {
            for (bin, count) in self.latency[low..=high].iter_mut().enumerate() {
                if *count > 0 {
                    shared.latency[low + bin].fetch_add(u64::from(*count), Ordering::Relaxed);
                    *count = 0;
                }
            }
        }
        (self.done, self.errors) = (0, 0);
    }
}

impl Drop for PendingProgress {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_p99_follows_the_answers() {
        let p = Progress::default();
        assert_eq!(p.latency_quantile_ms(0.99), None);
        for us in 1..=100u64 {
            p.record_latency(us * 1000);
        }
        let p99 = p.latency_quantile_ms(0.99).unwrap();
        assert!((p99 - 99.0).abs() < 3.0, "{p99}");
    }

    #[test]
    fn batched_answers_reach_the_shared_counters_as_if_added_one_by_one() {
        let direct = Progress::default();
        let shared = Arc::new(Progress::default());
        let start = Instant::now();
        let mut pending = PendingProgress::new(shared.clone(), start);
        for i in 0..1000u64 {
            let ok = i % 10 != 0;
            let latency = (i % 7 != 0).then_some(50 + i * 37);
            // Within the first batch period, then past it: one flush on the way.
            let at = start + if i < 500 { Duration::ZERO } else { FLUSH_EVERY };
            pending.record(ok, latency, at);
            direct.done.fetch_add(1, Ordering::Relaxed);
            if !ok {
                direct.errors.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(us) = latency {
                direct.record_latency(us);
            }
        }
        // The batch passed on at FLUSH_EVERY: answers 0..=500 are in, not the rest.
        assert_eq!(shared.done.load(Ordering::Relaxed), 501);
        // The rest of the schedule dropped: passed on at once, with the batch.
        pending.add_dropped(40);
        direct.done.fetch_add(40, Ordering::Relaxed);
        direct.errors.fetch_add(40, Ordering::Relaxed);
        assert_eq!(shared.done.load(Ordering::Relaxed), 1040);
        drop(pending);
        let counts = |p: &Progress| {
            let bins: Vec<u64> = p
                .latency
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect();
            (
                p.done.load(Ordering::Relaxed),
                p.errors.load(Ordering::Relaxed),
                bins,
            )
        };
        assert_eq!(counts(&shared), counts(&direct));
        assert_eq!(counts(&shared).1, 140);
        assert_eq!(
            shared.latency_quantile_ms(0.99),
            direct.latency_quantile_ms(0.99)
        );
    }
}
