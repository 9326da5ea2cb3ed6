//! Which rate to try next, from the rates
//! that met the SLO and those that broke it. Doubles from the starting rate
//! until the SLO breaks (halves when the starting rate already breaks it),
//! then bisects between the best rate that met it and the lowest that broke
//! it until they are within the precision. The runs themselves are
//! [`crate::runner`]'s, which try a rate that broke the SLO a second time
//! before recording it here.

use crate::model::{SearchEnd, StepPhase};

/// The bracket stops narrowing at this share of the best rate (5 %).
pub const PRECISION: f64 = 0.05;
/// The lowest rate a search starts from or halves to, requests per second.
pub const MIN_RATE: f64 = 1.0;
/// Fewest requests a step may plan: halving to a rate whose step sends fewer
/// gives up (nothing met the SLO). A p99 over a dozen answers is their
/// slowest; a step that "meets" an SLO on one is luck, not capacity
/// (measured: on a loaded machine, 12-request steps met a 50 ms p99 at
/// 6.2 req/s and broke it at 6.4).
pub const MIN_STEP_REQUESTS: f64 = 100.0;

/// What to do after a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    Try { rate: f64, phase: StepPhase },
    Done(SearchEnd),
}

/// The best rate that met the SLO and the lowest that broke it, so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bracket {
    pub met: Option<f64>,
    pub broke: Option<f64>,
    /// Halving stops above this rate.
    pub floor: f64,
}

impl Bracket {
    /// A search whose steps last `step_secs`: it halves no lower than
    /// [`MIN_STEP_REQUESTS`] per step allow (and [`MIN_RATE`]).
    pub fn new(step_secs: f64) -> Self {
        Bracket {
            met: None,
            broke: None,
            floor: (MIN_STEP_REQUESTS / step_secs).max(MIN_RATE),
        }
    }

    /// Takes one step's result into account.
    pub fn record(&mut self, rate: f64, met_slo: bool) {
        if met_slo {
            self.met = Some(self.met.map_or(rate, |m| m.max(rate)));
        } else {
            self.broke = Some(self.broke.map_or(rate, |b| b.min(rate)));
        }
    }

    /// The next rate to try, or how the search ends.
    pub fn next(&self) -> Next {
        match (self.met, self.broke) {
            (Some(met), Some(broke)) if broke - met <= PRECISION * met => {
                Next::Done(SearchEnd::Converged)
            }
            (Some(met), Some(broke)) => Next::Try {
                rate: (met + broke) / 2.0,
                phase: StepPhase::Bisect,
            },
            (Some(met), None) => Next::Try {
                rate: met * 2.0,
                phase: StepPhase::Ramp,
            },
            (None, Some(broke)) if broke / 2.0 < self.floor => Next::Done(SearchEnd::NeverMet),
            (None, Some(broke)) => Next::Try {
                rate: broke / 2.0,
                phase: StepPhase::Ramp,
            },
            // Nothing tried yet: the caller starts from its own rate.
            (None, None) => Next::Done(SearchEnd::NeverBroken),
        }
    }

    /// How the search ends when the time budget runs out now.
    pub fn out_of_time(&self) -> SearchEnd {
        match (self.met, self.broke) {
            (Some(_), Some(_)) => SearchEnd::BudgetSpent,
            (Some(_), None) | (None, None) => SearchEnd::NeverBroken,
            (None, Some(_)) => SearchEnd::NeverMet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates a search tries against a target whose true capacity is
    /// `capacity` (a rate meets the SLO iff it is at most the capacity).
    fn search(start: f64, capacity: f64) -> (Vec<f64>, Bracket, Next) {
        // 1 s steps: no lower than 100 req/s.
        let mut bracket = Bracket::new(1.0);
        let mut rate = start;
        let mut tried = Vec::new();
        loop {
            tried.push(rate);
            bracket.record(rate, rate <= capacity);
            match bracket.next() {
                Next::Try { rate: next, .. } if tried.len() < 50 => rate = next,
                done => return (tried, bracket, done),
            }
        }
    }

    #[test]
    fn doubling_then_bisecting_lands_within_the_precision() {
        let (tried, bracket, end) = search(50.0, 230.0);
        assert_eq!(&tried[..4], &[50.0, 100.0, 200.0, 400.0]);
        assert_eq!(end, Next::Done(SearchEnd::Converged));
        let met = bracket.met.unwrap();
        assert!(
            (230.0 / (1.0 + PRECISION)..=230.0).contains(&met),
            "{tried:?}"
        );
        assert!(tried.len() <= 9, "{tried:?}");
    }

    #[test]
    fn a_start_above_capacity_halves_down_first() {
        let (tried, bracket, end) = search(1000.0, 300.0);
        assert_eq!(&tried[..3], &[1000.0, 500.0, 250.0]);
        assert_eq!(end, Next::Done(SearchEnd::Converged));
        assert!(bracket.met.unwrap() >= 300.0 / (1.0 + PRECISION));
    }

    #[test]
    fn nothing_meets_the_slo_at_a_rate_with_enough_requests() {
        let (tried, _, end) = search(1000.0, 50.0);
        assert_eq!(tried, vec![1000.0, 500.0, 250.0, 125.0]);
        assert_eq!(end, Next::Done(SearchEnd::NeverMet));
        assert_eq!(Bracket::new(1000.0).floor, MIN_RATE);
    }

    #[test]
    fn running_out_of_time_says_what_is_known() {
        let mut bracket = Bracket::new(5.0);
        assert_eq!(bracket.out_of_time(), SearchEnd::NeverBroken);
        bracket.record(100.0, true);
        assert_eq!(bracket.out_of_time(), SearchEnd::NeverBroken);
        bracket.record(400.0, false);
        assert_eq!(bracket.out_of_time(), SearchEnd::BudgetSpent);
    }
}
