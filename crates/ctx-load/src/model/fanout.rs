//! The figures of a `ws_fanout` run: delivery completeness per subscriber and
//! in total. Produced by [`crate::fanout`], rendered by [`crate::report`].

use serde::{Deserialize, Serialize};

use super::{LatencySummary, PercentilePoint};

/// The completeness figures of one subscriber (or, summed, of all).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tally {
    /// Expected writes delivered (at least once).
    pub delivered: u64,
    /// Expected writes never delivered.
    pub missing: u64,
    /// Deliveries of a write already delivered.
    pub duplicates: u64,
    /// First deliveries whose revision was not above every revision before.
    pub out_of_order: u64,
    /// Events for writes that did not get a 2xx (e.g. timed out, yet committed):
    /// neither expected nor an error.
    pub unconfirmed: u64,
}

impl Tally {
    /// Adds another subscriber's figures.
    pub fn add(&mut self, o: &Tally) {
        self.delivered += o.delivered;
        self.missing += o.missing;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.unconfirmed += o.unconfirmed;
    }

    /// Every expected write delivered exactly once, in revision order.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0
    }
}

/// One subscriber, summarised.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SubscriberSummary {
    pub id: u64,
    #[serde(flatten)]
    pub tally: Tally,
    pub bad_frames: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Why the connection ended before the run did (slow consumer, closed,
    /// could not subscribe...); null when it lasted.
    pub disconnect: Option<String>,
}

/// The fan-out figures of a `ws_fanout` run. The delivery latency itself is
/// the scenario's `latency` (so `p99_ms` etc. thresholds apply to it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FanoutSummary {
    pub subscribers: u64,
    pub writers: u64,
    /// The prefix subscribed to and written under.
    pub prefix: String,
    pub write_rate_target: f64,
    /// Writes completed per second of the writers' run.
    pub write_rate_achieved: f64,
    pub writes_planned: u64,
    pub writes_sent: u64,
    /// Writes answered 2xx: each must reach every subscriber.
    pub writes_ok: u64,
    /// Writes sent more than 10 ms after their due time.
    pub writes_late: u64,
    /// POST latency, from the due time (corrected).
    pub write_latency: LatencySummary,
    pub write_latency_curve: Vec<PercentilePoint>,
    /// writes_ok × subscribers.
    pub expected: u64,
    /// Totals over all subscribers.
    #[serde(flatten)]
    pub tally: Tally,
    /// delivered / expected × 100; null when nothing was expected.
    pub delivered_pct: Option<f64>,
    /// Frames that did not parse or were not expected (incl. `error` messages).
    pub bad_frames: u64,
    /// Subscribers whose connection ended early or that could not subscribe.
    pub disconnects: u64,
    /// Subscribers that got every expected write exactly once, in order, and stayed connected.
    pub complete_subscribers: u64,
    pub drain_secs: f64,
    /// The first problem seen (disconnect reason or bad frame), to make a failure diagnosable.
    pub first_problem: Option<String>,
    pub per_subscriber: Vec<SubscriberSummary>,
}

impl SubscriberSummary {
    /// Missed, repeated or reordered a write, got a bad frame, or was disconnected.
    pub fn has_problem(&self) -> bool {
        !self.tally.is_clean() || self.bad_frames > 0 || self.disconnect.is_some()
    }
}

impl FanoutSummary {
    /// The subscribers with a problem (see [`SubscriberSummary::has_problem`]).
    pub fn problem_subscribers(&self) -> impl Iterator<Item = &SubscriberSummary> {
        self.per_subscriber.iter().filter(|s| s.has_problem())
    }
}
