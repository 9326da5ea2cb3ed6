//! Turns the raw measurements of one `bench/run` (one JSON object per line) into
//! `<out>.md` and `<out>.json`: medians per case and contestant, and every target of
//! issues 5 and 13 (cluster rows) with its measured ratio.
//!
//! Ratios between contestants are *paired*: repetition r of ctx is divided by repetition r
//! of the other contestant (they ran side by side, moments apart), and the median of those
//! ratios is reported. That cancels most of the drift of a shared machine.

use std::path::PathBuf;

mod data;
mod render;
mod targets;

pub use render::run;

#[derive(clap::Args)]
pub struct Args {
    /// Raw measurements, one JSON object per line (written by bench/run).
    #[arg(long)]
    raw: PathBuf,
    /// Output path without extension; `.md` and `.json` are written.
    #[arg(long)]
    out: PathBuf,
}

pub const CASES: &[(&str, &str)] = &[
    ("get_hot", "GET one hot key"),
    ("get_random", "GET random keys"),
    ("get_random_ctxload", "GET random keys, driven by ctx load"),
    ("post_random", "POST random keys (durable)"),
    (
        "post_random_ctxload",
        "POST random keys, driven by ctx load",
    ),
    ("mixed", "mixed 80% GET / 20% POST"),
    ("get_all", "GET /ctx/all (10 000 keys)"),
    ("load_ceiling_wrk", "load engine ceiling: wrk → baseline"),
    (
        "load_ceiling_ctxload",
        "load engine ceiling: ctx load → baseline",
    ),
];
const CONTESTANTS: &[&str] = &[
    "baseline",
    "ctx",
    "etcd",
    "webdis",
    "ctx-cluster",
    "etcd-grpc",
];

/// The cluster rows (issue 13 §4) run the random-key cases only.
fn runs_case(who: &str, case: &str) -> bool {
    !matches!(who, "ctx-cluster" | "etcd-grpc") || matches!(case, "get_random" | "post_random")
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(super::median(&mut []), None);
    }
}
