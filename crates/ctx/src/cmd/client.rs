//! Client commands (`ctx get`, `ctx set`, ...): talk to a running server over HTTP.

use std::process::ExitCode;

/// Options shared by every client command.
#[derive(clap::Args)]
pub struct ClientOptions {
    /// Server base URL.
    #[arg(long, global = true, env = "CTX_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Show the server's status.
    Status,
}

pub fn run(_options: ClientOptions, _command: ClientCommand) -> ExitCode {
    eprintln!("ctx: client commands are not implemented yet");
    crate::exit::code(crate::exit::COULD_NOT_RUN)
}
