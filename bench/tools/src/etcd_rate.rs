//! `ctx-bench etcd-rate`: etcd's own put or range rate over gRPC, the figure cluster-mode
//! ctx is held against (issue 13 §4: cluster writes ≥ 1.0× etcd's put rate at 64
//! connections). Built with the `etcd` feature (the gRPC client needs `protoc`).
//!
//! Each of `--connections` closed-loop clients has its own gRPC connection, spread over the
//! endpoints in turn (connection i to endpoint i mod n), like wrk's connections to one URL:
//! a request, its answer, the next. Keys are `<prefix>bench_<7 digits>` out of `--keys`,
//! values random letters of `--value-bytes`, as bench/wrk sends to ctx. Reads are
//! linearizable (etcd's default, a quorum round per read) unless `--serializable` (the
//! member's own copy, what a ctx node's memory read compares to). The answer is one JSON
//! line shaped like the wrk scripts' `WRKJSON` so bench/run records both alike.

use anyhow::Context;
use etcd_client::{Client, GetOptions, KvClient};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// Put random keys for `--seconds`.
    Put,
    /// Read random keys for `--seconds`.
    Range,
    /// Put every key once (0..keys), as fast as the connections go, and stop.
    Fill,
}

#[derive(clap::Args)]
pub struct Args {
    /// Comma-separated etcd client URLs.
    #[arg(long)]
    endpoints: String,
    #[arg(long, value_enum)]
    op: Op,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long put and range run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Key space.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    #[arg(long, default_value_t = 200)]
    value_bytes: usize,
    /// Prepended to every key, so the bench's keys stay out of ctx's prefix.
    #[arg(long, default_value = "etcd-bench/")]
    key_prefix: String,
    /// Serializable reads (from the member's own copy) instead of linearizable ones.
    #[arg(long)]
    serializable: bool,
}

/// What one client did: latencies in µs of the successful requests, and its failures.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let endpoints: Vec<String> = args.endpoints.split(',').map(str::to_owned).collect();
    anyhow::ensure!(
        args.connections > 0 && args.keys > 0,
        "--connections and --keys must be above 0"
    );
    // Two workers: the same thread count wrk gets in bench/run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(measure(&args, &endpoints))
}

async fn measure(args: &Args, endpoints: &[String]) -> anyhow::Result<()> {
    let mut clients = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let endpoint = &endpoints[index % endpoints.len()];
        let client = Client::connect([endpoint], None)
            .await
            .with_context(|| format!("connect to etcd at {endpoint}"))?;
        clients.push(client.kv_client());
    }
    let value_chars = args.value_bytes.saturating_sub(2).max(1);
    let until = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients.len());
    for (index, client) in clients.into_iter().enumerate() {
        let plan = ClientPlan {
            op: args.op,
            index: index as u64,
            connections: args.connections as u64,
            keys: args.keys,
            prefix: args.key_prefix.clone(),
            value_chars,
            serializable: args.serializable,
            until,
        };
        tasks.push(tokio::spawn(plan.run(client, started)));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.context("a bench client panicked")?;
        total.latencies_us.extend(tally.latencies_us);
        total.errors += tally.errors;
        total.first_error = total.first_error.or(tally.first_error);
    }
    let elapsed = started.elapsed();
    if let Some(error) = &total.first_error {
        eprintln!(
            "ctx-bench etcd-rate: {} requests failed, the first: {error}",
            total.errors
        );
    }
    total.latencies_us.sort_unstable();
    let requests = total.latencies_us.len();
    let rps = requests as f64 / elapsed.as_secs_f64();
    if args.op == Op::Fill {
        anyhow::ensure!(total.errors == 0, "{} puts failed", total.errors);
        println!(
            "{}",
            json!({"keys": args.keys, "seconds": elapsed.as_secs_f64(), "writes_per_sec": rps})
        );
    } else {
        println!(
            "{}",
            json!({
                "requests": requests, "rps": rps,
                "p50_us": percentile(&total.latencies_us, 0.50),
                "p99_us": percentile(&total.latencies_us, 0.99),
                "duration_us": elapsed.as_micros() as u64,
                "err_status": total.errors,
            })
        );
    }
    Ok(())
}

/// The value at quantile `q` of sorted samples (0 when there are none).
fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

struct ClientPlan {
    op: Op,
    index: u64,
    connections: u64,
    keys: u64,
    prefix: String,
    value_chars: usize,
    serializable: bool,
    until: Duration,
}

impl ClientPlan {
    async fn run(self, mut client: KvClient, started: Instant) -> Tally {
        let mut tally = Tally::default();
        // xorshift64*, seeded per client: random keys without a dependency.
        let mut state =
            0x9E37_79B9_7F4A_7C15_u64 ^ (self.index + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut next_random = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut fill_index = self.index;
        loop {
            let key_index = match self.op {
                Op::Fill if fill_index >= self.keys => break,
                Op::Fill => {
                    let key_index = fill_index;
                    fill_index += self.connections;
                    key_index
                }
                _ if started.elapsed() >= self.until => break,
                _ => next_random() % self.keys,
            };
            let key = format!("{}bench_{key_index:07}", self.prefix);
            let request_started = Instant::now();
            let outcome = match self.op {
                Op::Range => {
                    let options = self
                        .serializable
                        .then(|| GetOptions::new().with_serializable());
                    client.get(key, options).await.map(drop)
                }
                Op::Put | Op::Fill => {
                    let value: String = (0..self.value_chars)
                        .map(|_| {
                            char::from(letters[(next_random() % letters.len() as u64) as usize])
                        })
                        .collect();
                    client.put(key, value, None).await.map(drop)
                }
            };
            match outcome {
                Ok(()) => {
                    let micros = request_started.elapsed().as_micros();
                    tally
                        .latencies_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
                Err(error) => {
                    tally.errors += 1;
                    tally.first_error.get_or_insert_with(|| error.to_string());
                }
            }
        }
        tally
    }
}
