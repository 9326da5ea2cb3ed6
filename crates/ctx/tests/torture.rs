//! A short crash torture in `cargo test`: a few SIGKILLs (one or more during start-up)
//! under concurrent writers and deleters, every acknowledged operation checked after each
//! restart. The long run (≥ 1 000 kills) is `ctx-bench torture`; figures in
//! docs/reliability.md.

use ctx_bench::torture::{Args, torture};

#[test]
fn acknowledged_operations_survive_random_sigkills_including_during_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let args = Args {
        ctx: env!("CARGO_BIN_EXE_ctx").into(),
        data_dir: dir.path().join("data"),
        kills: 12,
        writers: 4,
        keys_per_writer: 10,
        max_run_ms: 300,
        max_seconds: 25,
        seed: 10,
        report: None,
    };
    let report = torture(&args).expect("the torture ran");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(report.kills >= 5, "{report:?}");
    assert!(report.kills_during_startup >= 1, "{report:?}");
    assert!(report.acknowledged_sets > 0, "{report:?}");
    assert!(report.acknowledged_deletes > 0, "{report:?}");
    assert!(report.history_entries_checked > 0, "{report:?}");
}
