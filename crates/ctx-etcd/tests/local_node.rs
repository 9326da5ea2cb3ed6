//! The ctx node launcher's own mechanics, with stand-in programs (the real `ctx serve
//! --store etcd` nodes run in crates/ctx/tests/cluster_failures/): the announced URL,
//! the command line, a node that never announces itself, and the kill on drop.

use ctx_etcd::local_node::{LocalCtxNode, NodeConfig, NodeError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A shell script standing in for `ctx`: it records its arguments, then runs `body`.
fn stand_in(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-ctx");
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho \"$@\" > {}/args\n{body}\n", dir.display()),
    )
    .expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn config(dir: &Path, program: PathBuf) -> NodeConfig {
    NodeConfig {
        program,
        endpoints: "http://127.0.0.1:1,http://127.0.0.1:2".into(),
        prefix: Some("tenant/".into()),
        port: 0,
        data_dir: dir.join("node-0"),
        extra_args: vec!["--history-limit".into(), "10".into()],
    }
}

#[test]
fn a_node_is_ready_when_it_announces_its_url_and_is_killed_on_drop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = stand_in(
        dir.path(),
        "echo 'listening on http://127.0.0.1:45678'\necho 'later output'\nexec sleep 60",
    );
    let node = LocalCtxNode::start(&config(dir.path(), program), Duration::from_secs(30))
        .expect("the node starts");
    assert_eq!(node.url(), "http://127.0.0.1:45678");
    assert_eq!(node.address(), "127.0.0.1:45678");
    let args = std::fs::read_to_string(dir.path().join("args")).expect("arguments recorded");
    assert_eq!(
        args.trim(),
        format!(
            "serve --store etcd --etcd-endpoints http://127.0.0.1:1,http://127.0.0.1:2 \
             --etcd-prefix tenant/ --port 0 --data-dir {} --history-limit 10",
            dir.path().join("node-0").display()
        )
    );
    let pid = node.pid().expect("running");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(node);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped on drop"
    );
}

#[test]
fn a_node_that_exits_without_announcing_itself_is_an_error_with_its_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = stand_in(
        dir.path(),
        "echo 'ctx serve: cannot reach etcd' >&2\nexit 3",
    );
    let error = LocalCtxNode::start(&config(dir.path(), program), Duration::from_secs(30))
        .err()
        .expect("no node");
    assert!(matches!(error, NodeError::NotListening { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("cannot reach etcd"), "{message}");
    assert!(message.contains("node-0.log"), "{message}");
}
