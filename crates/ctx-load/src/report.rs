//! The report directory: `report.md` (every section of the seed's report, plus
//! resource usage, leak verdicts and threshold checks), `report.json` (every
//! figure, versioned by `schema_version`, documented in docs/load.md) and
//! `report.html` (the same with inline SVG charts).
//!
//! A run that was aborted is still reported when anything was measured, but
//! marked incomplete everywhere (`"complete": false`, an INCOMPLETE banner),
//! so a partial report is never mistaken for a finished one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fanout::{FanoutSummary, MAX_PROBLEM_ROWS, PROBLEM_COLUMNS};
use crate::metrics::{LatencySummary, PerformanceMetrics};
use crate::scenarios::{CheckStatus, ThresholdCheck, Thresholds};

/// Bumped whenever a field of `report.json` changes meaning or disappears
/// (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// The production-readiness criteria of the seed: every scenario with a
/// success rate ≥ 95 % and p99 ≤ 2000 ms.
pub const READY_MIN_SUCCESS_PCT: f64 = 95.0;
pub const READY_MAX_P99_MS: f64 = 2000.0;

#[derive(Clone, Debug, Serialize)]
pub struct ServerInfo {
    /// true when `ctx load` started the server itself.
    pub started_by_load: bool,
    /// PID whose RSS/CPU were sampled; None = resources not measured.
    pub pid: Option<u32>,
    /// How stopping our server went, when it was not clean.
    pub stop_note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModeInfo {
    /// "closed" or "open".
    pub kind: String,
    pub rate: Option<f64>,
    pub duration_secs: Option<f64>,
    pub scale: f64,
    pub clients_override: Option<u64>,
    pub timeout_secs: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NamedFigure {
    pub scenario: String,
    pub value: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario_count: usize,
    pub total_operations: u64,
    pub success_count: u64,
    pub overall_success_rate_pct: f64,
    /// Mean of the scenarios' throughputs (the seed's "average throughput").
    pub mean_throughput_ops_sec: f64,
    pub best_throughput: Option<NamedFigure>,
    pub slowest_average: Option<NamedFigure>,
    /// Highest server RSS over all scenarios; None = not measured.
    pub peak_memory_mb: Option<f64>,
    /// Mean of the scenarios' average CPU; None = not measured.
    pub avg_cpu_percent: Option<f64>,
    /// total_operations / peak_memory_mb (the seed's "memory efficiency").
    pub ops_per_mb: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub criteria: String,
    pub issues: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub thresholds: Thresholds,
    pub checks: Vec<ThresholdCheck>,
    /// No check failed (skipped checks do not fail).
    pub passed: bool,
    pub metrics: PerformanceMetrics,
}

/// Everything `report.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub tool: String,
    /// When the run started (before the server was started or reached), RFC 3339 UTC.
    pub started_at: String,
    /// When the report was made (after the last scenario), RFC 3339, UTC.
    pub generated_at: String,
    /// false when the run was aborted: the figures cover only the scenarios listed.
    pub complete: bool,
    pub aborted_reason: Option<String>,
    pub target: String,
    pub server: ServerInfo,
    pub mode: ModeInfo,
    pub summary: Summary,
    pub readiness: Readiness,
    /// Data-driven advice (errors, memory trend, saturation, coverage gaps).
    pub recommendations: Vec<String>,
    pub all_thresholds_passed: bool,
    pub scenarios: Vec<ScenarioReport>,
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, s) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| s / n as f64)
}

/// Derives the summary, readiness verdict and overall pass from the scenarios.
pub fn summarise(scenarios: &[ScenarioReport]) -> (Summary, Readiness, bool) {
    let ms: Vec<&PerformanceMetrics> = scenarios.iter().map(|s| &s.metrics).collect();
    let total_operations: u64 = ms.iter().map(|m| m.total_operations).sum();
    let success_count: u64 = ms.iter().map(|m| m.success_count).sum();
    let overall_success_rate_pct = if total_operations == 0 {
        0.0
    } else {
        success_count as f64 / total_operations as f64 * 100.0
    };
    let best_throughput = ms
        .iter()
        .max_by(|a, b| a.throughput_ops_sec.total_cmp(&b.throughput_ops_sec))
        .map(|m| NamedFigure {
            scenario: m.operation_type.clone(),
            value: m.throughput_ops_sec,
        });
    let slowest_average = ms
        .iter()
        .max_by(|a, b| a.latency.avg_ms.total_cmp(&b.latency.avg_ms))
        .map(|m| NamedFigure {
            scenario: m.operation_type.clone(),
            value: m.latency.avg_ms,
        });
    let peak_memory_mb = ms.iter().filter_map(|m| m.peak_memory_mb).reduce(f64::max);
    let avg_cpu_percent = mean(ms.iter().filter_map(|m| m.avg_cpu_percent));
    let summary = Summary {
        scenario_count: scenarios.len(),
        total_operations,
        success_count,
        overall_success_rate_pct,
        mean_throughput_ops_sec: mean(ms.iter().map(|m| m.throughput_ops_sec)).unwrap_or(0.0),
        best_throughput,
        slowest_average,
        peak_memory_mb,
        avg_cpu_percent,
        ops_per_mb: peak_memory_mb
            .filter(|p| *p > 0.0)
            .map(|p| total_operations as f64 / p),
    };
    let mut issues = Vec::new();
    for m in &ms {
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
    let readiness = Readiness {
        ready: issues.is_empty() && !scenarios.is_empty(),
        criteria: format!(
            "every scenario: success rate >= {READY_MIN_SUCCESS_PCT}% and p99 <= {READY_MAX_P99_MS}ms"
        ),
        issues,
    };
    let all_passed = scenarios.iter().all(|s| s.passed);
    (summary, readiness, all_passed)
}

/// Advice derived from the figures: what failed, what was not measured,
/// what to run next. Each line names the scenario and the figure behind it.
pub fn recommendations(
    scenarios: &[ScenarioReport],
    monitored: bool,
    open_loop: bool,
) -> Vec<String> {
    use crate::monitor::LeakVerdict;
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
    if !open_loop && scenarios.iter().any(|s| s.metrics.mode == "closed") {
        out.push(
            "Closed-loop latencies hide queueing (coordinated omission): for latency under a fixed \
             arrival rate, re-run with --rate R --duration SECS."
                .into(),
        );
    }
    out
}

/// `./ctx-report/<UTC timestamp>/`, with a numeric suffix if that exists already.
pub fn default_report_dir() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let base = PathBuf::from("ctx-report");
    let mut dir = base.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// Writes report.json, report.md and report.html into `dir` (created if needed).
pub fn write(dir: &Path, report: &RunReport) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.md"), render_markdown(report))?;
    std::fs::write(dir.join("report.html"), crate::html::render(report))?;
    Ok(())
}

pub(crate) fn opt(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) => format!("{v:.1}{unit}"),
        None => "not measured".to_string(),
    }
}

pub(crate) fn title_case(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "**FAIL**",
        CheckStatus::Skipped => "skipped",
    }
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
            r.aborted_reason.as_deref().unwrap_or("unknown reason")
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
    let _ = writeln!(
        o,
        "Mode: {}{}{}; scale {}; request timeout {:.0} s  ",
        r.mode.kind,
        match (r.mode.rate, r.mode.duration_secs) {
            (Some(rate), Some(d)) => format!(" loop, {rate} req/s for {d} s"),
            _ => " loop".to_string(),
        },
        if r.mode.kind == "closed" && r.scenarios.iter().any(|s| s.metrics.fanout.is_some()) {
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
    let _ = writeln!(
        o,
        "- **Thresholds:** {}\n",
        if r.all_thresholds_passed {
            "all met"
        } else {
            "**at least one failed**"
        }
    );

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
            opt(m.peak_memory_mb, "MB")
        );
        let _ = writeln!(
            o,
            "- **Average CPU Usage:** {}",
            opt(m.avg_cpu_percent, "%")
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
            match m.mode.as_str() {
                "open" => " (corrected: from intended send time)",
                "fanout" => " (write-to-delivery at each subscriber, from the write's due time)",
                _ => "",
            }
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
        if !sc.checks.is_empty() {
            let _ = writeln!(o, "| threshold | limit | actual | result |");
            let _ = writeln!(o, "|---|---|---|---|");
            for c in &sc.checks {
                let limit = if c.metric == "leak" {
                    "not growing".to_string()
                } else {
                    format!("{} {}", c.op, c.limit)
                };
                let actual = c
                    .actual
                    .map(|a| format!("{a:.2}"))
                    .unwrap_or_else(|| "—".into());
                let note = c
                    .note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {}{} |",
                    c.metric,
                    limit,
                    actual,
                    status_word(c.status),
                    note
                );
            }
            let _ = writeln!(o);
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
        opt(s.peak_memory_mb, "MB")
    );
    let _ = writeln!(
        o,
        "- Average CPU utilization: {}",
        opt(s.avg_cpu_percent, "%")
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
        let _ = writeln!(
            o,
            "| scenario | samples | peak RSS | avg CPU | RSS slope | growth | verdict |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        for sc in &r.scenarios {
            match &sc.metrics.resources {
                Some(res) => {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} | {} | {} | {} | {:?} |",
                        sc.name,
                        res.samples.len(),
                        opt(res.peak_rss_mb, " MB"),
                        opt(res.avg_cpu_percent, " %"),
                        res.leak
                            .slope_mb_per_min
                            .map(|v| format!("{v:+.2} MB/min"))
                            .unwrap_or_else(|| "—".into()),
                        res.leak
                            .growth_pct
                            .map(|v| format!("{v:+.1} %"))
                            .unwrap_or_else(|| "—".into()),
                        res.leak.verdict
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "| {} | 0 | not measured | not measured | — | — | — |",
                        sc.name
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "\nLeak rule: after the first 30 % of a run, RSS is \"growing\" when the least-squares slope is above \
             1 MB/min, the implied growth over the window is above 10 % of the mean RSS, and R² ≥ 0.5; runs with \
             under 5 s or 16 samples after warm-up are inconclusive.\n"
        );
    }

    let _ = writeln!(o, "## Production Readiness Assessment\n");
    if r.readiness.ready {
        let _ = writeln!(
            o,
            "✅ **PRODUCTION READY** - All performance criteria met\n"
        );
    } else {
        let _ = writeln!(o, "⚠️ **PERFORMANCE ISSUES DETECTED**\n");
        for i in &r.readiness.issues {
            let _ = writeln!(o, "- {i}");
        }
        if r.scenarios.is_empty() {
            let _ = writeln!(o, "- No scenario finished.");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "Criteria: {}.\n", r.readiness.criteria);

    let _ = writeln!(o, "## Thresholds\n");
    let _ = writeln!(o, "| scenario | result | failed checks |");
    let _ = writeln!(o, "|---|---|---|");
    for sc in &r.scenarios {
        let failed: Vec<String> = sc
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| {
                format!(
                    "{} {} {} (actual {})",
                    c.metric,
                    c.op,
                    c.limit,
                    c.actual.map(|a| format!("{a:.2}")).unwrap_or_default()
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            sc.name,
            if sc.passed { "pass" } else { "**FAIL**" },
            if failed.is_empty() {
                "—".to_string()
            } else {
                failed.join("; ")
            }
        );
    }
    o
}

/// The fan-out lines of a scenario section: writes, delivery, and the
/// subscribers that did not get everything exactly once, in order.
fn fanout_markdown(o: &mut String, f: &FanoutSummary, delivery: &LatencySummary) {
    let w = &f.write_latency;
    let _ = writeln!(o, "- **Fan-out:** {}", f.delivery_line(delivery));
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
    let problems: Vec<_> = f.problem_subscribers().collect();
    if problems.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n| {} |", PROBLEM_COLUMNS.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(PROBLEM_COLUMNS.len()));
    for s in problems.iter().take(MAX_PROBLEM_ROWS) {
        let cells = s.problem_row().map(|c| c.replace('|', "\\|"));
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    if problems.len() > MAX_PROBLEM_ROWS {
        let _ = writeln!(
            o,
            "\n… and {} more (all in report.json).",
            problems.len() - MAX_PROBLEM_ROWS
        );
    }
    let _ = writeln!(o);
}

/// The terminal summary table (stdout).
pub fn summary_table(r: &RunReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<20} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10}  result",
        "scenario", "ops", "success", "ops/s", "avg ms", "p95 ms", "p99 ms", "peak MB"
    );
    for sc in &r.scenarios {
        let m = &sc.metrics;
        let _ = writeln!(
            o,
            "{:<20} {:>7} {:>7.1}% {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>10}  {}",
            sc.name,
            m.total_operations,
            m.success_rate_pct,
            m.throughput_ops_sec,
            m.latency.avg_ms,
            m.latency.p95_ms,
            m.latency.p99_ms,
            m.peak_memory_mb
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "n/m".into()),
            if sc.passed {
                "pass".to_string()
            } else {
                let failed: Vec<&str> = sc
                    .checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::Fail)
                    .map(|c| c.metric.as_str())
                    .collect();
                format!("FAIL ({})", failed.join(", "))
            }
        );
    }
    for sc in &r.scenarios {
        if let Some(f) = &sc.metrics.fanout {
            let _ = writeln!(o, "  {}: {}", sc.name, f.delivery_line(&sc.metrics.latency));
        }
    }
    let _ = writeln!(
        o,
        "{} scenario(s), {} operations, {:.1}% success; thresholds {}{}",
        r.summary.scenario_count,
        r.summary.total_operations,
        r.summary.overall_success_rate_pct,
        if r.all_thresholds_passed {
            "met"
        } else {
            "FAILED"
        },
        if r.complete {
            ""
        } else {
            " — INCOMPLETE RUN"
        }
    );
    o
}
