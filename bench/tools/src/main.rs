//! `ctx-bench`: the bench-only helpers that `bench/run` drives.
//!
//! - `baseline`: a bare axum server answering a fixed small JSON on ctx's routes, the
//!   "physical limit" of this HTTP stack on this machine;
//! - `etcd-rate` (feature `etcd`): etcd's own put or range rate over gRPC, the yardstick of
//!   the cluster rows;
//! - `fill`: writes N keys into ctx, etcd (JSON gateway) or webdis over HTTP with many
//!   concurrent connections (for ctx this also exercises group commit);
//! - `free-port`: prints a free loopback port for servers that cannot take `--port 0`;
//! - `fsync-probe`: times append + fdatasync, the floor under every durable commit;
//! - `mem-model`: a model of the store's key map, to price its layout per key;
//! - `procstat`: samples RSS and CPU of some processes from `/proc` for a while;
//! - `startup`: times a server's start (to its `listening on` line and first answered GET)
//!   and reads its RSS;
//! - `report`: turns the raw measurements of a run into the Markdown and JSON results;
//! - `torture`: SIGKILLs a `ctx serve` under concurrent writers again and again and checks
//!   that nothing acknowledged is lost (`src/torture/`, also a library for `cargo test`).

mod baseline;
mod client;
#[cfg(feature = "etcd")]
mod etcd_rate;
mod fill;
mod fsync;
mod memmodel;
mod procstat;
mod report;
mod startup;

use clap::{Parser, Subcommand};
use ctx_bench::torture;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ctx-bench",
    about = "Helpers for bench/run (not a product binary)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a fixed small JSON on ctx's routes (GET /ctx/{key}, GET /ctx, POST /ctx, GET /ctx/all).
    Baseline(baseline::Args),
    /// etcd's own put or range rate over gRPC at N connections (one JSON line, like wrk's).
    #[cfg(feature = "etcd")]
    EtcdRate(etcd_rate::Args),
    /// Write N keys (and so N history entries in ctx) over HTTP with many connections.
    Fill(fill::Args),
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Time append + fdatasync on a disk: the floor under any durable commit.
    FsyncProbe(fsync::Args),
    /// Model of the store's key map: RSS per key, built incrementally or in bulk.
    MemModel(memmodel::Args),
    /// Sample RSS and CPU of processes from /proc and print one JSON line.
    Procstat(procstat::Args),
    /// Start a server, time it to `listening on` and to a first answered GET, read its RSS.
    Startup(startup::Args),
    /// Write the Markdown and JSON results of a run from its raw measurements.
    Report(report::Args),
    /// Kill `ctx serve` at random moments under concurrent writers; check every acknowledged write.
    Torture(torture::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Baseline(args) => baseline::run(args),
        #[cfg(feature = "etcd")]
        Command::EtcdRate(args) => etcd_rate::run(args),
        Command::Fill(args) => fill::run(args),
        Command::FreePort => free_port(),
        Command::FsyncProbe(args) => fsync::run(args),
        Command::MemModel(args) => memmodel::run(args),
        Command::Procstat(args) => procstat::run(args),
        Command::Startup(args) => startup::run(args),
        Command::Report(args) => report::run(args),
        Command::Torture(args) => torture::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctx-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn free_port() -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}
