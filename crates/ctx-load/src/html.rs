//! `report.html`: the report's key figures with inline SVG charts (latency
//! percentile curve, throughput over time, server RSS over time). One
//! self-contained file: no scripts, no external assets, opens anywhere.

use std::fmt::Write as _;

use crate::fanout::{FanoutSummary, MAX_PROBLEM_ROWS, PROBLEM_COLUMNS};
use crate::metrics::{LatencySummary, PercentilePoint};
use crate::report::{RunReport, opt, title_case};
use crate::scenarios::CheckStatus;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    points: Vec<(f64, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 240.0;
const ML: f64 = 60.0;
const MR: f64 = 20.0;
const MT: f64 = 44.0;
const MB: f64 = 40.0;

/// A small line chart. `x_ticks` overrides the numeric x axis labels.
fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_ticks: Option<&[(f64, &str)]>,
) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>{}</title>"#,
        esc(title)
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="18" font-size="14" text-anchor="middle" font-weight="bold">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    if !x0.is_finite() {
        let _ = write!(
            o,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data</text></svg>"##,
            W / 2.0,
            H / 2.0
        );
        return o;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    y1 *= 1.1;
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let sx = |x: f64| ML + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| MT + ph - y / y1 * ph;
    // Axes and grid.
    let _ = write!(
        o,
        r##"<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    for i in 0..=4 {
        let y = y1 * i as f64 / 4.0;
        let _ = write!(
            o,
            r##"<line x1="{ML}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
            ML + pw,
            ML - 4.0,
            sy(y) + 3.0,
            fmt_num(y),
            py = sy(y)
        );
    }
    let ticks: Vec<(f64, String)> = match x_ticks {
        Some(t) => t
            .iter()
            .filter(|(x, _)| *x >= x0 && *x <= x1)
            .map(|(x, l)| (*x, l.to_string()))
            .collect(),
        None => (0..=4)
            .map(|i| x0 + (x1 - x0) * i as f64 / 4.0)
            .map(|x| (x, fmt_num(x)))
            .collect(),
    };
    for (x, label) in ticks {
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            sx(x),
            MT + ph + 14.0,
            esc(&label)
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
        ML + pw / 2.0,
        H - 6.0,
        esc(x_label)
    );
    let _ = write!(
        o,
        r#"<text x="14" y="{}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        MT + ph / 2.0,
        MT + ph / 2.0,
        esc(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            s.colour,
            path.join(" ")
        );
        // Legend: one row between the title and the plot, never over the data.
        let lx = ML + 200.0 * i as f64;
        let _ = write!(
            o,
            r#"<rect x="{lx}" y="27" width="10" height="10" fill="{}"/><text x="{}" y="36" font-size="11">{}</text>"#,
            s.colour,
            lx + 14.0,
            esc(s.name)
        );
    }
    o.push_str("</svg>");
    o
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// x position of a percentile on the HdrHistogram-style log axis: log10(1 / (1 - p)).
fn pct_x(p: f64) -> f64 {
    let tail = (1.0 - p / 100.0).max(1e-6);
    (1.0 / tail).log10()
}

/// A percentile curve as chart points (the 100th percentile has no place on a log axis).
fn curve_points(curve: &[PercentilePoint]) -> Vec<(f64, f64)> {
    curve
        .iter()
        .filter(|p| p.percentile < 100.0)
        .map(|p| (pct_x(p.percentile), p.latency_ms))
        .collect()
}

const PCT_TICKS: [(f64, &str); 6] = [
    (0.0, "0%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
];

/// The fan-out figures of a `ws_fanout` section, and the subscribers that did
/// not get every write exactly once, in order.
fn fanout_html(o: &mut String, f: &FanoutSummary, delivery: &LatencySummary) {
    let _ = write!(
        o,
        "<p>{}</p><table><tr><th>writes</th><th>target/s</th><th>achieved/s</th><th>ok</th><th>late</th>\
         <th>POST p99 ms</th><th>expected</th><th>delivered</th><th>missing</th><th>duplicates</th>\
         <th>out of order</th><th>disconnected</th><th>bad frames</th></tr><tr><td>{}</td><td>{}</td>\
         <td>{:.1}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr></table>",
        esc(&f.delivery_line(delivery)),
        f.writes_planned,
        f.write_rate_target,
        f.write_rate_achieved,
        f.writes_ok,
        f.writes_late,
        f.write_latency.p99_ms,
        f.expected,
        f.tally.delivered,
        f.tally.missing,
        f.tally.duplicates,
        f.tally.out_of_order,
        f.disconnects,
        f.bad_frames
    );
    let problems: Vec<_> = f.problem_subscribers().collect();
    if problems.is_empty() {
        let _ = write!(
            o,
            "<p class=\"pass\">All {} subscribers got every write exactly once, in revision order.</p>",
            f.subscribers
        );
        return;
    }
    o.push_str("<table><tr>");
    for c in PROBLEM_COLUMNS {
        let _ = write!(o, "<th>{c}</th>");
    }
    o.push_str("</tr>");
    for s in problems.iter().take(MAX_PROBLEM_ROWS) {
        o.push_str("<tr>");
        for c in s.problem_row() {
            let _ = write!(o, "<td>{}</td>", esc(&c));
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    if problems.len() > MAX_PROBLEM_ROWS {
        let _ = write!(
            o,
            "<p>… and {} more (all in report.json).</p>",
            problems.len() - MAX_PROBLEM_ROWS
        );
    }
}

pub fn render(r: &RunReport) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ctx load report</title><style>");
    o.push_str("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}");
    o.push_str("table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}");
    o.push_str("th:first-child,td:first-child{text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#080}");
    o.push_str(".banner{background:#fee;border:1px solid #b00;padding:.5em 1em}svg{display:block;margin:.5em 0}");
    o.push_str("</style></head><body>");
    let _ = write!(
        o,
        "<h1>Context Server - Performance Test Report</h1><p>Generated {} · target <code>{}</code> · {} loop</p>",
        esc(&r.generated_at),
        esc(&r.target),
        esc(&r.mode.kind)
    );
    if !r.complete {
        let _ = write!(
            o,
            "<p class=\"banner\"><b>INCOMPLETE REPORT</b> — the run was aborted: {}</p>",
            esc(r.aborted_reason.as_deref().unwrap_or("unknown reason"))
        );
    }
    let s = &r.summary;
    let _ = write!(
        o,
        "<h2>Executive summary</h2><ul><li>Total operations: {}</li><li>Overall success rate: {:.1}%</li>\
         <li>Average throughput: {:.1} ops/s</li><li>Scenarios: {}</li><li>Peak server memory: {}</li>\
         <li>Production readiness: {}</li><li>Thresholds: <span class=\"{}\">{}</span></li></ul>",
        s.total_operations,
        s.overall_success_rate_pct,
        s.mean_throughput_ops_sec,
        s.scenario_count,
        esc(&opt(s.peak_memory_mb, " MB")),
        if r.readiness.ready {
            "ready".to_string()
        } else {
            esc(&r.readiness.issues.join("; "))
        },
        if r.all_thresholds_passed {
            "pass"
        } else {
            "fail"
        },
        if r.all_thresholds_passed {
            "all met"
        } else {
            "at least one failed"
        }
    );
    o.push_str("<table><tr><th>scenario</th><th>ops</th><th>success</th><th>ops/s</th><th>avg ms</th><th>p95 ms</th><th>p99 ms</th><th>peak MB</th><th>avg CPU</th><th>result</th></tr>");
    for sc in &r.scenarios {
        let m = &sc.metrics;
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.1}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&sc.name),
            m.total_operations,
            m.success_rate_pct,
            m.throughput_ops_sec,
            m.latency.avg_ms,
            m.latency.p95_ms,
            m.latency.p99_ms,
            esc(&opt(m.peak_memory_mb, "")),
            esc(&opt(m.avg_cpu_percent, "%")),
            if sc.passed { "pass" } else { "fail" },
            if sc.passed { "pass" } else { "FAIL" }
        );
    }
    o.push_str("</table>");
    if !r.recommendations.is_empty() {
        o.push_str("<h2>Recommendations</h2><ul>");
        for rec in &r.recommendations {
            let _ = write!(o, "<li>{}</li>", esc(rec));
        }
        o.push_str("</ul>");
    }

    for sc in &r.scenarios {
        let m = &sc.metrics;
        let _ = write!(
            o,
            "<h2>{}</h2><p>{}</p>",
            esc(&title_case(&sc.name)),
            esc(&sc.description)
        );
        o.push_str(
            "<table><tr><th>threshold</th><th>limit</th><th>actual</th><th>result</th></tr>",
        );
        for c in &sc.checks {
            let (class, word) = match c.status {
                CheckStatus::Pass => ("pass", "pass"),
                CheckStatus::Fail => ("fail", "FAIL"),
                CheckStatus::Skipped => ("", "skipped"),
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{word}{}</td></tr>",
                esc(&c.metric),
                if c.metric == "leak" {
                    "not growing".to_string()
                } else {
                    format!("{} {}", esc(&c.op), c.limit)
                },
                c.actual
                    .map(|a| format!("{a:.2}"))
                    .unwrap_or_else(|| "—".into()),
                c.note
                    .as_ref()
                    .map(|n| format!(" ({})", esc(n)))
                    .unwrap_or_default()
            );
        }
        o.push_str("</table>");
        if let Some(f) = &m.fanout {
            fanout_html(&mut o, f, &m.latency);
        }
        let mut lat = vec![Series {
            name: match m.mode.as_str() {
                "open" => "corrected (from intended send)",
                "fanout" => "write-to-delivery (from due time)",
                _ => "latency",
            },
            colour: "#1f77b4",
            points: curve_points(&m.latency_curve),
        }];
        if let Some(ol) = &m.open_loop {
            lat.push(Series {
                name: "uncorrected (from actual send)",
                colour: "#ff7f0e",
                points: curve_points(&ol.uncorrected_curve),
            });
        }
        if let Some(f) = &m.fanout {
            lat.push(Series {
                name: "POST /ctx (from due time)",
                colour: "#ff7f0e",
                points: curve_points(&f.write_latency_curve),
            });
        }
        o.push_str(&line_chart(
            "Latency by percentile",
            "percentile",
            "ms",
            &lat,
            Some(&PCT_TICKS),
        ));
        // The last second of a run is usually partial: plotted as a rate it
        // would look like a collapse. Keep it only when it is the only one.
        let full_second =
            |sec: u64| (sec + 1) as f64 <= m.duration_secs || m.throughput_series.len() == 1;
        let tput = vec![
            Series {
                name: "ok/s",
                colour: "#2ca02c",
                points: m
                    .throughput_series
                    .iter()
                    .filter(|b| full_second(b.second))
                    .map(|b| (b.second as f64, b.ok as f64))
                    .collect(),
            },
            Series {
                name: "errors/s",
                colour: "#d62728",
                points: m
                    .throughput_series
                    .iter()
                    .filter(|b| full_second(b.second))
                    .map(|b| (b.second as f64, b.errors as f64))
                    .collect(),
            },
        ];
        o.push_str(&line_chart(
            "Throughput over time",
            "second of run",
            "requests/s",
            &tput,
            None,
        ));
        match &m.resources {
            Some(res) => {
                let rss = vec![Series {
                    name: "server RSS",
                    colour: "#9467bd",
                    points: res.samples.iter().map(|s| (s.t_secs, s.rss_mb)).collect(),
                }];
                o.push_str(&line_chart(
                    "Server RSS over time",
                    "seconds",
                    "MB",
                    &rss,
                    None,
                ));
                let _ = write!(
                    o,
                    "<p>Memory trend: {:?} — {}</p>",
                    res.leak.verdict,
                    esc(&res.leak.reason)
                );
            }
            None => o.push_str("<p>Server memory and CPU: not measured (no server PID).</p>"),
        }
    }
    o.push_str("</body></html>\n");
    o
}
