//! `report.md`: the seed's report sections in the seed's order, then ours
//! (open-loop and fan-out figures, resource usage, threshold checks).

use std::fmt::Write as _;

use super::baseline;
use super::rows::{self, measured, title_case};
use super::shape_rows;
use crate::model::{BaselineComparison, FanoutSummary, LatencySummary, RunMode, RunReport};

/// "Comparison with the Baseline": how each figure moved, then the values.
fn baseline_markdown(o: &mut String, comparison: &BaselineComparison) {
    let _ = writeln!(o, "## Comparison with the Baseline\n");
    let _ = writeln!(o, "{}\n", baseline::headline(comparison));
    let _ = writeln!(o, "{}", baseline::changes_table(comparison).markdown());
    for note in baseline::notes(comparison) {
        let _ = writeln!(o, "- {note}");
    }
    let _ = writeln!(o, "\n{}", baseline::figures_table(comparison).markdown());
}

/// The Markdown report: the seed's sections in the seed's order, then ours.
pub fn render_markdown(r: &RunReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Context Server - Performance Test Report\n");
    let _ = writeln!(o, "Generated: {}\n", r.generated_at);
    let _ = writeln!(o, "Run started: {}  ", r.started_at);
    if !r.complete {
        let _ = writeln!(
            o,
            "> **INCOMPLETE REPORT** — the run was aborted: {}. Only the scenarios below finished; \
             the verdicts cover them alone.\n",
            r.aborted_reason
                .as_ref()
                .map_or("unknown reason".into(), |a| a.to_string())
        );
    }
    let _ = writeln!(
        o,
        "Target: `{}`{}  ",
        r.target,
        if r.server.started_by_load {
            " (started by ctx load)"
        } else {
            ""
        }
    );
    if let Some(line) = rows::provenance(r) {
        let _ = writeln!(o, "{line}  ");
    }
    let _ = writeln!(
        o,
        "Mode: {}{}{}; scale {}; request timeout {:.0} s  ",
        r.mode.kind.name(),
        match (r.mode.rate, r.mode.duration_secs) {
            (Some(rate), Some(d)) => format!(" loop, {rate} req/s for {d} s"),
            _ => " loop".to_string(),
        },
        if r.mode.kind == RunMode::Closed && r.scenarios.iter().any(|s| s.metrics.fanout.is_some())
        {
            " (ws_fanout: its writes in open loop at its own rate)"
        } else {
            ""
        },
        r.mode.scale,
        r.mode.timeout_secs
    );
    let _ = writeln!(
        o,
        "Server process monitored: {}\n",
        r.server
            .pid
            .map(|p| format!("PID {p}"))
            .unwrap_or_else(|| "no (memory and CPU not measured)".into())
    );

    let s = &r.summary;
    let _ = writeln!(o, "## Executive Summary\n");
    let _ = writeln!(o, "- **Total Operations Tested:** {}", s.total_operations);
    let _ = writeln!(
        o,
        "- **Overall Success Rate:** {:.1}%",
        s.overall_success_rate_pct
    );
    let _ = writeln!(
        o,
        "- **Average Throughput:** {:.1} operations/second",
        s.mean_throughput_ops_sec
    );
    let _ = writeln!(
        o,
        "- **Test Categories:** {} different performance scenarios",
        s.scenario_count
    );
    let _ = writeln!(o, "- **Checks:** {}", rows::check_tally(r));
    let _ = writeln!(o, "- **Verdict:** **{}**\n", r.verdict.outcome.word());
    if let Some(comparison) = &r.baseline {
        baseline_markdown(&mut o, comparison);
    }

    if let Some(search) = &r.find_max {
        let _ = writeln!(
            o,
            "## Saturation Search\n\n**{}**\n\nEach rate in open loop for {:.1} s, judged by the SLO; \
             the rates tried, lowest first (the rate-versus-latency curve):\n\n{}",
            shape_rows::find_max_line(search),
            search.step_secs,
            shape_rows::find_max_table(search).markdown()
        );
    }
    let _ = writeln!(o, "## Detailed Results by Test Category\n");
    for sc in &r.scenarios {
        let m = &sc.metrics;
        let l = &m.latency;
        let _ = writeln!(o, "### {}\n", title_case(&sc.name));
        let _ = writeln!(o, "{}\n", sc.description);
        match &m.fanout {
            Some(f) => {
                let _ = writeln!(
                    o,
                    "- **Operations:** {} writes ({} writers; {} subscribers)",
                    m.total_operations, f.writers, f.subscribers
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "- **Operations:** {} total ({} clients{})",
                    m.total_operations,
                    m.clients,
                    m.ops_per_client
                        .map(|n| format!(" × {n}"))
                        .unwrap_or_default()
                );
            }
        }
        let _ = writeln!(
            o,
            "- **Success Rate:** {:.1}% ({}/{})",
            m.success_rate_pct, m.success_count, m.total_operations
        );
        let _ = writeln!(o, "- **Throughput:** {:.1} ops/sec", m.throughput_ops_sec);
        let _ = writeln!(o, "- **Average Response Time:** {:.1}ms", l.avg_ms);
        let _ = writeln!(o, "- **95th Percentile:** {:.1}ms", l.p95_ms);
        let _ = writeln!(o, "- **99th Percentile:** {:.1}ms", l.p99_ms);
        let _ = writeln!(
            o,
            "- **Peak Memory Usage:** {}",
            measured(m.peak_memory_mb, "MB")
        );
        let _ = writeln!(
            o,
            "- **Average CPU Usage:** {}",
            measured(m.avg_cpu_percent, "%")
        );
        let _ = writeln!(o, "- **Duration:** {:.2} s", m.duration_secs);
        let _ = writeln!(
            o,
            "- **Latency (ms):** min {:.2} · p50 {:.2} · p90 {:.2} · p95 {:.2} · p99 {:.2} · p99.9 {:.2} · max {:.2} · stdev {:.2}{}",
            l.min_ms,
            l.p50_ms,
            l.p90_ms,
            l.p95_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms,
            l.stdev_ms,
            match m.mode {
                RunMode::Open => " (corrected: from intended send time)",
                RunMode::Fanout =>
                    " (write-to-delivery at each subscriber, from the write's due time)",
                RunMode::Closed => "",
            }
        );
        let c = &m.connect;
        let _ = writeln!(
            o,
            "- **Connection set-up (ms, not part of latency):** {} connection(s) · avg {:.2} · p50 {:.2} · p99 {:.2} · max {:.2}",
            c.count, c.avg_ms, c.p50_ms, c.p99_ms, c.max_ms
        );
        let e = &m.errors;
        let mut kinds: Vec<String> = e
            .status
            .iter()
            .map(|(c, n)| format!("HTTP {c}: {n}"))
            .collect();
        for (label, n) in [
            ("timeout", e.timeout),
            ("connect", e.connect),
            ("I/O", e.io),
            ("dropped", e.dropped),
        ] {
            if n > 0 {
                kinds.push(format!("{label}: {n}"));
            }
        }
        let _ = writeln!(
            o,
            "- **Errors:** {}{}",
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            },
            e.first_error
                .as_ref()
                .map(|f| format!(" (first: `{f}`)"))
                .unwrap_or_default()
        );
        for check in &m.content_checks {
            let _ = writeln!(
                o,
                "- **Check `{}`:** {} of {} answers passed{}",
                check.name,
                check.passed,
                check.passed + check.failed,
                check
                    .first_failure
                    .as_ref()
                    .map(|f| format!(" (first failure: `{f}`)"))
                    .unwrap_or_default()
            );
        }
        if let Some(ol) = &m.open_loop {
            let u = &ol.uncorrected;
            let _ = writeln!(
                o,
                "- **Open loop:** target {:.1} req/s, achieved {:.1} req/s; {} planned, {} sent, {} late (> {:.0} ms behind schedule), {} dropped",
                ol.target_rate,
                ol.achieved_rate,
                ol.planned,
                ol.sent,
                ol.late,
                ol.late_slack_ms,
                ol.dropped
            );
            let _ = writeln!(
                o,
                "- **Uncorrected latency (ms, from actual send):** avg {:.2} · p50 {:.2} · p95 {:.2} · p99 {:.2} · max {:.2}",
                u.avg_ms, u.p50_ms, u.p95_ms, u.p99_ms, u.max_ms
            );
        }
        if let Some(f) = &m.fanout {
            fanout_markdown(&mut o, f, l);
        }
        if let Some(res) = &m.resources {
            let _ = writeln!(
                o,
                "- **Memory trend:** {:?} — {}",
                res.leak.verdict, res.leak.reason
            );
        }
        if let Some(setup) = &m.setup {
            let _ = writeln!(
                o,
                "- **Set-up:** {} requests before the measurement, {} failed{}",
                setup.requests,
                setup.failures,
                setup
                    .first_error
                    .as_ref()
                    .map(|f| format!(" (first: `{f}`)"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(o);
        if let Some(stages) = shape_rows::stage_table(sc) {
            let _ = writeln!(o, "**Stages:**\n\n{}", stages.markdown());
        }
        if !sc.checks.is_empty() {
            let _ = writeln!(o, "{}", rows::checks_table(sc).markdown());
        }
    }

    let _ = writeln!(o, "## Performance Analysis & Recommendations\n");
    if let Some(b) = &s.best_throughput {
        let _ = writeln!(
            o,
            "**Best Throughput:** {} at {:.1} ops/sec\n",
            b.scenario, b.value
        );
    }
    if let Some(w) = &s.slowest_average {
        let _ = writeln!(
            o,
            "**Slowest Response:** {} at {:.1}ms average\n",
            w.scenario, w.value
        );
    }
    let _ = writeln!(o, "**Resource Usage Analysis:**");
    let _ = writeln!(
        o,
        "- Peak memory usage across all tests: {}",
        measured(s.peak_memory_mb, "MB")
    );
    let _ = writeln!(
        o,
        "- Average CPU utilization: {}",
        measured(s.avg_cpu_percent, "%")
    );
    let _ = writeln!(
        o,
        "- Memory efficiency: {}\n",
        s.ops_per_mb
            .map(|v| format!("{v:.1} ops/MB"))
            .unwrap_or_else(|| "not measured".into())
    );
    if !r.recommendations.is_empty() {
        let _ = writeln!(o, "**Recommendations:**");
        for rec in &r.recommendations {
            let _ = writeln!(o, "- {rec}");
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Resource Usage\n");
    if r.server.pid.is_none() {
        let _ = writeln!(
            o,
            "Not measured: the server's PID is unknown (pass `--server-pid` for an external server). \
             No machine-wide figure is substituted.\n"
        );
    } else {
        let _ = write!(o, "{}", rows::resources_table(r).markdown());
        let _ = writeln!(
            o,
            "\nLeak rule: after the first 30 % of a run, RSS is \"growing\" when the least-squares slope is above \
             1 MB/min, the implied growth over the window is above 10 % of the mean RSS, and R² ≥ 0.5; runs with \
             under 5 s or 16 samples after warm-up are inconclusive.\n"
        );
    }

    let _ = writeln!(o, "## Production Readiness Assessment\n");
    let _ = writeln!(o, "**{}**\n", rows::readiness_headline(r).text);
    for issue in &r.readiness.issues {
        let _ = writeln!(o, "- {issue}");
    }
    if !r.readiness.issues.is_empty() {
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "Criteria: {}.\n", r.readiness.criteria);

    let _ = writeln!(o, "## Thresholds\n");
    let _ = write!(o, "{}", rows::verdicts_table(r).markdown());
    o
}

/// The fan-out lines of a scenario section: writes, delivery, and the
/// subscribers that did not get everything exactly once, in order.
fn fanout_markdown(o: &mut String, f: &FanoutSummary, delivery: &LatencySummary) {
    let w = &f.write_latency;
    let _ = writeln!(o, "- **Fan-out:** {}", rows::delivery_line(f, delivery));
    let _ = writeln!(
        o,
        "- **Writes:** target {} writes/s, achieved {:.1}/s; {} planned, {} sent, {} ok, {} late (> 10 ms behind schedule); \
         POST latency from due time (ms): p50 {:.2} · p99 {:.2} · max {:.2}",
        f.write_rate_target,
        f.write_rate_achieved,
        f.writes_planned,
        f.writes_sent,
        f.writes_ok,
        f.writes_late,
        w.p50_ms,
        w.p99_ms,
        w.max_ms
    );
    let _ = writeln!(
        o,
        "- **Subscribers:** {} of {} got every write exactly once, in revision order, and stayed connected \
         (prefix `{}`; {} event(s) of unconfirmed writes; drain {} s)",
        f.complete_subscribers, f.subscribers, f.prefix, f.tally.unconfirmed, f.drain_secs
    );
    let (problems, more) = rows::problem_table(f);
    if problems.is_empty() {
        return;
    }
    let _ = write!(o, "\n{}", problems.markdown());
    if more > 0 {
        let _ = writeln!(o, "\n… and {more} more (all in report.json).");
    }
    let _ = writeln!(o);
}
