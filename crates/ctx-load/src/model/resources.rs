//! The server process's resources over one scenario: RSS and CPU samples and
//! the memory-trend (leak) verdict. Plain data; sampled by
//! [`crate::engine::monitor`], judged by [`crate::engine::monitor::analyse_leak`].

use serde::{Deserialize, Serialize};

/// One reading of the server process.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// Seconds since the monitor started.
    pub t_secs: f64,
    pub rss_mb: f64,
    /// CPU use since the previous sample (100 = one full core); None for the first.
    pub cpu_percent: Option<f64>,
}

/// What the monitor found over one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceUsage {
    pub pid: u32,
    pub interval_ms: u64,
    pub samples: Vec<Sample>,
    pub peak_rss_mb: Option<f64>,
    /// CPU time used over the run divided by its wall time (100 = one core).
    pub avg_cpu_percent: Option<f64>,
    pub leak: LeakAnalysis,
    /// Set when sampling stopped early (the process went away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The leak rule. RSS is judged **growing** when, over the samples after the
/// warm-up, *all* of these hold:
/// - the window is long enough to judge (`min_window_secs`, `min_samples`),
///   otherwise the verdict is **inconclusive** (never a failure);
/// - the least-squares slope exceeds `max_slope_mb_per_min`;
/// - the growth the line implies over the window (slope × window length)
///   exceeds `min_growth_pct` of the mean RSS in the window — so a large
///   server growing by a few pages is not a leak;
/// - the line explains the data (`R² ≥ min_r_squared`) — so one allocation
///   spike in a flat series is not a trend.
///
/// Otherwise it is a **plateau**. The defaults ignore the first 30 % of the run
/// (caches, allocator arenas and connection buffers fill up there).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LeakRule {
    pub warmup_fraction: f64,
    pub min_window_secs: f64,
    pub min_samples: usize,
    pub max_slope_mb_per_min: f64,
    pub min_growth_pct: f64,
    pub min_r_squared: f64,
}

impl Default for LeakRule {
    fn default() -> Self {
        LeakRule {
            warmup_fraction: 0.3,
            min_window_secs: 5.0,
            min_samples: 16,
            max_slope_mb_per_min: 1.0,
            min_growth_pct: 10.0,
            min_r_squared: 0.5,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeakVerdict {
    Plateau,
    Growing,
    Inconclusive,
}

/// Result of [`crate::engine::monitor::analyse_leak`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LeakAnalysis {
    pub verdict: LeakVerdict,
    pub slope_mb_per_min: Option<f64>,
    /// slope × window length as a percentage of the window's mean RSS.
    pub growth_pct: Option<f64>,
    pub r_squared: Option<f64>,
    pub window_secs: f64,
    pub samples_used: usize,
    /// One human sentence explaining the verdict.
    pub reason: String,
    pub rule: LeakRule,
}
