//! `ctx set --if-revision/--ttl`, `ctx txn`, `ctx incr`, `ctx lease`, `ctx lock` and
//! `ctx wait` as real processes against a real `ctx serve`.

mod common;

use common::{CTX, ChildServer};
use serde_json::json;
use std::io::Write as _;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A generous bound so a broken command fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(30);

fn ctx(server: &ChildServer) -> Command {
    let mut command = Command::new(CTX);
    command
        .env("CTX_SERVER", &server.url)
        .env("RUST_LOG", "warn");
    command
}

fn run(server: &ChildServer, args: &[&str]) -> Output {
    ctx(server).args(args).output().expect("run ctx")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("killed: {output:?}"))
}

/// Waits for a child with a deadline; kills it and fails the test past it.
fn finish(mut child: Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a ctx child did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn server() -> (ChildServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (ChildServer::start(&dir.path().join("data")), dir)
}

#[test]
fn set_if_revision_ttl_incr_and_txn_from_json_and_toml() {
    let (server, dir) = server();
    assert_eq!(code(&run(&server, &["set", "k", "1"])), 0);
    let stale = run(&server, &["set", "k", "2", "--if-revision", "7"]);
    assert_eq!(code(&stale), 1, "{stale:?}");
    assert!(String::from_utf8_lossy(&stale.stderr).contains("revision 1"));
    assert_eq!(
        code(&run(&server, &["set", "k", "3", "--if-revision", "1"])),
        0
    );
    let (_, k) = server.get("/ctx/k");
    assert_eq!(k["value"], 3);

    assert_eq!(stdout(&run(&server, &["incr", "n"])), "1\n");
    assert_eq!(stdout(&run(&server, &["incr", "n", "--by", "-6"])), "-5\n");
    assert_eq!(
        code(&run(&server, &["incr", "k", "--by", "x"])),
        2,
        "usage error"
    );

    let ttl = run(&server, &["set", "tmp", "v", "--ttl", "600", "--json"]);
    let lease = serde_json::from_slice::<serde_json::Value>(&ttl.stdout).unwrap()["lease"]
        .as_u64()
        .expect("a lease");
    let revoke = run(&server, &["lease", "revoke", &lease.to_string()]);
    assert_eq!(code(&revoke), 0);
    assert_eq!(server.get("/ctx/tmp").1["found"], false);

    // A transaction on stdin (JSON) whose condition fails: the failure branch, exit 1.
    let mut child = ctx(&server)
        .args(["txn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let txn = json!({"compare": [{"key": "k", "value": 99}],
                     "success": [{"op": "set", "key": "won", "value": true}],
                     "failure": [{"op": "get", "key": "k"}]});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(txn.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 1);
    assert!(stdout(&output).contains("get k = 3"), "{}", stdout(&output));
    // The same from a TOML file, with a condition that holds.
    let file = dir.path().join("claim.toml");
    std::fs::write(
        &file,
        "compare = [{ key = \"k\", value = 3 }]\nsuccess = [{ op = \"set\", key = \"won\", value = true }]\n",
    )
    .unwrap();
    let output = run(&server, &["txn", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(server.get("/ctx/won").1["value"], true);
    std::fs::write(&file, "not = [valid").unwrap();
    assert_eq!(code(&run(&server, &["txn", file.to_str().unwrap()])), 2);
}

#[test]
fn wait_exits_0_when_the_value_arrives_and_1_on_timeout() {
    let (server, _dir) = server();
    let waiter = ctx(&server)
        .args(["wait", "barrier", "--value", "go", "--timeout", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Another value first: the waiter keeps waiting; then the one it waits for.
    server.post("/ctx", &json!({"key": "barrier", "value": "not yet"}));
    server.post("/ctx", &json!({"key": "barrier", "value": "go"}));
    let status = finish(waiter, PATIENCE);
    assert_eq!(status.code(), Some(0));

    let started = Instant::now();
    let timed_out = run(&server, &["wait", "never", "--timeout", "0.5"]);
    assert_eq!(code(&timed_out), 1, "{timed_out:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Already there: at once.
    assert_eq!(code(&run(&server, &["wait", "barrier"])), 0);
}

/// Three `ctx lock` processes, each appending `start` and `end` lines around its critical
/// section: the lines must come in pairs from one process, never interleaved.
#[test]
fn ctx_lock_runs_never_overlap() {
    let (server, dir) = server();
    let log = dir.path().join("sections.log");
    let section = format!(
        "echo \"start $$\" >> {log}; sleep 0.2; echo \"end $$\" >> {log}",
        log = log.display()
    );
    let holders: Vec<Child> = (0..3)
        .map(|_| {
            ctx(&server)
                .args([
                    "lock",
                    "locks/setup",
                    "--ttl",
                    "5",
                    "--",
                    "sh",
                    "-c",
                    &section,
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for holder in holders {
        assert_eq!(finish(holder, PATIENCE).code(), Some(0));
    }
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    for pair in lines.chunks(2) {
        let start = pair[0].strip_prefix("start ").expect("a start");
        assert_eq!(pair[1], format!("end {start}"), "{lines:?}");
    }
    // Released: the lock key is gone.
    assert_eq!(server.get("/ctx/locks%2Fsetup").1["found"], false);
}

#[test]
fn a_killed_holders_lock_is_released_when_its_lease_expires() {
    let (server, dir) = server();
    let pid_file = dir.path().join("holder.pid");
    let mut holder = ctx(&server)
        .args(["lock", "job", "--ttl", "1", "--", "sh", "-c"])
        .arg(format!("echo $$ > {}; exec sleep 60", pid_file.display()))
        .spawn()
        .unwrap();
    // Held once the command runs (it writes its pid).
    let deadline = Instant::now() + PATIENCE;
    while std::fs::read_to_string(&pid_file).map_or(true, |s| s.trim().is_empty()) {
        assert!(Instant::now() < deadline, "the first holder never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, held) = server.get("/ctx/job");
    assert_eq!(held["found"], true);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The orphaned command is ours to stop too.
    let command_pid = std::fs::read_to_string(&pid_file).unwrap();
    let _ = Command::new("kill").arg(command_pid.trim()).status();

    // A second holder gets the lock once the lease has expired (≈ 1 s), not before.
    let started = Instant::now();
    let second = ctx(&server)
        .args(["lock", "job", "--ttl", "5", "--", "true"])
        .spawn()
        .unwrap();
    assert_eq!(finish(second, PATIENCE).code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    let (_, history) = server.get("/ctx/history?key=job");
    let expired = &history["history"][1];
    assert!(
        expired["who"].as_str().unwrap().starts_with("lease:"),
        "{history}"
    );
    assert_eq!(expired["after"], serde_json::Value::Null);
}
