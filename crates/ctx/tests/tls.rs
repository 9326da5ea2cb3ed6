//! HTTPS end to end: a real `ctx serve --tls-cert --tls-key` child with a certificate
//! made at test time, real `ctx` client processes over loopback TLS.

mod common;

use common::{CTX, ChildServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

/// A TLS server on its own temporary dir, with the certificate that a client must trust.
struct TlsServer {
    child: ChildServer,
    cacert: PathBuf,
    _dir: TempDir,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = common::self_signed(dir.path());
        let child = ChildServer::start_with(
            &dir.path().join("data"),
            &["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)],
        );
        TlsServer {
            child,
            cacert: cert,
            _dir: dir,
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// `ctx SUBCOMMAND --server URL ARGS...`, with no CA from the environment.
fn ctx(server: &str, args: &[&str]) -> Output {
    let (command, rest) = args.split_first().expect("a subcommand");
    Command::new(CTX)
        .arg(command)
        .args(["--server", server])
        .args(rest)
        .env_remove("CTX_SERVER")
        .env_remove("CTX_CACERT")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx")
}

/// Asserts the exit code and a single stderr line; answers that line.
#[track_caller]
fn fails(output: Output, code: i32) -> String {
    let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one stderr line: {stderr:?}");
    stderr
}

#[test]
fn the_server_announces_https_and_client_commands_work_with_cacert() {
    let server = TlsServer::start();
    assert!(
        server.child.url.starts_with("https://"),
        "{}",
        server.child.url
    );
    let cacert = path_str(&server.cacert);
    let set = ctx(
        &server.child.url,
        &["set", "k", "{\"n\":1}", "--cacert", cacert],
    );
    assert_eq!(set.status.code(), Some(0), "{set:?}");
    let get = ctx(&server.child.url, &["get", "k", "--cacert", cacert]);
    assert_eq!(get.status.code(), Some(0), "{get:?}");
    assert_eq!(String::from_utf8_lossy(&get.stdout), "{\"n\":1}\n");
    // By name too: the certificate is for `localhost` as well as the address.
    let by_name = server.child.url.replace("127.0.0.1", "localhost");
    let status = Command::new(CTX)
        .args(["status", "--server", &by_name])
        .env("CTX_CACERT", cacert)
        .stdout(Stdio::null())
        .status()
        .expect("run ctx");
    assert_eq!(
        status.code(),
        Some(0),
        "CTX_CACERT is read from the environment"
    );
}

#[test]
fn an_untrusted_certificate_fails_in_one_line_with_exit_3() {
    let server = TlsServer::start();
    let line = fails(ctx(&server.child.url, &["get", "k"]), 3);
    assert!(line.contains("not trusted"), "{line}");
    assert!(line.contains("--cacert"), "says what to do: {line}");
}

#[test]
fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let server = TlsServer::start();
    let plain = format!("http://{}", server.child.addr);
    let line = fails(ctx(&plain, &["get", "k"]), 4);
    assert!(line.contains("use https://"), "{line}");
    // Any HTTP client gets the same JSON answer, then the connection closes.
    let (status, answer) = common::http(&server.child.addr, "GET", "/health", None);
    assert_eq!(status, 400);
    assert_eq!(answer["status"], "error");
}

#[test]
fn https_to_a_plain_server_fails_clearly_with_exit_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(&dir.path().join("data"));
    let https = format!("https://{}", server.addr);
    let line = fails(ctx(&https, &["get", "k"]), 3);
    assert!(line.contains("TLS"), "{line}");
    assert!(line.contains("http://"), "suggests plain http: {line}");
}

#[test]
fn a_missing_or_empty_cacert_is_refused_in_one_line() {
    let server = TlsServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let line = fails(
        ctx(
            &server.child.url,
            &["get", "k", "--cacert", path_str(&empty)],
        ),
        3,
    );
    assert!(line.contains("no certificate"), "{line}");
    let missing = dir.path().join("missing.pem");
    let line = fails(
        ctx(
            &server.child.url,
            &["get", "k", "--cacert", path_str(&missing)],
        ),
        3,
    );
    assert!(line.contains("cannot read --cacert"), "{line}");
}

/// `ctx serve` with bad TLS settings: one line, and nothing bound or created.
fn serve_fails(args: &[&str], code: i32) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let output = Command::new(CTX)
        .args(["serve", "--port", "0", "--data-dir", path_str(&data)])
        .args(args)
        .env_remove("CTX_TLS_CERT")
        .env_remove("CTX_TLS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx serve");
    assert!(!data.exists(), "no data dir is created");
    fails(output, code)
}

#[test]
fn serve_refuses_a_certificate_without_a_key_or_a_bad_pem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = common::self_signed(dir.path());
    let line = serve_fails(&["--tls-cert", path_str(&cert)], 2);
    assert!(line.contains("--tls-key"), "{line}");
    let line = serve_fails(
        &["--tls-cert", path_str(&key), "--tls-key", path_str(&key)],
        3,
    );
    assert!(line.contains("no certificate"), "{line}");
    let line = serve_fails(
        &["--tls-cert", path_str(&cert), "--tls-key", path_str(&cert)],
        3,
    );
    assert!(line.contains("private key"), "{line}");
}

#[test]
fn ctx_load_drives_an_https_target_with_cacert_and_refuses_it_without() {
    let server = TlsServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let scenarios = dir.path().join("tiny.toml");
    std::fs::write(
        &scenarios,
        "[[scenario]]\nname = \"tiny\"\nclients = 2\nops = 60\n[[scenario.request]]\npath = \"/ctx/k\"\n",
    )
    .expect("write scenario file");
    let load = |extra: &[&str]| {
        Command::new(CTX)
            .args(["load", "--target", &server.child.url, "--scenario-file"])
            .arg(&scenarios)
            .args(["--scenario", "tiny", "--no-report"])
            .args(extra)
            .env_remove("CTX_CACERT")
            .stdin(Stdio::null())
            .output()
            .expect("run ctx load")
    };
    let trusted = load(&["--cacert", path_str(&server.cacert)]);
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert_eq!(trusted.status.code(), Some(0), "{trusted:?}");
    assert!(
        stdout.contains("100.0%"),
        "every request answered: {stdout}"
    );
    let line = fails(load(&[]), 3);
    assert!(line.contains("TLS handshake"), "{line}");
    assert!(line.contains("--cacert"), "{line}");
}

/// One HTTP/1.1 request over TLS with rustls' blocking API, trusting only `cacert`;
/// answers the raw response text.
fn https_get(addr: &str, cacert: &Path, path: &str) -> String {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cacert).expect("read cacert") {
        roots.add(cert.expect("PEM certificate")).expect("add root");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = "localhost".try_into().expect("server name");
    let mut connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("TLS client");
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut tls = rustls::Stream::new(&mut connection, &mut tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    // A peer that closes without close_notify ends the read with an error after the data.
    let _ = tls.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn socket_io_is_served_over_tls_on_the_same_port() {
    let server = TlsServer::start();
    let response = https_get(
        &server.child.addr,
        &server.cacert,
        "/socket.io/?EIO=4&transport=polling",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Engine.IO's open packet: `0` then the handshake JSON with the session id.
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.starts_with("0{") && body.contains("\"sid\""), "{body}");
}
