//! Engine overhead check: drives a trivial HTTP endpoint with the ctx-load
//! engine and with `wrk` (Debian package), same connection count, and prints
//! requests/second and load-generator CPU time per request, side by side.
//!
//! ```text
//! cargo run --release -p ctx-load --example engine_vs_wrk -- [CONNECTIONS] [SECONDS] [ROUNDS]
//! ```
//!
//! The endpoint runs in this process on its own runtime (1 worker thread),
//! bound to 127.0.0.1:0; the engine runs on a current-thread runtime on the
//! main thread and wrk with one thread, so on a 2-core machine each side gets
//! about one core. The machine may be shared and noisy, so the tools take
//! turns over several rounds and medians are compared. CPU per request
//! (engine: the main thread's CPU time; wrk: its process's user+system time)
//! measures the generator's own cost and is much less sensitive to noise
//! than requests/second, which also depends on the shared server.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use ctx_load::engine::{self, EngineConfig, Mode, Progress, Request, Target};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// CPU time of the calling thread, in seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// User + system CPU time of all reaped children, in seconds.
fn children_cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the rusage we own; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One measured round: requests/s and CPU µs per request.
struct Round {
    rps: f64,
    cpu_us: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let connections: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let rounds: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);

    // The trivial endpoint, on its own runtime and thread.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind(SocketAddr::from((
        [127, 0, 0, 1],
        0,
    ))))?;
    let addr = listener.local_addr()?;
    server_rt.spawn(async move {
        let app = Router::new().route("/", get(|| async { "ok" }));
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/");
    println!("endpoint {url}, {connections} connections, {rounds} rounds of {seconds} s per tool");

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let target = Target::parse(&url)?;
    let generator: ctx_load::RequestGenerator = Arc::new(|_, _| Request::get("/"));
    let ours = |ops: u64| -> Res<Round> {
        let mut cfg = EngineConfig::new(
            target.clone(),
            Mode::Closed {
                clients: connections,
                ops_per_client: ops,
            },
        );
        // One lane, on this thread: its CPU time is the engine's, against wrk -t1.
        cfg.lanes = 1;
        let (start, cpu0) = (Instant::now(), thread_cpu_secs());
        let res = client_rt.block_on(engine::run(
            &cfg,
            generator.clone(),
            Arc::new(Progress::default()),
        ))?;
        let (secs, cpu) = (start.elapsed().as_secs_f64(), thread_cpu_secs() - cpu0);
        if res.success != res.attempted {
            return Err(format!(
                "{} of {} requests failed",
                res.attempted - res.success,
                res.attempted
            )
            .into());
        }
        Ok(Round {
            rps: res.attempted as f64 / secs,
            cpu_us: cpu * 1e6 / res.attempted as f64,
        })
    };
    let wrk = |secs: u64| -> Result<Round, String> {
        let cpu0 = children_cpu_secs();
        let out = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{secs}s"),
                &url,
            ])
            .output()
            .map_err(|e| format!("wrk not available ({e}); install the Debian package `wrk`"))?;
        let cpu = children_cpu_secs() - cpu0;
        let text = String::from_utf8_lossy(&out.stdout);
        let rps = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok());
        let total = text
            .lines()
            .find(|l| l.contains(" requests in "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok());
        match (rps, total) {
            (Some(rps), Some(total)) if total > 0.0 => Ok(Round {
                rps,
                cpu_us: cpu * 1e6 / total,
            }),
            _ => Err(format!("wrk output not understood: {text}")),
        }
    };

    // Calibrate the engine's op count so a round lasts about `seconds`.
    let warm = ours(200)?;
    let mut ops = ((warm.rps * seconds as f64) / connections as f64).max(100.0) as u64;
    let (mut o_rps, mut o_cpu, mut w_rps, mut w_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let o = ours(ops)?;
        ops = ((o.rps * seconds as f64) / connections as f64).max(100.0) as u64;
        o_rps.push(o.rps);
        o_cpu.push(o.cpu_us);
        match wrk(seconds) {
            Ok(w) => {
                println!(
                    "round {round}: ctx-load {:>8.0} req/s {:>5.1} µs CPU/req | wrk {:>8.0} req/s {:>5.1} µs CPU/req",
                    o.rps, o.cpu_us, w.rps, w.cpu_us
                );
                w_rps.push(w.rps);
                w_cpu.push(w.cpu_us);
            }
            Err(e) => println!(
                "round {round}: ctx-load {:>8.0} req/s {:>5.1} µs CPU/req | {e}",
                o.rps, o.cpu_us
            ),
        }
    }
    let (or, oc) = (median(&mut o_rps), median(&mut o_cpu));
    println!("median ctx-load engine: {or:>9.0} req/s, {oc:>5.1} µs CPU per request");
    if !w_rps.is_empty() {
        let (wr, wc) = (median(&mut w_rps), median(&mut w_cpu));
        println!("median wrk:             {wr:>9.0} req/s, {wc:>5.1} µs CPU per request");
        println!(
            "ctx-load / wrk:         {:>8.1} % of wrk's requests/s; {:.2}× wrk's CPU per request",
            or / wr * 100.0,
            oc / wc
        );
    }
    Ok(())
}
