//! Small inline SVG line charts for report.html: no scripts, no assets.
//! Axes are ticked at round numbers (1-2-5 steps); limits (thresholds) are
//! drawn as dashed horizontal lines, phases (stages, search steps, scenarios
//! of a run) as labelled vertical marks.

use std::fmt::Write as _;

use super::esc;
use crate::model::PercentilePoint;

pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// A horizontal line at `value` (a threshold), labelled.
pub struct Level {
    pub value: f64,
    pub label: String,
}

/// A vertical mark at `at` on the x axis (a stage or step starting), labelled.
#[derive(Clone)]
pub struct Mark {
    pub at: f64,
    pub label: String,
}

/// How the x axis is ticked.
pub enum XAxis<'a> {
    /// Numbers from 0 (seconds of a run), round ticks.
    FromZero,
    /// Fixed labelled positions (the percentile axis).
    Labelled(&'a [(f64, &'a str)]),
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_axis: XAxis<'a>,
    pub series: Vec<Series<'a>>,
    pub levels: Vec<Level>,
    pub marks: Vec<Mark>,
}

const W: f64 = 640.0;
const H: f64 = 260.0;
const ML: f64 = 60.0;
const MR: f64 = 20.0;
const MT: f64 = 50.0;
const MB: f64 = 40.0;
const LIMIT_COLOUR: &str = "#d62728";
const MARK_COLOUR: &str = "#888";
const DOTS_UP_TO: usize = 40;

/// A round tick step (1, 2 or 5 × a power of ten) giving about `ticks`
/// intervals over `span`.
pub fn nice_step(span: f64, ticks: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / ticks;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// A tick label: as many decimals as the step needs, no more.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{value:.decimals$}")
}

impl Chart<'_> {
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>{}</title>"#,
            esc(self.title)
        );
        let _ = write!(
            o,
            r#"<text x="{}" y="18" font-size="14" text-anchor="middle" font-weight="bold">{}</text>"#,
            W / 2.0,
            esc(self.title)
        );
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        for &(x, y) in points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y_max = y_max.max(y);
        }
        if !x0.is_finite() {
            let _ = write!(
                o,
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data</text></svg>"##,
                W / 2.0,
                H / 2.0
            );
            return o;
        }
        if matches!(self.x_axis, XAxis::FromZero) {
            x0 = x0.min(0.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        for level in &self.levels {
            y_max = y_max.max(level.value);
        }
        let y_step = nice_step(y_max * 1.05, 4.0);
        let y1 = ((y_max * 1.05) / y_step).ceil().max(1.0) * y_step;
        let pw = W - ML - MR;
        let ph = H - MT - MB;
        let sx = |x: f64| ML + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| MT + ph - y / y1 * ph;
        let _ = write!(
            o,
            r##"<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
        );
        let mut y = 0.0;
        while y <= y1 + y_step / 2.0 {
            let _ = write!(
                o,
                r##"<line x1="{ML}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
                ML + pw,
                ML - 4.0,
                sy(y) + 3.0,
                tick_label(y, y_step),
                py = sy(y)
            );
            y += y_step;
        }
        let x_ticks: Vec<(f64, String)> = match self.x_axis {
            XAxis::Labelled(ticks) => ticks
                .iter()
                .filter(|(x, _)| *x >= x0 && *x <= x1)
                .map(|(x, l)| (*x, l.to_string()))
                .collect(),
            XAxis::FromZero => {
                let step = nice_step(x1 - x0, 6.0);
                let first = (x0 / step).ceil() as i64;
                let last = (x1 / step + 1e-9).floor() as i64;
                (first..=last)
                    .map(|i| i as f64 * step)
                    .map(|x| (x, tick_label(x, step)))
                    .collect()
            }
        };
        for (x, label) in x_ticks {
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
            esc(self.x_label)
        );
        let _ = write!(
            o,
            r#"<text x="14" y="{}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
            MT + ph / 2.0,
            MT + ph / 2.0,
            esc(self.y_label)
        );
        // Labels of marks close together step down, so they do not overprint.
        for (i, mark) in self
            .marks
            .iter()
            .filter(|m| m.at >= x0 && m.at <= x1)
            .enumerate()
        {
            let _ = write!(
                o,
                r#"<line class="mark" x1="{x:.1}" x2="{x:.1}" y1="{MT}" y2="{}" stroke="{MARK_COLOUR}" stroke-dasharray="2 3"/><text x="{:.1}" y="{}" font-size="9" fill="{MARK_COLOUR}">{}</text>"#,
                MT + ph,
                sx(mark.at) + 2.0,
                MT + 10.0 + 10.0 * (i % 3) as f64,
                esc(&mark.label),
                x = sx(mark.at)
            );
        }
        for level in &self.levels {
            let _ = write!(
                o,
                r#"<line class="limit" x1="{ML}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{LIMIT_COLOUR}" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="{LIMIT_COLOUR}">{}</text>"#,
                ML + pw,
                ML + pw - 2.0,
                sy(level.value) - 3.0,
                esc(&level.label),
                y = sy(level.value)
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let path: Vec<String> = s
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = write!(
                o,
                r#"<polyline class="series" fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                s.colour,
                path.join(" ")
            );
            // Few points (a short run): dots, so a lone point still shows.
            if s.points.len() <= DOTS_UP_TO {
                for &(x, y) in &s.points {
                    let _ = write!(
                        o,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                        sx(x),
                        sy(y),
                        s.colour
                    );
                }
            }
            // Legend: one row between the title and the plot, never over the data.
            let lx = ML + 190.0 * i as f64;
            let _ = write!(
                o,
                r#"<rect x="{lx}" y="28" width="10" height="10" fill="{}"/><text x="{}" y="37" font-size="11">{}</text>"#,
                s.colour,
                lx + 14.0,
                esc(s.name)
            );
        }
        o.push_str("</svg>");
        o
    }
}

/// x position of a percentile on the HdrHistogram-style log axis: log10(1 / (1 - p)).
fn pct_x(p: f64) -> f64 {
    let tail = (1.0 - p / 100.0).max(1e-6);
    (1.0 / tail).log10()
}

/// A percentile curve as chart points (the 100th percentile has no place on a log axis).
pub fn curve_points(curve: &[PercentilePoint]) -> Vec<(f64, f64)> {
    curve
        .iter()
        .filter(|p| p.percentile < 100.0)
        .map(|p| (pct_x(p.percentile), p.latency_ms))
        .collect()
}

pub const PCT_TICKS: [(f64, &str); 6] = [
    (0.0, "0%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(47.0, 4.0), 20.0);
        assert_eq!(nice_step(0.9, 6.0), 0.2);
        assert_eq!(nice_step(1234.0, 4.0), 500.0);
        assert_eq!(nice_step(3.0, 6.0), 0.5);
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(1500.0, 500.0), "1500");
    }

    #[test]
    fn a_chart_draws_its_series_limits_and_marks() {
        let chart = Chart {
            title: "t",
            x_label: "s",
            y_label: "ms",
            x_axis: XAxis::FromZero,
            series: vec![Series {
                name: "p99",
                colour: "#000",
                points: vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)],
            }],
            levels: vec![Level {
                value: 10.0,
                label: "p99 limit 10 ms".into(),
            }],
            marks: vec![Mark {
                at: 1.0,
                label: "stage 2".into(),
            }],
        }
        .render();
        assert!(chart.contains(r#"class="limit""#));
        assert!(chart.contains("stage 2"));
        assert!(chart.contains(r#"class="series""#));
        // The limit (10) is inside the y axis: ticks 0, 5, 10 (1-2-5 step over 10.5).
        assert!(chart.contains(">10<") && chart.contains(">5<"), "{chart}");
    }
}
