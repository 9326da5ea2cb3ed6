//! The live progress line on stderr (stdout stays the summary's, so
//! `--json` output is never mixed with it). It says where the run is and how
//! it goes:
//!
//! `[2/7] concurrent_writes · stage 2/3 → 600 req/s · 4120 req/s · p99 12.3 ms · 0 errors · 1.2 s left · run ~52 s left`
//!
//! — the scenario (and stage, or search step), the rate achieved since the
//! previous line, p99 of every answer so far, errors so far, time left in the
//! scenario and in the whole run (when every remaining scenario is bounded by
//! time). On a terminal it is one line rewritten about once a second;
//! otherwise (CI logs, pipes) a plain line at the start, every
//! [`PLAIN_EVERY`], and at the end. Reads only the engine's atomic counters.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::Progress;
use crate::model::ScenarioReport;
use crate::report::rows::{delivery_line, result_cell};

/// How often the line is rewritten on a terminal.
const TTY_EVERY: Duration = Duration::from_secs(1);
/// How often a plain line is printed when stderr is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Where the run is, for the progress line.
#[derive(Clone, Debug)]
pub struct Heading {
    /// `[2/7] concurrent_writes`, `[find-max step 3] mixed_workload at 400.0 req/s`.
    pub label: String,
    /// Load planned after this scenario; None when some of it is bounded by
    /// a request count (its length is unknown).
    pub then: Option<Duration>,
    /// A staged scenario's stages: when each ends (seconds) and what it does.
    pub stages: Vec<(f64, String)>,
}

impl Heading {
    pub fn new(label: String) -> Self {
        Heading {
            label,
            then: None,
            stages: Vec::new(),
        }
    }
}

/// The progress printer of one scenario. Dropped without `finish` (a run
/// aborted mid-scenario), it stops printing.
pub struct Ticker {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Ticker {
    /// Stops the ticker and clears the in-place line.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the line shows at one moment.
struct Snapshot<'a> {
    elapsed: Duration,
    done: u64,
    errors: u64,
    /// Requests planned (0: bounded by time).
    total: u64,
    /// The load's planned length (None: bounded by a request count).
    planned: Option<Duration>,
    recent_rate: f64,
    p99_ms: Option<f64>,
    stage: Option<&'a str>,
}

/// `12 s`, `3m 05s`.
fn span(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 60.0 {
        format!("{secs:.0} s")
    } else {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

fn line(heading: &Heading, s: &Snapshot) -> String {
    let mut parts = vec![heading.label.clone()];
    if let Some(stage) = s.stage {
        parts.push(stage.to_string());
    }
    parts.push(format!("{:.0} req/s", s.recent_rate));
    parts.push(match s.p99_ms {
        Some(p99) => format!("p99 {p99:.2} ms"),
        None => "p99 –".into(),
    });
    parts.push(format!(
        "{} error{}",
        s.errors,
        if s.errors == 1 { "" } else { "s" }
    ));
    let secs = s.elapsed.as_secs_f64();
    let left = match s.planned {
        Some(planned) => Some(planned.saturating_sub(s.elapsed)),
        None if s.total > 0 && s.done > 0 && secs > 0.0 => {
            let per_sec = s.done as f64 / secs;
            Duration::try_from_secs_f64(s.total.saturating_sub(s.done) as f64 / per_sec).ok()
        }
        None => None,
    };
    if s.total > 0 && s.planned.is_none() {
        parts.push(format!(
            "{}/{} ({:.0}%)",
            s.done,
            s.total,
            s.done as f64 / s.total as f64 * 100.0
        ));
    }
    match left {
        Some(left) if left.is_zero() => parts.push("finishing".into()),
        Some(left) => parts.push(format!("{} left", span(left))),
        None => parts.push(format!("{} in", span(s.elapsed))),
    }
    if let (Some(left), Some(then)) = (left, heading.then)
        && !then.is_zero()
    {
        parts.push(format!("run ~{} left", span(left + then)));
    }
    parts.join(" · ")
}

/// The stage the load is in at `secs`, as its label.
fn stage_at(stages: &[(f64, String)], secs: f64) -> Option<&str> {
    stages
        .iter()
        .find(|(end, _)| secs < *end)
        .or(stages.last())
        .map(|(_, label)| label.as_str())
}

/// The terminal's width in columns (80 when it cannot be asked).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given, nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let asked = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
    if asked == 0 && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// Starts printing progress for one scenario.
pub fn spawn(heading: Heading, p: Arc<Progress>) -> Ticker {
    let tty = std::io::stderr().is_terminal();
    let (stop, mut stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let period = if tty { TTY_EVERY } else { PLAIN_EVERY };
        if !tty {
            eprintln!("{}: started", heading.label);
        }
        let (mut last_done, mut last_at) = (0, started);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = &mut stop_rx => break,
            }
            let now = Instant::now();
            let done = p.done.load(Ordering::Relaxed);
            let window = now.duration_since(last_at).as_secs_f64();
            let elapsed = now.duration_since(started);
            let planned_ms = p.planned_ms.load(Ordering::Relaxed);
            let text = line(
                &heading,
                &Snapshot {
                    elapsed,
                    done,
                    errors: p.errors.load(Ordering::Relaxed),
                    total: p.total.load(Ordering::Relaxed),
                    planned: (planned_ms > 0).then(|| Duration::from_millis(planned_ms)),
                    recent_rate: if window > 0.0 {
                        done.saturating_sub(last_done) as f64 / window
                    } else {
                        0.0
                    },
                    p99_ms: p.latency_quantile_ms(0.99),
                    stage: stage_at(&heading.stages, elapsed.as_secs_f64()),
                },
            );
            (last_done, last_at) = (done, now);
            let mut err = std::io::stderr().lock();
            if tty {
                // One line, rewritten: never wider than the terminal (a
                // wrapped line would not be rewritten, but repeated).
                let width = terminal_width().saturating_sub(1);
                let shown: String = text.chars().take(width).collect();
                let _ = write!(err, "\r\x1b[2K{shown}");
                let _ = err.flush();
            } else {
                let _ = writeln!(err, "{text}");
            }
        }
        if tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    });
    Ticker {
        stop: Some(stop),
        task,
    }
}

/// The final line of a scenario, with its result as the summary table shows
/// it (`pass`, `inconclusive (…)`, `FAIL (…)`).
pub fn print_done(label: &str, scenario: &ScenarioReport) {
    let m = &scenario.metrics;
    eprintln!(
        "{label}: {} ops in {:.2} s, {:.1}% ok, {:.1} ops/s, avg {:.2} ms, p99 {:.2} ms — {}",
        m.total_operations,
        m.duration_secs,
        m.success_rate_pct,
        m.throughput_ops_sec,
        m.latency.avg_ms,
        m.latency.p99_ms,
        result_cell(scenario).text
    );
    if let Some(f) = &m.fanout {
        eprintln!("{label}: {}", delivery_line(f, &m.latency));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(elapsed: f64, planned: Option<f64>) -> Snapshot<'static> {
        Snapshot {
            elapsed: Duration::from_secs_f64(elapsed),
            done: 500,
            errors: 1,
            total: if planned.is_some() { 0 } else { 1000 },
            planned: planned.map(Duration::from_secs_f64),
            recent_rate: 412.4,
            p99_ms: Some(12.345),
            stage: Some("stage 2/3 → 600 req/s"),
        }
    }

    #[test]
    fn the_line_says_where_the_run_is_and_how_it_goes() {
        let heading = Heading {
            label: "[2/7] concurrent_writes".into(),
            then: Some(Duration::from_secs(43)),
            stages: Vec::new(),
        };
        assert_eq!(
            line(&heading, &snapshot(1.0, Some(3.0))),
            "[2/7] concurrent_writes · stage 2/3 → 600 req/s · 412 req/s · p99 12.35 ms · \
             1 error · 2.0 s left · run ~45 s left"
        );
        // Bounded by a request count: progress in requests, time left estimated.
        let by_count = line(&Heading::new("[1/6] reads".into()), &snapshot(2.0, None));
        assert!(
            by_count.ends_with("500/1000 (50%) · 2.0 s left"),
            "{by_count}"
        );
        assert_eq!(span(Duration::from_secs(185)), "3m 05s");
    }

    #[test]
    fn the_stage_follows_the_clock() {
        let stages = vec![(2.0, "stage 1/2".to_string()), (5.0, "stage 2/2".into())];
        assert_eq!(stage_at(&stages, 0.5), Some("stage 1/2"));
        assert_eq!(stage_at(&stages, 3.0), Some("stage 2/2"));
        assert_eq!(stage_at(&stages, 9.0), Some("stage 2/2"));
        assert_eq!(stage_at(&[], 1.0), None);
    }
}
