//! The run's one verdict, as every output shows it (terminal, report.md,
//! report.html, report.json, exit code). Decided in
//! [`crate::scenarios::verdict::decide`].

use serde::{Deserialize, Serialize};

/// Pass, fail, or not enough evidence to say.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every check held, with enough evidence behind each figure.
    Pass,
    /// At least one check failed.
    Fail,
    /// Nothing failed, but some figure was not measured or rests on too few
    /// samples or too short a run: no claim either way.
    Inconclusive,
}

impl Outcome {
    /// The word the reports use.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// The verdict with its grounds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Fail: every failed check. Inconclusive: every figure that lacked evidence.
    pub reasons: Vec<String>,
    /// What to do next. Inconclusive: what to run for a conclusive verdict.
    /// Fail: set when requests were refused (401/403): which credentials to pass.
    pub next_step: Option<String>,
}

impl Verdict {
    /// One line: `PASS`, `FAIL: …`, or `INCONCLUSIVE: … — run …`, with at
    /// most `max_reasons` reasons (and how many more there are).
    pub fn line(&self, max_reasons: usize) -> String {
        let mut line = self.outcome.word().to_string();
        if !self.reasons.is_empty() {
            line.push_str(": ");
            let shown: Vec<&str> = self
                .reasons
                .iter()
                .take(max_reasons)
                .map(String::as_str)
                .collect();
            line.push_str(&shown.join("; "));
            if self.reasons.len() > max_reasons {
                line.push_str(&format!(
                    "; and {} more (see the report)",
                    self.reasons.len() - max_reasons
                ));
            }
        }
        if let Some(next) = &self.next_step {
            line.push_str(" — ");
            line.push_str(next);
        }
        line
    }
}
