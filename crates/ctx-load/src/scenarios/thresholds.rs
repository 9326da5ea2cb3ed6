//! Thresholds as data: set from text (`--threshold`, TOML), and judged
//! against a scenario's figures.

use crate::model::{
    CheckStatus, FanoutSummary, LeakVerdict, PerformanceMetrics, THRESHOLD_METRICS, ThresholdCheck,
    Thresholds,
};

impl Thresholds {
    /// Sets one limit from its metric name and a textual value: a number, or
    /// `off`/`none` to stop checking it (`leak` takes `on`/`off`/`true`/`false`).
    pub fn set(&mut self, metric: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        if metric == "leak" {
            self.fail_on_leak = match value.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "1" => true,
                "off" | "false" | "no" | "0" | "none" => false,
                _ => return Err(format!("leak takes on or off, got {value:?}")),
            };
            return Ok(());
        }
        let slot = match metric {
            "success_rate" => &mut self.min_success_rate_pct,
            "avg_ms" => &mut self.max_avg_ms,
            "p50_ms" => &mut self.max_p50_ms,
            "p90_ms" => &mut self.max_p90_ms,
            "p95_ms" => &mut self.max_p95_ms,
            "p99_ms" => &mut self.max_p99_ms,
            "p999_ms" => &mut self.max_p999_ms,
            "ops_per_sec" => &mut self.min_ops_per_sec,
            "peak_memory_mb" => &mut self.max_peak_memory_mb,
            "delivered_pct" => &mut self.min_delivered_pct,
            "duplicates" => &mut self.max_duplicates,
            "out_of_order" => &mut self.max_out_of_order,
            "disconnects" => &mut self.max_disconnects,
            "bad_frames" => &mut self.max_bad_frames,
            "rate_pct" => &mut self.min_rate_pct,
            "late_pct" => &mut self.max_late_pct,
            "checks_pct" => &mut self.min_checks_pct,
            _ => {
                return Err(format!(
                    "unknown metric {metric:?} (known: {})",
                    THRESHOLD_METRICS.join(", ")
                ));
            }
        };
        if matches!(value.to_ascii_lowercase().as_str(), "off" | "none") {
            *slot = None;
            return Ok(());
        }
        let v: f64 = value
            .parse()
            .map_err(|_| format!("{metric} needs a number or off, got {value:?}"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!(
                "{metric} needs a finite non-negative number, got {value:?}"
            ));
        }
        *slot = Some(v);
        Ok(())
    }
}

/// Requests a success rate, an average or a median needs before a pass counts.
pub const MIN_REQUESTS: u64 = 100;
/// How long a run must last before its throughput counts.
pub const MIN_THROUGHPUT_SECS: f64 = 1.0;

/// Answered requests a latency quantile needs before a pass counts: ten
/// beyond it (p95 → 200, p99 → 1000, p99.9 → 10 000), and at least
/// [`MIN_REQUESTS`]. With fewer, "p99" is one of the slowest handful of
/// requests, not a percentile.
pub fn samples_needed(quantile: f64) -> u64 {
    ((10.0 / (1.0 - quantile)).round() as u64).max(MIN_REQUESTS)
}

/// A figure as the judge sees it.
enum Figure {
    /// Measured on enough evidence.
    Solid(f64),
    /// Measured, on too little evidence: a failure still fails, a pass is inconclusive.
    Thin(f64, String),
    /// Not measured: inconclusive.
    Missing(String),
    /// The limit does not apply to this scenario.
    NotApplicable(&'static str),
}

#[derive(Clone, Copy)]
enum Bound {
    AtLeast,
    AtMost,
}

fn judge(
    out: &mut Vec<ThresholdCheck>,
    metric: &str,
    bound: Bound,
    limit: Option<f64>,
    figure: Figure,
    note: Option<String>,
) {
    let Some(limit) = limit else { return };
    let holds = |value: f64| match bound {
        Bound::AtLeast => value >= limit,
        Bound::AtMost => value <= limit,
    };
    let (status, actual, note) = match figure {
        Figure::Solid(value) if holds(value) => (CheckStatus::Pass, Some(value), note),
        Figure::Solid(value) => (CheckStatus::Fail, Some(value), note),
        Figure::Thin(value, why) if holds(value) => {
            (CheckStatus::Inconclusive, Some(value), Some(why))
        }
        Figure::Thin(value, _) => (CheckStatus::Fail, Some(value), note),
        Figure::Missing(why) => (CheckStatus::Inconclusive, None, Some(why)),
        Figure::NotApplicable(why) => (CheckStatus::Skipped, None, Some(why.to_string())),
    };
    out.push(ThresholdCheck {
        metric: metric.into(),
        op: match bound {
            Bound::AtLeast => ">=",
            Bound::AtMost => "<=",
        }
        .into(),
        limit,
        actual,
        status,
        note,
    });
}

/// A latency quantile (None: the average) as a figure, with its evidence.
fn latency_figure(m: &PerformanceMetrics, value: f64, quantile: Option<f64>) -> Figure {
    let count = m.latency.count;
    if count == 0 {
        return Figure::Missing("no request got an answer".into());
    }
    let needed = quantile.map_or(MIN_REQUESTS, samples_needed);
    if count < needed {
        Figure::Thin(
            value,
            format!("only {count} samples: this figure needs at least {needed}"),
        )
    } else {
        Figure::Solid(value)
    }
}

/// Judges `m` against `t`: every limit becomes a check that passes, fails,
/// or is inconclusive (see [`Figure`]). In open loop (`open_target_rate`
/// given) the throughput floor is `min(ops_per_sec, 0.95 × target rate)`:
/// when you chose the rate, only failing to deliver it is a throughput
/// problem; and the rate itself is checked (`rate_pct`, `late_pct`).
pub fn evaluate(
    t: &Thresholds,
    m: &PerformanceMetrics,
    open_target_rate: Option<f64>,
) -> Vec<ThresholdCheck> {
    let mut out = Vec::new();
    let requests = m.total_operations;
    let success = if requests < MIN_REQUESTS {
        Figure::Thin(
            m.success_rate_pct,
            format!("only {requests} requests: a success rate needs at least {MIN_REQUESTS}"),
        )
    } else {
        Figure::Solid(m.success_rate_pct)
    };
    judge(
        &mut out,
        "success_rate",
        Bound::AtLeast,
        t.min_success_rate_pct,
        success,
        None,
    );
    let l = &m.latency;
    for (metric, limit, value, quantile) in [
        ("avg_ms", t.max_avg_ms, l.avg_ms, None),
        ("p50_ms", t.max_p50_ms, l.p50_ms, Some(0.5)),
        ("p90_ms", t.max_p90_ms, l.p90_ms, Some(0.9)),
        ("p95_ms", t.max_p95_ms, l.p95_ms, Some(0.95)),
        ("p99_ms", t.max_p99_ms, l.p99_ms, Some(0.99)),
        ("p999_ms", t.max_p999_ms, l.p999_ms, Some(0.999)),
    ] {
        let figure = latency_figure(m, value, quantile);
        judge(&mut out, metric, Bound::AtMost, limit, figure, None);
    }
    let (floor, note) = match (t.min_ops_per_sec, open_target_rate) {
        (Some(f), Some(rate)) if rate * 0.95 < f => (
            Some(rate * 0.95),
            Some(format!("open loop: 95 % of the target rate {rate}/s")),
        ),
        (f, _) => (f, None),
    };
    let throughput = if m.duration_secs < MIN_THROUGHPUT_SECS {
        Figure::Thin(
            m.throughput_ops_sec,
            format!(
                "the run lasted {:.2} s: a throughput needs at least {MIN_THROUGHPUT_SECS} s",
                m.duration_secs
            ),
        )
    } else {
        Figure::Solid(m.throughput_ops_sec)
    };
    judge(
        &mut out,
        "ops_per_sec",
        Bound::AtLeast,
        floor,
        throughput,
        note,
    );
    if let Some(open) = &m.open_loop {
        let achieved = open.achieved_rate / open.target_rate * 100.0;
        judge(
            &mut out,
            "rate_pct",
            Bound::AtLeast,
            t.min_rate_pct,
            Figure::Solid(achieved),
            Some(format!(
                "achieved {:.1} of {} req/s",
                open.achieved_rate, open.target_rate
            )),
        );
        let late = if open.sent == 0 {
            Figure::Missing("no request was sent".into())
        } else {
            Figure::Solid(open.late as f64 / open.sent as f64 * 100.0)
        };
        judge(
            &mut out,
            "late_pct",
            Bound::AtMost,
            t.max_late_pct,
            late,
            Some(format!(
                "{} of {} sent more than {} ms after their due time",
                open.late, open.sent, open.late_slack_ms
            )),
        );
    }
    for tally in &m.content_checks {
        let evaluated = tally.passed + tally.failed;
        let pct = tally.passed as f64 / evaluated.max(1) as f64 * 100.0;
        let figure = if evaluated == 0 {
            Figure::Missing("no answer to check".into())
        } else if evaluated < MIN_REQUESTS {
            Figure::Thin(
                pct,
                format!("only {evaluated} answers checked: needs at least {MIN_REQUESTS}"),
            )
        } else {
            Figure::Solid(pct)
        };
        let note = tally
            .first_failure
            .as_ref()
            .map(|first| format!("{} of {evaluated} failed; first: {first}", tally.failed));
        let metric = format!("check: {}", tally.name);
        judge(
            &mut out,
            &metric,
            Bound::AtLeast,
            t.min_checks_pct,
            figure,
            note,
        );
    }
    let memory = match m.peak_memory_mb {
        Some(mb) => Figure::Solid(mb),
        None => Figure::Missing("not measured (no server PID)".into()),
    };
    judge(
        &mut out,
        "peak_memory_mb",
        Bound::AtMost,
        t.max_peak_memory_mb,
        memory,
        None,
    );
    fanout_checks(&mut out, t, m.fanout.as_ref());
    if t.fail_on_leak {
        out.push(leak_check(m));
    }
    out
}

fn fanout_checks(out: &mut Vec<ThresholdCheck>, t: &Thresholds, fanout: Option<&FanoutSummary>) {
    const NOT_FANOUT: &str = "not a fan-out scenario";
    let delivered = match fanout {
        None => Figure::NotApplicable(NOT_FANOUT),
        Some(f) => match f.delivered_pct {
            Some(pct) => Figure::Solid(pct),
            None => Figure::Missing("nothing to deliver: no write succeeded".into()),
        },
    };
    judge(
        out,
        "delivered_pct",
        Bound::AtLeast,
        t.min_delivered_pct,
        delivered,
        None,
    );
    let count = |pick: fn(&FanoutSummary) -> u64| match fanout {
        Some(f) => Figure::Solid(pick(f) as f64),
        None => Figure::NotApplicable(NOT_FANOUT),
    };
    judge(
        out,
        "duplicates",
        Bound::AtMost,
        t.max_duplicates,
        count(|f| f.tally.duplicates),
        None,
    );
    judge(
        out,
        "out_of_order",
        Bound::AtMost,
        t.max_out_of_order,
        count(|f| f.tally.out_of_order),
        None,
    );
    judge(
        out,
        "disconnects",
        Bound::AtMost,
        t.max_disconnects,
        count(|f| f.disconnects),
        None,
    );
    judge(
        out,
        "bad_frames",
        Bound::AtMost,
        t.max_bad_frames,
        count(|f| f.bad_frames),
        None,
    );
}

/// The memory trend: growing fails, a plateau passes, anything else is inconclusive.
fn leak_check(m: &PerformanceMetrics) -> ThresholdCheck {
    let (status, actual, note) = match &m.resources {
        None => (
            CheckStatus::Inconclusive,
            None,
            "not measured (no server PID)".to_string(),
        ),
        Some(r) => match r.leak.verdict {
            LeakVerdict::Growing => (
                CheckStatus::Fail,
                r.leak.slope_mb_per_min,
                r.leak.reason.clone(),
            ),
            LeakVerdict::Plateau => (
                CheckStatus::Pass,
                r.leak.slope_mb_per_min,
                r.leak.reason.clone(),
            ),
            LeakVerdict::Inconclusive => (
                CheckStatus::Inconclusive,
                None,
                format!("inconclusive: {}", r.leak.reason),
            ),
        },
    };
    ThresholdCheck {
        metric: "leak".into(),
        op: "==".into(),
        limit: 0.0,
        actual,
        status,
        note: Some(note),
    }
}
