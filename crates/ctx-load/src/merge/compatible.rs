//! Whether the inputs of `ctx load merge` are parts of one run: the same
//! scenarios, modes and thresholds, and (for workers) distinct shares of the
//! same split.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::LoadError;
use crate::model::RunReport;

pub(super) fn incompatible(a: &Path, b: &Path, what: String) -> LoadError {
    LoadError::InvalidOption(format!(
        "{} and {} are not parts of one run: {what}",
        a.display(),
        b.display()
    ))
}

/// What [`check_compatible`] found about inputs that can be merged.
pub(super) struct Compatible {
    /// The inputs are every worker of one distributed run (none missing).
    pub whole_run: bool,
    /// What the caller should be told (e.g. which workers are missing).
    pub warnings: Vec<String>,
}

/// The inputs must be parts of one run: the same scenarios, modes and
/// thresholds, and (for workers) distinct shares of the same split.
pub(super) fn check_compatible(inputs: &[(&Path, RunReport)]) -> Result<Compatible, LoadError> {
    let (first_path, first) = &inputs[0];
    let names = |r: &RunReport| {
        r.scenarios
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    for (path, report) in &inputs[1..] {
        if names(report) != names(first) {
            return Err(incompatible(
                first_path,
                path,
                format!(
                    "scenarios [{}] vs [{}]",
                    names(first).join(", "),
                    names(report).join(", ")
                ),
            ));
        }
        if report.mode.kind != first.mode.kind {
            return Err(incompatible(
                first_path,
                path,
                format!(
                    "{} loop vs {} loop",
                    first.mode.kind.name(),
                    report.mode.kind.name()
                ),
            ));
        }
        for (a, b) in first.scenarios.iter().zip(&report.scenarios) {
            if a.metrics.mode != b.metrics.mode {
                return Err(incompatible(
                    first_path,
                    path,
                    format!("{} ran in different modes", a.name),
                ));
            }
            if a.thresholds != b.thresholds {
                return Err(incompatible(
                    first_path,
                    path,
                    format!("{} has different thresholds", a.name),
                ));
            }
        }
    }
    let mut warnings = Vec::new();
    let mut whole_run = false;
    let shares: Vec<_> = inputs.iter().map(|(_, r)| r.worker).collect();
    if let Some(workers) = shares.iter().flatten().map(|s| s.workers).next() {
        let mut seen = BTreeSet::new();
        for ((path, _), share) in inputs.iter().zip(&shares) {
            let share = share.filter(|s| s.workers == workers).ok_or_else(|| {
                incompatible(
                    first_path,
                    path,
                    format!("not a worker of the same --workers {workers} run"),
                )
            })?;
            if !seen.insert(share.index) {
                return Err(LoadError::InvalidOption(format!(
                    "{}: worker {} of {workers} is given twice (its requests would count twice)",
                    path.display(),
                    share.index
                )));
            }
        }
        let missing: Vec<String> = (0..workers)
            .filter(|i| !seen.contains(i))
            .map(|i| i.to_string())
            .collect();
        whole_run = missing.is_empty();
        if !whole_run {
            warnings.push(format!(
                "only {} of the {workers} workers were merged (missing: {}): the figures cover \
                 part of the load",
                seen.len(),
                missing.join(", ")
            ));
        }
    }
    Ok(Compatible {
        whole_run,
        warnings,
    })
}
