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

/// Judges `m` against `t`. In open-loop mode (`open_target_rate` given) the
/// throughput floor is `min(ops_per_sec, 0.95 × target rate)`: when you chose
/// the rate, only failing to deliver it is a throughput problem.
pub fn evaluate(
    t: &Thresholds,
    m: &PerformanceMetrics,
    open_target_rate: Option<f64>,
) -> Vec<ThresholdCheck> {
    let mut out = Vec::new();
    let mut check =
        |metric: &str, min: bool, limit: Option<f64>, actual: Option<f64>, note: Option<String>| {
            let Some(limit) = limit else { return };
            let (status, note) = match actual {
                None => (
                    CheckStatus::Skipped,
                    note.or_else(|| Some("not measured".into())),
                ),
                Some(a) if (min && a >= limit) || (!min && a <= limit) => (CheckStatus::Pass, note),
                Some(_) => (CheckStatus::Fail, note),
            };
            out.push(ThresholdCheck {
                metric: metric.into(),
                op: if min { ">=" } else { "<=" }.into(),
                limit,
                actual,
                status,
                note,
            });
        };
    let l = &m.latency;
    let has_lat = l.count > 0;
    let lat = |v: f64| if has_lat { Some(v) } else { None };
    let no_answers = (!has_lat).then(|| "no request got an answer".to_string());
    check(
        "success_rate",
        true,
        t.min_success_rate_pct,
        Some(m.success_rate_pct),
        None,
    );
    check(
        "avg_ms",
        false,
        t.max_avg_ms,
        lat(l.avg_ms),
        no_answers.clone(),
    );
    check(
        "p50_ms",
        false,
        t.max_p50_ms,
        lat(l.p50_ms),
        no_answers.clone(),
    );
    check(
        "p90_ms",
        false,
        t.max_p90_ms,
        lat(l.p90_ms),
        no_answers.clone(),
    );
    check(
        "p95_ms",
        false,
        t.max_p95_ms,
        lat(l.p95_ms),
        no_answers.clone(),
    );
    check(
        "p99_ms",
        false,
        t.max_p99_ms,
        lat(l.p99_ms),
        no_answers.clone(),
    );
    check("p999_ms", false, t.max_p999_ms, lat(l.p999_ms), no_answers);
    let (floor, note) = match (t.min_ops_per_sec, open_target_rate) {
        (Some(f), Some(rate)) if rate * 0.95 < f => (
            Some(rate * 0.95),
            Some(format!("open loop: 95 % of the target rate {rate}/s")),
        ),
        (f, _) => (f, None),
    };
    check("ops_per_sec", true, floor, Some(m.throughput_ops_sec), note);
    check(
        "peak_memory_mb",
        false,
        t.max_peak_memory_mb,
        m.peak_memory_mb,
        None,
    );
    let fan = m.fanout.as_ref();
    let not_fanout = || fan.is_none().then(|| "not a fan-out scenario".to_string());
    let count = |f: fn(&FanoutSummary) -> u64| fan.map(|s| f(s) as f64);
    check(
        "delivered_pct",
        true,
        t.min_delivered_pct,
        fan.and_then(|f| f.delivered_pct),
        not_fanout()
            .or_else(|| Some("nothing to deliver: no write succeeded".into()))
            .filter(|_| fan.is_none_or(|f| f.delivered_pct.is_none())),
    );
    check(
        "duplicates",
        false,
        t.max_duplicates,
        count(|f| f.tally.duplicates),
        not_fanout(),
    );
    check(
        "out_of_order",
        false,
        t.max_out_of_order,
        count(|f| f.tally.out_of_order),
        not_fanout(),
    );
    check(
        "disconnects",
        false,
        t.max_disconnects,
        count(|f| f.disconnects),
        not_fanout(),
    );
    check(
        "bad_frames",
        false,
        t.max_bad_frames,
        count(|f| f.bad_frames),
        not_fanout(),
    );
    if t.fail_on_leak {
        let (status, actual, note) = match &m.resources {
            None => (
                CheckStatus::Skipped,
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
                    CheckStatus::Skipped,
                    None,
                    format!("inconclusive: {}", r.leak.reason),
                ),
            },
        };
        out.push(ThresholdCheck {
            metric: "leak".into(),
            op: "==".into(),
            limit: 0.0,
            actual,
            status,
            note: Some(note),
        });
    }
    out
}
