//! The run's verdict from its scenarios' checks, and the production-readiness
//! assessment of the seed's report.

use crate::model::{Readiness, ScenarioReport};

/// The production-readiness criteria of the seed: every scenario with a
/// success rate ≥ 95 % and p99 ≤ 2000 ms.
pub const READY_MIN_SUCCESS_PCT: f64 = 95.0;
pub const READY_MAX_P99_MS: f64 = 2000.0;

/// The seed's readiness verdict: every scenario with a success rate ≥ 95 %
/// and p99 ≤ 2000 ms.
pub fn readiness(scenarios: &[ScenarioReport]) -> Readiness {
    let mut issues = Vec::new();
    for m in scenarios.iter().map(|s| &s.metrics) {
        if m.success_rate_pct < READY_MIN_SUCCESS_PCT {
            issues.push(format!(
                "Low success rate in {}: {:.1}%",
                m.operation_type, m.success_rate_pct
            ));
        }
        if m.latency.p99_ms > READY_MAX_P99_MS {
            issues.push(format!(
                "High 99th percentile response time in {}: {:.1}ms",
                m.operation_type, m.latency.p99_ms
            ));
        }
    }
    Readiness {
        ready: issues.is_empty() && !scenarios.is_empty(),
        criteria: format!(
            "every scenario: success rate >= {READY_MIN_SUCCESS_PCT}% and p99 <= {READY_MAX_P99_MS}ms"
        ),
        issues,
    }
}
