//! The raw measurements of one `bench/run`, read: repetitions by case and
//! contestant, skips, notes, fills, memory and restarts.

use anyhow::Context;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::median;

/// One wrk (or ctx load) repetition.
pub(super) struct Rep {
    pub(super) rep: u64,
    pub(super) rps: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) errors: f64,
    pub(super) requests: f64,
    pub(super) rss_mib: Option<f64>,
    pub(super) cpu_percent: Option<f64>,
    /// ctx only: group commits during the case (from /metrics).
    pub(super) commits: Option<(f64, f64, f64)>,
    pub(super) duration_s: f64,
}

pub(super) fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

impl Rep {
    pub(super) fn from_raw(raw: &Value) -> Option<Rep> {
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

pub(super) struct Data {
    pub(super) meta: serde_json::Map<String, Value>,
    pub(super) reps: BTreeMap<(String, String), Vec<Rep>>,
    pub(super) skipped: Vec<(String, String)>,
    pub(super) pending: Vec<(String, String)>,
    pub(super) notes: Vec<String>,
    pub(super) fills: Vec<Value>,
    pub(super) memory: Vec<Value>,
    pub(super) restarts: Vec<Value>,
}

pub(super) fn load(path: &PathBuf) -> anyhow::Result<Data> {
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
    pub(super) fn median_of(
        &self,
        case: &str,
        who: &str,
        f: impl Fn(&Rep) -> Option<f64>,
    ) -> Option<f64> {
        let reps = self.reps.get(&(case.to_owned(), who.to_owned()))?;
        median(&mut reps.iter().filter_map(f).collect::<Vec<_>>())
    }

    /// Median over repetitions of `a[r] / b[r]`.
    pub(super) fn paired_ratio(
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

    pub(super) fn absent_reason(&self, case: &str, who: &str) -> String {
        if let Some((_, reason)) = self.skipped.iter().find(|(c, _)| c == who) {
            return format!("skipped: {reason}");
        }
        if let Some((_, reason)) = self.pending.iter().find(|(c, _)| c == case) {
            return format!("pending: {reason}");
        }
        "not measured".to_owned()
    }
}
