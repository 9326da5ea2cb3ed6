//! `ctx serve` as a real process: durability across SIGKILL, clean SIGTERM, flags.

mod common;

use common::{CTX, ChildServer};
use serde_json::json;
use std::process::Command;

#[test]
fn acknowledged_writes_survive_sigkill() {
    writes_survive_sigkill(&[]);
}

/// A checkpoint after nearly every group: log segments are closed, redb made durable and
/// segments deleted while writes keep coming, right up to the kill.
#[test]
fn acknowledged_writes_survive_sigkill_amid_checkpoints() {
    writes_survive_sigkill(&["--checkpoint-interval-ms", "1"]);
}

fn writes_survive_sigkill(serve_args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start_with(dir.path(), serve_args);
    // Eight concurrent writers so the server really group-commits.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let (status, body) = common::http(
                        &addr,
                        "POST",
                        "/ctx",
                        Some(&json!({"key": format!("w{w}.k{i}"), "value": {"w": w, "i": i}})),
                    );
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let (_, status) = server.get("/ctx/status");
    let revision = status["revision"].as_u64().unwrap();
    assert_eq!(revision, 320);
    server.kill_hard();

    let server = ChildServer::start(dir.path());
    let (_, all) = server.get("/ctx/all");
    assert_eq!(all["key_count"], 320);
    assert_eq!(all["revision"], revision);
    assert_eq!(all["history_count"], 320);
    for w in 0..8 {
        for i in 0..40 {
            assert_eq!(
                all["context"][format!("w{w}.k{i}")],
                json!({"w": w, "i": i})
            );
        }
    }
    let (_, next) = server.post("/ctx", &json!({"key": "after.restart", "value": 1}));
    assert_eq!(
        next["revision"],
        revision + 1,
        "the revision counter continues"
    );
}

#[test]
fn acknowledged_writes_come_back_from_the_log_alone_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // No checkpoint during the test: redb never gets a durable copy of these writes, so
    // only the write-ahead log can bring them back.
    let server = ChildServer::start_with(dir.path(), &["--checkpoint-interval-ms", "3600000"]);
    for i in 0..50 {
        let (status, _) = server.post("/ctx", &json!({"key": format!("k{i}"), "value": i}));
        assert_eq!(status, 200);
    }
    server.post("/ctx", &json!({"key": "k7", "value": "changed"}));
    // Live log segments by sequence number, with their sizes (spares are `spare-*`).
    let segments = || -> Vec<(u64, u64)> {
        std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .filter_map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                let sequence = name.strip_suffix(".log")?.parse().ok()?;
                Some((sequence, entry.metadata().unwrap().len()))
            })
            .collect()
    };
    let before_kill = segments();
    assert!(
        before_kill.iter().any(|&(_, bytes)| bytes > 0),
        "the writes are in the log"
    );
    server.kill_hard();

    let server = ChildServer::start(dir.path());
    let (_, all) = server.get("/ctx/all");
    assert_eq!(all["key_count"], 50);
    assert_eq!(all["revision"], 51);
    assert_eq!(all["context"]["k7"], "changed");
    assert_eq!(all["context"]["k49"], 49);
    let (_, history) = server.get("/ctx/history?key=k7");
    assert_eq!(history["history"][1]["before"], 7);
    let newest_before_kill = before_kill.iter().map(|&(sequence, _)| sequence).max();
    assert!(
        segments()
            .iter()
            .all(|&(sequence, _)| Some(sequence) > newest_before_kill),
        "replayed, then retired"
    );
}

#[test]
fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path());
    server.post("/ctx", &json!({"key": "k", "value": "v"}));
    assert_eq!(server.terminate(), Some(0));
    let server = ChildServer::start(dir.path());
    assert_eq!(server.get("/ctx/k").1["value"], "v");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let _first = ChildServer::start(dir.path());
    let log_files = || {
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let log_before = log_files();
    let out = Command::new(CTX)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another ctx server"), "{stderr}");
    assert_eq!(
        log_files(),
        log_before,
        "the refused server left the log alone"
    );
}

#[test]
fn config_file_env_and_flags_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ctx.toml");
    std::fs::write(
        &config,
        "port = 1\nhistory_limit = 2\nmax_key_bytes = 8\nmax_keys = 2\nmax_value_depth = 1\n\
         max_connections = 100\nrate_limit = \"1000/s\"\nws_max_message_bytes = 4096\n",
    )
    .unwrap();
    // The file says port 1; the environment overrides it with 0; history and key limits come from the file.
    let server = {
        let mut child = Command::new(CTX)
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("CONTEXT_SERVER_PORT", "0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        (
            child,
            line.trim()
                .trim_start_matches("listening on http://")
                .to_owned(),
        )
    };
    let (mut child, addr) = server;
    assert!(!addr.ends_with(":1"), "env beats file: {addr}");
    for i in 0..4 {
        common::http(
            &addr,
            "POST",
            "/ctx",
            Some(&json!({"key": "k", "value": i})),
        );
    }
    let (_, history) = common::http(&addr, "GET", "/ctx/history", None);
    assert_eq!(history["total_entries"], 2, "history_limit from the file");
    let (status, _) = common::http(
        &addr,
        "POST",
        "/ctx",
        Some(&json!({"key": "123456789", "value": 1})),
    );
    assert_eq!(status, 400, "max_key_bytes from the file");
    let post = |key: &str, value: serde_json::Value| {
        common::http(
            &addr,
            "POST",
            "/ctx",
            Some(&json!({"key": key, "value": value})),
        )
        .0
    };
    assert_eq!(
        post("k", json!([[1]])),
        400,
        "max_value_depth from the file"
    );
    assert_eq!(post("k2", json!([1])), 200);
    assert_eq!(post("k3", json!(1)), 507, "max_keys from the file");
    let _ = child.kill();
    let _ = child.wait();

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "prot = 8080\n").unwrap();
    let out = Command::new(CTX)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[test]
fn a_value_depth_limit_beyond_json_parsing_or_a_zero_rate_limit_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(CTX)
        .args([
            "serve",
            "--port",
            "0",
            "--max-value-depth",
            "101",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("max_value_depth 101 is above 100"),
        "{stderr}"
    );

    let out = Command::new(CTX)
        .args(["serve", "--port", "0", "--rate-limit", "0/s", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("N/s or N/min"), "{stderr}");
}

#[test]
fn client_options_given_to_serve_or_load_are_usage_errors() {
    for args in [["serve", "--json"], ["load", "--server=http://127.0.0.1:9"]] {
        let out = Command::new(CTX)
            .args(args)
            .env_remove("CTX_SERVER")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unexpected argument"), "{stderr}");
    }
}

#[test]
fn a_serve_that_cannot_bind_leaves_no_data_directory_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh");
    let out = Command::new(CTX)
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--data-dir",
        ])
        .arg(&data_dir)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
    assert!(!data_dir.exists(), "no data directory was created");
}

/// `ctx serve` on `data_dir`, expected to refuse it: returns its stderr after checking
/// the exit code (5) and that it is one line.
fn refused_start(data_dir: &std::path::Path) -> String {
    let out = Command::new(CTX)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("ctx serve --recover"), "{stderr}");
    stderr
}

/// A server that took `writes` writes and was stopped cleanly; returns the last revision.
fn stopped_after_writes(data_dir: &std::path::Path, writes: usize) -> u64 {
    let server = ChildServer::start(data_dir);
    for i in 0..writes {
        let (status, _) = server.post("/ctx", &json!({"key": format!("k{i}"), "value": i}));
        assert_eq!(status, 200);
    }
    let revision = server.get("/ctx/status").1["revision"].as_u64().unwrap();
    assert_eq!(server.terminate(), Some(0));
    revision
}

#[test]
fn a_deleted_data_file_stops_the_start_with_one_line_and_recover_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let revision = stopped_after_writes(dir.path(), 20);
    std::fs::remove_file(dir.path().join("context.redb")).unwrap();
    let stderr = refused_start(dir.path());
    assert!(stderr.contains("context.redb is missing"), "{stderr}");

    let server = ChildServer::start_with(dir.path(), &["--recover"]);
    let (_, status) = server.get("/ctx/status");
    assert!(status["revision"].as_u64().unwrap() > revision, "{status}");
    let (_, written) = server.post("/ctx", &json!({"key": "after", "value": 1}));
    assert!(written["revision"].as_u64().unwrap() > revision + 1);
}

#[test]
fn damaged_redb_pages_stop_the_start_with_one_line_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    stopped_after_writes(dir.path(), 200);
    let path = dir.path().join("context.redb");
    let mut bytes = std::fs::read(&path).unwrap();
    // Everything past redb's header region, where its B-tree pages live.
    for byte in bytes.iter_mut().skip(4096) {
        *byte = 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let stderr = refused_start(dir.path());
    assert!(stderr.contains("context.redb is damaged"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_malformed_api_key_entry_is_refused_without_echoing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (entries, why) in [("owner:t0p-s3cret", "role"), ("t0p-s3cret", "ROLE:KEY")] {
        let out = Command::new(CTX)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .env("CTX_API_KEYS", format!("read:other,{entries}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("entry 2") && stderr.contains(why),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cret"),
            "the key is never echoed: {stderr}"
        );
    }
}
