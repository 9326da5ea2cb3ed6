//! Engine overhead check: drives a trivial HTTP endpoint with the ctx-load
//! engine and with `wrk` (if installed), same connection count, and prints
//! both requests/second side by side.
//!
//! ```text
//! cargo run --release -p ctx-load --example engine_vs_wrk -- [CONNECTIONS] [SECONDS] [ROUNDS]
//! ```
//!
//! The endpoint runs in this process on its own runtime (1 worker thread),
//! bound to 127.0.0.1:0; the engine runs on a separate current-thread runtime
//! and wrk with one thread, so on the 2-core machine each side gets about one core.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use ctx_load::engine::{self, EngineConfig, Mode, Progress, Request, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
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

    // ctx-load: calibrate the op count on a short run, then run for ~`seconds`.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let target = Target::parse(&url)?;
    let generator: ctx_load::RequestGenerator = Arc::new(|_, _| Request::get("/"));
    let run = |ops: u64| -> Result<(f64, u64, u64), Box<dyn std::error::Error>> {
        let cfg = EngineConfig::new(
            target.clone(),
            Mode::Closed {
                clients: connections,
                ops_per_client: ops,
            },
        );
        let start = Instant::now();
        let res = client_rt.block_on(engine::run(
            &cfg,
            generator.clone(),
            Arc::new(Progress::default()),
        ))?;
        let secs = start.elapsed().as_secs_f64();
        Ok((res.attempted as f64 / secs, res.success, res.attempted))
    };
    let wrk = |secs: u64| -> Result<f64, String> {
        let out = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{secs}s"),
                &url,
            ])
            .output()
            .map_err(|e| format!("wrk not available ({e}); install the Debian package `wrk`"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("wrk output not understood: {text}"))
    };
    // The machine is shared and noisy: alternate the two tools over several
    // rounds and compare medians, so a burst of someone else's work does not
    // decide the result.
    let (warm, _, _) = run(200)?;
    let mut ops = ((warm * seconds as f64) / connections as f64).max(100.0) as u64;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (r, ok, total) = run(ops)?;
        ops = ((r * seconds as f64) / connections as f64).max(100.0) as u64;
        ours.push(r);
        let w = match wrk(seconds) {
            Ok(w) => w,
            Err(e) => {
                println!("round {round}: ctx-load {r:>8.0} req/s ({ok}/{total} ok); {e}");
                continue;
            }
        };
        theirs.push(w);
        println!("round {round}: ctx-load {r:>8.0} req/s ({ok}/{total} ok), wrk {w:>8.0} req/s");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (o, w) = (median(&mut ours), median(&mut theirs));
    println!("median ctx-load engine: {o:>10.0} req/s");
    if w > 0.0 {
        println!("median wrk:             {w:>10.0} req/s");
        println!("ctx-load / wrk:         {:>10.1} %", o / w * 100.0);
    }
    std::thread::sleep(Duration::from_millis(10));
    Ok(())
}
