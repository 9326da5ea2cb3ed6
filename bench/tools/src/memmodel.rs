//! A model of ctx-store's key map, to measure what its layout costs per key without the
//! server around it: `BTreeMap<Arc<str>, Record>` where `Record` is a 16-byte `Arc`'d
//! value text plus revision and timestamp (32 bytes), as in crates/ctx-store/src/state.rs.
//! Built by inserting keys one by one in ascending order (what the live server and the
//! restart do today) or by `BTreeMap::from_iter` (bulk build from sorted input). Run each
//! variant in its own process: it prints the RSS it added, per key. Uses this binary's
//! allocator (glibc's), not the server's.

use crate::procstat::rss_kib;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Build {
    /// `insert` one key at a time, ascending.
    Incremental,
    /// `BTreeMap::from_iter` over the sorted pairs.
    Bulk,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    build: Build,
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Value size in bytes (JSON text).
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
}

#[allow(dead_code)] // fields are only there for their size
struct Record {
    value: Arc<str>,
    revision: u64,
    micros: i64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pid = std::process::id();
    let before = rss_kib(pid)?;
    let value = "v".repeat(args.value_bytes);
    let pairs = (0..args.keys).map(|i| {
        let key: Arc<str> = Arc::from(crate::fill::key("bench_", i).as_str());
        let record = Record {
            value: Arc::from(value.as_str()),
            revision: i,
            micros: 0,
        };
        (key, record)
    });
    let map: BTreeMap<Arc<str>, Record> = match args.build {
        Build::Incremental => {
            let mut map = BTreeMap::new();
            for (k, r) in pairs {
                map.insert(k, r);
            }
            map
        }
        Build::Bulk => pairs.collect(),
    };
    let after = rss_kib(pid)?;
    let raw = args.keys as f64 * (13 + args.value_bytes) as f64;
    let added = (after.saturating_sub(before)) as f64 * 1024.0;
    println!(
        "{}",
        serde_json::json!({
            "build": match args.build { Build::Incremental => "incremental", Build::Bulk => "bulk" },
            "keys": map.len(),
            "rss_added_mib": added / 1048576.0,
            "bytes_per_key": added / args.keys as f64,
            "raw_bytes_per_key": raw / args.keys as f64,
            "ratio_to_raw": added / raw,
        })
    );
    Ok(())
}
