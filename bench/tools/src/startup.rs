//! Times a server's start: from spawn to its `listening on http://...` line on stdout,
//! and to the first successful answer to a GET; reads its RSS then and after a pause;
//! then stops it with SIGTERM.

use crate::client::{Conn, authority};
use crate::procstat::{peak_rss_kib, rss_kib};
use anyhow::{Context, bail};
use hyper::Method;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Path to GET once listening; the server counts as serving when it answers 2xx.
    #[arg(long, default_value = "/health")]
    get_path: String,
    /// Also require this text in the answer (e.g. `"found":true`).
    #[arg(long)]
    expect: Option<String>,
    /// Read RSS again after this pause.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Give up if not serving within this time.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// The server command line.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let (program, rest) = args.command.split_first().context("no command")?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    // Reads stdout to the end so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let result = measure(&args, &rx, started, pid, timeout);
    // SAFETY: kill has no memory preconditions; pid is our own child, not yet reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            eprintln!("startup: server did not stop on SIGTERM within 60 s; killing it");
            child.kill()?;
            child.wait()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = result?;
    println!("{report}");
    Ok(())
}

fn measure(
    args: &Args,
    rx: &mpsc::Receiver<String>,
    started: Instant,
    pid: u32,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let url = rx
        .recv_timeout(timeout)
        .context("no `listening on` line before the timeout (or the server exited)")?;
    let listening = started.elapsed();
    let authority = authority(&url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let body = runtime.block_on(async {
        loop {
            if started.elapsed() > timeout {
                bail!("not serving {} before the timeout", args.get_path);
            }
            if let Ok(mut conn) = Conn::connect(&authority).await
                && let Ok((status, body)) = conn.send(Method::GET, &args.get_path, None).await
                && status.is_success()
            {
                return Ok(body);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })?;
    let serving = started.elapsed();
    if let Some(expect) = &args.expect
        && !String::from_utf8_lossy(&body).contains(expect.as_str())
    {
        bail!(
            "GET {} answered without {expect}: {}",
            args.get_path,
            String::from_utf8_lossy(&body)
        );
    }
    let rss_ready = rss_kib(pid)?;
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    Ok(serde_json::json!({
        "listening_ms": listening.as_secs_f64() * 1000.0,
        "serving_ms": serving.as_secs_f64() * 1000.0,
        "rss_kib_serving": rss_ready,
        "rss_kib_settled": rss_kib(pid)?,
        "rss_kib_peak": peak_rss_kib(pid)?,
    }))
}
