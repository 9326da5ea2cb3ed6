use super::*;

#[test]
fn staged_workers_merge_stage_by_stage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = ChildServer::start(&tmp.path().join("data"));
    let reports = run_workers(
        &server,
        tmp.path(),
        &["--scenario", "concurrent_reads", "--stages", "1s:120,1s:60"],
    );
    let workers: Vec<Value> = reports.iter().map(|p| read_json(p)).collect();
    let stage = |i: usize, field: &str| format!("/scenarios/0/metrics/stages/{i}/{field}");
    for (w, dir) in workers.iter().zip(&reports) {
        // A worker ramps to its third (0 → 40, then 40 → 20 req/s), shows
        // that beside what it achieved, and is judged on its share of the
        // run's average rate (150 requests in 2 s): 25 req/s, not 75.
        for (i, target, run_to) in [(0, 20.0, 120.0), (1, 30.0, 60.0)] {
            assert_eq!(f64_at(w, &stage(i, "target_rate")), target);
            assert_eq!(f64_at(w, &stage(i, "run_to")), run_to);
        }
        assert_eq!(
            f64_at(w, "/scenarios/0/metrics/open_loop/target_rate"),
            25.0
        );
        let md = std::fs::read_to_string(dir.with_file_name("report.md")).expect("report.md");
        assert!(
            md.contains("0 → 40 req/s") && !md.contains("→ 120 req/s"),
            "{md}"
        );
    }
    let merged_dir = tmp.path().join("merged");
    let out = merge(&reports, &merged_dir);
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 6)),
        "merged, whatever the verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = read_json(&merged_dir.join("report.json"));
    for i in 0..2 {
        for w in &workers {
            assert!(
                w.pointer(&format!("/scenarios/0/hdr/stages/{i}")).is_some(),
                "a staged worker keeps its per-stage histograms"
            );
        }
        for counter in ["requests", "success"] {
            let sum: u64 = workers.iter().map(|w| u64_at(w, &stage(i, counter))).sum();
            assert!(sum > 0, "stage {i} sent requests");
            assert_eq!(u64_at(&merged, &stage(i, counter)), sum, "{counter}");
        }
        let rate_sum: f64 = workers
            .iter()
            .map(|w| f64_at(w, &stage(i, "achieved_rate")))
            .sum();
        let merged_rate = f64_at(&merged, &stage(i, "achieved_rate"));
        assert!(
            (merged_rate - rate_sum).abs() <= 1e-9 * rate_sum,
            "{merged_rate} vs {rate_sum}"
        );
        // 0 → 120 req/s, then 120 → 60: the plan's average rates, exactly.
        assert_eq!(f64_at(&merged, &stage(i, "target_rate")), [60.0, 90.0][i]);
        assert_eq!(merged.pointer(&stage(i, "run_to")), None);
        assert_eq!(
            merged.pointer(&stage(i, "latency")),
            Some(
                &serde_json::to_value(added_here(&workers, 0, &format!("stages/{i}")))
                    .expect("json")
            )
        );
    }
    // The merged report keeps the stage histograms, so it merges further.
    assert!(merged.pointer("/scenarios/0/hdr/stages/1").is_some());
}
