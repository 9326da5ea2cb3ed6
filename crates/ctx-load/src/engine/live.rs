//! What a progress display reads while a run goes on: shared atomic counters
//! the client tasks bump as requests complete (relaxed adds, one more per
//! answer than the counters the run already kept).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
}
