//! RSS and CPU of running processes, read from `/proc/<pid>/status` and `/proc/<pid>/stat`.

use anyhow::{Context, bail};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Process to sample; repeat to sum several (e.g. redis-server and webdis).
    #[arg(long = "pid", required = true)]
    pids: Vec<u32>,
    /// How long to sample.
    #[arg(long)]
    seconds: f64,
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
}

/// Resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_field(pid, "VmRSS:")
}

/// Peak resident set size in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, name: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .with_context(|| format!("no {name} for process {pid}"))?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .context("malformed status line")?
        .parse()?;
    Ok(kib)
}

/// User + system CPU time of the process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        bail!("sysconf(_SC_CLK_TCK) failed");
    }
    Ok((utime + stime) as f64 / ticks as f64)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cpu_start: f64 = args
        .pids
        .iter()
        .map(|&p| cpu_seconds(p))
        .sum::<anyhow::Result<f64>>()?;
    let started = Instant::now();
    let total = Duration::from_secs_f64(args.seconds.max(0.0));
    let mut rss_max = 0;
    let rss_end = loop {
        let rss = args
            .pids
            .iter()
            .map(|&p| rss_kib(p))
            .sum::<anyhow::Result<u64>>()?;
        rss_max = rss_max.max(rss);
        let elapsed = started.elapsed();
        if elapsed >= total {
            break rss;
        }
        std::thread::sleep(Duration::from_millis(args.interval_ms).min(total - elapsed));
    };
    let cpu_end: f64 = args
        .pids
        .iter()
        .map(|&p| cpu_seconds(p))
        .sum::<anyhow::Result<f64>>()?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_end - cpu_start;
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "rss_kib_max": rss_max,
            "rss_kib_end": rss_end,
            "cpu_seconds": cpu,
            "cpu_percent": 100.0 * cpu / seconds,
        })
    );
    Ok(())
}
