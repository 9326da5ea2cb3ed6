//! The targets of issues 5 and 13, each with its measured (paired) ratio and verdict.

use serde_json::Value;

use super::data::{Data, Rep, num};
use super::{fmt_opt, median};

pub(super) struct Target {
    pub(super) name: String,
    /// measured figure, in words
    pub(super) measured: String,
    pub(super) ratio: Option<f64>,
    pub(super) goal: String,
    pub(super) pass: Option<bool>,
    pub(super) why_missing: String,
}

/// What a ratio must be.
#[derive(Clone, Copy)]
pub(super) enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

pub(super) fn ratio_target(
    data: &Data,
    name: &str,
    a: (&str, &str),
    b: (&str, &str),
    f: impl Fn(&Rep) -> f64 + Copy,
    goal: Goal,
    unit: &str,
) -> Target {
    let (goal, at_most) = match goal {
        Goal::AtLeast(g) => (g, false),
        Goal::AtMost(g) => (g, true),
    };
    let ratio = data.paired_ratio(a, b, f);
    let fa = data.median_of(a.0, a.1, |r| Some(f(r)));
    let fb = data.median_of(b.0, b.1, |r| Some(f(r)));
    let measured = match (fa, fb) {
        (Some(x), Some(y)) => format!(
            "{} {}: {x:.0}{unit}; {} {}: {y:.0}{unit}",
            a.1, a.0, b.1, b.0
        ),
        _ => String::new(),
    };
    let why_missing = if fa.is_none() {
        data.absent_reason(a.0, a.1)
    } else {
        data.absent_reason(b.0, b.1)
    };
    Target {
        name: name.to_owned(),
        measured,
        ratio,
        goal: format!("{} {goal}×", if at_most { "≤" } else { "≥" }),
        pass: ratio.map(|r| if at_most { r <= goal } else { r >= goal }),
        why_missing,
    }
}

pub(super) fn targets(data: &Data) -> Vec<Target> {
    let rps = |r: &Rep| r.rps;
    let p99 = |r: &Rep| r.p99_us;
    let mut t = vec![
        ratio_target(
            data,
            "GET one hot key ≥ 0.85× baseline req/s",
            ("get_hot", "ctx"),
            ("get_hot", "baseline"),
            rps,
            Goal::AtLeast(0.85),
            "/s",
        ),
        ratio_target(
            data,
            "GET random keys ≥ 0.85× baseline req/s",
            ("get_random", "ctx"),
            ("get_random", "baseline"),
            rps,
            Goal::AtLeast(0.85),
            "/s",
        ),
    ];
    let post = data.median_of("post_random", "ctx", |r| Some(r.rps));
    t.push(Target {
        name: "Durable POST ≥ 25 000 writes/s at 64 connections".into(),
        measured: post
            .map(|p| format!("ctx post_random: {p:.0}/s"))
            .unwrap_or_default(),
        ratio: post.map(|p| p / 25_000.0),
        goal: "≥ 1× (25 000/s)".into(),
        pass: post.map(|p| p >= 25_000.0),
        why_missing: data.absent_reason("post_random", "ctx"),
    });
    t.extend([
        ratio_target(
            data,
            "POST ≥ 3× etcd put",
            ("post_random", "ctx"),
            ("post_random", "etcd"),
            rps,
            Goal::AtLeast(3.0),
            "/s",
        ),
        ratio_target(
            data,
            "POST ≥ Redis+webdis SET (appendfsync always)",
            ("post_random", "ctx"),
            ("post_random", "webdis"),
            rps,
            Goal::AtLeast(1.0),
            "/s",
        ),
        ratio_target(
            data,
            "GET random ≥ 5× etcd range",
            ("get_random", "ctx"),
            ("get_random", "etcd"),
            rps,
            Goal::AtLeast(5.0),
            "/s",
        ),
        ratio_target(
            data,
            "GET hot ≥ 5× etcd range",
            ("get_hot", "ctx"),
            ("get_hot", "etcd"),
            rps,
            Goal::AtLeast(5.0),
            "/s",
        ),
        ratio_target(
            data,
            "GET random ≥ 1.2× webdis GET",
            ("get_random", "ctx"),
            ("get_random", "webdis"),
            rps,
            Goal::AtLeast(1.2),
            "/s",
        ),
        ratio_target(
            data,
            "GET hot ≥ 1.2× webdis GET",
            ("get_hot", "ctx"),
            ("get_hot", "webdis"),
            rps,
            Goal::AtLeast(1.2),
            "/s",
        ),
        ratio_target(
            data,
            "GET random p99 ≤ 2× baseline p99 (64 connections)",
            ("get_random", "ctx"),
            ("get_random", "baseline"),
            p99,
            Goal::AtMost(2.0),
            " µs",
        ),
        ratio_target(
            data,
            "GET hot p99 ≤ 2× baseline p99 (64 connections)",
            ("get_hot", "ctx"),
            ("get_hot", "baseline"),
            p99,
            Goal::AtMost(2.0),
            " µs",
        ),
        ratio_target(
            data,
            "Cluster POST ≥ 1.0× etcd's own gRPC put (3 members, 64 connections)",
            ("post_random", "ctx-cluster"),
            ("post_random", "etcd-grpc"),
            rps,
            Goal::AtLeast(1.0),
            "/s",
        ),
        ratio_target(
            data,
            "Cluster GET random per node ≥ 0.8× single-node GET",
            ("get_random", "ctx-cluster"),
            ("get_random", "ctx"),
            rps,
            Goal::AtLeast(0.8),
            "/s",
        ),
    ]);

    // Memory: RSS of a restarted server holding the keys (default history bound), over
    // the keys' raw size.
    let variant = |v: &Value, name: &str| v.get("variant").and_then(Value::as_str) == Some(name);
    let restart_median = |name: &str, field: &str| {
        let mut xs: Vec<f64> = data
            .restarts
            .iter()
            .filter(|r| variant(r, name))
            .filter_map(|r| r.get("result").and_then(|x| num(x, field)))
            .collect();
        median(&mut xs)
    };
    let mem = data.memory.iter().find(|m| variant(m, "keys"));
    let raw_bytes = mem.and_then(|m| num(m, "raw_bytes"));
    let keys = mem.and_then(|m| num(m, "keys")).unwrap_or(0.0);
    let history_kept = mem.and_then(|m| num(m, "history_entries")).unwrap_or(0.0);
    let rss = restart_median("keys", "rss_kib_settled");
    let mem_ratio = match (rss, raw_bytes) {
        (Some(rss), Some(raw)) if raw > 0.0 => Some(rss * 1024.0 / raw),
        _ => None,
    };
    t.push(Target {
        name: format!("Memory: {keys:.0} keys of 100-byte values, RSS ≤ 2.5× raw size"),
        measured: match (rss, raw_bytes) {
            (Some(rss), Some(raw)) => {
                let empty = mem
                    .and_then(|m| m.get("empty_server"))
                    .and_then(|e| num(e, "rss_kib_end"));
                let marginal = empty
                    .map(|e| {
                        format!(
                            "; above an empty server's {:.1} MiB: {:.2}×",
                            e / 1024.0,
                            (rss - e) * 1024.0 / raw
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "RSS after restart {:.1} MiB (default history bound: {history_kept:.0} \
                     entries kept); raw keys+values {:.1} MiB{marginal}",
                    rss / 1024.0,
                    raw / 1048576.0
                )
            }
            _ => String::new(),
        },
        ratio: mem_ratio,
        goal: "≤ 2.5×".into(),
        pass: mem_ratio.map(|r| r <= 2.5),
        why_missing: "memory case not run".into(),
    });
    let hist = data.memory.iter().find(|m| variant(m, "history"));
    let hist_keys = hist.and_then(|m| num(m, "keys")).unwrap_or(0.0);
    let hist_entries = hist.and_then(|m| num(m, "history_entries")).unwrap_or(0.0);
    let serving = restart_median("history", "serving_ms");
    let hist_rss = restart_median("history", "rss_kib_settled");
    t.push(Target {
        name: format!(
            "Restart with {hist_keys:.0} keys and {hist_entries:.0} history entries serving within 3 s"
        ),
        measured: serving
            .map(|ms| {
                format!(
                    "spawn → first answered GET: {:.2} s (RSS then {} MiB)",
                    ms / 1000.0,
                    fmt_opt(hist_rss.map(|k| k / 1024.0), 0)
                )
            })
            .unwrap_or_default(),
        ratio: serving.map(|ms| ms / 3000.0),
        goal: "≤ 1× (3 s)".into(),
        pass: serving.map(|ms| ms <= 3000.0),
        why_missing: "restart case not run".into(),
    });
    t.push(ratio_target(
        data,
        "ctx load ≥ 0.9× wrk req/s against the baseline (equal connections)",
        ("load_ceiling_ctxload", "baseline"),
        ("load_ceiling_wrk", "baseline"),
        rps,
        Goal::AtLeast(0.9),
        "/s",
    ));
    t
}
