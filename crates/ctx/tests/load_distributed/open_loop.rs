use super::*;

#[test]
fn open_loop_workers_merge_to_the_requested_rate_and_exact_percentiles() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let reports = run_workers(
        &server,
        tmp.path(),
        &[
            "--scenario",
            "concurrent_reads",
            "--scenario",
            "mixed_workload",
            "--rate",
            "150",
            "--duration",
            "2",
        ],
    );
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    for (index, w) in workers.iter().enumerate() {
        assert_eq!(u64_at(w, "/worker/index"), index as u64);
        assert_eq!(u64_at(w, "/worker/workers"), 3);
        // floor(150 × 2) = 300 requests, dealt round-robin: 100 each, at 50/s.
        assert_eq!(u64_at(w, "/scenarios/0/metrics/open_loop/planned"), 100);
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/target_rate"),
            50.0
        );
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/run_target_rate"),
            150.0
        );
    }

    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    let merged = read_json(&merged_dir.join("report.json"));
    assert_eq!(
        out.status.code(),
        Some(verdict_code(&merged)),
        "the exit code follows the merged verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(merged["worker"], Value::Null);
    assert_eq!(merged["merged_from"].as_array().map(Vec::len), Some(3));
    assert_eq!(f64_at(&merged, "/mode/rate"), 150.0);
    for scenario in 0..2 {
        let m = |p: &str| format!("/scenarios/{scenario}/metrics{p}");
        let sum = |p: &str| workers.iter().map(|w| u64_at(w, &m(p))).sum::<u64>();
        // Counts are the sums.
        for counter in [
            "/total_operations",
            "/success_count",
            "/error_count",
            "/clients",
            "/open_loop/planned",
            "/open_loop/sent",
            "/open_loop/late",
        ] {
            assert_eq!(u64_at(&merged, &m(counter)), sum(counter), "{counter}");
        }
        assert_eq!(u64_at(&merged, &m("/total_operations")), 300);
        assert_eq!(u64_at(&merged, &m("/clients")), 10 + scenario as u64 * 2);
        // The rate is the requested total.
        assert_eq!(f64_at(&merged, &m("/open_loop/target_rate")), 150.0);
        // Percentiles are those of the histograms added in one process.
        for (which, figure) in [
            ("latency", "/latency"),
            ("connect", "/connect"),
            ("uncorrected", "/open_loop/uncorrected"),
        ] {
            let here = serde_json::to_value(added_here(&workers, scenario, which)).expect("json");
            assert_eq!(merged.pointer(&m(figure)), Some(&here), "{which}");
        }
        // The merged report is mergeable in turn.
        assert!(
            merged
                .pointer(&format!("/scenarios/{scenario}/hdr/latency"))
                .is_some()
        );
        // And judged: its checks are there, as for a run.
        assert!(
            merged
                .pointer(&format!("/scenarios/{scenario}/checks"))
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
        );
    }
    let md = std::fs::read_to_string(merged_dir.join("report.md")).expect("report.md");
    assert!(md.contains("Merged from 3 reports"), "{md}");
    assert!(merged_dir.join("report.html").is_file());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict:"), "{stdout}");
}
