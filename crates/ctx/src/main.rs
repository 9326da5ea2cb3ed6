//! `ctx`: one binary that serves the shared context, talks to it, and load-tests it.
//! Each subcommand lives in `cmd/`; this file only parses the command line and dispatches.

mod cmd;
mod exit;

/// glibc's allocator was the largest cost per request in profiles (see
/// docs/performance.md); mimalloc's thread-local free lists suit a server that allocates
/// and frees small buffers on every request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(message) = misplaced_client_option(&matches) {
        eprintln!("{message}");
        return exit::code(exit::USAGE);
    }
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Watch(args) => cmd::watch::run(cli.client, args),
        Command::Client(command) => cmd::client::run(cli.client, command),
    }
}

/// `--server` and `--json` are global so that `ctx get KEY --server URL` reads naturally,
/// but `serve` and `load` have no use for them: refuse them there rather than ignore them.
fn misplaced_client_option(matches: &ArgMatches) -> Option<String> {
    let (name, sub) = matches.subcommand()?;
    let given = |id: &str| sub.value_source(id) == Some(ValueSource::CommandLine);
    match name {
        "load" if given("server") => Some(
            "ctx load: --server is for client commands; use --target URL to load a running server".into(),
        ),
        "load" if given("json") => Some(
            "ctx load: --json is for client commands; every figure is written to report.json in the report directory".into(),
        ),
        "serve" if given("server") || given("json") => Some(
            "ctx serve: --server and --json are for client commands; use --host and --port".into(),
        ),
        _ => None,
    }
}
