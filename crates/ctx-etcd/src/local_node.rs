//! A `ctx serve --store etcd` child process in front of a [`LocalEtcdCluster`], for tests,
//! `ctx dev-cluster` and bench/run: started with `--port 0` (no port race: the node binds
//! and prints `listening on URL`, which [`LocalCtxNode::start`] waits for), its log in a
//! file, SIGKILLed on drop.
//!
//! [`LocalEtcdCluster`]: crate::local_cluster::LocalEtcdCluster

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot run {}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the node log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("ctx serve did not announce itself within {waited:?} ({status}); the end of {}:\n{tail}", log.display())]
    NotListening {
        waited: Duration,
        status: String,
        log: PathBuf,
        tail: String,
    },
}

/// What a ctx node is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The `ctx` binary.
    pub program: PathBuf,
    /// `--etcd-endpoints`: comma-separated client URLs.
    pub endpoints: String,
    /// `--etcd-prefix`, when not the default.
    pub prefix: Option<String>,
    /// `--port`; 0 lets the node pick a free one.
    pub port: u16,
    /// `--data-dir` (dumps live there in cluster mode); the log goes beside it.
    pub data_dir: PathBuf,
    /// Any further `ctx serve` flags.
    pub extra_args: Vec<OsString>,
}

impl NodeConfig {
    /// The `ctx serve` command line of a cluster-mode node: the one place that knows it.
    pub fn serve_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["serve", "--store", "etcd", "--etcd-endpoints"]
            .into_iter()
            .map(OsString::from)
            .collect();
        args.push(self.endpoints.clone().into());
        if let Some(prefix) = &self.prefix {
            args.extend(["--etcd-prefix".into(), prefix.into()]);
        }
        args.extend([
            "--port".into(),
            self.port.to_string().into(),
            "--data-dir".into(),
        ]);
        args.push(self.data_dir.clone().into());
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// A running ctx node; SIGKILLed and reaped when dropped.
pub struct LocalCtxNode {
    url: String,
    log_path: PathBuf,
    child: Option<Child>,
}

impl LocalCtxNode {
    /// Starts `ctx serve` as configured and waits up to `deadline` for its `listening on`
    /// line. Its stderr and the rest of its stdout go to `<data_dir>.log`.
    pub fn start(config: &NodeConfig, deadline: Duration) -> Result<Self, NodeError> {
        let log_path = config.data_dir.with_extension("log");
        let log_error = |source| NodeError::Log {
            path: log_path.clone(),
            source,
        };
        if let Some(parent) = log_path.parent() {
            fs::create_dir_all(parent).map_err(log_error)?;
        }
        let log = File::create(&log_path).map_err(log_error)?;
        let mut stdout_log = log.try_clone().map_err(log_error)?;
        let mut child = Command::new(&config.program)
            .args(config.serve_args())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|source| NodeError::Spawn {
                program: config.program.clone(),
                source,
            })?;
        let stdout = child.stdout.take().ok_or_else(|| NodeError::Spawn {
            program: config.program.clone(),
            source: io::Error::other("no pipe for its stdout"),
        })?;
        // Read on a thread so a node that never announces itself fails after the deadline
        // instead of hanging; the thread then copies the rest of stdout into the log so the
        // pipe never fills.
        let (announce, announced) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = announce.send(first);
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(stdout_log, "{line}");
            }
        });
        let mut node = Self {
            url: String::new(),
            log_path,
            child: Some(child),
        };
        let url = announced
            .recv_timeout(deadline)
            .ok()
            .flatten()
            .and_then(|line| line.trim().strip_prefix("listening on ").map(str::to_owned));
        match url {
            Some(url) => {
                node.url = url;
                Ok(node)
            }
            None => {
                let status = match node.child.as_mut().map(Child::try_wait) {
                    Some(Ok(Some(status))) => format!("exited: {status}"),
                    _ => "still running".to_owned(),
                };
                node.kill();
                Err(NodeError::NotListening {
                    waited: deadline,
                    status,
                    log: node.log_path.clone(),
                    tail: crate::log_tail(&node.log_path),
                })
            }
        }
    }

    /// The node's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `host:port`, for raw TCP clients.
    pub fn address(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL and reap: a crash, nothing flushed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it is already gone; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status once the process has ended on its own (it is then reaped).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }
}

impl Drop for LocalCtxNode {
    fn drop(&mut self) {
        self.kill();
    }
}
