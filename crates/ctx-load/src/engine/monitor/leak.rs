//! The leak rule applied to a run's RSS samples (see [`LeakRule`]).

use crate::model::{LeakAnalysis, LeakRule, LeakVerdict};

/// Least-squares fit of `y = a + b·x`; returns (b, R²). None when x has no spread.
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let b = sxy / sxx;
    // A perfectly flat series is explained perfectly by a flat line.
    let r2 = if syy <= f64::EPSILON {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some((b, r2))
}

/// Applies [`LeakRule`] to `(seconds, rss_mb)` points (in time order).
pub fn analyse_leak(points: &[(f64, f64)], rule: &LeakRule) -> LeakAnalysis {
    let inconclusive = |reason: String, window_secs: f64, samples_used: usize| LeakAnalysis {
        verdict: LeakVerdict::Inconclusive,
        slope_mb_per_min: None,
        growth_pct: None,
        r_squared: None,
        window_secs,
        samples_used,
        reason,
        rule: rule.clone(),
    };
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return inconclusive("no samples".into(), 0.0, 0);
    };
    let cut = first.0 + (last.0 - first.0) * rule.warmup_fraction.clamp(0.0, 0.95);
    let window: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 >= cut).collect();
    let window_secs = window.last().map_or(0.0, |l| l.0) - window.first().map_or(0.0, |f| f.0);
    if window_secs < rule.min_window_secs || window.len() < rule.min_samples {
        return inconclusive(
            format!(
                "run too short to judge: {:.1} s and {} samples after warm-up (need {:.0} s and {})",
                window_secs,
                window.len(),
                rule.min_window_secs,
                rule.min_samples
            ),
            window_secs,
            window.len(),
        );
    }
    let Some((slope_per_sec, r2)) = fit(&window) else {
        return inconclusive(
            "samples have no time spread".into(),
            window_secs,
            window.len(),
        );
    };
    let mean = window.iter().map(|p| p.1).sum::<f64>() / window.len() as f64;
    let slope = slope_per_sec * 60.0;
    let growth_pct = if mean > 0.0 {
        slope_per_sec * window_secs / mean * 100.0
    } else {
        0.0
    };
    let growing = slope > rule.max_slope_mb_per_min
        && growth_pct > rule.min_growth_pct
        && r2 >= rule.min_r_squared;
    let reason = if growing {
        format!(
            "RSS still climbing after warm-up: {slope:+.2} MB/min (> {} MB/min), {growth_pct:+.1} % over {window_secs:.1} s (> {} %), R² {r2:.2}",
            rule.max_slope_mb_per_min, rule.min_growth_pct
        )
    } else {
        format!(
            "RSS flat after warm-up: {slope:+.2} MB/min, {growth_pct:+.1} % over {window_secs:.1} s, R² {r2:.2}"
        )
    };
    LeakAnalysis {
        verdict: if growing {
            LeakVerdict::Growing
        } else {
            LeakVerdict::Plateau
        },
        slope_mb_per_min: Some(slope),
        growth_pct: Some(growth_pct),
        r_squared: Some(r2),
        window_secs,
        samples_used: window.len(),
        reason,
        rule: rule.clone(),
    }
}
