//! Reaching the server: status, CTX_SERVER, the API key, and the exit codes of an
//! unreachable server, a bad URL and a server error.

use super::*;

#[test]
fn server_errors_exit_4_with_the_servers_message() {
    let server = Server::start();
    let line = server.ctx(&["set", "k", "null"]).fails(4);
    assert!(line.starts_with("ctx: server error (400"), "{line}");
    let line = server
        .ctx(&["dump", "--format", "txt", "--filename", "../escape"])
        .fails(4);
    assert!(line.starts_with("ctx: server error (400"), "{line}");
}

#[test]
fn status_shows_the_server_running() {
    let server = Server::start();
    server.ctx(&["set", "s", "1"]).ok();
    let text = server.ctx(&["status"]).ok();
    assert!(text.contains("status: running"), "{text}");
    assert!(text.contains("key_count: 1"), "{text}");
    let answer = server.ctx(&["status", "--json"]).json();
    assert_eq!(answer["status"], "running");
    assert!(answer["revision"].as_u64().is_some_and(|r| r >= 1));
}

#[test]
fn ctx_server_environment_variable_is_honoured() {
    let server = Server::start();
    let output = Command::new(CTX)
        .args(["set", "env", "yes"])
        .env("CTX_SERVER", &server.child.url)
        .output()
        .expect("run ctx");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(server.ctx(&["get", "env"]).ok(), "yes\n");
}

#[test]
fn unreachable_server_exits_3_with_one_line() {
    let line = ctx_at("http://127.0.0.1:1", &["get", "k"]).fails(3);
    assert!(
        line.starts_with("ctx: cannot reach the server at http://127.0.0.1:1"),
        "{line}"
    );
    assert!(line.contains("CTX_SERVER"), "{line}");
}

#[test]
fn bad_server_url_is_a_usage_error_exit_2_with_one_line() {
    for url in [
        "not a url",
        "ftp://example.com",
        "localhost:8080",
        "http://",
    ] {
        let line = ctx_at(url, &["status"]).fails(2);
        assert!(line.starts_with("ctx: bad server URL"), "{url}: {line}");
    }
}

#[test]
fn client_commands_send_the_api_key_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::ChildServer::start_with(dir.path(), &["--api-keys", "write:w-s3cret"]);
    let run = |extra: &[&str], env_key: Option<&str>| {
        let mut command = std::process::Command::new(common::CTX);
        command
            .args(["set", "k", "1", "--server", &server.url])
            .args(extra)
            .env_remove("CTX_API_KEY");
        if let Some(key) = env_key {
            command.env("CTX_API_KEY", key);
        }
        command.output().unwrap()
    };
    let refused = run(&[], None);
    assert_eq!(refused.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    assert_eq!(run(&["--api-key", "w-s3cret"], None).status.code(), Some(0));
    assert_eq!(run(&[], Some("w-s3cret")).status.code(), Some(0));
    let wrong = run(&["--api-key", "nope"], None);
    assert_eq!(wrong.status.code(), Some(4));
    assert!(!String::from_utf8_lossy(&wrong.stderr).contains("nope"));
}
