//! Small inline SVG line charts for report.html: no scripts, no assets.

use std::fmt::Write as _;

use super::esc;
use crate::model::PercentilePoint;

pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 240.0;
const ML: f64 = 60.0;
const MR: f64 = 20.0;
const MT: f64 = 44.0;
const MB: f64 = 40.0;

/// A small line chart. `x_ticks` overrides the numeric x axis labels.
pub fn line_chart(
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
