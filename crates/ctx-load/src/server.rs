//! Starts our own server as a child process when no `--target` is given, so
//! one command runs the whole suite on a fresh machine.
//!
//! The child runs `<program> [args…] serve --host 127.0.0.1 --port 0 --data-dir <tempdir>`;
//! port 0 lets the OS pick a free port (no collisions with anything else on
//! the machine), and the server announces it on stdout as
//! `listening on http://HOST:PORT`. We wait for that line, then for
//! `GET /health` to answer 200, hand the URL and PID to the runner, and at the
//! end stop it with SIGTERM (SIGKILL after a grace period) and delete the
//! throw-away data directory.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::engine::{Request, Target, one_shot};
use crate::error::LoadError;

/// How to start the server: `program args… serve --host 127.0.0.1 --port 0 --data-dir DIR`.
#[derive(Clone, Debug)]
pub struct Launcher {
    pub program: PathBuf,
    /// Arguments placed before `serve` (usually none).
    pub args: Vec<OsString>,
    /// How long to wait for the "listening on" line and a healthy `/health`.
    pub startup_timeout: Duration,
    /// How long to wait after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
}

impl Launcher {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Launcher {
            program: program.into(),
            args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
        }
    }
}

const STDERR_TAIL_LINES: usize = 20;

/// A server we started. Dropping it kills the child (`kill_on_drop`) and
/// removes the data directory; [`ChildServer::stop`] does it gracefully.
pub struct ChildServer {
    child: Child,
    pid: u32,
    url: String,
    stop_grace: Duration,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    // Held for its Drop: removes the directory.
    data_dir: tempfile::TempDir,
}

/// Extracts `http://HOST:PORT` from a `… listening on http://HOST:PORT …` line.
pub fn parse_listening_line(line: &str) -> Option<String> {
    let at = line.find("listening on http://")?;
    let url = line[at + "listening on ".len()..]
        .split_whitespace()
        .next()?;
    let url = url.trim_end_matches(['/', ',', '.', ';']);
    (url.len() > "http://".len()).then(|| url.to_string())
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let lines: Vec<String> = tail
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    if lines.is_empty() {
        "(no stderr output)".to_string()
    } else {
        lines.join(" | ")
    }
}

impl ChildServer {
    /// Starts the server and waits until it is healthy.
    pub async fn start(launcher: &Launcher) -> Result<ChildServer, LoadError> {
        let fail = |msg: String| LoadError::CouldNotRun(msg);
        let data_dir = tempfile::Builder::new()
            .prefix("ctx-load-")
            .tempdir()
            .map_err(|e| fail(format!("cannot create a temporary data directory: {e}")))?;
        let mut cmd = Command::new(&launcher.program);
        cmd.args(&launcher.args)
            .arg("serve")
            // Loopback only, whatever CONTEXT_SERVER_HOST says: the load stays on this machine.
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg("0")
            .arg("--data-dir")
            .arg(data_dir.path())
            // An API key in our environment would make every write a 401.
            .env_remove("CTX_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            fail(format!(
                "cannot start the server ({}): {e}",
                launcher.program.display()
            ))
        })?;
        let pid = child
            .id()
            .ok_or_else(|| fail("the server exited immediately".into()))?;

        // Keep the last stderr lines for error messages; always drain the pipe
        // so a chatty server never blocks on a full pipe.
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let mut stderr_task = None;
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            stderr_task = Some(tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == STDERR_TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            }));
        }
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout pipe for the server".into()))?;
        let deadline = Instant::now() + launcher.startup_timeout;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    if let Some(url) = parse_listening_line(&line) {
                        break url;
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    // stdout closed: the server exited (or closed stdout) before announcing itself.
                    let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                    let how = match status {
                        Ok(Ok(s)) => format!("exited ({s})"),
                        _ => "closed its stdout".to_string(),
                    };
                    // Let the stderr reader reach EOF so the message has the last words.
                    if let Some(task) = stderr_task.take() {
                        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
                    }
                    return Err(fail(format!(
                        "the server {how} before printing \"listening on http://HOST:PORT\"; stderr: {}",
                        tail_text(&stderr_tail)
                    )));
                }
                Err(_) => {
                    let _ = child.start_kill();
                    return Err(fail(format!(
                        "the server did not print \"listening on http://HOST:PORT\" within {:?}; stderr: {}",
                        launcher.startup_timeout,
                        tail_text(&stderr_tail)
                    )));
                }
            }
        };
        // Keep draining stdout for the rest of the run.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let server = ChildServer {
            child,
            pid,
            url,
            stop_grace: launcher.stop_grace,
            stderr_tail,
            data_dir,
        };
        let target = Target::parse(&server.url).map_err(|e| {
            fail(format!(
                "the server announced an unusable address {:?}: {e}",
                server.url
            ))
        })?;
        wait_healthy(&target, deadline)
            .await
            .map_err(|e| fail(format!("{e}; stderr: {}", server.stderr_tail())))?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    pub fn stderr_tail(&self) -> String {
        tail_text(&self.stderr_tail)
    }

    /// Waits until the child exits; returns its status text. Cancel-safe.
    pub async fn wait_exit(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// Has the child exited? (Returns its status text if so.)
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// SIGTERM, wait up to the grace period, then SIGKILL; removes the data
    /// directory. Returns a description of how it ended when that was not clean.
    pub async fn stop(mut self) -> Option<String> {
        if self.child.try_wait().ok().flatten().is_none()
            && let Ok(pid) = libc::pid_t::try_from(self.pid)
        {
            // SAFETY: plain kill(2) on our own child's PID, which is not
            // reaped yet (we have not waited on it), so it cannot be reused.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let note = match tokio::time::timeout(self.stop_grace, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => None,
            Ok(Ok(status)) => Some(format!("server exited with {status} after SIGTERM")),
            Ok(Err(e)) => Some(format!("waiting for the server: {e}")),
            Err(_) => {
                let _ = self.child.kill().await;
                Some(format!(
                    "server ignored SIGTERM for {:?}; killed",
                    self.stop_grace
                ))
            }
        };
        drop(self.data_dir);
        note
    }
}

/// Polls `GET /health` until it answers 200 or `deadline` passes.
pub async fn wait_healthy(target: &Target, deadline: Instant) -> Result<(), String> {
    let req = Request::get("health");
    loop {
        let last = match one_shot(target, &req, Duration::from_secs(2)).await {
            Ok((200, _)) => return Ok(()),
            Ok((s, _)) => format!("HTTP {s}"),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "{target}/health did not answer 200 in time (last: {last})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:4242").as_deref(),
            Some("http://127.0.0.1:4242")
        );
        assert_eq!(
            parse_listening_line(
                "2026-01-01 INFO ctx: listening on http://127.0.0.1:80/ (data in /tmp)"
            )
            .as_deref(),
            Some("http://127.0.0.1:80")
        );
        assert_eq!(parse_listening_line("starting"), None);
        assert_eq!(parse_listening_line("listening on http://"), None);
    }
}
