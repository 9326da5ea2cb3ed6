//! A distributed run's share: `ctx load --workers N --worker-index I` makes
//! this process worker I of N, with no coordinator — each worker derives its
//! part of the load from (N, I) alone, and the N parts together are exactly
//! the load one process would have offered:
//! - **clients**: a scenario's C clients are cut into N contiguous blocks;
//!   worker I gets `C / N` clients, plus one when `I < C % N`, starting at
//!   client id `I × (C / N) + min(I, C % N)`. Client ids are global, so
//! - **keys**: a request generator is asked for the same `(client, op)` pairs
//!   as in one process, and the key space splits along the client blocks
//!   (two workers never write each other's keys in the per-client scenarios);
//! - **rate** (open loop): the schedule of `floor(rate × duration)` requests,
//!   request `g` due at `start + g / rate`, is dealt round-robin: worker I
//!   sends the requests with `g % N == I` (so `P / N` of them, plus one when
//!   `I < P % N`), i.e. `rate / N` per second, phase-shifted by `I / rate`.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Which part of a distributed run this process offers (`worker` in
/// report.json). `WorkerShare::WHOLE` is a single-process run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkerShare {
    /// 0-based, < `workers`.
    pub index: u64,
    pub workers: u64,
}

impl Default for WorkerShare {
    fn default() -> Self {
        WorkerShare::WHOLE
    }
}

impl WorkerShare {
    /// The whole load in one process.
    pub const WHOLE: WorkerShare = WorkerShare {
        index: 0,
        workers: 1,
    };

    /// Worker `index` of `workers`; the message says what is wrong.
    pub fn new(workers: u64, index: u64) -> Result<WorkerShare, String> {
        if workers == 0 {
            return Err("--workers must be at least 1".into());
        }
        if index >= workers {
            return Err(format!(
                "--worker-index must be below --workers ({workers}), got {index} (indices are 0-based)"
            ));
        }
        Ok(WorkerShare { index, workers })
    }

    pub fn is_whole(&self) -> bool {
        self.workers == 1
    }

    /// This worker's block of the global client ids `0..total`.
    pub fn clients(&self, total: u64) -> Range<u64> {
        let (base, extra) = (total / self.workers, total % self.workers);
        let start = self.index * base + self.index.min(extra);
        let len = base + u64::from(self.index < extra);
        start..start + len
    }

    /// This worker's part of the run's arrival rate `rate`: requests are
    /// dealt round-robin, so each worker sends at `rate / N`.
    pub fn rate(&self, rate: f64) -> f64 {
        rate / self.workers as f64
    }

    /// How many of `planned` round-robin-dealt requests are this worker's.
    pub fn requests(&self, planned: u64) -> u64 {
        planned / self.workers + u64::from(self.index < planned % self.workers)
    }
}

/// One report that went into a merged one (`merged_from` in report.json).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MergedInput {
    /// The report.json path as given to `ctx load merge`.
    pub file: String,
    pub started_at: String,
    pub target: String,
    pub worker: Option<WorkerShare>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(workers: u64) -> Vec<WorkerShare> {
        (0..workers)
            .map(|i| WorkerShare::new(workers, i).unwrap())
            .collect()
    }

    #[test]
    fn client_blocks_tile_the_whole_range() {
        for workers in 1..=7 {
            for total in 0..=40 {
                let mut next = 0;
                for share in all(workers) {
                    let block = share.clients(total);
                    assert_eq!(block.start, next, "workers={workers} total={total}");
                    let len = block.end - block.start;
                    assert!(len == total / workers || len == total / workers + 1);
                    next = block.end;
                }
                assert_eq!(next, total);
            }
        }
        // The remainder goes to the first workers.
        let three = all(3);
        assert_eq!(three[0].clients(10), 0..4);
        assert_eq!(three[1].clients(10), 4..7);
        assert_eq!(three[2].clients(10), 7..10);
    }

    #[test]
    fn request_shares_add_up_to_the_plan() {
        for workers in 1..=7 {
            for planned in 0..=50 {
                let dealt: Vec<u64> = all(workers).iter().map(|s| s.requests(planned)).collect();
                assert_eq!(dealt.iter().sum::<u64>(), planned);
                // Exactly the g < planned with g % workers == index.
                for (index, n) in dealt.iter().enumerate() {
                    let count = (0..planned).filter(|g| g % workers == index as u64).count();
                    assert_eq!(*n, count as u64);
                }
            }
        }
    }

    #[test]
    fn bad_shares_are_refused() {
        assert!(WorkerShare::new(0, 0).is_err());
        assert!(WorkerShare::new(3, 3).unwrap_err().contains("0-based"));
        assert!(WorkerShare::new(1, 0).unwrap().is_whole());
    }
}
