//! One etcd member: its ports, data directory and log, and the child process when it runs.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use super::ClusterError;

/// The program the launcher runs; found on PATH (Debian's `etcd-server` puts it in /usr/bin).
pub(super) const ETCD_PROGRAM: &str = "etcd";

pub(super) struct Member {
    pub(super) name: String,
    pub(super) client_port: u16,
    pub(super) peer_port: u16,
    /// The port the other members dial for this one: `peer_port`, or its relay's (relay.rs).
    pub(super) advertised_peer_port: u16,
    pub(super) data_dir: PathBuf,
    pub(super) log_path: PathBuf,
    pub(super) child: Option<Child>,
}

impl Member {
    pub(super) fn new(index: usize, dir: &Path, client_port: u16, peer_port: u16) -> Self {
        let name = format!("member-{index}");
        Self {
            data_dir: dir.join(&name).join("data"),
            log_path: dir.join(&name).join("etcd.log"),
            name,
            client_port,
            peer_port,
            advertised_peer_port: peer_port,
            child: None,
        }
    }

    pub(super) fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub(super) fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    pub(super) fn advertised_peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.advertised_peer_port)
    }

    /// Starts the process. With an existing data directory etcd rejoins with the identity
    /// stored there and ignores the `--initial-*` flags, so a restart passes the same ones.
    pub(super) fn spawn(&mut self, initial_cluster: &str, token: &str) -> Result<(), ClusterError> {
        let member_dir = self.data_dir.parent().unwrap_or(&self.data_dir);
        fs::create_dir_all(member_dir).map_err(|source| ClusterError::Io {
            path: member_dir.to_path_buf(),
            source,
        })?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| ClusterError::Io {
                path: self.log_path.clone(),
                source,
            })?;
        let log_too = log.try_clone().map_err(|source| ClusterError::Io {
            path: self.log_path.clone(),
            source,
        })?;
        let client_url = self.client_url();
        let peer_url = self.peer_url();
        let mut command = Command::new(ETCD_PROGRAM);
        // etcd also reads ETCD_* variables and refuses to start when one shadows a flag.
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(variable);
            }
        }
        command
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &self.advertised_peer_url()])
            .args(["--initial-cluster", initial_cluster])
            .args(["--initial-cluster-token", token])
            .args(["--initial-cluster-state", "new"])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too);
        let child = command.spawn().map_err(|source| ClusterError::Spawn {
            program: ETCD_PROGRAM.to_owned(),
            source,
        })?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL and reap: no clean shutdown, no leadership hand-over — a crash.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means the process is already gone; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(super) fn is_running(&mut self) -> bool {
        self.exit_status().is_none() && self.child.is_some()
    }

    /// The exit status when the process ran and has ended (it is then reaped and forgotten).
    pub(super) fn exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The end of the member's log, for error messages.
    pub(super) fn log_tail(&self) -> String {
        crate::log_tail(&self.log_path)
    }

    /// True when the log says a port was taken: another process bound one of the ports
    /// between the launcher finding it free and etcd binding it (start then retries).
    pub(super) fn lost_a_port(&self) -> bool {
        self.log_tail().contains("address already in use")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}
