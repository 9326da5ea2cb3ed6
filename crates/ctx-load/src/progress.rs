//! The live progress line on stderr. On a terminal it redraws one line in
//! place a few times a second; otherwise (CI logs, pipes) it prints a plain
//! line at the start, every few seconds, and at the end, so logs stay readable.
//! Reads only the engine's atomic counters: no cost on the hot path.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::Progress;
use crate::model::ScenarioReport;
use crate::report::rows::{delivery_line, result_cell};

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

fn line(label: &str, p: &Progress, started: Instant) -> String {
    let done = p.done.load(Ordering::Relaxed);
    let total = p.total.load(Ordering::Relaxed).max(1);
    let errors = p.errors.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    format!(
        "{label}: {done}/{total} ({:.0}%), {errors} errors, {rate:.0} ops/s, {secs:.1} s",
        done as f64 / total as f64 * 100.0
    )
}

/// Starts printing progress for one scenario.
pub fn spawn(label: String, p: Arc<Progress>) -> Ticker {
    let tty = std::io::stderr().is_terminal();
    let (stop, mut stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let period = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if !tty {
            eprintln!("{label}: started");
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = &mut stop_rx => break,
            }
            let l = line(&label, &p, started);
            let mut err = std::io::stderr().lock();
            if tty {
                let _ = write!(err, "\r\x1b[2K{l}");
                let _ = err.flush();
            } else {
                let _ = writeln!(err, "{l}");
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
