//! `ctx dev-cluster` end to end (`--features etcd`): it prints the etcd members and the ctx
//! nodes, a write on one node is read on the other, and SIGINT stops every process and
//! removes the temporary directory.

#![cfg(feature = "etcd")]

mod common;

use common::CTX;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(90);

/// The dev-cluster child, SIGTERMed (it then stops its members and nodes) if the test fails
/// before its own SIGINT: a failed assertion must not leave a cluster running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn dev_cluster_starts_etcd_and_nodes_that_share_one_context_and_stops_them_on_sigint() {
    let mut child = Running(
        Command::new(CTX)
            .args(["dev-cluster", "--nodes", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ctx dev-cluster"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut printed = Vec::new();
    let started = Instant::now();
    while printed
        .last()
        .is_none_or(|line: &String| line != "Ctrl-C stops everything.")
    {
        let remaining = PATIENCE.saturating_sub(started.elapsed());
        match lines.recv_timeout(remaining) {
            Ok(line) => printed.push(line),
            Err(_) => panic!("dev-cluster did not get ready: {printed:#?}"),
        }
    }
    // "  etcd 0  URL  pid N" and "  node 0  URL  pid N"
    let rows = |kind: &str| -> Vec<(String, u32)> {
        printed
            .iter()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.len() == 5 && fields[0] == kind && fields[3] == "pid")
                    .then(|| (fields[2].to_owned(), fields[4].parse().expect("a pid")))
            })
            .collect()
    };
    let (members, nodes) = (rows("etcd"), rows("node"));
    assert_eq!(members.len(), 3, "{printed:#?}");
    assert_eq!(nodes.len(), 2, "{printed:#?}");
    let data_line = printed
        .iter()
        .find(|l| l.starts_with("data and logs: "))
        .expect("data line");
    let dir = data_line
        .trim_start_matches("data and logs: ")
        .trim_end_matches(" (removed at exit)")
        .to_owned();
    assert!(Path::new(&dir).is_dir());

    let address = |url: &str| url.trim_start_matches("http://").to_owned();
    let (status, answer) = common::http(
        &address(&nodes[0].0),
        "POST",
        "/ctx",
        Some(&json!({"key": "greeting", "value": "hello"})),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = common::http(
        &address(&nodes[1].0),
        "GET",
        "/ctx/greeting?consistent=true",
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["value"], json!("hello"));

    let interrupted = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let status = child.0.wait().expect("dev-cluster exits");
    assert_eq!(status.code(), Some(0));
    for (url, pid) in members.iter().chain(&nodes) {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{url} (pid {pid}) still runs"
        );
    }
    assert!(!Path::new(&dir).exists(), "{dir} was not removed");
}
