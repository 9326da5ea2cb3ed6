//! `ctx`: one binary that serves the shared context, talks to it, and load-tests it.
//! Each subcommand lives in `cmd/`; this file only parses the command line and dispatches.

mod cmd;
mod exit;

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
    #[command(flatten)]
    client: cmd::client::ClientOptions,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Watch(args) => cmd::watch::run(cli.client, args),
        Command::Client(command) => cmd::client::run(cli.client, command),
    }
}
