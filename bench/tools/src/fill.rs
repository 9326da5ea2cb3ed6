//! Fills a server with N keys over its own HTTP API, many connections at once.
//!
//! Keys are `<prefix><index, 7 digits>`; values are strings of letters and digits. For
//! ctx a value of `--value-bytes` B is a JSON string of B bytes (B-2 characters plus the
//! quotes); etcd and webdis get the same B-2 characters. In ctx every new key is also one
//! history entry, and the concurrent writes exercise group commit.

use crate::client::{Conn, authority, base64};
use anyhow::bail;
use bytes::Bytes;
use hyper::Method;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Flavor {
    /// `POST /ctx` with a JSON body.
    Ctx,
    /// etcd's JSON gateway, `POST /v3/kv/put` with base64 key and value.
    Etcd,
    /// webdis, `GET /SET/key/value`.
    Webdis,
}

#[derive(clap::Args)]
pub struct Args {
    /// Base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum, default_value = "ctx")]
    flavor: Flavor,
    /// Number of keys to write.
    #[arg(long)]
    keys: u64,
    /// Value size in bytes (see the module documentation).
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    #[arg(long, default_value = "bench_")]
    key_prefix: String,
    /// Write the keys in a scattered order (a fixed permutation) instead of ascending.
    #[arg(long)]
    shuffle: bool,
    /// Mixed into the values, so a second fill of the same keys changes every value.
    #[arg(long, default_value_t = 0)]
    salt: u64,
}

/// The `n`-th key index to write: ascending, or a bijection of 0..keys that scatters
/// neighbours (multiplication by a large prime modulo `keys`, skipping the rare
/// non-coprime case by falling back to ascending).
fn nth_index(n: u64, keys: u64, shuffle: bool) -> u64 {
    const PRIME: u64 = 2_654_435_761;
    if !shuffle || keys == 0 || gcd(PRIME % keys, keys) != 1 {
        return n;
    }
    ((u128::from(n) * u128::from(PRIME)) % u128::from(keys)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub fn key(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:07}")
}

/// `len` letters and digits that differ from key to key.
pub fn value_text(index: u64, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            // xorshift: cheap, deterministic, good enough to make values distinct.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            CHARS[(state % CHARS.len() as u64) as usize] as char
        })
        .collect()
}

fn request(flavor: Flavor, key: &str, value: &str) -> (Method, String, Option<Bytes>) {
    match flavor {
        Flavor::Ctx => {
            let body = serde_json::json!({"key": key, "value": value, "who": "bench"});
            (
                Method::POST,
                "/ctx".to_owned(),
                Some(Bytes::from(body.to_string())),
            )
        }
        Flavor::Etcd => {
            let body = serde_json::json!({
                "key": base64(key.as_bytes()),
                "value": base64(value.as_bytes()),
            });
            (
                Method::POST,
                "/v3/kv/put".to_owned(),
                Some(Bytes::from(body.to_string())),
            )
        }
        Flavor::Webdis => (Method::GET, format!("/SET/{key}/{value}"), None),
    }
}

async fn worker(
    authority: String,
    args: Arc<Args>,
    next: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut conn = Conn::connect(&authority).await?;
    let chars = args.value_bytes.saturating_sub(2).max(1);
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= args.keys {
            return Ok(());
        }
        let index = nth_index(n, args.keys, args.shuffle);
        let key = key(&args.key_prefix, index);
        let value = value_text(index ^ args.salt.wrapping_mul(0x5851_F42D_4C95_7F2D), chars);
        let (method, path, body) = request(args.flavor, &key, &value);
        match conn.send(method, &path, body).await {
            Ok((status, _)) if status.is_success() => {}
            Ok((status, body)) => {
                if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!(
                        "fill: {key}: HTTP {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("fill: {key}: {e:#}; reconnecting");
                conn = Conn::connect(&authority).await?;
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let authority = authority(&args.target)?;
    let connections = args.connections.max(1);
    let args = Arc::new(args);
    let runtime = tokio::runtime::Runtime::new()?;
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(connections);
        for _ in 0..connections {
            tasks.push(tokio::spawn(worker(
                authority.clone(),
                args.clone(),
                next.clone(),
                errors.clone(),
            )));
        }
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "keys": args.keys,
            "value_bytes": args.value_bytes,
            "connections": connections,
            "shuffle": args.shuffle,
            "seconds": seconds,
            "writes_per_second": args.keys as f64 / seconds,
            "errors": errors,
        })
    );
    if errors > 0 {
        bail!("{errors} writes failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shuffled_order_is_a_permutation() {
        for keys in [1u64, 7, 100, 1000] {
            let mut seen: Vec<u64> = (0..keys).map(|n| super::nth_index(n, keys, true)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..keys).collect::<Vec<_>>(), "{keys}");
        }
    }
}
