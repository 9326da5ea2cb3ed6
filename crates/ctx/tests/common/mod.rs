//! Shared by the `ctx` binary's tests: a real `ctx serve` child process on a free port,
//! and a tiny blocking HTTP/1.1 client (std only, so tests need no HTTP stack).

#![allow(dead_code)] // each test file uses a different part

#[cfg(feature = "etcd")]
pub mod cluster;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CTX: &str = env!("CARGO_BIN_EXE_ctx");

/// `ctx serve --port 0` as a child process; killed when dropped.
pub struct ChildServer {
    pub url: String,
    pub addr: String,
    pub data_dir: PathBuf,
    child: Child,
}

impl ChildServer {
    /// Starts the server on `data_dir` and waits for its `listening on` line.
    pub fn start(data_dir: &Path) -> ChildServer {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> ChildServer {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// As [`ChildServer::start_with`], with these environment variables set.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> ChildServer {
        let mut child = Command::new(CTX)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ctx serve");
        let stdout = child.stdout.take().expect("child stdout");
        // Read on a thread so a server that never announces itself fails the test after a
        // bound instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("ctx serve did not print its listening line within 60 s");
            }
        };
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from ctx serve: {line:?}"))
            .to_owned();
        let addr = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        ChildServer {
            url,
            addr,
            data_dir: data_dir.to_owned(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit and returns its status code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        http(&self.addr, "GET", path, None)
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        http(&self.addr, "POST", path, Some(body))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection; answers (status, JSON body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let (status, payload) = http_text(addr, method, path, body);
    (
        status,
        serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    )
}

/// One request on a fresh connection; answers (status, body as text).
pub fn http_text(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    try_http_text(addr, method, path, body).expect("an HTTP answer")
}

/// As [`http`], but a refused connection, a timeout (30 s) or a cut answer is an error
/// rather than a panic: for tests that kill servers under their clients.
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, serde_json::Value)> {
    let (status, payload) = try_http_text(addr, method, path, body)?;
    Ok((
        status,
        serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    ))
}

pub fn try_http_text(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let cut = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "a cut HTTP answer");
    let (head, payload) = response.split_once("\r\n\r\n").ok_or_else(cut)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(cut)?;
    Ok((status, payload.to_owned()))
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made at test time, written
/// as PEM files into `dir`: `(certificate, key)`. The certificate is its own CA, so it
/// is also what a client passes as `--cacert`.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).expect("generate a certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).expect("write cert.pem");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key.pem");
    (cert, key)
}

/// A child process killed when dropped (a failing test leaves nothing running).
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's output once it exits; killed (and the test failed) past `deadline`.
pub fn wait_output(child: &mut Child, deadline: Duration) -> std::process::Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            panic!("the child did not finish within {deadline:?}; its stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// `ctx load` with `args`; refused input must never reach the load.
pub fn load_refused(args: &[&str], because: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(CTX)
        .arg("load")
        .args(args)
        .arg("--report-dir")
        .arg(tmp.path().join("r"))
        .current_dir(tmp.path())
        .output()
        .expect("ctx load ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(because), "{args:?}: {stderr}");
    assert!(!tmp.path().join("r").exists(), "{args:?} wrote a report");
}

/// Waits until `check` holds, polling every 20 ms; fails the test after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
