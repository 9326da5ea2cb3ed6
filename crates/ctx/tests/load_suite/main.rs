//! The seed's performance suite as part of `cargo test`: the six scenarios at
//! their seed sizes against our own server (started as a child process, as
//! `ctx load` does), asserting the seed's thresholds; and the `ctx load`
//! command's exit codes.
//!
//! One test binary in three parts: `scenarios` (the seed's six and ws_fanout through
//! `ctx_load::run`), `crash` (a server killed mid-run), `command` (`ctx load` as a
//! child process: exit codes, `--list`, progress on stderr).

use std::path::Path;
use std::process::{Command, Output};

mod command;
mod crash;
mod scenarios;

const CTX: &str = env!("CARGO_BIN_EXE_ctx");

fn ctx_load(args: &[&str], tmp: &Path) -> Output {
    Command::new(CTX)
        .arg("load")
        .args(args)
        .current_dir(tmp)
        // The child server's throw-away data directory goes here, so the
        // test can see it removed.
        .env("TMPDIR", tmp)
        .output()
        .expect("run ctx load")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}
