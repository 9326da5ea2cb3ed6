//! From options to the scenarios to run: every input error surfaces here,
//! before any server is started or request sent.

use std::time::Duration;

use crate::model::StageKind;
use crate::{
    FIND_MAX_MIN_CLIENTS, LoadError, LoadOptions, MAX_REQUESTS_PER_SCENARIO, Mode,
    SUSTAINED_SCENARIO, Scenario, runner, scenarios, search,
};

/// Builds the scenario list from the options: seed + file scenarios, the
/// selection, scaling, client override and threshold overrides. All input
/// errors surface here, before any server is started or request sent.
pub fn prepare_scenarios(opts: &LoadOptions) -> Result<Vec<Scenario>, LoadError> {
    check_options(opts)?;
    let mut all = scenarios::builtin_scenarios();
    if let Some(path) = &opts.scenario_file {
        for s in scenarios::load_file(path)? {
            if all.iter().any(|a| a.name == s.name) {
                return Err(LoadError::InvalidOption(format!(
                    "{}: scenario {:?} is defined twice (or shadows a seed scenario)",
                    path.display(),
                    s.name
                )));
            }
            all.push(s);
        }
    }
    let known: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let wanted: Vec<String> = if opts.scenarios.is_empty() {
        scenarios::SEED_SCENARIOS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        opts.scenarios.clone()
    };
    let mut selected = Vec::new();
    for name in &wanted {
        let s = all.iter().find(|s| &s.name == name).ok_or_else(|| {
            LoadError::InvalidOption(format!(
                "unknown scenario {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        let mut s = s.clone();
        if let Some(ol) = &opts.open_loop {
            s = s.with_write_schedule(ol.rate, ol.duration);
        }
        let mut s = s.scaled(opts.scale);
        if let Some(c) = opts.clients {
            s = s.with_clients(c);
        }
        if opts.find_max.is_some() {
            if s.fanout.is_some() {
                return Err(LoadError::InvalidOption(format!(
                    "--find-max searches an HTTP scenario's rate, not {}'s",
                    s.name
                )));
            }
            if opts.clients.is_none() {
                s.clients = s.clients.max(FIND_MAX_MIN_CLIENTS);
            }
        }
        if s.fanout.is_some() && (opts.stages.is_some() || opts.think_time.is_some()) {
            return Err(LoadError::InvalidOption(format!(
                "{} writes at --rate for --duration: --stages, --client-stages and --think-time \
                 do not apply to it",
                s.name
            )));
        }
        if opts.sustained.is_some() && s.name == "memory_stress" {
            // Judged where it can be: in the sustained phase.
            s.thresholds.fail_on_leak = false;
        }
        if s.clients
            .checked_mul(s.ops_per_client)
            .is_none_or(|n| n > MAX_REQUESTS_PER_SCENARIO)
        {
            return Err(LoadError::InvalidOption(format!(
                "{}: {} clients × {} ops is more than {MAX_REQUESTS_PER_SCENARIO} requests",
                s.name, s.clients, s.ops_per_client
            )));
        }
        selected.push(s);
    }
    if let Some(sustained) = &opts.sustained {
        let mut s = scenarios::memory_stress();
        s.name = SUSTAINED_SCENARIO.into();
        s.description = format!(
            "memory_stress's mix in open loop at {} req/s for {} s: the leak check",
            sustained.rate,
            sustained.duration.as_secs_f64()
        );
        s.open_loop = Some(sustained.clone());
        selected.push(s);
    }
    if let Some(d) = opts.closed_duration
        && d.is_zero()
    {
        return Err(LoadError::InvalidOption(
            "--duration must be positive".into(),
        ));
    }
    let mut known = known;
    if opts.sustained.is_some() {
        known.push(SUSTAINED_SCENARIO.into());
    }
    scenarios::apply_overrides(&mut selected, &known, &opts.thresholds)?;
    check_share(&selected, opts)?;
    Ok(selected)
}

/// The options' own rules, before any scenario is looked at: the numbers
/// in range, one load shape, think time only in closed loop.
fn check_options(opts: &LoadOptions) -> Result<(), LoadError> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(LoadError::InvalidOption(format!(
            "--scale must be a positive number, got {}",
            opts.scale
        )));
    }
    if opts.clients == Some(0) {
        return Err(LoadError::InvalidOption(
            "--clients must be at least 1".into(),
        ));
    }
    if opts.timeout.is_zero() {
        return Err(LoadError::InvalidOption(
            "--timeout must be positive".into(),
        ));
    }
    if let Some(ol) = &opts.open_loop {
        if !(ol.rate.is_finite() && ol.rate > 0.0) {
            return Err(LoadError::InvalidOption(format!(
                "--rate must be a positive number, got {}",
                ol.rate
            )));
        }
        if ol.duration.is_zero() {
            return Err(LoadError::InvalidOption(
                "--duration must be positive".into(),
            ));
        }
        let planned = ol.rate * ol.duration.as_secs_f64();
        if planned < 1.0 {
            return Err(LoadError::InvalidOption(
                "--rate × --duration plans no request at all".into(),
            ));
        }
        if planned > MAX_REQUESTS_PER_SCENARIO as f64 {
            return Err(LoadError::InvalidOption(format!(
                "--rate × --duration plans more than {MAX_REQUESTS_PER_SCENARIO} requests per scenario"
            )));
        }
    }
    search::check_run(opts)?;
    if let Some(plan) = &opts.stages {
        scenarios::stages::check(plan).map_err(LoadError::InvalidOption)?;
        if opts.open_loop.is_some() {
            return Err(LoadError::InvalidOption(
                "--stages/--client-stages replace --rate: give one load shape".into(),
            ));
        }
    }
    if let Some(think) = opts.think_time {
        if think.is_zero() || think > Duration::from_secs(3600) {
            return Err(LoadError::InvalidOption(
                "--think-time must be more than 0 and at most 1h".into(),
            ));
        }
        let open = opts.open_loop.is_some()
            || opts
                .stages
                .as_ref()
                .is_some_and(|p| p.ramps == StageKind::Rate);
        if open {
            return Err(LoadError::InvalidOption(
                "--think-time applies to closed loop (clients that wait for each answer); \
                 an open loop's arrivals are scheduled by its rate"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// A worker needs at least one client of each scenario, and `ws_fanout`
/// (whose subscribers must see every write) does not split.
fn check_share(selected: &[Scenario], opts: &LoadOptions) -> Result<(), LoadError> {
    let share = opts.share;
    if share.is_whole() {
        return Ok(());
    }
    for s in selected {
        if matches!(
            runner::mode_of(opts, s, s.clients),
            Mode::ClosedStaged { .. }
        ) {
            return Err(LoadError::InvalidOption(format!(
                "{}: ramping clients (--client-stages, or the scenario's stages) do not split \
                 over --workers yet; ramp the arrival rate (--stages) instead",
                s.name
            )));
        }
        if s.fanout.is_some() {
            return Err(LoadError::InvalidOption(format!(
                "{} does not split over --workers (every subscriber must see every write); \
                 run it from one process",
                s.name
            )));
        }
        if s.clients < share.workers {
            return Err(LoadError::InvalidOption(format!(
                "{} has {} clients, fewer than --workers {}: each worker needs at least one \
                 (raise --clients)",
                s.name, s.clients, share.workers
            )));
        }
    }
    Ok(())
}
