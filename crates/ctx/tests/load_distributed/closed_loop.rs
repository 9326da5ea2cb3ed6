use super::*;

#[test]
fn closed_loop_workers_split_clients_and_keys_like_one_process() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    // concurrent_writes: 8 clients × 25 ops, key performance.test.client_{c}.op_{o}.
    let reports = run_workers(&server, tmp.path(), &["--scenario", "concurrent_writes"]);
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    let clients: Vec<u64> = workers
        .iter()
        .map(|w| u64_at(w, "/scenarios/0/metrics/clients"))
        .collect();
    assert_eq!(
        clients,
        [3, 3, 2],
        "8 clients: the remainder to the first workers"
    );

    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    let merged = read_json(&merged_dir.join("report.json"));
    assert_eq!(out.status.code(), Some(verdict_code(&merged)));
    assert_eq!(u64_at(&merged, "/scenarios/0/metrics/clients"), 8);
    // --json: the same summary as a run's, one JSON document.
    let as_json = Command::new(CTX)
        .args(["load", "merge", "--json"])
        .args(&reports)
        .arg("--report-dir")
        .arg(tmp.path().join("merged-json"))
        .output()
        .expect("ctx load merge --json ran");
    let summary: Value = serde_json::from_slice(&as_json.stdout).expect("one JSON document");
    assert_eq!(
        summary.pointer("/verdict/outcome"),
        merged.pointer("/verdict/outcome"),
        "{summary}"
    );
    assert_eq!(as_json.status.code(), out.status.code());
    assert_eq!(
        u64_at(&merged, "/scenarios/0/metrics/total_operations"),
        200
    );
    assert_eq!(u64_at(&merged, "/scenarios/0/metrics/ops_per_client"), 25);
    assert_eq!(
        merged.pointer("/scenarios/0/metrics/latency"),
        Some(&serde_json::to_value(added_here(&workers, 0, "latency")).expect("json"))
    );
    // Global client ids: 200 distinct keys, every client's 25, as one process writes.
    let (status, all) = server.get("/ctx/all?prefix=performance.test.");
    assert_eq!(status, 200);
    assert_eq!(all["key_count"], 200, "{all}");
    for client in 0..8 {
        for op in [0, 24] {
            let key = format!("performance.test.client_{client}.op_{op}");
            assert!(all["context"].get(&key).is_some(), "{key} missing");
        }
    }

    // Refusals: a worker given twice, and reports of different runs.
    let twice = merge(
        &[reports[0].clone(), reports[0].clone()],
        &tmp.path().join("x"),
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("given twice"));
    let open = tmp.path().join("open");
    let single = Command::new(CTX)
        .args([
            "load",
            "--target",
            &server.url,
            "--scenario",
            "concurrent_writes",
        ])
        .args(["--rate", "50", "--duration", "1", "--report-dir"])
        .arg(&open)
        .output()
        .expect("ctx load ran");
    assert!(single.status.code().is_some_and(|c| c != 2 && c != 3));
    let mixed = merge(
        &[open.join("report.json"), reports[1].clone()],
        &tmp.path().join("y"),
    );
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("not parts of one run"),
        "{}",
        String::from_utf8_lossy(&mixed.stderr)
    );
}
