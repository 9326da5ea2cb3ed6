//! Storage faults while `ctx serve` runs: what `/health`, `/ctx/status` and `/metrics`
//! say, a full disk that pauses writes and lets them resume, and a failure that refuses
//! them until a restart (the policy in docs/api.md).

mod common;

use common::{ChildServer, wait_until};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn metrics(server: &ChildServer) -> String {
    common::http_text(&server.addr, "GET", "/metrics", None).1
}

#[test]
fn after_a_storage_failure_health_is_503_and_status_and_metrics_say_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A new segment after every group, so the next group needs the log's directory.
    let server = ChildServer::start_with(dir.path(), &["--checkpoint-interval-ms", "1"]);
    assert_eq!(server.get("/health"), (200, json!({"status": "ok"})));
    assert!(metrics(&server).contains("ctx_store_writes{state=\"accepting\"} 1"));
    assert_eq!(server.post("/ctx", &json!({"key": "a", "value": 1})).0, 200);
    // Renamed away, not removed: a rename is one atomic step, while remove_dir_all raced
    // the server starting a new segment every millisecond ("Directory not empty").
    std::fs::rename(dir.path().join("wal"), dir.path().join("wal-moved-away")).unwrap();

    let mut answers = Vec::new();
    wait_until(Duration::from_secs(20), "writes refused", || {
        let answer = server.post("/ctx", &json!({"key": "b", "value": 2}));
        let refused = answer.0 == 503;
        answers.push(answer);
        refused
    });
    let (_, refusal) = answers.last().unwrap();
    let message = refusal["error"].as_str().unwrap();
    assert!(message.contains("until the server restarts"), "{message}");
    assert!(
        message.matches("storage error").count() <= 1,
        "no repeated prefix: {message}"
    );

    let (status, health) = server.get("/health");
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["writes"], "refused_until_restart");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .contains("write-ahead log"),
        "{health}"
    );
    let (_, status) = server.get("/ctx/status");
    assert_eq!(status["status"], "degraded");
    assert_eq!(status["writes"], "refused_until_restart");
    assert!(status["write_error"].is_string(), "{status}");
    assert!(metrics(&server).contains("ctx_store_writes{state=\"refused_until_restart\"} 1"));
    // Reads still work.
    assert_eq!(server.get("/ctx/a").1["value"], 1);
}

/// A tmpfs mounted for the test (the test runs as root; CI does), unmounted on drop.
struct Tmpfs {
    mount_point: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: usize) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mount_point = dir.path().join("disk");
        std::fs::create_dir(&mount_point).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&mount_point)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs {
            mount_point,
            _dir: dir,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
    }
}

/// Fills the file system holding `path` to the last byte; returns the filler's path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let bytes = vec![0u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    path
}

#[test]
fn a_full_disk_pauses_writes_and_they_resume_by_themselves_once_space_is_back() {
    let disk = match Tmpfs::mount(16 << 20) {
        Ok(disk) => disk,
        Err(reason) => {
            eprintln!(
                "SKIPPED a_full_disk_pauses_writes...: cannot mount a tmpfs ({reason}); run as root"
            );
            return;
        }
    };
    let data_dir = disk.mount_point.join("data");
    // No checkpoint during the test: only the log's appends meet the full disk.
    let server = ChildServer::start_with(&data_dir, &["--checkpoint-interval-ms", "3600000"]);
    let big = "x".repeat(200_000);
    for i in 0..5 {
        let (status, _) = server.post("/ctx", &json!({"key": format!("before{i}"), "value": big}));
        assert_eq!(status, 200);
    }
    let filler = fill(&disk.mount_point);

    let (status, refused) = server.post("/ctx", &json!({"key": "during", "value": big}));
    assert_eq!(status, 503, "{refused}");
    let message = refused["error"].as_str().unwrap();
    assert!(message.contains("disk is full"), "{message}");
    assert!(message.contains("resume by themselves"), "{message}");
    let (status, health) = server.get("/health");
    assert_eq!(
        (status, &health["writes"]),
        (503, &json!("paused_disk_full")),
        "{health}"
    );
    assert_eq!(server.get("/ctx/status").1["writes"], "paused_disk_full");
    assert!(metrics(&server).contains("ctx_store_writes{state=\"paused_disk_full\"} 1"));
    assert_eq!(
        server.get("/ctx/during").1["found"],
        false,
        "a refused write is not applied"
    );

    std::fs::remove_file(filler).unwrap();
    let mut accepted = None;
    wait_until(Duration::from_secs(20), "writes resume", || {
        let (status, body) = server.post("/ctx", &json!({"key": "after", "value": big}));
        accepted = Some(body);
        status == 200
    });
    assert_eq!(server.get("/health").0, 200);
    let revision = accepted.unwrap()["revision"].as_u64().unwrap();
    assert_eq!(revision, 6, "the refused write took no revision");
    server.kill_hard();

    // The torn record the failed append left is a tail, not damage: a plain start accepts
    // the directory and has every acknowledged write.
    let server = ChildServer::start(&data_dir);
    let (_, all) = server.get("/ctx/all");
    assert_eq!(all["key_count"], 6);
    assert_eq!(all["revision"], 6);
    assert_eq!(all["context"]["after"], json!(big));
    drop(server);
}
