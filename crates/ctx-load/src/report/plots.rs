//! Which charts report.html shows, built from the model: per scenario, the
//! latency percentile curve, throughput over time, latency (p50, p99) over
//! time, server RSS and CPU over time — each with its scenario's limits drawn
//! in — and the whole run's throughput and p99, scenario after scenario.

use super::chart::{Chart, Level, Mark, PCT_TICKS, Series, XAxis, curve_points};
use crate::model::{FindMax, RunMode, ScenarioReport, StageFigures, TimeBucket, Timeline};

const BLUE: &str = "#1f77b4";
const ORANGE: &str = "#ff7f0e";
const GREEN: &str = "#2ca02c";
const RED: &str = "#d62728";
const PURPLE: &str = "#9467bd";
const BROWN: &str = "#8c564b";

fn limit(value: Option<f64>, what: &str) -> Option<Level> {
    value.map(|value| Level {
        value,
        label: format!("{what} limit {value}"),
    })
}

/// The buckets worth plotting as rates: all but a partial last one (the run
/// ended inside it; as a rate it would look like a collapse), unless it is
/// the only one.
fn full_buckets(timeline: &Timeline, duration_secs: f64) -> &[TimeBucket] {
    let width = timeline.bucket_secs;
    let full = timeline
        .buckets
        .iter()
        .take_while(|b| b.t_secs + width <= duration_secs + 1e-9)
        .count();
    &timeline.buckets[..full.max(timeline.buckets.len().min(1))]
}

/// Where a bucket is drawn: its middle.
fn middle(b: &TimeBucket, width: f64) -> f64 {
    b.t_secs + width / 2.0
}

/// `count` per second in each bucket.
fn rates(
    buckets: &[TimeBucket],
    width: f64,
    offset: f64,
    count: fn(&TimeBucket) -> u64,
) -> Vec<(f64, f64)> {
    buckets
        .iter()
        .map(|b| (offset + middle(b, width), count(b) as f64 / width))
        .collect()
}

/// A latency figure of each bucket that had answers.
fn latencies(
    buckets: &[TimeBucket],
    width: f64,
    offset: f64,
    figure: fn(&TimeBucket) -> Option<f64>,
) -> Vec<(f64, f64)> {
    buckets
        .iter()
        .filter_map(|b| figure(b).map(|ms| (offset + middle(b, width), ms)))
        .collect()
}

/// The p50 and p99 lines of a latency chart, named and coloured alike in
/// every chart (over time, by rate).
fn p50_and_p99(p50: Vec<(f64, f64)>, p99: Vec<(f64, f64)>) -> Vec<Series<'static>> {
    vec![
        Series {
            name: "p50",
            colour: BLUE,
            points: p50,
        },
        Series {
            name: "p99",
            colour: ORANGE,
            points: p99,
        },
    ]
}

/// The charts of one scenario, in page order. Its charts over time take
/// `marks`: its phases (stages, search steps), seconds from its start.
pub fn scenario_charts(sc: &ScenarioReport, marks: &[Mark]) -> Vec<Chart<'static>> {
    let m = &sc.metrics;
    let t = &sc.thresholds;
    let marks = || marks.to_vec();
    let mut curve = vec![Series {
        name: match m.mode {
            RunMode::Open => "corrected (from intended send)",
            RunMode::Fanout => "write-to-delivery (from due time)",
            RunMode::Closed => "latency",
        },
        colour: BLUE,
        points: curve_points(&m.latency_curve),
    }];
    if let Some(ol) = &m.open_loop {
        curve.push(Series {
            name: "uncorrected (from actual send)",
            colour: ORANGE,
            points: curve_points(&ol.uncorrected_curve),
        });
    }
    if let Some(f) = &m.fanout {
        curve.push(Series {
            name: "POST /ctx (from due time)",
            colour: ORANGE,
            points: curve_points(&f.write_latency_curve),
        });
    }
    let width = m.timeline.bucket_secs;
    let buckets = full_buckets(&m.timeline, m.duration_secs);
    let mut throughput = vec![Series {
        name: "ok/s",
        colour: GREEN,
        points: rates(buckets, width, 0.0, |b| b.ok),
    }];
    if buckets.iter().any(|b| b.errors > 0) {
        throughput.push(Series {
            name: "errors/s",
            colour: RED,
            points: rates(buckets, width, 0.0, |b| b.errors),
        });
    }
    let all = &m.timeline.buckets;
    let mut charts = vec![
        Chart {
            title: "Latency by percentile",
            x_label: "percentile",
            y_label: "ms",
            x_axis: XAxis::Labelled(&PCT_TICKS),
            series: curve,
            levels: limit(t.max_p99_ms, "p99").into_iter().collect(),
            marks: Vec::new(),
        },
        Chart {
            title: "Throughput over time",
            x_label: "seconds",
            y_label: "requests/s",
            x_axis: XAxis::FromZero,
            series: throughput,
            levels: limit(t.min_ops_per_sec, "ops/s").into_iter().collect(),
            marks: marks(),
        },
        Chart {
            title: "Latency over time",
            x_label: "seconds",
            y_label: "ms",
            x_axis: XAxis::FromZero,
            series: p50_and_p99(
                latencies(all, width, 0.0, |b| b.p50_ms),
                latencies(all, width, 0.0, |b| b.p99_ms),
            ),
            levels: [limit(t.max_p50_ms, "p50"), limit(t.max_p99_ms, "p99")]
                .into_iter()
                .flatten()
                .collect(),
            marks: marks(),
        },
    ];
    if let Some(res) = &m.resources {
        charts.push(Chart {
            title: "Server RSS over time",
            x_label: "seconds",
            y_label: "MB",
            x_axis: XAxis::FromZero,
            series: vec![Series {
                name: "server RSS",
                colour: PURPLE,
                points: res.samples.iter().map(|s| (s.t_secs, s.rss_mb)).collect(),
            }],
            levels: limit(t.max_peak_memory_mb, "peak MB").into_iter().collect(),
            marks: marks(),
        });
        charts.push(Chart {
            title: "Server CPU over time",
            x_label: "seconds",
            y_label: "% of one core",
            x_axis: XAxis::FromZero,
            series: vec![Series {
                name: "server CPU",
                colour: BROWN,
                points: res
                    .samples
                    .iter()
                    .filter_map(|s| s.cpu_percent.map(|cpu| (s.t_secs, cpu)))
                    .collect(),
            }],
            levels: Vec::new(),
            marks: marks(),
        });
    }
    charts
}

/// The whole run at a glance: each scenario's throughput and p99, laid end
/// to end (seconds of load, gaps between scenarios left out), a mark where
/// each begins. None for a run of one scenario (its own charts say it all).
pub fn run_charts(scenarios: &[ScenarioReport]) -> Option<[Chart<'static>; 2]> {
    if scenarios.len() < 2 {
        return None;
    }
    let (mut ok, mut p99, mut marks) = (Vec::new(), Vec::new(), Vec::new());
    let mut offset = 0.0;
    for sc in scenarios {
        let m = &sc.metrics;
        let width = m.timeline.bucket_secs;
        marks.push(Mark {
            at: offset,
            label: sc.name.clone(),
        });
        let buckets = full_buckets(&m.timeline, m.duration_secs);
        ok.extend(rates(buckets, width, offset, |b| b.ok));
        p99.extend(latencies(&m.timeline.buckets, width, offset, |b| b.p99_ms));
        offset += m.duration_secs;
    }
    Some([
        Chart {
            title: "Throughput, scenario after scenario",
            x_label: "seconds of load",
            y_label: "requests/s",
            x_axis: XAxis::FromZero,
            series: vec![Series {
                name: "ok/s",
                colour: GREEN,
                points: ok,
            }],
            levels: Vec::new(),
            marks: marks.clone(),
        },
        Chart {
            title: "p99 latency, scenario after scenario",
            x_label: "seconds of load",
            y_label: "ms",
            x_axis: XAxis::FromZero,
            series: vec![Series {
                name: "p99",
                colour: ORANGE,
                points: p99,
            }],
            levels: Vec::new(),
            marks,
        },
    ])
}

/// A mark where each stage after the first begins, labelled with the level it ramps to.
pub fn stage_marks(stages: &[StageFigures]) -> Vec<Mark> {
    stages
        .iter()
        .skip(1)
        .map(|StageFigures { span, .. }| Mark {
            at: span.start_secs,
            label: format!("stage {} → {} {}", span.stage, span.to, span.ramps.unit()),
        })
        .collect()
}

/// The saturation search's curve: p50 and p99 (and success) by rate tried,
/// the SLO's latency limits as lines, a mark at the highest rate that met it.
pub fn find_max_chart(search: &FindMax) -> Chart<'static> {
    let mut steps: Vec<_> = search.steps.iter().collect();
    steps.sort_by(|a, b| a.rate_per_sec.total_cmp(&b.rate_per_sec));
    let by_rate = |figure: fn(&crate::model::SearchStep) -> f64| -> Vec<(f64, f64)> {
        steps.iter().map(|s| (s.rate_per_sec, figure(s))).collect()
    };
    let levels = ["p50_ms", "p99_ms"]
        .into_iter()
        .filter_map(|metric| {
            search.slo.get(metric).map(|&value| Level {
                value,
                label: format!("SLO {metric} {value}"),
            })
        })
        .collect();
    Chart {
        title: "Saturation search: latency by rate",
        x_label: "requests/s offered",
        y_label: "ms",
        x_axis: XAxis::FromZero,
        series: p50_and_p99(by_rate(|s| s.p50_ms), by_rate(|s| s.p99_ms)),
        levels,
        marks: search
            .max_rate_per_sec
            .map(|rate| Mark {
                at: rate,
                label: format!("max {rate:.0} req/s"),
            })
            .into_iter()
            .collect(),
    }
}
