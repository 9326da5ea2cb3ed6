//! set, get, del, list and history: values and plain strings, awkward keys, exit
//! codes, big integers.

use super::*;

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
