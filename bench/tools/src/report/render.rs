//! `<out>.md` and `<out>.json` from the measurements and targets.

use serde_json::{Value, json};
use std::fmt::Write as _;

use super::data::{load, num};
use super::targets::targets;
use super::{Args, CASES, CONTESTANTS, fmt_opt, runs_case};

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
