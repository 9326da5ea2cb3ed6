//! Load shapes from text: `--stages 10s:100,30s:1000,10s:0` (a ramping
//! arrival rate), `--client-stages 10s:5,30s:50` (ramping clients),
//! `--think-time 100ms`, and the same in a scenario file (see `scenarios/custom/`).

use std::time::Duration;

use crate::MAX_REQUESTS_PER_SCENARIO;
use crate::model::{Stage, StageKind, StagePlan};

/// Longest stage accepted (a typo guard).
const MAX_STAGE_SECS: f64 = 24.0 * 3600.0;
/// Most clients a staged closed loop may ramp to (one connection each).
pub const MAX_STAGE_CLIENTS: f64 = 100_000.0;

/// A duration as `10s`, `500ms`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?}: the unit is ms, s, m or h")),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n * factor).ok())
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 10s, 500ms, 2m)"))
}

/// Parses `DURATION:TARGET,...` into a checked plan.
pub fn parse_stages(ramps: StageKind, text: &str) -> Result<StagePlan, String> {
    let mut stages = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (duration, target) = part
            .split_once(':')
            .ok_or_else(|| format!("stage {part:?}: expected DURATION:TARGET, e.g. 10s:100"))?;
        let duration = parse_duration(duration).map_err(|e| format!("stage {part:?}: {e}"))?;
        let target: f64 = target
            .trim()
            .parse()
            .map_err(|_| format!("stage {part:?}: {target:?} is not a number"))?;
        stages.push(Stage {
            duration_secs: duration.as_secs_f64(),
            target,
        });
    }
    let plan = StagePlan { ramps, stages };
    check(&plan)?;
    Ok(plan)
}

/// The rules every plan obeys, however it was written.
pub fn check(plan: &StagePlan) -> Result<(), String> {
    if plan.stages.is_empty() {
        return Err("no stage given (expected DURATION:TARGET,..., e.g. 10s:100,30s:100)".into());
    }
    for (i, stage) in plan.stages.iter().enumerate() {
        let n = i + 1;
        if !(stage.duration_secs > 0.0 && stage.duration_secs <= MAX_STAGE_SECS) {
            return Err(format!(
                "stage {n}: the duration must be more than 0 and at most 24h"
            ));
        }
        if !(stage.target.is_finite() && stage.target >= 0.0) {
            return Err(format!(
                "stage {n}: the target must be a number of at least 0"
            ));
        }
        if plan.ramps == StageKind::Clients {
            if stage.target.fract() != 0.0 {
                return Err(format!(
                    "stage {n}: a client count is a whole number, got {}",
                    stage.target
                ));
            }
            if stage.target > MAX_STAGE_CLIENTS {
                return Err(format!("stage {n}: at most {MAX_STAGE_CLIENTS} clients"));
            }
        }
    }
    match plan.ramps {
        StageKind::Rate => {
            let requests = crate::engine::Ramp::new(plan).total();
            if requests < 1.0 {
                return Err("the stages plan no request at all".into());
            }
            if requests > MAX_REQUESTS_PER_SCENARIO as f64 {
                return Err(format!(
                    "the stages plan more than {MAX_REQUESTS_PER_SCENARIO} requests"
                ));
            }
        }
        StageKind::Clients if plan.peak() < 1.0 => {
            return Err("the stages never have a client".into());
        }
        StageKind::Clients => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_as_written() {
        let plan = parse_stages(StageKind::Rate, "10s:100, 30s:1000,500ms:0").unwrap();
        assert_eq!(plan.ramps, StageKind::Rate);
        let got: Vec<(f64, f64)> = plan
            .stages
            .iter()
            .map(|s| (s.duration_secs, s.target))
            .collect();
        assert_eq!(got, vec![(10.0, 100.0), (30.0, 1000.0), (0.5, 0.0)]);
        assert_eq!(plan.total_secs(), 40.5);
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn bad_stages_are_refused_with_the_reason() {
        for (kind, text, needle) in [
            (StageKind::Rate, "", "no stage"),
            (StageKind::Rate, "10s", "DURATION:TARGET"),
            (StageKind::Rate, "10x:5", "unit"),
            (StageKind::Rate, "0s:5", "more than 0"),
            (StageKind::Rate, "10s:-1", "at least 0"),
            (StageKind::Rate, "10s:abc", "not a number"),
            (StageKind::Rate, "10s:0", "no request"),
            (StageKind::Clients, "10s:2.5", "whole number"),
            (StageKind::Clients, "10s:0", "never"),
        ] {
            let err = parse_stages(kind, text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
