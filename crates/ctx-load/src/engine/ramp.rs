//! A piecewise-linear level over time (a [`StagePlan`]): the arrival rate of
//! a staged open loop, or the number of active clients of a staged closed
//! loop, and each stage's figures at the end. Times are seconds from the
//! start of the load.

use super::recorder::StageTally;
use crate::model::{StageFigures, StagePlan, StageSpan};

/// One stage as the engine uses it.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: f64,
    end: f64,
    from: f64,
    to: f64,
    /// Requests due before this stage (the integral of the rate so far).
    before: f64,
}

impl Segment {
    fn len(&self) -> f64 {
        self.end - self.start
    }

    fn level(&self, t: f64) -> f64 {
        let len = self.len();
        if len <= 0.0 {
            return self.to;
        }
        self.from + (self.to - self.from) * ((t - self.start) / len).clamp(0.0, 1.0)
    }

    /// The integral of the level over the whole stage.
    fn area(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len()
    }
}

/// The level of a [`StagePlan`] at any time, its integral and its inverse.
#[derive(Clone, Debug)]
pub struct Ramp {
    segments: Vec<Segment>,
}

impl Ramp {
    pub fn new(plan: &StagePlan) -> Self {
        let mut before = 0.0;
        let segments = plan
            .spans()
            .into_iter()
            .map(|(start, end, from, to)| {
                let segment = Segment {
                    start,
                    end,
                    from,
                    to,
                    before,
                };
                before += segment.area();
                segment
            })
            .collect();
        Ramp { segments }
    }

    pub fn duration(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.end)
    }

    /// The integral of the level over the whole plan: a rate plan's requests.
    pub fn total(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.before + s.area())
    }

    /// Which stage (0-based) time `t` falls in; the last one from its end on.
    pub fn stage_at(&self, t: f64) -> usize {
        self.segments
            .iter()
            .position(|s| t < s.end)
            .unwrap_or(self.segments.len().saturating_sub(1))
    }

    /// Stage ends, seconds from the start (for the per-stage recorder).
    pub fn ends(&self) -> Vec<f64> {
        self.segments.iter().map(|s| s.end).collect()
    }

    /// When request `n` (0-based) of a rate plan is due: the time at which the
    /// integral of the rate reaches `n`. Within a stage the rate is
    /// `r(t) = from + slope·t`, so the count is `from·t + slope·t²/2`; its
    /// root is taken in the form `2x / (from + √(from² + 2·slope·x))`, which
    /// stays exact when the slope is zero or tiny.
    pub fn due(&self, n: f64) -> f64 {
        let Some(segment) = self
            .segments
            .iter()
            .rev()
            .find(|s| s.before <= n && s.area() > 0.0)
        else {
            return 0.0;
        };
        let x = (n - segment.before).min(segment.area());
        let slope = (segment.to - segment.from) / segment.len();
        let root = (segment.from * segment.from + 2.0 * slope * x)
            .max(0.0)
            .sqrt();
        let denominator = segment.from + root;
        let t = if denominator > 0.0 {
            2.0 * x / denominator
        } else {
            0.0
        };
        segment.start + t.min(segment.len())
    }

    /// The first time at or after `from` when the level is at least `level`;
    /// None if it never is again (a client that will not be needed any more).
    pub fn first_reaching(&self, level: f64, from: f64) -> Option<f64> {
        for segment in self.segments.iter().filter(|s| s.end > from) {
            let at = from.max(segment.start);
            if segment.level(at) >= level {
                return Some(at);
            }
            if segment.to >= level && segment.to > segment.from {
                let t = segment.start
                    + (level - segment.from) / (segment.to - segment.from) * segment.len();
                return Some(t.max(at));
            }
        }
        None
    }
}

/// A staged closed loop's connections: as many as its peak client count.
pub(super) fn ramp_clients(ramp: &Ramp) -> u64 {
    let mut clients = 0;
    while ramp.first_reaching((clients + 1) as f64, 0.0).is_some() {
        clients += 1;
    }
    clients
}

/// Each stage's figures from its tallies.
pub(super) fn stage_figures(plan: &StagePlan, tallies: &[StageTally]) -> Vec<StageFigures> {
    plan.spans()
        .into_iter()
        .zip(tallies)
        .enumerate()
        .map(|(i, ((start_secs, end_secs, from, to), tally))| {
            let span = StageSpan {
                stage: i + 1,
                ramps: plan.ramps,
                start_secs,
                end_secs,
                from,
                to,
            };
            StageFigures::new(span, tally.requests, tally.success, &tally.latency)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Stage, StageKind};

    fn plan(stages: &[(f64, f64)]) -> Ramp {
        Ramp::new(&StagePlan {
            ramps: StageKind::Rate,
            stages: stages
                .iter()
                .map(|&(duration_secs, target)| Stage {
                    duration_secs,
                    target,
                })
                .collect(),
        })
    }

    #[test]
    fn a_constant_stage_is_an_even_schedule() {
        // 10 s up to 100 req/s (500 requests), then 10 s at 100.
        let ramp = plan(&[(10.0, 100.0), (10.0, 100.0)]);
        assert_eq!(ramp.total(), 1500.0);
        assert!((ramp.due(500.0) - 10.0).abs() < 1e-9);
        assert!((ramp.due(600.0) - 11.0).abs() < 1e-9);
        assert!((ramp.due(1499.0) - 19.99).abs() < 1e-9);
    }

    #[test]
    fn a_ramp_sends_its_requests_at_the_rising_rate() {
        // 0 → 100 req/s over 10 s: 500 requests, the count is 5·t².
        let ramp = plan(&[(10.0, 100.0), (10.0, 0.0)]);
        assert_eq!(ramp.total(), 1000.0);
        assert!((ramp.due(5.0) - 1.0).abs() < 1e-9);
        assert!((ramp.due(125.0) - 5.0).abs() < 1e-9);
        // Down again: by symmetry, 125 requests before the end are due at 15 s.
        assert!((ramp.due(875.0) - 15.0).abs() < 1e-9);
        let dues: Vec<f64> = (0..1000).map(|n| ramp.due(n as f64)).collect();
        assert!(dues.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ramp.stage_at(9.99), 0);
        assert_eq!(ramp.stage_at(10.0), 1);
        assert_eq!(ramp.stage_at(25.0), 1);
    }

    #[test]
    fn an_idle_stage_between_two_sends_nothing() {
        let ramp = plan(&[(1.0, 10.0), (1.0, 0.0), (2.0, 0.0), (1.0, 10.0)]);
        assert_eq!(ramp.total(), 15.0);
        // The 10th request (n = 10) is the first of the last stage.
        assert!(ramp.due(10.0) >= 4.0);
    }

    #[test]
    fn clients_join_as_the_level_reaches_them() {
        let ramp = plan(&[(10.0, 10.0), (5.0, 10.0), (5.0, 0.0)]);
        assert_eq!(ramp.first_reaching(1.0, 0.0), Some(1.0));
        assert_eq!(ramp.first_reaching(10.0, 0.0), Some(10.0));
        assert_eq!(ramp.first_reaching(5.0, 12.0), Some(12.0));
        assert_eq!(ramp.first_reaching(5.0, 18.0), None);
    }
}
