//! Samples the *server process* (not the machine) while a scenario runs:
//! resident set size from `/proc/<pid>/status` (`VmRSS`) and CPU time from
//! `/proc/<pid>/stat` (`utime + stime`), every ~250 ms, from just before the
//! first request to just after the last one.
//!
//! The seed measured the whole machine's used memory for a guessed time; that
//! figure moves with anything else running and says nothing about the server.
//! Without a PID we report "not measured" (`None`), never a made-up number.
//!
//! Leak detection ([`analyse_leak`]): a least-squares line through RSS over
//! time, after discarding a warm-up fraction, tells a server whose memory is
//! still climbing under steady load from one that has plateaued. See
//! [`LeakRule`] for the exact rule.

use std::time::{Duration, Instant};

use crate::model::{LeakRule, ResourceUsage, Sample};

mod leak;
pub use leak::analyse_leak;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug)]
struct RawSample {
    at: Instant,
    rss_kb: u64,
    /// VmHWM: the process's lifetime peak RSS, kept by the kernel.
    hwm_kb: u64,
    cpu_ticks: u64,
}

fn status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads RSS and peak RSS (kB) and utime+stime (clock ticks) of `pid`.
fn read_proc(pid: u32) -> Result<RawSample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    // A zombie has no Vm* lines: it holds no memory any more.
    let rss_kb = status_kb(&status, "VmRSS:").unwrap_or(0);
    let hwm_kb = status_kb(&status, "VmHWM:").unwrap_or(rss_kb);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let cpu_ticks = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| format!("/proc/{pid}/stat: unexpected format"))?;
    Ok(RawSample {
        at: Instant::now(),
        rss_kb,
        hwm_kb,
        cpu_ticks,
    })
}

/// utime + stime from a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may itself contain spaces or parentheses, so fields
/// are counted from the *last* `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Is `pid` a live process we can read?
pub fn process_exists(pid: u32) -> bool {
    read_proc(pid).is_ok()
}

/// A running sampler; [`Monitor::stop`] ends it and returns the findings.
/// Dropped without `stop` (a run aborted mid-scenario), it stops sampling.
pub struct Monitor {
    pid: u32,
    interval: Duration,
    stop_tx: Option<oneshot::Sender<()>>,
    task: JoinHandle<(Vec<RawSample>, Option<String>)>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Monitor {
    /// Takes a first sample now (so the window starts before the first
    /// request) and keeps sampling every `interval` in a background task.
    /// Fails if the process cannot be read.
    pub fn start(pid: u32, interval: Duration) -> Result<Monitor, String> {
        let first = read_proc(pid)?;
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut samples = vec![first];
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await; // the first tick is immediate: already sampled
            loop {
                let stopping = tokio::select! {
                    _ = ticker.tick() => false,
                    _ = &mut stop_rx => true,
                };
                match read_proc(pid) {
                    Ok(sample) => samples.push(sample),
                    Err(e) => return (samples, Some(format!("sampling stopped early: {e}"))),
                }
                if stopping {
                    return (samples, None);
                }
            }
        });
        Ok(Monitor {
            pid,
            interval,
            stop_tx: Some(stop_tx),
            task,
        })
    }

    /// Takes a last sample, stops the sampler and analyses what it saw.
    pub async fn stop(mut self, rule: &LeakRule) -> ResourceUsage {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        let (raw, note) = match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => (Vec::new(), Some(format!("sampler failed: {e}"))),
        };
        summarise(
            self.pid,
            self.interval,
            &raw,
            note,
            clock_ticks_per_sec(),
            rule,
        )
    }
}

fn summarise(
    pid: u32,
    interval: Duration,
    raw: &[RawSample],
    note: Option<String>,
    hz: f64,
    rule: &LeakRule,
) -> ResourceUsage {
    let Some(first) = raw.first() else {
        return ResourceUsage {
            pid,
            interval_ms: interval.as_millis() as u64,
            samples: Vec::new(),
            peak_rss_mb: None,
            avg_cpu_percent: None,
            leak: analyse_leak(&[], rule),
            note,
        };
    };
    let mut samples = Vec::with_capacity(raw.len());
    let mut prev: Option<&RawSample> = None;
    for s in raw {
        let cpu_percent = prev.and_then(|p| {
            let wall = s.at.saturating_duration_since(p.at).as_secs_f64();
            (wall > 0.0).then(|| s.cpu_ticks.saturating_sub(p.cpu_ticks) as f64 / hz / wall * 100.0)
        });
        samples.push(Sample {
            t_secs: s.at.saturating_duration_since(first.at).as_secs_f64(),
            rss_mb: s.rss_kb as f64 / 1024.0,
            cpu_percent,
        });
        prev = Some(s);
    }
    // Samples every 250 ms can miss a short spike. The kernel's high-water
    // mark cannot: if it rose during the window, the new mark *is* the peak
    // of the window; if it did not, the window's peak is at most the old
    // mark, and the best we know is the highest sample.
    let sampled_peak = raw.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let last_hwm = raw.last().map_or(first.hwm_kb, |l| l.hwm_kb);
    let peak_kb = if last_hwm > first.hwm_kb {
        last_hwm.max(sampled_peak)
    } else {
        sampled_peak
    };
    let peak_rss_mb = Some(peak_kb as f64 / 1024.0);
    let avg_cpu_percent = raw.last().and_then(|last| {
        let wall = last.at.saturating_duration_since(first.at).as_secs_f64();
        (wall > 0.0)
            .then(|| last.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / hz / wall * 100.0)
    });
    let points: Vec<(f64, f64)> = samples.iter().map(|s| (s.t_secs, s.rss_mb)).collect();
    ResourceUsage {
        pid,
        interval_ms: interval.as_millis() as u64,
        leak: analyse_leak(&points, rule),
        samples,
        peak_rss_mb,
        avg_cpu_percent,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LeakVerdict;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line = "1234 (my (weird) srv) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 4 0 123 1000 200";
        assert_eq!(parse_stat_cpu_ticks(line), Some(320));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn own_process_can_be_read() {
        let s = read_proc(std::process::id()).expect("read own /proc entry");
        assert!(s.rss_kb > 0 && s.hwm_kb >= s.rss_kb);
    }

    #[test]
    fn cpu_and_peak_from_raw_samples() {
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let mb = |m: u64| m * 1024;
        let raw = [
            RawSample {
                at: at(0),
                rss_kb: mb(10),
                hwm_kb: mb(40),
                cpu_ticks: 100,
            },
            RawSample {
                at: at(1),
                rss_kb: mb(30),
                hwm_kb: mb(40),
                cpu_ticks: 150,
            },
            RawSample {
                at: at(2),
                rss_kb: mb(20),
                hwm_kb: mb(40),
                cpu_ticks: 200,
            },
        ];
        let rule = LeakRule::default();
        let u = summarise(1, Duration::from_millis(250), &raw, None, 100.0, &rule);
        // The high-water mark did not move: it predates the window, so the
        // highest sample is the window's peak.
        assert_eq!(u.peak_rss_mb, Some(30.0));
        // 100 ticks at 100 Hz over 2 s = 50 %.
        assert!((u.avg_cpu_percent.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(u.samples[0].cpu_percent, None);
        assert!((u.samples[1].cpu_percent.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(u.leak.verdict, LeakVerdict::Inconclusive);

        // A spike between samples raised the high-water mark: that is the peak.
        let mut spiky = raw;
        spiky[2].hwm_kb = mb(55);
        let u = summarise(1, Duration::from_millis(250), &spiky, None, 100.0, &rule);
        assert_eq!(u.peak_rss_mb, Some(55.0));
    }
}
