//! Turns the raw measurements of one `bench/run` (one JSON object per line) into
//! `<out>.md` and `<out>.json`: medians per case and contestant, and every target of
//! issues 5 and 13 (cluster rows) with its measured ratio.
//!
//! Ratios between contestants are *paired*: repetition r of ctx is divided by repetition r
//! of the other contestant (they ran side by side, moments apart), and the median of those
//! ratios is reported. That cancels most of the drift of a shared machine.

use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

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

/// One wrk (or ctx load) repetition.
struct Rep {
    rep: u64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: f64,
    requests: f64,
    rss_mib: Option<f64>,
    cpu_percent: Option<f64>,
    /// ctx only: group commits during the case (from /metrics).
    commits: Option<(f64, f64, f64)>,
    duration_s: f64,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

impl Rep {
    fn from_raw(raw: &Value) -> Option<Rep> {
        let wrk = raw.get("wrk")?;
        let errors = [
            "err_connect",
            "err_read",
            "err_write",
            "err_status",
            "err_timeout",
        ]
        .iter()
        .filter_map(|k| num(wrk, k))
        .sum();
        let proc = raw.get("proc");
        Some(Rep {
            rep: raw.get("rep").and_then(Value::as_u64).unwrap_or(0),
            rps: num(wrk, "rps")?,
            p50_us: num(wrk, "p50_us")?,
            p99_us: num(wrk, "p99_us")?,
            errors,
            requests: num(wrk, "requests").unwrap_or(0.0),
            rss_mib: proc.and_then(|p| num(p, "rss_kib_max")).map(|k| k / 1024.0),
            cpu_percent: proc.and_then(|p| num(p, "cpu_percent")),
            commits: raw.get("commits").and_then(|c| {
                Some((
                    num(c, "commits")?,
                    num(c, "writes")?,
                    num(c, "commit_seconds")?,
                ))
            }),
            duration_s: num(wrk, "duration_us").unwrap_or(0.0) / 1e6,
        })
    }
}

struct Data {
    meta: serde_json::Map<String, Value>,
    reps: BTreeMap<(String, String), Vec<Rep>>,
    skipped: Vec<(String, String)>,
    pending: Vec<(String, String)>,
    notes: Vec<String>,
    fills: Vec<Value>,
    memory: Vec<Value>,
    restarts: Vec<Value>,
}

fn load(path: &PathBuf) -> anyhow::Result<Data> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut data = Data {
        meta: Default::default(),
        reps: Default::default(),
        skipped: vec![],
        pending: vec![],
        notes: vec![],
        fills: vec![],
        memory: vec![],
        restarts: vec![],
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let s = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match raw.get("kind").and_then(Value::as_str).unwrap_or("") {
            "meta" => {
                if let Value::Object(map) = &raw {
                    for (k, v) in map {
                        if k != "kind" {
                            data.meta.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            "wrk" => {
                if let Some(rep) = Rep::from_raw(&raw) {
                    data.reps
                        .entry((s("case"), s("contestant")))
                        .or_default()
                        .push(rep);
                }
            }
            "skip" => data.skipped.push((s("contestant"), s("reason"))),
            "pending" => data.pending.push((s("case"), s("reason"))),
            "note" => data.notes.push(s("text")),
            "fill" => data.fills.push(raw),
            "memory" => data.memory.push(raw),
            "restart" => data.restarts.push(raw),
            _ => {}
        }
    }
    Ok(data)
}

impl Data {
    fn median_of(&self, case: &str, who: &str, f: impl Fn(&Rep) -> Option<f64>) -> Option<f64> {
        let reps = self.reps.get(&(case.to_owned(), who.to_owned()))?;
        median(&mut reps.iter().filter_map(f).collect::<Vec<_>>())
    }

    /// Median over repetitions of `a[r] / b[r]`.
    fn paired_ratio(
        &self,
        (case_a, who_a): (&str, &str),
        (case_b, who_b): (&str, &str),
        f: impl Fn(&Rep) -> f64,
    ) -> Option<f64> {
        let a = self.reps.get(&(case_a.to_owned(), who_a.to_owned()))?;
        let b = self.reps.get(&(case_b.to_owned(), who_b.to_owned()))?;
        let mut ratios: Vec<f64> = a
            .iter()
            .filter_map(|ra| {
                let rb = b.iter().find(|rb| rb.rep == ra.rep)?;
                let d = f(rb);
                (d > 0.0).then(|| f(ra) / d)
            })
            .collect();
        median(&mut ratios)
    }

    fn absent_reason(&self, case: &str, who: &str) -> String {
        if let Some((_, reason)) = self.skipped.iter().find(|(c, _)| c == who) {
            return format!("skipped: {reason}");
        }
        if let Some((_, reason)) = self.pending.iter().find(|(c, _)| c == case) {
            return format!("pending: {reason}");
        }
        "not measured".to_owned()
    }
}

struct Target {
    name: String,
    /// measured figure, in words
    measured: String,
    ratio: Option<f64>,
    goal: String,
    pass: Option<bool>,
    why_missing: String,
}

/// What a ratio must be.
#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

fn ratio_target(
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

fn targets(data: &Data) -> Vec<Target> {
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

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = load(&args.raw)?;
    let targets = targets(&data);
    let mut md = String::new();
    let meta = |k: &str| {
        data.meta.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let m = |k: &str| meta(k).unwrap_or_else(|| "?".into());
    writeln!(md, "# Benchmark results {} ({})\n", m("date"), m("commit"))?;
    writeln!(
        md,
        "Machine: {} — {} cores, **shared** with other work; figures drift, so compare the \
         ratios (paired per repetition, median), not absolute numbers across runs. \
         Load average at start: {}; at end: {}.\n",
        m("machine"),
        m("cores"),
        m("load_start"),
        m("load_end")
    )?;
    writeln!(
        md,
        "Settings: {} × {} s per case (median reported), wrk {} threads / {} connections, \
         random keys out of {} (values {} bytes). Mode: {}. Versions: {}.\n",
        m("reps"),
        m("duration"),
        m("threads"),
        m("connections"),
        m("keys"),
        m("value_bytes"),
        m("mode"),
        m("versions")
    )?;
    for note in &data.notes {
        writeln!(md, "- {note}")?;
    }
    if !data.notes.is_empty() {
        writeln!(md)?;
    }

    writeln!(md, "## Targets (issues 5 and 13)\n")?;
    writeln!(
        md,
        "| target | measured (medians) | ratio | goal | verdict |"
    )?;
    writeln!(md, "|---|---|---|---|---|")?;
    let mut targets_json = vec![];
    for t in &targets {
        let verdict = match t.pass {
            Some(true) => "**met**".to_owned(),
            Some(false) => "**missed**".to_owned(),
            None => t.why_missing.clone(),
        };
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            t.name,
            t.measured,
            t.ratio
                .map(|r| format!("{r:.2}×"))
                .unwrap_or_else(|| "–".into()),
            t.goal,
            verdict
        )?;
        targets_json.push(json!({
            "target": t.name, "measured": t.measured, "ratio": t.ratio, "goal": t.goal,
            "met": t.pass, "missing": if t.pass.is_none() { Some(&t.why_missing) } else { None },
        }));
    }

    writeln!(
        md,
        "\n## Throughput and latency (medians of the repetitions)\n"
    )?;
    writeln!(
        md,
        "| case | contestant | req/s | × baseline | p50 ms | p99 ms | server RSS MiB | server CPU % | errors | reps |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
    let mut cases_json = vec![];
    for (case, title) in CASES {
        for who in CONTESTANTS {
            let Some(reps) = data.reps.get(&(case.to_string(), who.to_string())) else {
                let skipped = data.skipped.iter().any(|(c, _)| c == who);
                if skipped
                    && runs_case(who, case)
                    && !case.starts_with("load_ceiling")
                    && !case.ends_with("_ctxload")
                    && (*who != "webdis" || *case != "get_all")
                {
                    writeln!(
                        md,
                        "| {title} | {who} | {} | | | | | | | |",
                        data.absent_reason(case, who)
                    )?;
                }
                continue;
            };
            let rps = data.median_of(case, who, |r| Some(r.rps));
            let vs_base =
                if *who == "baseline" || case.starts_with("load_ceiling") || *case == "get_all" {
                    None
                } else {
                    data.paired_ratio((case, who), (case, "baseline"), |r| r.rps)
                };
            let p50 = data.median_of(case, who, |r| Some(r.p50_us / 1000.0));
            let p99 = data.median_of(case, who, |r| Some(r.p99_us / 1000.0));
            let rss = data.median_of(case, who, |r| r.rss_mib);
            let cpu = data.median_of(case, who, |r| r.cpu_percent);
            let errors: f64 = reps.iter().map(|r| r.errors).sum();
            let requests: f64 = reps.iter().map(|r| r.requests).sum();
            writeln!(
                md,
                "| {title} | {who} | {} | {} | {} | {} | {} | {} | {errors:.0} | {} |",
                fmt_opt(rps, 0),
                vs_base.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                fmt_opt(p50, 2),
                fmt_opt(p99, 2),
                fmt_opt(rss, 1),
                fmt_opt(cpu, 0),
                reps.len()
            )?;
            cases_json.push(json!({
                "case": case, "contestant": who, "reps": reps.len(),
                "median": {"rps": rps, "p50_ms": p50, "p99_ms": p99, "rss_mib": rss, "cpu_percent": cpu},
                "ratio_vs_baseline": vs_base, "errors": errors, "requests": requests,
                "per_rep": reps.iter().map(|r| json!({"rep": r.rep, "rps": r.rps, "p50_us": r.p50_us, "p99_us": r.p99_us, "rss_mib": r.rss_mib, "cpu_percent": r.cpu_percent, "errors": r.errors})).collect::<Vec<_>>(),
            }));
        }
    }
    if let Some(r) = data.paired_ratio(("get_all", "ctx"), ("get_all", "etcd"), |r| r.rps) {
        writeln!(
            md,
            "\n`GET /ctx/all` vs etcd's range over the same 10 000 keys: {r:.2}× (paired median). The baseline's `/ctx/all` is a fixed tiny answer, shown for scale only."
        )?;
    }
    writeln!(
        md,
        "\nServer RSS is the largest sample during the case; CPU is the server's user+system time over the case's wall time (200% = both cores). For webdis both redis-server and webdis are summed."
    )?;

    writeln!(md, "\n## ctx group commit during the write cases\n")?;
    if let Some(probe) = data.meta.get("fsync_probe") {
        writeln!(
            md,
            "Disk floor (`ctx-bench fsync-probe`: append 4 KiB + fdatasync): median {} ms, p99 {} ms \
             ({} fsyncs/s).\n",
            fmt_opt(num(probe, "median_ms"), 3),
            fmt_opt(num(probe, "p99_ms"), 3),
            fmt_opt(num(probe, "fsyncs_per_second"), 0)
        )?;
    }
    writeln!(
        md,
        "| case | writes/s | commits/s | writes per commit | mean commit ms | time committing |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for case in ["post_random", "mixed"] {
        if let Some(reps) = data.reps.get(&(case.to_owned(), "ctx".to_owned())) {
            let (mut c, mut w, mut sec, mut dur) = (0.0, 0.0, 0.0, 0.0);
            for r in reps {
                if let Some((rc, rw, rs)) = r.commits {
                    c += rc;
                    w += rw;
                    sec += rs;
                    dur += r.duration_s;
                }
            }
            if c > 0.0 && dur > 0.0 {
                writeln!(
                    md,
                    "| {case} | {:.0} | {:.0} | {:.1} | {:.2} | {:.0}% |",
                    w / dur,
                    c / dur,
                    w / c,
                    1000.0 * sec / c,
                    100.0 * sec / dur
                )?;
            }
        }
    }
    writeln!(
        md,
        "\nFrom ctx's own `/metrics` (`ctx_store_commit_*`), summed over the repetitions. One committer thread commits one group at a time, so durable writes/s ≈ writes per commit ÷ (commit time + the gap before the next group)."
    )?;

    writeln!(md, "\n## Memory and restart\n")?;
    if data.memory.is_empty() && data.restarts.is_empty() {
        writeln!(md, "Not run.")?;
    }
    for mem in &data.memory {
        let mib = |v: Option<f64>| fmt_opt(v.map(|b| b / 1048576.0), 1);
        let kib = |path: &[&str]| {
            let mut v = mem;
            for p in path {
                v = v.get(*p)?;
            }
            v.as_f64().map(|k| k * 1024.0)
        };
        let raw_bytes = num(mem, "raw_bytes");
        writeln!(
            md,
            "**{}**: filled over HTTP with {} new keys (`bench_` + 7 digits = {} bytes) of {}-byte \
             values (JSON text), {} history entries kept, at {} writes/s.\n",
            mem.get("variant").and_then(Value::as_str).unwrap_or("?"),
            fmt_opt(num(mem, "keys"), 0),
            fmt_opt(num(mem, "key_bytes"), 0),
            fmt_opt(num(mem, "value_bytes"), 0),
            fmt_opt(num(mem, "history_entries"), 0),
            fmt_opt(mem.get("fill").and_then(|f| num(f, "writes_per_second")), 0),
        )?;
        writeln!(
            md,
            "| raw keys+values MiB | data file MiB | empty server RSS MiB | RSS of the server that took the writes MiB |"
        )?;
        writeln!(md, "|---|---|---|---|")?;
        writeln!(
            md,
            "| {} | {} | {} | {} |\n",
            mib(raw_bytes),
            mib(num(mem, "data_file_bytes")),
            mib(kib(&["empty_server", "rss_kib_end"])),
            mib(kib(&["filling_server", "rss_kib_end"])),
        )?;
    }
    if !data.restarts.is_empty() {
        writeln!(
            md,
            "\n| restart | variant | history entries | listening (ms) | serving (ms) | RSS serving MiB | RSS settled MiB | peak RSS MiB |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|---|")?;
        for r in &data.restarts {
            let x = r.get("result").cloned().unwrap_or_default();
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.get("rep").unwrap_or(&Value::Null),
                r.get("variant").and_then(Value::as_str).unwrap_or("?"),
                fmt_opt(num(r, "history_entries"), 0),
                fmt_opt(num(&x, "listening_ms"), 0),
                fmt_opt(num(&x, "serving_ms"), 0),
                fmt_opt(num(&x, "rss_kib_serving").map(|k| k / 1024.0), 1),
                fmt_opt(num(&x, "rss_kib_settled").map(|k| k / 1024.0), 1),
                fmt_opt(num(&x, "rss_kib_peak").map(|k| k / 1024.0), 1),
            )?;
        }
    }

    writeln!(md, "\n## Preloads (writes over HTTP, 64 connections)\n")?;
    writeln!(md, "| contestant | what | keys | seconds | writes/s |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    for f in &data.fills {
        let r = f.get("result").cloned().unwrap_or_default();
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            f.get("contestant").and_then(Value::as_str).unwrap_or("?"),
            f.get("purpose").and_then(Value::as_str).unwrap_or(""),
            fmt_opt(num(&r, "keys"), 0),
            fmt_opt(num(&r, "seconds"), 1),
            fmt_opt(num(&r, "writes_per_second"), 0),
        )?;
    }
    if !data.skipped.is_empty() || !data.pending.is_empty() {
        writeln!(md, "\n## Skipped and pending\n")?;
        for (who, reason) in &data.skipped {
            writeln!(md, "- contestant **{who}** skipped: {reason}")?;
        }
        for (case, reason) in &data.pending {
            writeln!(md, "- case **{case}** pending: {reason}")?;
        }
    }

    let out_json = json!({
        "meta": data.meta,
        "targets": targets_json,
        "cases": cases_json,
        "memory": data.memory,
        "restarts": data.restarts,
        "fills": data.fills,
        "skipped": data.skipped.iter().map(|(c, r)| json!({"contestant": c, "reason": r})).collect::<Vec<_>>(),
        "pending": data.pending.iter().map(|(c, r)| json!({"case": c, "reason": r})).collect::<Vec<_>>(),
        "notes": data.notes,
    });
    let md_path = args.out.with_extension("md");
    let json_path = args.out.with_extension("json");
    std::fs::write(&md_path, md)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&out_json)? + "\n")?;
    println!("{}\n{}", md_path.display(), json_path.display());
    Ok(())
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
