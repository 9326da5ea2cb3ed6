//! `ctx`: one binary that serves the shared context, talks to it, and load-tests it.
//! Each subcommand lives in `cmd/`; this file only parses the command line and dispatches.

mod cmd;
mod exit;
mod tls;

/// glibc's allocator was the largest cost per request in profiles (see
/// docs/performance.md); mimalloc's thread-local free lists suit a server that allocates
/// and frees small buffers on every request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ctx",
    version,
    about = "Durable shared-context server, client and load suite"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the context server.
    Serve(cmd::serve::ServeArgs),
    /// Run the performance and load suite (starts its own server unless --target is given).
    Load(cmd::load::LoadArgs),
    /// Follow changes live (one line per change), resuming after dropped connections.
    Watch(cmd::watch::WatchArgs),
    #[command(flatten)]
    Client(cmd::client::ClientCommand),
    #[command(flatten)]
    Coord(cmd::coord::CoordCommand),
    /// Start a local cluster to try: 3 etcd members and N ctx nodes on loopback, until Ctrl-C.
    DevCluster(cmd::dev_cluster::DevClusterArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(cmd::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    // Clap's own errors (unknown flag, missing argument) exit with code 2, the usage code.
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Client(command) => cmd::client::run(command),
        Command::Coord(command) => cmd::coord::run(command),
        Command::DevCluster(args) => cmd::dev_cluster::run(args),
        Command::Completions(args) => cmd::completions::run::<Cli>(args),
    }
}
