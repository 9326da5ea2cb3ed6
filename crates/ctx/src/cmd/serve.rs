use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("ctx serve: not implemented yet");
    crate::exit::code(crate::exit::COULD_NOT_RUN)
}
