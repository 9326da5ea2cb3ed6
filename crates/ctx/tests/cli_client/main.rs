//! The client commands end to end: a real `ctx serve` child on a free loopback port and a
//! real data dir, driven by `ctx` child processes, checking stdout, stderr and exit codes.
//!
//! One test binary in four parts: `keys` (set, get, del, list, history), `dumps`,
//! `server` (reaching it, exit codes, the API key), `surface` (flags, completions).

#[path = "../common/mod.rs"]
mod common;

use common::{CTX, ChildServer};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

mod dumps;
mod keys;
mod server;
mod surface;

/// A server on its own temporary data dir, removed after the server is killed.
struct Server {
    child: ChildServer,
    _dir: TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = ChildServer::start(&dir.path().join("data"));
        Server { child, _dir: dir }
    }

    fn ctx(&self, args: &[&str]) -> Run {
        ctx_at(&self.child.url, args)
    }
}

/// One finished `ctx` invocation, with its output decoded for assertions.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    #[track_caller]
    fn json(self) -> Value {
        let stdout = self.ok();
        assert_eq!(
            stdout.lines().count(),
            1,
            "--json prints one line: {stdout}"
        );
        serde_json::from_str(&stdout).expect("--json output parses")
    }

    /// Asserts the exit code and that stderr is exactly one line; returns that line.
    #[track_caller]
    fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one stderr line: {:?}",
            self.stderr
        );
        self.stderr
    }
}

fn ctx_at(server: &str, args: &[&str]) -> Run {
    ctx_in(Path::new("."), server, args)
}

/// `ctx_at` with the child's working directory set (where `--download` saves by default).
fn ctx_in(cwd: &Path, server: &str, args: &[&str]) -> Run {
    // `--server` right after the subcommand: before any `--` that ends its options.
    let (command, rest) = args.split_first().expect("a subcommand");
    let output: Output = Command::new(CTX)
        .current_dir(cwd)
        .arg(command)
        .args(["--server", server])
        .args(rest)
        .env_remove("CTX_SERVER")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}
