//! The client commands end to end: a real `ctx serve` child on a free loopback port and a
//! real data dir, driven by `ctx` child processes, checking stdout, stderr and exit codes.

mod common;

use common::{CTX, ChildServer};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

/// A server on its own temporary data dir, removed after the server is killed.
struct Server {
    child: ChildServer,
    _dir: TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = ChildServer::start(&dir.path().join("data"));
        Server { child, _dir: dir }
    }

    fn ctx(&self, args: &[&str]) -> Run {
        ctx_at(&self.child.url, args)
    }
}

/// One finished `ctx` invocation, with its output decoded for assertions.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    #[track_caller]
    fn json(self) -> Value {
        let stdout = self.ok();
        assert_eq!(
            stdout.lines().count(),
            1,
            "--json prints one line: {stdout}"
        );
        serde_json::from_str(&stdout).expect("--json output parses")
    }

    /// Asserts the exit code and that stderr is exactly one line; returns that line.
    #[track_caller]
    fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one stderr line: {:?}",
            self.stderr
        );
        self.stderr
    }
}

fn ctx_at(server: &str, args: &[&str]) -> Run {
    ctx_in(Path::new("."), server, args)
}

/// `ctx_at` with the child's working directory set (where `--download` saves by default).
fn ctx_in(cwd: &Path, server: &str, args: &[&str]) -> Run {
    // `--server` right after the subcommand: before any `--` that ends its options.
    let (command, rest) = args.split_first().expect("a subcommand");
    let output: Output = Command::new(CTX)
        .current_dir(cwd)
        .arg(command)
        .args(["--server", server])
        .args(rest)
        .env_remove("CTX_SERVER")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

#[test]
fn set_then_get_json_values_and_plain_strings() {
    let server = Server::start();
    server.ctx(&["set", "n", "42"]).ok();
    server
        .ctx(&["set", "obj", r#"{"b": [1, true, null], "a": "x"}"#])
        .ok();
    server.ctx(&["set", "text", "hello world"]).ok();
    assert!(
        server
            .ctx(&["set", "quoted", r#""42""#])
            .ok()
            .starts_with("set quoted")
    );
    let again = server.ctx(&["set", "quoted", r#""42""#]).ok();
    assert!(again.starts_with("unchanged quoted"), "{again}");

    assert_eq!(server.ctx(&["get", "n"]).ok(), "42\n");
    server.ctx(&["set", "neg", "-2.5", "--who", "bob"]).ok();
    assert_eq!(server.ctx(&["get", "neg"]).ok(), "-2.5\n");
    server.ctx(&["set", "dash", "--", "--not-a-flag"]).ok();
    assert_eq!(server.ctx(&["get", "dash"]).ok(), "--not-a-flag\n");
    let obj: Value = serde_json::from_str(&server.ctx(&["get", "obj"]).ok()).expect("compact JSON");
    assert_eq!(obj, serde_json::json!({"a": "x", "b": [1, true, null]}));
    assert_eq!(server.ctx(&["get", "text"]).ok(), "hello world\n");
    assert_eq!(server.ctx(&["get", "quoted"]).ok(), "42\n");

    let answer = server.ctx(&["get", "--json", "quoted"]).json();
    assert_eq!(
        answer["value"], "42",
        "a quoted VALUE is stored as a string"
    );
    assert_eq!(server.ctx(&["get", "--json", "n"]).json()["value"], 42);
}

#[test]
fn awkward_keys_round_trip_through_every_command() {
    let server = Server::start();
    for key in [
        "a/b?c#d e é",
        "x&y=z+1",
        "%41",
        "..",
        "all",
        "history",
        "dump",
        "status",
        "dump/list",
    ] {
        server.ctx(&["set", key, "v"]).ok();
        assert_eq!(server.ctx(&["get", key]).ok(), "v\n", "get {key:?}");
        let listed = server.ctx(&["list", key]).ok();
        assert!(
            listed.lines().any(|l| l == format!("{key}=v")),
            "list {key:?}: {listed}"
        );
        let history = server.ctx(&["history", "--json", "--key", key]).json();
        assert_eq!(history["history"][0]["key"], key, "history {key:?}");
        server.ctx(&["del", key]).ok();
        server.ctx(&["get", key]).fails(1);
    }
}

#[test]
fn missing_key_exits_1_with_one_line() {
    let server = Server::start();
    let run = server.ctx(&["get", "nobody/wrote/this"]);
    assert_eq!(run.stdout, "");
    assert!(run.fails(1).contains("nobody/wrote/this"));

    let answer = ctx_json_exit(&server, &["get", "--json", "missing"], 1);
    assert_eq!(answer["found"], false);
    assert_eq!(answer["value"], Value::Null);
}

fn ctx_json_exit(server: &Server, args: &[&str], code: i32) -> Value {
    let run = server.ctx(args);
    assert_eq!(run.code, Some(code), "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("--json output parses")
}

#[test]
fn del_removes_the_key_and_a_second_del_exits_1() {
    let server = Server::start();
    server.ctx(&["set", "gone", "1"]).ok();
    assert!(
        server
            .ctx(&["del", "gone"])
            .ok()
            .starts_with("deleted gone")
    );
    server.ctx(&["get", "gone"]).fails(1);
    assert!(server.ctx(&["del", "gone"]).fails(1).contains("gone"));

    let history = server.ctx(&["history", "--json", "--key", "gone"]).json();
    let entries = history["history"].as_array().expect("history array");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["before"], 1);
    assert_eq!(entries[1]["after"], Value::Null);
    assert_eq!(entries[1]["who"], "ctx-cli");

    server.ctx(&["set", "again", "1"]).ok();
    server.ctx(&["del", "again", "--who", "cleaner"]).ok();
    let history = server.ctx(&["history", "--json", "--key", "again"]).json();
    assert_eq!(history["history"][1]["who"], "cleaner");
}

#[test]
fn list_prints_sorted_lines_and_filters_by_prefix() {
    let server = Server::start();
    for (key, value) in [
        ("job/b", "2"),
        ("job/a", "one"),
        ("other", "true"),
        ("job/c", r#"{"x":1}"#),
    ] {
        server.ctx(&["set", key, value]).ok();
    }
    assert_eq!(
        server.ctx(&["list", "job/"]).ok(),
        "job/a=one\njob/b=2\njob/c={\"x\":1}\n"
    );
    assert_eq!(server.ctx(&["list"]).ok().lines().count(), 4);
    let answer = server.ctx(&["list", "--json", "job/"]).json();
    assert_eq!(answer["context"].as_object().map(|c| c.len()), Some(3));
    assert_eq!(server.ctx(&["list", "none/"]).ok(), "");
}

#[test]
fn history_prints_one_line_per_change_and_passes_filters() {
    let server = Server::start();
    server.ctx(&["set", "h/k", "1", "--who", "alice"]).ok();
    server.ctx(&["set", "h/k", "two", "--who", "bob"]).ok();
    server.ctx(&["set", "h/other", "3", "--who", "alice"]).ok();
    server
        .ctx(&["set", "elsewhere", "4", "--who", "alice"])
        .ok();

    let lines = server.ctx(&["history", "--key", "h/k"]).ok();
    let lines: Vec<_> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("alice") && lines[0].contains("h/k") && lines[0].ends_with("null → 1"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("bob") && lines[1].ends_with("1 → \"two\""),
        "{}",
        lines[1]
    );

    let by_alice = server
        .ctx(&["history", "--who", "alice", "--prefix", "h/"])
        .ok();
    assert_eq!(by_alice.lines().count(), 2, "{by_alice}");

    let all = server.ctx(&["history", "--json"]).json();
    let revisions: Vec<u64> = all["history"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["revision"].as_u64())
        .collect();
    assert_eq!(revisions.len(), 4);
    let since = revisions[1].to_string();
    let page = server
        .ctx(&["history", "--json", "--since", &since, "--limit", "1"])
        .json();
    assert_eq!(page["history"][0]["revision"].as_u64(), Some(revisions[2]));
    let newest = server.ctx(&["history", "--json", "--limit", "1"]).json();
    assert_eq!(
        newest["history"][0]["revision"].as_u64(),
        Some(revisions[3])
    );
}

#[test]
fn dump_creates_a_file_in_the_data_dir() {
    let server = Server::start();
    server.ctx(&["set", "d/a", "1"]).ok();
    server.ctx(&["set", "d/b", "x"]).ok();
    let printed = server
        .ctx(&["dump", "--format", "csv", "--filename", "mine"])
        .ok();
    assert!(
        printed.contains("2 keys") && printed.contains("mine.csv"),
        "{printed}"
    );
    let file = server.child.data_dir.join("dumps").join("mine.csv");
    let csv = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(
        csv.starts_with("Key,Value,Type,Dump_Timestamp,Requested_By"),
        "{csv}"
    );

    let answer = server
        .ctx(&["dump", "--json", "--format", "json", "--include-history"])
        .json();
    assert_eq!(answer["format"], "json");
    assert_eq!(answer["key_count"], 2);
    let path = Path::new(answer["path"].as_str().expect("path"));
    let dump: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("dump file"))
        .expect("json dump");
    assert_eq!(dump["context"]["d/b"], "x");
    assert!(dump["history"].is_array());
}

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
fn set_refuses_json_looking_text_that_does_not_parse_and_string_stores_text_verbatim() {
    let server = Server::start();
    for broken in [r#"{"a":"#, "[1, 2", r#""unterminated"#] {
        let line = server.ctx(&["set", "k", broken]).fails(2);
        assert!(
            line.contains("does not parse") && line.contains("--string"),
            "{broken}: {line}"
        );
        server.ctx(&["get", "k"]).fails(1);
    }
    server.ctx(&["set", "k", r#"{"a":"#, "--string"]).ok();
    assert_eq!(server.ctx(&["get", "k"]).ok(), "{\"a\":\n");
    server.ctx(&["set", "n", "42", "--string"]).ok();
    assert_eq!(server.ctx(&["get", "--json", "n"]).json()["value"], "42");
    // Plain text that does not start like JSON is still a string, as before.
    server.ctx(&["set", "v", "1.2.3"]).ok();
    assert_eq!(server.ctx(&["get", "--json", "v"]).json()["value"], "1.2.3");
}

#[test]
fn dump_download_saves_the_servers_file_and_never_overwrites() {
    let server = Server::start();
    server.ctx(&["set", "d/a", "1"]).ok();
    server.ctx(&["set", "d/b", "é"]).ok();
    let cwd = tempfile::tempdir().expect("temp dir");
    let url = &server.child.url;
    let dump = |args: &[&str]| {
        let mut all = vec!["dump", "--format", "csv", "--filename", "dl"];
        all.extend_from_slice(args);
        ctx_in(cwd.path(), url, &all)
    };
    // What the server serves for a CSV: its file with `\n` line ends, as Framework0 did.
    let served = |name: &str| {
        let file = std::fs::read_to_string(server.child.data_dir.join("dumps").join(name));
        file.expect("dump on the server").replace("\r\n", "\n")
    };
    let printed = dump(&["--download"]).ok();
    assert!(printed.contains("downloaded dl.csv to dl.csv"), "{printed}");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("dl.csv")).expect("download"),
        served("dl.csv")
    );

    // Into a directory, under the name the server chose (dl_1.csv: no overwrite there either).
    std::fs::create_dir(cwd.path().join("into")).expect("mkdir");
    let answer = dump(&["--download", "into", "--json"]).json();
    assert_eq!(answer["filename"], "dl_1.csv");
    assert_eq!(answer["downloaded_to"], "into/dl_1.csv");
    assert!(cwd.path().join("into/dl_1.csv").is_file());

    // `-`: the file itself on stdout, nothing else.
    assert_eq!(dump(&["--download", "-"]).ok(), served("dl_2.csv"));

    // An existing file is never replaced: exit 3, one line, the file untouched.
    std::fs::write(cwd.path().join("mine.csv"), "keep").expect("write");
    let line = dump(&["--download", "mine.csv"]).fails(3);
    assert!(line.contains("mine.csv"), "{line}");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("mine.csv")).expect("read"),
        "keep"
    );
}

#[test]
fn each_subcommand_lists_only_its_own_flags() {
    let help = |args: &[&str]| {
        let output = Command::new(CTX)
            .args(args)
            .env_remove("CTX_SERVER")
            .output()
            .expect("run ctx");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    for command in [&["--help"][..], &["serve", "--help"]] {
        let text = help(command);
        assert!(
            !text.contains("--server <") && !text.contains("--json"),
            "{command:?}: {text}"
        );
    }
    // `ctx load --json` prints its summary as JSON (docs/load.md); it takes no --server.
    let text = help(&["load", "--help"]);
    assert!(
        !text.contains("--server <") && text.contains("--json"),
        "{text}"
    );
    for command in [
        "get", "set", "del", "list", "history", "dump", "status", "watch",
    ] {
        let text = help(&[command, "--help"]);
        assert!(
            text.contains("--server <URL>") && text.contains("--json"),
            "{command}: {text}"
        );
        assert!(
            text.contains(&format!("Usage: ctx {command} [OPTIONS]")),
            "{command}: {text}"
        );
    }
    // A usage error shows the usage line without `--server` as if it were required.
    let output = Command::new(CTX).arg("get").output().expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Usage: ctx get <KEY>"), "{stderr}");
    assert!(!stderr.contains("--server <"), "{stderr}");
    // The client options belong after the subcommand now.
    let output = Command::new(CTX)
        .args(["--json", "status"])
        .output()
        .expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_ctx()"),
        ("zsh", "#compdef ctx"),
        ("fish", "complete -c ctx"),
    ] {
        let output = Command::new(CTX)
            .args(["completions", shell])
            .output()
            .expect("run ctx");
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("history") && script.contains("include-history"),
            "{shell}: the script knows the subcommands and their flags"
        );
    }
    let output = Command::new(CTX)
        .args(["completions", "tcsh"])
        .output()
        .expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn integers_beyond_64_bits_are_kept_exactly() {
    let server = Server::start();
    server.ctx(&["set", "big", "18446744073709551616"]).ok();
    server
        .ctx(&["set", "obj", r#"{"n":1000000000000000000000000000000}"#])
        .ok();
    assert_eq!(server.ctx(&["get", "big"]).ok(), "18446744073709551616\n");
    assert_eq!(
        server.ctx(&["get", "obj"]).ok(),
        "{\"n\":1000000000000000000000000000000}\n"
    );
    let line = server.ctx(&["history", "--key", "big"]).ok();
    assert!(line.ends_with("null → 18446744073709551616\n"), "{line}");
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
