//! How long one durable write takes on this disk: append B bytes to a file and
//! `fdatasync` it, N times. A store that acknowledges only durable writes cannot commit
//! groups faster than this, so it bounds durable writes/s at C connections to about
//! C / (median fsync time) (every waiting writer in one group per fsync).
//!
//! With `--scatter`, each round instead rewrites `--bytes` worth of 4 KiB pages at random
//! places in a preallocated file (`--file-mib`) before the `fdatasync`: the shape of a
//! B-tree commit that touches many leaves, against the sequential append of a log. With
//! `--overwrite`, the rounds write sequentially from the start of such a preallocated file:
//! a reused log segment, whose `fdatasync` has no new size or blocks to commit.

use crate::report::median;
use anyhow::Context;
use std::io::{Seek, Write};
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
    /// Write the bytes as 4 KiB pages at random offsets of a preallocated file.
    #[arg(long)]
    scatter: bool,
    /// Write sequentially over a preallocated file instead of appending.
    #[arg(long, conflicts_with = "scatter")]
    overwrite: bool,
    /// Size of the preallocated file for --scatter and --overwrite.
    #[arg(long, default_value_t = 256)]
    file_mib: u64,
}

const PAGE: usize = 4096;

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.dir.join(format!("fsync-probe-{}", std::process::id()));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
    let block = vec![0x5au8; args.bytes];
    let page = [0xa5u8; PAGE];
    let pages_in_file = (args.file_mib * 1024 * 1024 / PAGE as u64).max(1);
    let mut times = Vec::with_capacity(args.count);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let result = (|| {
        if args.scatter || args.overwrite {
            // Preallocate with real blocks (written and synced), as a database file is.
            let chunk = vec![0u8; 1024 * 1024];
            for _ in 0..args.file_mib.max(1) {
                file.write_all(&chunk)?;
            }
            file.sync_all()?;
            file.rewind()?;
        }
        for _ in 0..args.count.max(1) {
            let started = Instant::now();
            if args.scatter {
                for _ in 0..args.bytes.div_ceil(PAGE) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let offset = (state % pages_in_file) * PAGE as u64;
                    std::os::unix::fs::FileExt::write_all_at(&file, &page, offset)?;
                }
            } else {
                file.write_all(&block)?;
            }
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
            "scatter": args.scatter,
            "overwrite": args.overwrite,
            "median_ms": median_ms,
            "p99_ms": p99,
            "fsyncs_per_second": if median_ms > 0.0 { 1000.0 / median_ms } else { 0.0 },
        })
    );
    Ok(())
}
