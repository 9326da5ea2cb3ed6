//! User-defined scenarios from a TOML file (`--scenario-file`), so a team can
//! write its own mix without Rust. Schema (documented in docs/load.md):
//!
//! ```toml
//! [[scenario]]
//! name = "hot_keys"                 # required, unique, [A-Za-z0-9_-]
//! description = "what it does"      # optional
//! clients = 4                       # required, >= 1
//! ops = 100                         # operations per client, required, >= 1
//! think_time = "100ms"              # optional: closed loop, pause after each answer
//! setup = [                         # optional, sent once before the measurement
//!   { method = "POST", path = "/ctx", body = { key = "hot.0", value = 0 } },
//! ]
//!
//! [[scenario.request]]              # one or more; op N uses template N mod (sum of weights)
//! method = "GET"                    # optional, default GET
//! path = "/ctx/hot.{op}"            # {client} and {op} are replaced
//! weight = 4                        # optional, default 1
//!
//! [[scenario.request]]
//! method = "POST"
//! path = "/ctx"
//! body = { key = "hot.{client}", value = "{op}" }   # any TOML value, sent as JSON
//!
//! [[scenario.stage]]                # optional: a load shape (see docs/load.md)
//! duration = "10s"                  # "500ms", "2m", or a number of seconds
//! rate = 100                        # ramp the arrival rate to this (open loop), or
//! # clients = 10                    # the number of clients (closed loop); the same in all
//!
//! [scenario.thresholds]             # optional; same metrics as --threshold
//! success_rate = 99.9               # default 99 when not set ("off" to drop it)
//! p99_ms = 50
//! ```
//!
//! Placeholders are replaced in the path and in every string of the body; a
//! body string that is exactly `"{client}"` or `"{op}"` becomes a JSON number.
//! `{rand:N}` is a number in `0..N`, zero-padded to the width of `N - 1`, spread over
//! the key space but the same for the same client and op in every run (see `template::fill_rand`).

mod check;
mod shape;
mod template;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::Scenario;
use crate::error::LoadError;
use crate::model::Thresholds;
use check::CheckDef;
use template::{Template, TemplateDef};

/// The success-rate threshold of a file scenario that sets none, percent.
pub const DEFAULT_SUCCESS_RATE_PCT: f64 = 99.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    scenario: Vec<ScenarioDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDef {
    name: String,
    #[serde(default)]
    description: Option<String>,
    clients: u64,
    ops: u64,
    #[serde(default)]
    setup: Vec<TemplateDef>,
    request: Vec<TemplateDef>,
    #[serde(default)]
    thresholds: toml::Table,
    #[serde(default)]
    check: Vec<CheckDef>,
    #[serde(default)]
    stage: Vec<shape::StageDef>,
    #[serde(default)]
    think_time: Option<toml::Value>,
}

/// Parses scenarios from TOML text (`origin` names the file in errors).
pub fn parse(text: &str, origin: &str) -> Result<Vec<Scenario>, LoadError> {
    let bad = |why: String| LoadError::InvalidOption(format!("{origin}: {why}"));
    let file: File =
        toml::from_str(text).map_err(|e| bad(e.to_string().trim().replace('\n', " ")))?;
    if file.scenario.is_empty() {
        return Err(bad("no [[scenario]] defined".into()));
    }
    let mut out: Vec<Scenario> = Vec::new();
    for def in file.scenario {
        let name = def.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(format!(
                "scenario name {:?} must be non-empty [A-Za-z0-9_-]",
                def.name
            )));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(bad(format!("scenario {name:?} is defined twice")));
        }
        if def.clients == 0 || def.ops == 0 {
            return Err(bad(format!(
                "scenario {name:?}: clients and ops must be at least 1"
            )));
        }
        if def.request.is_empty() {
            return Err(bad(format!(
                "scenario {name:?}: needs at least one [[scenario.request]]"
            )));
        }
        let mut templates = Vec::new();
        let mut order = Vec::new();
        for (i, t) in def.request.iter().enumerate() {
            let tpl =
                Template::parse(t, &format!("scenario {name:?} request {}", i + 1)).map_err(bad)?;
            let weight = t.weight.unwrap_or(1);
            if weight == 0 || weight > 1000 {
                return Err(bad(format!(
                    "scenario {name:?} request {}: weight must be 1..=1000",
                    i + 1
                )));
            }
            order.extend(std::iter::repeat_n(templates.len(), weight as usize));
            templates.push(tpl);
        }
        let mut setup = Vec::new();
        for (i, t) in def.setup.iter().enumerate() {
            let tpl =
                Template::parse(t, &format!("scenario {name:?} setup {}", i + 1)).map_err(bad)?;
            setup.push(tpl.request(0, i as u64));
        }
        // A scenario whose requests fail must not pass: success ≥ 99 % unless
        // the file says otherwise (`success_rate = "off"` to judge nothing).
        let mut thresholds = Thresholds {
            min_success_rate_pct: Some(DEFAULT_SUCCESS_RATE_PCT),
            ..Thresholds::default()
        };
        for (metric, v) in &def.thresholds {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
                other => {
                    return Err(bad(format!(
                        "scenario {name:?}: threshold {metric} has unsupported value {other}"
                    )));
                }
            };
            thresholds
                .set(metric, &text)
                .map_err(|e| bad(format!("scenario {name:?}: {e}")))?;
        }
        let checks = def
            .check
            .into_iter()
            .enumerate()
            .map(|(i, check)| check.parse(&format!("scenario {name:?} check {}", i + 1)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let ctx = format!("scenario {name:?}");
        let stages = shape::plan(&def.stage, &ctx).map_err(bad)?;
        let think_time = match &def.think_time {
            Some(value) => Some(shape::duration(value, &format!("{ctx} think_time")).map_err(bad)?),
            None => None,
        };
        let templates = Arc::new(templates);
        let order = Arc::new(order);
        out.push(Scenario {
            description: def
                .description
                .unwrap_or_else(|| format!("user scenario from {origin}")),
            name,
            clients: def.clients,
            ops_per_client: def.ops,
            setup,
            generator: Arc::new(move |c, o| {
                templates[order[(o % order.len() as u64) as usize]].request(c, o)
            }),
            thresholds,
            fanout: None,
            open_loop: None,
            stages,
            think_time,
            checks,
        });
    }
    Ok(out)
}

/// Reads and parses a scenario file.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        LoadError::InvalidOption(format!("cannot read scenario file {}: {e}", path.display()))
    })?;
    parse(&text, &path.display().to_string())
}
