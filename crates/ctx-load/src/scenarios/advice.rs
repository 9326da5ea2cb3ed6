//! Advice derived from the figures: what failed, what was not measured,
//! what to run next. Each line names the scenario and the figure behind it.

use crate::model::{LeakVerdict, RunMode, ScenarioReport};

/// Advice derived from the figures: what failed, what was not measured,
/// what to run next. Each line names the scenario and the figure behind it.
pub fn recommendations(
    scenarios: &[ScenarioReport],
    monitored: bool,
    open_loop: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for s in scenarios {
        let m = &s.metrics;
        if m.error_count > 0 {
            out.push(format!(
                "{}: {} of {} requests failed{} — see the error breakdown.",
                s.name,
                m.error_count,
                m.total_operations,
                m.errors
                    .first_error
                    .as_ref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(res) = &m.resources
            && res.leak.verdict == LeakVerdict::Growing
        {
            out.push(format!(
                "{}: server RSS still growing ({:+.1} MB/min). A server that keeps history in memory \
                 grows until its history bound (`ctx serve --history-limit`); run longer to see whether \
                 it levels off, otherwise look for a leak.",
                s.name,
                res.leak.slope_mb_per_min.unwrap_or(0.0)
            ));
        }
        if let Some(ol) = &m.open_loop
            && ol.sent > 0
            && ol.late as f64 > 0.1 * ol.sent as f64
        {
            out.push(format!(
                "{}: {:.0} % of requests were sent late at {} req/s (corrected p99 {:.1} ms vs uncorrected {:.1} ms): \
                 the server, or this machine, did not keep up with the rate.",
                s.name,
                ol.late as f64 / ol.sent as f64 * 100.0,
                ol.target_rate,
                m.latency.p99_ms,
                ol.uncorrected.p99_ms
            ));
        }
        if let Some(f) = &m.fanout {
            if !f.tally.is_clean() || f.disconnects > 0 || f.bad_frames > 0 {
                out.push(format!(
                    "{}: {} of {} expected deliveries missing, {} duplicated, {} out of order, \
                     {} subscriber(s) disconnected, {} bad frame(s){} — see the subscriber table.",
                    s.name,
                    f.tally.missing,
                    f.expected,
                    f.tally.duplicates,
                    f.tally.out_of_order,
                    f.disconnects,
                    f.bad_frames,
                    f.first_problem
                        .as_ref()
                        .map(|p| format!(" (first: {p})"))
                        .unwrap_or_default()
                ));
            }
            if f.writes_sent > 0 && f.writes_late as f64 > 0.1 * f.writes_sent as f64 {
                out.push(format!(
                    "{}: {:.0} % of writes were sent late at {} writes/s: the server, or this machine, \
                     did not keep up; delivery latency counts from the due time, so it includes that delay.",
                    s.name,
                    f.writes_late as f64 / f.writes_sent as f64 * 100.0,
                    f.write_rate_target
                ));
            }
        }
        if m.latency.count >= 100
            && m.latency.p50_ms > 0.0
            && m.latency.p99_ms > 10.0 * m.latency.p50_ms
        {
            out.push(format!(
                "{}: long latency tail (p99 {:.1} ms is {:.0}× the median {:.1} ms).",
                s.name,
                m.latency.p99_ms,
                m.latency.p99_ms / m.latency.p50_ms,
                m.latency.p50_ms
            ));
        }
    }
    if !monitored {
        out.push(
            "Server memory and CPU were not measured: pass --server-pid with --target, \
             or let ctx load start the server."
                .into(),
        );
    } else if scenarios.iter().any(|s| s.thresholds.fail_on_leak)
        && scenarios
            .iter()
            .filter(|s| s.thresholds.fail_on_leak)
            .all(|s| {
                s.metrics
                    .resources
                    .as_ref()
                    .is_some_and(|r| r.leak.verdict == LeakVerdict::Inconclusive)
            })
    {
        out.push(
            "The memory trend could not be judged (runs under 5 s after warm-up): for a leak check run \
             e.g. `ctx load --scenario memory_stress --rate 1000 --duration 30`."
                .into(),
        );
    }
    if !open_loop && scenarios.iter().any(|s| s.metrics.mode == RunMode::Closed) {
        out.push(
            "Closed-loop latencies hide queueing (coordinated omission): for latency under a fixed \
             arrival rate, re-run with --rate R --duration SECS."
                .into(),
        );
    }
    out
}
