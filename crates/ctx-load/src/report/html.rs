//! `report.html`: the report's key figures with inline SVG charts (see
//! [`super::plots`]). One self-contained file: no scripts, no external
//! assets, opens anywhere.

use std::fmt::Write as _;

use super::rows::{self, measured, title_case};
use super::shape_rows;
use super::{baseline, esc, plots};
use crate::model::{FanoutSummary, LatencySummary, RunReport};

/// The fan-out figures of a `ws_fanout` section, and the subscribers that did
/// not get every write exactly once, in order.
fn fanout_html(o: &mut String, f: &FanoutSummary, delivery: &LatencySummary) {
    let _ = write!(
        o,
        "<p>{}</p>{}",
        esc(&rows::delivery_line(f, delivery)),
        rows::fanout_table(f).html()
    );
    let (problems, more) = rows::problem_table(f);
    if problems.is_empty() {
        let _ = write!(
            o,
            "<p class=\"pass\">All {} subscribers got every write exactly once, in revision order.</p>",
            f.subscribers
        );
        return;
    }
    o.push_str(&problems.html());
    if more > 0 {
        let _ = write!(o, "<p>… and {more} more (all in report.json).</p>");
    }
}

pub fn render(r: &RunReport) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ctx load report</title><style>");
    o.push_str("body{font-family:system-ui,sans-serif;max-width:1320px;margin:2em auto;padding:0 1em;color:#222}");
    o.push_str("table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}.text{text-align:left}");
    o.push_str("th:first-child,td:first-child{text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#080}");
    o.push_str(".banner{background:#fee;border:1px solid #b00;padding:.5em 1em}svg{display:block;margin:.5em 0}.charts{display:flex;flex-wrap:wrap;gap:0 12px}");
    o.push_str("</style></head><body>");
    let _ = write!(
        o,
        "<h1>Context Server - Performance Test Report</h1><p>Generated {} · target <code>{}</code> · {} loop</p>",
        esc(&r.generated_at),
        esc(&r.target),
        r.mode.kind.name()
    );
    if let Some(line) = rows::provenance(r) {
        let _ = write!(o, "<p>{}</p>", esc(&line));
    }
    if !r.complete {
        let _ = write!(
            o,
            "<p class=\"banner\"><b>INCOMPLETE REPORT</b> — the run was aborted: {}</p>",
            esc(&r
                .aborted_reason
                .as_ref()
                .map_or("unknown reason".into(), |a| a.to_string()))
        );
    }
    let s = &r.summary;
    let verdict = rows::verdict_cell(r);
    let headline = rows::readiness_headline(r);
    let _ = write!(
        o,
        "<h2>Executive summary</h2><ul><li>Total operations: {}</li><li>Overall success rate: {:.1}%</li>\
         <li>Average throughput: {:.1} ops/s</li><li>Scenarios: {}</li><li>Peak server memory: {}</li>\
         <li>Checks: {}</li><li>Verdict: <span class=\"{}\">{}</span></li>\
         <li>Production readiness: <span class=\"{}\">{}</span></li></ul>",
        s.total_operations,
        s.overall_success_rate_pct,
        s.mean_throughput_ops_sec,
        s.scenario_count,
        esc(&measured(s.peak_memory_mb, " MB")),
        rows::check_tally(r),
        verdict.tone.class(),
        verdict.text,
        headline.tone.class(),
        esc(&headline.text)
    );
    if !r.readiness.issues.is_empty() {
        o.push_str("<ul>");
        for issue in &r.readiness.issues {
            let _ = write!(o, "<li>{}</li>", esc(issue));
        }
        o.push_str("</ul>");
    }
    if let Some(search) = &r.find_max {
        let _ = write!(
            o,
            "<h2>Saturation search</h2><p><b>{}</b></p><p>Each rate in open loop for {:.1} s, \
             judged by the SLO; the rates tried, lowest first:</p>{}",
            esc(&shape_rows::find_max_line(search)),
            search.step_secs,
            shape_rows::find_max_table(search).html()
        );
        o.push_str(&plots::find_max_chart(search).render());
    }
    o.push_str(&rows::scenario_table(r).html());
    if let Some(comparison) = &r.baseline {
        let _ = write!(
            o,
            "<h2>Comparison with the baseline</h2><p>{}</p>{}",
            esc(&baseline::headline(comparison)),
            baseline::changes_table(comparison).html()
        );
        for note in baseline::notes(comparison) {
            let _ = write!(o, "<p>{}</p>", esc(&note));
        }
        o.push_str(&baseline::figures_table(comparison).html());
    }
    if let Some(charts) = plots::run_charts(&r.scenarios) {
        o.push_str("<div class=\"charts\">");
        for chart in charts {
            o.push_str(&chart.render());
        }
        o.push_str("</div>");
    }
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
        if let Some(stages) = shape_rows::stage_table(sc) {
            o.push_str("<h3>Stages</h3>");
            o.push_str(&stages.html());
        }
        o.push_str(&rows::checks_table(sc).html());
        if let Some(f) = &m.fanout {
            fanout_html(&mut o, f, &m.latency);
        }
        o.push_str("<div class=\"charts\">");
        for chart in plots::scenario_charts(sc, &plots::stage_marks(&m.stages)) {
            o.push_str(&chart.render());
        }
        o.push_str("</div>");
        match &m.resources {
            Some(res) => {
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
