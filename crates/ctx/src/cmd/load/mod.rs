//! `ctx load`: the performance and load suite (the seed's six scenarios, or
//! your own), against `--target URL` or against a server it starts itself.
//!
//! A thin shell over `ctx_load::run`: parse flags, build the options, print
//! the summary table, map the run's verdict to an exit code (see `exit.rs`):
//! 0 pass, 1 fail, 6 inconclusive (nothing failed, but not enough evidence:
//! a smoke run, a figure not measured, too few samples), 2 a usage error (bad
//! URL, unknown scenario, malformed threshold or scenario file, bad option
//! value), 3 the run could not be carried out (unreachable target, server
//! would not start, interrupted) — with one line on stderr.
//!
//! Without flags that shape the run, it is the default full run (the seed
//! scenarios for a few seconds each, then the sustained phase: about a
//! minute); `--quick` is the seed-sized smoke run.
//!
//! Here: the run, `ctx load merge`, and how each ends (summary, exit code).
//! `args` holds the flags (the `--help` text), `options` turns them into the
//! engine's `LoadOptions` and rejects bad combinations before any load is sent.

use std::process::ExitCode;

use ctx_load::model::Outcome;
use ctx_load::{LoadError, LoadOptions};

use crate::exit;
use args::{LoadCommand, MergeArgs};
use options::{build_options, read_baseline};

pub use args::LoadArgs;

mod args;
mod options;

fn list(opts: &LoadOptions) -> ExitCode {
    let all = LoadOptions {
        scenarios: Vec::new(),
        ..opts.clone()
    };
    let mut names: Vec<String> = ctx_load::scenarios::SEED_SCENARIOS
        .iter()
        .chain(&ctx_load::scenarios::EXTRA_SCENARIOS)
        .map(|s| s.to_string())
        .collect();
    if let Some(path) = &all.scenario_file {
        match ctx_load::scenarios::load_file(path) {
            Ok(extra) => names.extend(extra.into_iter().map(|s| s.name)),
            Err(e) => return fail(&e),
        }
    }
    let chosen = LoadOptions {
        scenarios: names,
        ..all
    };
    match ctx_load::prepare_scenarios(&chosen) {
        Ok(scenarios) => {
            for s in scenarios {
                println!("{:<22} {:<36} {}", s.name, s.size_label(), s.description);
            }
            exit::code(exit::OK)
        }
        Err(e) => fail(&e),
    }
}

/// One stderr line and the exit code for the kind of error: bad input is a usage error.
fn fail(error: &LoadError) -> ExitCode {
    eprintln!("ctx load: {error}");
    match error {
        LoadError::InvalidOption(_) => exit::code(exit::USAGE),
        _ => exit::code(exit::COULD_NOT_RUN),
    }
}

/// The exit code of a verdict.
fn verdict_code(outcome: Outcome) -> ExitCode {
    exit::code(match outcome {
        Outcome::Pass => exit::OK,
        Outcome::Fail => exit::NEGATIVE,
        Outcome::Inconclusive => exit::INCONCLUSIVE,
    })
}

/// A run's (or a merge's) summary on stdout: the table and the report path,
/// or one JSON document with `--json`.
fn print_summary(report: &ctx_load::model::RunReport, dir: Option<&std::path::Path>, json: bool) {
    if json {
        println!("{}", ctx_load::report::summary_json(report, dir));
        return;
    }
    print!("{}", ctx_load::report::summary_table(report));
    if let Some(dir) = dir {
        println!("report: {}", dir.join("report.md").display());
    }
}

/// `ctx load merge`: one report from several, judged as one run; the exit
/// code follows its verdict as for a run.
fn merge(args: MergeArgs) -> ExitCode {
    let merged = match read_baseline(args.baseline.as_deref(), &args.tolerance)
        .and_then(|baseline| ctx_load::merge::merge(&args.reports, baseline))
    {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    for warning in &merged.warnings {
        eprintln!("ctx load merge: warning: {warning}");
    }
    let dir = args
        .report_dir
        .unwrap_or_else(ctx_load::report::default_report_dir);
    if let Err(source) = ctx_load::report::write(&dir, &merged.report) {
        return fail(&LoadError::Report { dir, source });
    }
    print_summary(&merged.report, Some(&dir), args.json);
    verdict_code(merged.report.verdict.outcome)
}

pub fn run(args: LoadArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(LoadCommand::Merge(merge_args)) = args.command {
        return merge(merge_args);
    }
    let listing = args.list;
    let as_json = args.json;
    let opts = match build_options(args) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    if listing {
        return list(&opts);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctx load: cannot start the async runtime: {e}");
            return exit::code(exit::COULD_NOT_RUN);
        }
    };
    match runtime.block_on(ctx_load::run(opts)) {
        Ok(outcome) => {
            print_summary(&outcome.report, outcome.report_dir.as_deref(), as_json);
            // A worker's verdict judges only its share (a throughput floor
            // meant for the whole load fails on a third of it): the run's
            // verdict and exit code are `ctx load merge`'s. A worker that ran
            // to the end succeeded, so a Kubernetes Job does not retry it.
            if outcome.report.worker.is_some() {
                return exit::code(exit::OK);
            }
            verdict_code(outcome.outcome)
        }
        Err(e) => fail(&e),
    }
}
