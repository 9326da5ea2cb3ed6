//! Threshold overrides and evaluation; the leak rule on synthetic RSS series.

use std::time::Duration;

use ctx_load::engine::RunResult;
use ctx_load::engine::monitor::analyse_leak;
use ctx_load::model::ErrorBreakdown;
use ctx_load::model::PerformanceMetrics;
use ctx_load::model::{CheckStatus, Thresholds};
use ctx_load::model::{LeakRule, LeakVerdict, ResourceUsage};
use ctx_load::scenarios::{self, apply_overrides, evaluate, seed_scenarios};
use ctx_load::{LoadError, LoadOptions, prepare_scenarios};

fn known() -> Vec<String> {
    scenarios::SEED_SCENARIOS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn overrides_change_only_the_named_scenario() {
    let mut all = seed_scenarios();
    apply_overrides(
        &mut all,
        &known(),
        &[
            "concurrent_reads.p99_ms=50".into(),
            "file_dumps.avg_ms=off".into(),
        ],
    )
    .unwrap();
    assert_eq!(all[0].thresholds.max_p99_ms, Some(50.0));
    assert_eq!(all[0].thresholds.max_avg_ms, Some(100.0), "seed limit kept");
    assert_eq!(all[2].thresholds.max_p99_ms, None);
    assert_eq!(all[1].name, "file_dumps");
    assert_eq!(all[1].thresholds.max_avg_ms, None, "off disables");
    apply_overrides(
        &mut all,
        &known(),
        &[
            "*.success_rate=99.5".into(),
            "memory_stress.leak=off".into(),
        ],
    )
    .unwrap();
    assert!(
        all.iter()
            .all(|s| s.thresholds.min_success_rate_pct == Some(99.5))
    );
    assert!(!all[4].thresholds.fail_on_leak);
}

#[test]
fn seed_thresholds_are_the_seed_ones() {
    // In the seed's table order (file_dumps runs second, but its limits are the seed's).
    let by_name = |name: &str| -> Thresholds {
        seed_scenarios()
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.thresholds)
            .expect("a seed scenario")
    };
    let t: Vec<Thresholds> = [
        "concurrent_reads",
        "concurrent_writes",
        "mixed_workload",
        "file_dumps",
        "memory_stress",
        "percentile_analysis",
    ]
    .map(by_name)
    .into();
    assert_eq!(
        (
            t[0].min_success_rate_pct,
            t[0].max_avg_ms,
            t[0].min_ops_per_sec
        ),
        (Some(95.0), Some(100.0), Some(100.0))
    );
    assert_eq!(
        (
            t[1].min_success_rate_pct,
            t[1].max_avg_ms,
            t[1].min_ops_per_sec
        ),
        (Some(90.0), Some(200.0), Some(50.0))
    );
    assert_eq!(
        (
            t[2].min_success_rate_pct,
            t[2].max_avg_ms,
            t[2].min_ops_per_sec
        ),
        (Some(92.0), Some(150.0), Some(75.0))
    );
    assert_eq!(
        (
            t[3].min_success_rate_pct,
            t[3].max_avg_ms,
            t[3].min_ops_per_sec
        ),
        (Some(85.0), Some(2000.0), Some(5.0))
    );
    assert_eq!(
        (
            t[4].min_success_rate_pct,
            t[4].max_peak_memory_mb,
            t[4].fail_on_leak
        ),
        (Some(85.0), Some(1024.0), true)
    );
    assert_eq!(
        (t[5].min_success_rate_pct, t[5].max_p95_ms, t[5].max_p99_ms),
        (Some(95.0), Some(300.0), Some(1000.0))
    );
}

#[test]
fn malformed_overrides_are_rejected() {
    for bad in [
        "concurrent_reads.p99_ms",      // no value
        "concurrent_reads=5",           // no metric
        "nope.p99_ms=5",                // unknown scenario
        "concurrent_reads.p98_ms=5",    // unknown metric
        "concurrent_reads.p99_ms=fast", // not a number
        "concurrent_reads.p99_ms=-1",   // negative
        "concurrent_reads.p99_ms=NaN",
        "memory_stress.leak=maybe",
    ] {
        let mut all = seed_scenarios();
        let err = apply_overrides(&mut all, &known(), &[bad.to_string()]).unwrap_err();
        assert!(matches!(err, LoadError::InvalidOption(_)), "{bad}");
        assert!(
            err.to_string().contains("malformed threshold"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn options_are_validated_before_anything_runs() {
    let opts = |f: fn(&mut LoadOptions)| {
        let mut o = LoadOptions::default();
        f(&mut o);
        prepare_scenarios(&o)
    };
    assert_eq!(opts(|_| {}).unwrap().len(), 6);
    let two = opts(|o| o.scenarios = vec!["file_dumps".into(), "concurrent_reads".into()]).unwrap();
    assert_eq!(
        two.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["file_dumps", "concurrent_reads"]
    );
    let scaled = opts(|o| {
        o.scale = 3.0;
        o.clients = Some(2);
    })
    .unwrap();
    assert_eq!((scaled[0].clients, scaled[0].ops_per_client), (2, 150));
    for bad in [
        opts(|o| o.scenarios = vec!["nope".into()]),
        opts(|o| o.scale = 0.0),
        opts(|o| o.scale = f64::NAN),
        opts(|o| o.clients = Some(0)),
        opts(|o| o.scale = 1e18),
        opts(|o| o.clients = Some(u64::MAX)),
        opts(|o| o.thresholds = vec!["x".into()]),
        opts(|o| {
            o.open_loop = Some(ctx_load::OpenLoop {
                rate: 0.0,
                duration: Duration::from_secs(1),
            })
        }),
    ] {
        assert!(matches!(bad, Err(LoadError::InvalidOption(_))), "{bad:?}");
    }
}

fn metrics_with(success: u64, total: u64, lat_ms: &[u64], secs: f64) -> PerformanceMetrics {
    let mut h = ctx_load::model::new_histogram();
    for ms in lat_ms {
        h.record(ms * 1000).unwrap();
    }
    let mut errors = ErrorBreakdown::default();
    if total > success {
        errors.status.insert(500, total - success);
    }
    let run = RunResult {
        attempted: total,
        success,
        errors,
        latency: h,
        connect: ctx_load::model::new_histogram(),
        content_checks: Vec::new(),
        elapsed: Duration::from_secs_f64(secs),
        per_second: Vec::new(),
        timeline: Default::default(),
        open: None,
        stages: Vec::new(),
        stage_latency: Vec::new(),
    };
    run.metrics("t", 1, Some(total), 10.0, None, None)
}

#[test]
fn evaluation_judges_each_limit() {
    let t = Thresholds {
        min_success_rate_pct: Some(95.0),
        max_avg_ms: Some(100.0),
        max_p99_ms: Some(150.0),
        min_ops_per_sec: Some(10.0),
        max_peak_memory_mb: Some(1.0),
        fail_on_leak: true,
        ..Thresholds::default()
    };
    // 100 ops in 2 s = 50 ops/s; 96 % ok; latencies 1..100 ms (avg 50.5, p99 99).
    let lat: Vec<u64> = (1..=100).collect();
    let m = metrics_with(96, 100, &lat, 2.0);
    let checks = evaluate(&t, &m, None);
    let status = |name: &str| checks.iter().find(|c| c.metric == name).map(|c| c.status);
    assert_eq!(status("success_rate"), Some(CheckStatus::Pass));
    assert_eq!(status("avg_ms"), Some(CheckStatus::Pass));
    // 100 samples hold a p99 under its limit, but a p99 needs 1000: not established.
    assert_eq!(status("p99_ms"), Some(CheckStatus::Inconclusive));
    assert_eq!(status("ops_per_sec"), Some(CheckStatus::Pass));
    // Not measured: inconclusive, never a made-up pass or fail.
    assert_eq!(status("peak_memory_mb"), Some(CheckStatus::Inconclusive));
    assert_eq!(status("leak"), Some(CheckStatus::Inconclusive));
    // With 1000 samples the same p99 passes.
    let many: Vec<u64> = (0..1000).map(|i| 1 + i / 10).collect();
    let checks = evaluate(&t, &metrics_with(1000, 1000, &many, 2.0), None);
    let p99 = checks.iter().find(|c| c.metric == "p99_ms").unwrap();
    assert_eq!(p99.status, CheckStatus::Pass);
    // A limit missed on few samples still fails: failing is evidence enough.
    let slow: Vec<u64> = vec![500; 20];
    let checks = evaluate(&t, &metrics_with(20, 20, &slow, 2.0), None);
    let avg = checks.iter().find(|c| c.metric == "avg_ms").unwrap();
    assert_eq!(avg.status, CheckStatus::Fail);
    assert_eq!(status("p95_ms"), None, "unset limits are not checked");

    let m = metrics_with(90, 100, &lat, 20.0); // 90 % and 5 ops/s
    let checks = evaluate(&t, &m, None);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.metric.as_str())
        .collect();
    assert_eq!(failed, ["success_rate", "ops_per_sec"]);
    // Open loop at 5 req/s: the floor becomes 95 % of the target rate.
    let checks = evaluate(&t, &m, Some(5.0));
    let tput = checks.iter().find(|c| c.metric == "ops_per_sec").unwrap();
    assert_eq!((tput.limit, tput.status), (4.75, CheckStatus::Pass));

    // A measured growing RSS fails the leak check.
    let mut m = metrics_with(100, 100, &lat, 2.0);
    let points: Vec<(f64, f64)> = (0..240)
        .map(|i| (i as f64 * 0.25, 50.0 + i as f64 * 0.25 * 0.5))
        .collect();
    m.resources = Some(ResourceUsage {
        pid: 1,
        interval_ms: 250,
        samples: Vec::new(),
        peak_rss_mb: Some(80.0),
        avg_cpu_percent: Some(10.0),
        leak: analyse_leak(&points, &LeakRule::default()),
        note: None,
    });
    m.peak_memory_mb = Some(80.0);
    let checks = evaluate(&t, &m, None);
    let status = |name: &str| checks.iter().find(|c| c.metric == name).map(|c| c.status);
    assert_eq!(status("leak"), Some(CheckStatus::Fail));
    assert_eq!(status("peak_memory_mb"), Some(CheckStatus::Fail));
}

/// `(t, rss)` every 250 ms for `secs` seconds.
fn series(secs: f64, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let n = (secs / 0.25) as usize;
    (0..=n)
        .map(|i| i as f64 * 0.25)
        .map(|t| (t, f(t)))
        .collect()
}

/// Deterministic jitter in [-1, 1].
fn jitter(t: f64) -> f64 {
    ((t * 12.9898).sin() * 43758.5453).fract()
}

#[test]
fn leak_rule_tells_plateau_from_growth() {
    let rule = LeakRule::default();
    // Warm-up climb from 20 to 60 MB in 10 s, then flat with ±1 MB noise.
    let plateau = series(60.0, |t| {
        if t < 10.0 {
            20.0 + 4.0 * t
        } else {
            60.0 + jitter(t)
        }
    });
    let a = analyse_leak(&plateau, &rule);
    assert_eq!(a.verdict, LeakVerdict::Plateau, "{a:?}");
    assert!(a.slope_mb_per_min.unwrap().abs() < 1.0, "{a:?}");

    // Steady growth of 30 MB/min on top of 50 MB, with noise: a leak.
    let growth = series(60.0, |t| 50.0 + 0.5 * t + jitter(t));
    let a = analyse_leak(&growth, &rule);
    assert_eq!(a.verdict, LeakVerdict::Growing, "{a:?}");
    let slope = a.slope_mb_per_min.unwrap();
    assert!((28.0..=32.0).contains(&slope), "{a:?}");
    assert!(a.r_squared.unwrap() > 0.9);

    // Slow growth on a big server: 2 MB/min on 2 GB is not 10 % of the mean.
    let big = series(60.0, |t| 2048.0 + t / 30.0);
    assert_eq!(analyse_leak(&big, &rule).verdict, LeakVerdict::Plateau);

    // One spike in a flat series is not a trend.
    let spike = series(60.0, |t| {
        if (40.0..41.0).contains(&t) {
            90.0
        } else {
            60.0
        }
    });
    assert_eq!(analyse_leak(&spike, &rule).verdict, LeakVerdict::Plateau);

    // Two seconds of data cannot tell: inconclusive, not a failure.
    let short = series(2.0, |t| 50.0 + 10.0 * t);
    let a = analyse_leak(&short, &rule);
    assert_eq!(a.verdict, LeakVerdict::Inconclusive, "{a:?}");
    assert!(a.reason.contains("too short"));
    assert_eq!(analyse_leak(&[], &rule).verdict, LeakVerdict::Inconclusive);
}

#[tokio::test]
async fn monitor_samples_a_live_process() {
    // Our own test process is a fine live process to watch.
    let pid = std::process::id();
    let m = ctx_load::engine::monitor::Monitor::start(pid, Duration::from_millis(20)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    let mut x = 0u64;
    while std::time::Instant::now() < deadline {
        x = x.wrapping_mul(31).wrapping_add(7);
        tokio::task::yield_now().await;
    }
    let usage = m.stop(&LeakRule::default()).await;
    assert!(x != 1, "keep the loop");
    assert!(usage.samples.len() >= 3, "{} samples", usage.samples.len());
    assert!(usage.peak_rss_mb.unwrap() > 0.0);
    assert!(usage.avg_cpu_percent.is_some());
    assert!(
        ctx_load::engine::monitor::Monitor::start(u32::MAX - 1, Duration::from_millis(20)).is_err()
    );
}
