use std::process::ExitCode;

#[derive(clap::Args)]
pub struct LoadArgs {}

pub fn run(_args: LoadArgs) -> ExitCode {
    eprintln!("ctx load: not implemented yet");
    crate::exit::code(crate::exit::COULD_NOT_RUN)
}
