//! `[[scenario.stage]]` and `think_time`: a file scenario's load shape.

use std::time::Duration;

use serde::Deserialize;

use crate::model::{Stage, StageKind, StagePlan};
use crate::scenarios::stages::{check, parse_duration};

/// `[[scenario.stage]]`: a duration and exactly one of `rate`, `clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageDef {
    duration: toml::Value,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    clients: Option<u64>,
}

/// A duration written as `"10s"`/`"500ms"`/`"2m"` or a number of seconds.
pub(super) fn duration(value: &toml::Value, ctx: &str) -> Result<Duration, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        other => return Err(format!("{ctx}: {other} is not a duration (e.g. \"10s\")")),
    };
    parse_duration(&text).map_err(|e| format!("{ctx}: {e}"))
}

/// The stages of one scenario; None when it has none.
pub(super) fn plan(defs: &[StageDef], ctx: &str) -> Result<Option<StagePlan>, String> {
    let Some(first) = defs.first() else {
        return Ok(None);
    };
    let ramps = if first.rate.is_some() {
        StageKind::Rate
    } else {
        StageKind::Clients
    };
    let mut stages = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        let at = format!("{ctx} stage {}", i + 1);
        let target = match (ramps, def.rate, def.clients) {
            (StageKind::Rate, Some(rate), None) => rate,
            (StageKind::Clients, None, Some(clients)) => clients as f64,
            _ => {
                return Err(format!(
                    "{at}: each stage has exactly one of rate or clients, the same in every stage"
                ));
            }
        };
        stages.push(Stage {
            duration_secs: duration(&def.duration, &at)?.as_secs_f64(),
            target,
        });
    }
    let plan = StagePlan { ramps, stages };
    check(&plan).map_err(|e| format!("{ctx}: {e}"))?;
    Ok(Some(plan))
}
