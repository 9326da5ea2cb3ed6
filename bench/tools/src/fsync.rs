//! How long one durable write takes on this disk: append B bytes to a file and
//! `fdatasync` it, N times. A store that acknowledges only durable writes cannot commit
//! groups faster than this, so it bounds durable writes/s at C connections to about
//! C / (median fsync time) (every waiting writer in one group per fsync).

use crate::report::median;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Directory on the disk to probe (a temporary file is created and removed).
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 200)]
    count: usize,
    #[arg(long, default_value_t = 4096)]
    bytes: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.dir.join(format!("fsync-probe-{}", std::process::id()));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
    let block = vec![0x5au8; args.bytes];
    let mut times = Vec::with_capacity(args.count);
    let result = (|| {
        for _ in 0..args.count.max(1) {
            let started = Instant::now();
            file.write_all(&block)?;
            file.sync_data()?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_file(&path);
    result?;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[((sorted.len() as f64 * 0.99) as usize).min(sorted.len() - 1)];
    let median_ms = median(&mut times).unwrap_or(0.0);
    println!(
        "{}",
        serde_json::json!({
            "count": sorted.len(),
            "bytes": args.bytes,
            "median_ms": median_ms,
            "p99_ms": p99,
            "fsyncs_per_second": if median_ms > 0.0 { 1000.0 / median_ms } else { 0.0 },
        })
    );
    Ok(())
}
