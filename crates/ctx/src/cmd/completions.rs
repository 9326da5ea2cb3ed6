//! `ctx completions SHELL`: print a completion script generated from the same clap
//! definition that parses the command line, so completions never drift from the flags.

use crate::exit;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: Shell,
}

pub fn run<Cli: CommandFactory>(args: CompletionsArgs) -> ExitCode {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    // Generated into memory first: clap_complete panics on a failed write, and a closed
    // stdout (`ctx completions bash | head`) is not worth a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let _ = std::io::stdout().lock().write_all(&script);
    exit::code(exit::OK)
}
