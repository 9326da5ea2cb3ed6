//! Reading the reports `ctx load merge` combines: report.json files of
//! finished runs, each scenario with the raw histograms that recombine
//! exactly. The derived figures, checks and verdict read with them are not
//! used: they are recomputed from the counters and histograms.

use std::path::Path;

use crate::error::LoadError;
use crate::model::RunReport;

/// Reads and checks one report.json: a finished run, of a schema this
/// version understands, with raw histograms in every scenario.
pub(super) fn read(path: &Path) -> Result<RunReport, LoadError> {
    let bad = |why: String| LoadError::InvalidOption(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let report = RunReport::from_json(&text).map_err(|e| bad(e.to_string()))?;
    if !report.complete {
        return Err(bad(format!(
            "an incomplete run ({}) cannot be merged exactly; rerun that worker",
            report
                .aborted_reason
                .as_ref()
                .map_or_else(|| "aborted".to_string(), ToString::to_string)
        )));
    }
    if let Some(s) = report.scenarios.iter().find(|s| s.hdr.is_none()) {
        return Err(bad(format!(
            "scenario {} has no raw histograms (ws_fanout, or a report written before \
             ctx load kept them): it cannot be merged",
            s.name
        )));
    }
    Ok(report)
}
