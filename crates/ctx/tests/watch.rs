//! `ctx watch` end to end: a real `ctx serve` child, `ctx watch` children, writes over
//! HTTP, and a loopback TCP proxy that can drop connections to test resuming.

mod common;

use common::{CTX, ChildServer};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

/// A bound so a broken `ctx watch` fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `ctx watch`, its stdout and stderr as line channels; killed when dropped.
struct Watch {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Watch {
    fn start(server: &str, args: &[&str]) -> Watch {
        let mut child = Command::new(CTX)
            .args(args)
            .args(["--server", server])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctx watch");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Watch {
            child,
            stdout,
            stderr,
        }
    }

    #[track_caller]
    fn line(&self) -> String {
        next_line(&self.stdout, "stdout")
    }

    #[track_caller]
    fn notice(&self) -> String {
        next_line(&self.stderr, "stderr")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[track_caller]
fn next_line(rx: &Receiver<String>, what: &str) -> String {
    match rx.recv_timeout(PATIENCE) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout) => panic!("no {what} line within {PATIENCE:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("ctx watch closed its {what}"),
    }
}

fn server() -> (ChildServer, TempDir) {
    server_with(&[])
}

fn server_with(extra: &[&str]) -> (ChildServer, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (
        ChildServer::start_with(&dir.path().join("data"), extra),
        dir,
    )
}

#[track_caller]
fn set(server: &ChildServer, key: &str, value: Value) -> u64 {
    let (status, answer) = server.post("/ctx", &json!({"key": key, "value": value, "who": "t"}));
    assert_eq!(status, 200, "{answer}");
    answer["revision"].as_u64().expect("revision")
}

#[test]
fn prints_one_line_per_change_with_prefix_filter() {
    let (server, _dir) = server();
    set(&server, "app/a", json!(1));
    set(&server, "other/x", json!(2));
    // --since 0 replays from the start, so nothing depends on when the watch subscribed.
    let watch = Watch::start(&server.url, &["watch", "--since", "0", "app/"]);
    set(&server, "app/b", json!({"n": [1, 2]}));
    set(&server, "other/y", json!(3));
    set(&server, "app/s", json!("text"));
    let (status, _) = common::http(&server.addr, "DELETE", "/ctx/app/a", None);
    assert_eq!(status, 200);
    assert_eq!(watch.line(), "1 app/a = 1 (t)");
    assert_eq!(watch.line(), r#"3 app/b = {"n":[1,2]} (t)"#);
    assert_eq!(
        watch.line(),
        "5 app/s = text (t)",
        "strings raw, as `get` prints them"
    );
    assert_eq!(watch.line(), "6 app/a deleted (api_client)");
}

#[test]
fn json_prints_the_events() {
    let (server, _dir) = server();
    let watch = Watch::start(&server.url, &["watch", "--json", "--since", "0"]);
    set(&server, "k", json!(true));
    let event: Value = serde_json::from_str(&watch.line()).expect("JSON line");
    assert_eq!(event["type"], "context_updated");
    assert_eq!(event["revision"], 1);
    assert_eq!(event["key"], "k");
    assert_eq!(event["value"], true);
    // Dump notices are not replayed: dump only once the watch is known to be subscribed.
    let (status, dump) = server.post("/ctx/dump", &json!({"format": "json"}));
    assert_eq!(status, 200);
    let event: Value = serde_json::from_str(&watch.line()).expect("JSON line");
    assert_eq!(event["type"], "context_dumped");
    assert_eq!(event["filename"], dump["filename"]);
}

#[test]
fn says_so_when_a_resync_was_needed() {
    let (server, _dir) = server_with(&["--history-limit", "3"]);
    for i in 0..10 {
        set(&server, &format!("k{i}"), json!(i));
    }
    let watch = Watch::start(&server.url, &["watch", "--since", "1"]);
    let notice = watch.notice();
    assert!(notice.contains("resync needed"), "{notice}");
    assert!(notice.contains("revision 10"), "{notice}");
    set(&server, "after", json!("x"));
    assert_eq!(watch.line(), "11 after = x (t)");
}

#[test]
fn a_bad_server_url_is_a_usage_error_exit_2() {
    let output = Command::new(CTX)
        .args(["watch", "--server", "localhost:8080"])
        .output()
        .expect("run ctx watch");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad server URL"), "{stderr}");
}

#[test]
fn unreachable_server_is_one_line_and_exit_3() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener); // a port nobody listens on
    let output = Command::new(CTX)
        .args(["watch", "--server", &format!("http://{addr}")])
        .output()
        .expect("run ctx watch");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach the server"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A loopback TCP proxy whose connections can be cut, and which can refuse new ones
/// for a while: a network failure the client must recover from.
struct Proxy {
    url: String,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let open = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (target, accept_open, accept_conns) = (target.to_owned(), open.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if !accept_open.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut registry = accept_conns.lock().expect("lock");
                for stream in [&client, &upstream] {
                    if let Ok(clone) = stream.try_clone() {
                        registry.push(clone);
                    }
                }
                pipe(&client, &upstream);
                pipe(&upstream, &client);
            }
        });
        Proxy { url, open, conns }
    }

    /// Drops every connection and refuses new ones until [`Proxy::reopen`].
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.conns.lock().expect("lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn reconnects_and_resumes_after_a_dropped_connection() {
    let (server, _dir) = server();
    let proxy = Proxy::start(&server.addr);
    let watch = Watch::start(&proxy.url, &["watch", "--since", "0"]);
    set(&server, "a", json!(1));
    assert_eq!(watch.line(), "1 a = 1 (t)");

    // While the watch cannot reach the server, changes keep happening.
    proxy.cut();
    let notice = watch.notice();
    assert!(notice.contains("connection lost"), "{notice}");
    assert!(notice.contains("revision 1"), "{notice}");
    set(&server, "b", json!(2));
    set(&server, "a", json!(3));
    proxy.reopen();

    assert_eq!(
        watch.notice(),
        format!("ctx watch: reconnected to {}", proxy.url)
    );
    assert_eq!(watch.line(), "2 b = 2 (t)");
    assert_eq!(watch.line(), "3 a = 3 (t)");
    set(&server, "c", json!(4));
    assert_eq!(watch.line(), "4 c = 4 (t)", "live again, nothing repeated");
}

#[test]
fn with_several_servers_the_first_reachable_one_is_followed() {
    let (server, _dir) = server();
    // A port nobody listens on: bound, then released.
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("address"));
    drop(dead);
    let servers = format!("{dead_url},{}", server.url);
    let watch = Watch::start(&servers, &["watch", "--since", "0"]);
    set(&server, "a", json!(1));
    assert_eq!(watch.line(), "1 a = 1 (t)");
}

#[test]
fn watch_over_wss_follows_changes_and_plain_ws_to_the_tls_port_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = common::self_signed(dir.path());
    let (cert, key) = (
        cert.to_str().expect("utf-8 path"),
        key.to_str().expect("utf-8 path"),
    );
    let (server, _data) = server_with(&["--tls-cert", cert, "--tls-key", key]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let watch = Watch::start(&server.url, &["watch", "--since", "0", "--cacert", cert]);
    let set = Command::new(CTX)
        .args(["set", "k", "42", "--who", "t", "--server", &server.url])
        .args(["--cacert", cert])
        .output()
        .expect("run ctx set");
    assert!(set.status.success(), "{set:?}");
    assert_eq!(watch.line(), "1 k = 42 (t)");

    let plain = format!("http://{}", server.addr);
    let refused = Command::new(CTX)
        .args(["watch", "--retry-for", "0", "--server", &plain])
        .output()
        .expect("run ctx watch");
    assert_eq!(
        refused.status.code(),
        Some(4),
        "a refusal, as for the other commands: {refused:?}"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("use https://"), "{stderr}");
}

#[test]
fn watch_sends_the_api_key_and_is_refused_without_it() {
    let (server, _dir) = server_with(&[
        "--api-keys",
        "read:watcher-key,write:writer-key",
        "--auth-scope",
        "all",
    ]);
    let refused = Command::new(CTX)
        .args(["watch", "--server", &server.url])
        .env_remove("CTX_API_KEY")
        .output()
        .expect("run ctx watch");
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401"), "{stderr}");

    let watch = Watch::start(
        &server.url,
        &["watch", "--since", "0", "--api-key", "watcher-key"],
    );
    let written = Command::new(CTX)
        .args(["set", "guarded", "7", "--who", "t", "--server", &server.url])
        .env("CTX_API_KEY", "writer-key")
        .output()
        .expect("run ctx set");
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    assert_eq!(watch.line(), "1 guarded = 7 (t)");
}
