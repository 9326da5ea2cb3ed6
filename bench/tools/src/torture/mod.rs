//! Crash torture: runs `ctx serve`, drives concurrent writers and deleters that log every
//! acknowledged operation, SIGKILLs the server at random moments (some during start-up,
//! while it replays its log), restarts it, and checks after every restart:
//!
//! - every acknowledged write and delete is there (an operation in flight at the kill may
//!   have happened or not, nothing else);
//! - revisions never go backwards (status, and every write answer);
//! - history chains: for sampled keys, each entry's `before` is the previous entry's
//!   `after` and revisions increase;
//! - `/ctx/all` agrees with the history: each sampled key's last entry is its value.
//!
//! Bounded by `kills` and `max_seconds`; talks to 127.0.0.1 only.

mod http;
mod model;

use anyhow::{Context, bail};
use model::{Model, Op};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The `ctx` binary to torture.
    #[arg(long)]
    pub ctx: PathBuf,
    /// Data directory (created; reused across the kills).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// SIGKILLs to deliver.
    #[arg(long, default_value_t = 100)]
    pub kills: u64,
    /// Concurrent writer threads (each also deletes its own keys).
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Keys per writer.
    #[arg(long, default_value_t = 40)]
    pub keys_per_writer: usize,
    /// Longest time the writers run before a kill, in milliseconds (the kill comes at a
    /// random moment within it).
    #[arg(long, default_value_t = 400)]
    pub max_run_ms: u64,
    /// Stop (and report) after this long whatever the kill count.
    #[arg(long, default_value_t = 3600)]
    pub max_seconds: u64,
    /// Seed for the random moments and operations (same seed, same choices).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON report here too.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The figures of a run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub kills: u64,
    pub kills_during_startup: u64,
    pub restarts: u64,
    pub acknowledged_sets: u64,
    pub acknowledged_deletes: u64,
    pub unknown_outcome_applied: u64,
    pub unknown_outcome_not_applied: u64,
    pub history_entries_checked: u64,
    pub final_revision: u64,
    pub longest_start_ms: u64,
    pub seconds: f64,
    pub violations: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = torture(&args)?;
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("write {}", path.display()))?;
    }
    if !report.violations.is_empty() {
        bail!("{} violations", report.violations.len());
    }
    Ok(())
}

/// xorshift64*: enough randomness for moments and choices, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A running `ctx serve`.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn spawn(args: &Args, checkpoint_ms: u64) -> anyhow::Result<Server> {
        let mut child = Command::new(&args.ctx)
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(&args.data_dir)
            .args(["--checkpoint-interval-ms", &checkpoint_ms.to_string()])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", args.ctx.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Ok(Server { child, lines })
    }

    /// Waits for `listening on http://ADDR`; answers ADDR.
    fn address(&mut self) -> anyhow::Result<String> {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(120))
            .context("ctx serve did not start within 120 s (or exited)")?;
        line.strip_prefix("listening on http://")
            .map(str::to_owned)
            .with_context(|| format!("unexpected first line {line:?}"))
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the torture and returns its figures (violations included, not as an error).
pub fn torture(args: &Args) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut rng = Rng(args.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut model = Model::new(args.writers);
    let mut report = Report::default();
    std::fs::create_dir_all(&args.data_dir)?;
    let acknowledged_log = Arc::new(Mutex::new(std::io::BufWriter::new(
        std::fs::File::create(args.data_dir.with_extension("acknowledged.jsonl"))
            .context("create the acknowledged-operations log")?,
    )));
    let mut cycle = 0u64;
    while report.kills < args.kills && started.elapsed().as_secs() < args.max_seconds {
        cycle += 1;
        // 1 ms: a checkpoint after nearly every group; 1 h: everything left to replay.
        let checkpoint_ms = [1, 100, 3_600_000][rng.below(3) as usize];
        let mut server = Server::spawn(args, checkpoint_ms)?;
        if rng.below(5) == 0 {
            // Killed while opening: reloading redb, replaying and retiring the log.
            std::thread::sleep(Duration::from_millis(rng.below(40)));
            server.kill();
            report.kills += 1;
            report.kills_during_startup += 1;
            continue;
        }
        let spawned = Instant::now();
        let addr = server.address()?;
        report.longest_start_ms = report
            .longest_start_ms
            .max(spawned.elapsed().as_millis() as u64);
        report.restarts += 1;
        verify(&addr, &mut model, &mut report, &mut rng, cycle)?;

        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..args.writers)
            .map(|writer| {
                let addr = addr.clone();
                let stop = stop.clone();
                let log = acknowledged_log.clone();
                let seed = rng.next() | 1;
                let keys = args.keys_per_writer;
                std::thread::spawn(move || drive(&addr, writer, keys, seed, cycle, &stop, &log))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.below(args.max_run_ms)));
        server.kill();
        report.kills += 1;
        stop.store(true, Ordering::Relaxed);
        for (writer, handle) in writers.into_iter().enumerate() {
            let outcome = handle
                .join()
                .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
            record(&mut model, &mut report, writer, outcome, cycle);
        }
    }
    // A last start to check what the last kill left.
    let mut server = Server::spawn(args, 1000)?;
    let addr = server.address()?;
    verify(&addr, &mut model, &mut report, &mut rng, cycle + 1)?;
    server.kill();
    acknowledged_log
        .lock()
        .map_err(|_| anyhow::anyhow!("log lock poisoned"))?
        .flush()?;
    report.final_revision = model.max_seen_revision;
    report.unknown_outcome_applied = model.unknown_applied;
    report.unknown_outcome_not_applied = model.unknown_not_applied;
    report.violations = std::mem::take(&mut model.violations);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What one writer did in one cycle.
struct Outcome {
    /// Acknowledged operations, in order, with their revisions.
    acknowledged: Vec<(Op, u64)>,
    in_flight: Option<Op>,
    /// Answers that were neither success nor a dropped connection.
    errors: Vec<String>,
}

/// One writer: sets (unique values) and deletes on its own keys, one at a time, until
/// the server dies or `stop` is set.
fn drive(
    addr: &str,
    writer: usize,
    keys: usize,
    seed: u64,
    cycle: u64,
    stop: &AtomicBool,
    log: &Mutex<std::io::BufWriter<std::fs::File>>,
) -> Outcome {
    let mut rng = Rng(seed);
    let mut outcome = Outcome {
        acknowledged: Vec::new(),
        in_flight: None,
        errors: Vec::new(),
    };
    let mut serial = 0u64;
    while !stop.load(Ordering::Relaxed) {
        serial += 1;
        let key = format!("w{writer}.k{}", rng.below(keys as u64));
        let op = if rng.below(5) == 0 {
            Op { key, value: None }
        } else {
            let value = json!({"writer": writer, "cycle": cycle, "serial": serial});
            Op {
                key,
                value: Some(value),
            }
        };
        let answer = match &op.value {
            Some(value) => http::request(
                addr,
                "POST",
                "/ctx",
                Some(&json!({"key": op.key, "value": value, "who": format!("w{writer}")})),
            ),
            None => http::request(addr, "DELETE", &format!("/ctx/{}", op.key), None),
        };
        match answer {
            Ok((200, body)) => {
                let revision = body["revision"].as_u64().unwrap_or(0);
                if let Ok(mut log) = log.lock() {
                    let _ = writeln!(
                        log,
                        "{}",
                        json!({"key": op.key, "value": op.value, "revision": revision})
                    );
                }
                outcome.acknowledged.push((op, revision));
            }
            Ok((status, body)) => {
                outcome.errors.push(format!("{status} {body}"));
                outcome.in_flight = Some(op);
                break;
            }
            // The server died under the request: it may or may not have been applied.
            Err(_) => {
                outcome.in_flight = Some(op);
                break;
            }
        }
    }
    outcome
}

fn record(model: &mut Model, report: &mut Report, writer: usize, outcome: Outcome, cycle: u64) {
    let mut last = 0;
    for (op, revision) in outcome.acknowledged {
        if op.value.is_some() {
            report.acknowledged_sets += 1;
        } else {
            report.acknowledged_deletes += 1;
        }
        if revision != 0 && revision < last {
            model.violations.push(format!(
                "cycle {cycle}: writer {writer} got revision {revision} after {last}"
            ));
        }
        last = last.max(revision);
        model.max_acknowledged_revision = model.max_acknowledged_revision.max(revision);
        model.writers[writer].keys.insert(op.key, op.value);
    }
    model.max_seen_revision = model.max_seen_revision.max(last);
    for error in outcome.errors {
        model.violations.push(format!(
            "cycle {cycle}: writer {writer} was answered {error}"
        ));
    }
    model.writers[writer].in_flight = outcome.in_flight;
}

/// The checks after a restart (see the module header).
fn verify(
    addr: &str,
    model: &mut Model,
    report: &mut Report,
    rng: &mut Rng,
    cycle: u64,
) -> anyhow::Result<()> {
    let (_, status) = http::request(addr, "GET", "/ctx/status", None)?;
    let revision = status["revision"]
        .as_u64()
        .context("status without revision")?;
    model.check_revision(revision, cycle, "status");
    let (_, all) = http::request(addr, "GET", "/ctx/all", None)?;
    let context = all["context"]
        .as_object()
        .context("/ctx/all without context")?;
    model.check_context(context, cycle);

    let keys: Vec<String> = model.keys().cloned().collect();
    for _ in 0..keys.len().min(4) {
        let key = &keys[rng.below(keys.len() as u64) as usize];
        let (_, history) = http::request(addr, "GET", &format!("/ctx/history?key={key}"), None)?;
        let entries = history["history"]
            .as_array()
            .context("history without entries")?;
        report.history_entries_checked += entries.len() as u64;
        check_chain(key, entries, context.get(key), model, cycle);
    }
    Ok(())
}

/// One key's history: revisions increase, each `before` is the previous `after`, and the
/// last `after` is the key's value now.
fn check_chain(
    key: &str,
    entries: &[Value],
    current: Option<&Value>,
    model: &mut Model,
    cycle: u64,
) {
    let mut previous: Option<&Value> = None;
    for entry in entries {
        if let Some(before) = previous {
            if entry["revision"].as_u64() <= before["revision"].as_u64() {
                model.violations.push(format!(
                    "cycle {cycle}: history of {key} goes from revision {} to {}",
                    before["revision"], entry["revision"]
                ));
            }
            if entry["before"] != before["after"] {
                model.violations.push(format!(
                    "cycle {cycle}: history of {key} at revision {}: before {} is not the previous after {}",
                    entry["revision"], entry["before"], before["after"]
                ));
            }
        }
        previous = Some(entry);
    }
    if let Some(last) = previous {
        let expected = current.cloned().unwrap_or(Value::Null);
        if last["after"] != expected {
            model.violations.push(format!(
                "cycle {cycle}: {key} is {expected} but its last history entry says {}",
                last["after"]
            ));
        }
    }
}
