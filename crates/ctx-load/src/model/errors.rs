//! What went wrong, by kind, and completions over time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Failures broken down by kind. A request is a success iff it got a 2xx.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorBreakdown {
    /// Non-2xx answers, by status code.
    pub status: BTreeMap<u16, u64>,
    /// No complete answer within the per-request timeout.
    pub timeout: u64,
    /// Could not open a connection: TCP connect (+ TLS handshake for https).
    pub connect: u64,
    /// The connection failed mid-request (reset, closed, malformed answer).
    pub io: u64,
    /// Open loop only: requests never sent because the run's send window closed.
    pub dropped: u64,
    /// The first error message seen, to make a failing run diagnosable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl ErrorBreakdown {
    pub fn total(&self) -> u64 {
        self.status.values().sum::<u64>() + self.timeout + self.connect + self.io + self.dropped
    }

    /// Adds another worker's counts (the first error seen stays).
    pub fn merge(&mut self, other: &ErrorBreakdown) {
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.timeout += other.timeout;
        self.connect += other.connect;
        self.io += other.io;
        self.dropped += other.dropped;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// Keeps `msg` as the first error, unless one is already kept.
    pub fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }
}

/// Completions in one second of the run (by completion time).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecondBucket {
    pub second: u64,
    pub ok: u64,
    pub errors: u64,
}
