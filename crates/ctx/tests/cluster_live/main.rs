//! Cluster mode (`--features etcd`) answers the live API and the limits as the embedded
//! mode does, also when a node dies. Real etcd members and `ctx serve` children on
//! loopback, real python-socketio clients (the `.py` peers beside these files; they need
//! a `python3` with python-socketio first on PATH, as .ci/run provides).
//!
//! One test binary in five parts: `socketio` (clients of one node see writes made on
//! every node; each sender gets its own confirmations even when one etcd transaction
//! carries several senders' writes), `reload` (`/ws` watchers told `resync_required` and
//! Socket.IO clients sent a fresh snapshot when a node reloads after etcd compacted past
//! it), `limits` (a node's bounded history, `--max-keys` exact across nodes), `node_kill`
//! (Socket.IO clients while a node is SIGKILLed under writers), `reconnect` (a client
//! connecting during writes gets its snapshot in order with the events).
#![cfg(feature = "etcd")]

#[path = "../common/mod.rs"]
mod common;

mod limits;
mod node_kill;
mod reconnect;
mod reload;
mod socketio;

use common::Reaped;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// Bound on every wait: generous, for a 2-core machine shared with builds.
const PATIENCE: Duration = Duration::from_secs(120);

/// A python-socketio peer script of this folder as a child (`python3` from PATH): its
/// stdout lines on a channel, its stdin to drive it; killed when dropped. Its stderr is
/// the test's, so a peer that fails says why next to the test's own message.
struct Peer {
    child: Reaped,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Peer {
    fn start(script: &str, args: &[&str]) -> Peer {
        let path = format!("{}/tests/cluster_live/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child: Reaped(child),
            stdin,
            lines,
        }
    }

    /// The peer's next line; fails the test when the peer exits first or is silent for
    /// PATIENCE.
    #[track_caller]
    fn line(&self, what: &str) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the peer exited before {what}; its stderr is above (no python-socketio? \
                 put a venv with python-socketio[client] first on PATH, as .ci/run does)"
            ),
            Err(RecvTimeoutError::Timeout) => panic!("no {what} from the peer in {PATIENCE:?}"),
        }
    }

    /// The next line, which must be `line`.
    #[track_caller]
    fn expect(&self, line: &str) {
        assert_eq!(self.line(&format!("{line:?}")), line);
    }

    /// The next line, as JSON.
    #[track_caller]
    fn json(&self, what: &str) -> Value {
        let line = self.line(what);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what} is not JSON ({e}): {line}"))
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the peer's stdin");
        writeln!(stdin, "{line}").expect("write to the peer");
        stdin.flush().expect("write to the peer");
    }

    /// Waits for the peer to exit, which it must do successfully.
    #[track_caller]
    fn finish(mut self) {
        drop(self.stdin.take());
        let output = common::wait_output(&mut self.child.0, PATIENCE);
        assert!(
            output.status.success(),
            "the peer failed: {}",
            output.status
        );
    }
}
