//! Reading a report.json back (`--baseline`, `ctx load merge`) into the same
//! types that wrote it. The schema version is checked before the rest, so a
//! file of another version gets that said instead of a missing-field error.

use super::{RunReport, SCHEMA_VERSION};

/// The oldest report.json this version reads: schema 2 is the first with
/// every figure under its present name; fields added since are optional, and
/// the one meaning changed since (a worker's stage levels) is converted.
pub const MIN_READ_SCHEMA: u32 = 2;

/// Why a text is not a report.json this version reads.
#[derive(Debug, thiserror::Error)]
pub enum ReportReadError {
    #[error("not a ctx load report.json (not JSON: {0})")]
    NotJson(#[source] serde_json::Error),
    #[error("not a ctx load report.json (no schema_version)")]
    NoSchemaVersion,
    #[error(
        "schema_version {0} is too old for this ctx load (supported: {MIN_READ_SCHEMA} to \
         {SCHEMA_VERSION})"
    )]
    TooOld(u64),
    #[error(
        "schema_version {0} is newer than this ctx load understands (supported: \
         {MIN_READ_SCHEMA} to {SCHEMA_VERSION})"
    )]
    TooNew(u64),
    #[error("not a ctx load report.json: {0}")]
    NotAReport(#[source] serde_json::Error),
}

impl RunReport {
    /// Parses a report.json's text.
    pub fn from_json(text: &str) -> Result<RunReport, ReportReadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(ReportReadError::NotJson)?;
        let schema = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or(ReportReadError::NoSchemaVersion)?;
        if schema < u64::from(MIN_READ_SCHEMA) {
            return Err(ReportReadError::TooOld(schema));
        }
        if schema > u64::from(SCHEMA_VERSION) {
            return Err(ReportReadError::TooNew(schema));
        }
        let mut report: RunReport =
            serde_json::from_value(value).map_err(ReportReadError::NotAReport)?;
        if schema == 2 {
            report.upgrade_from_schema_2();
        }
        Ok(report)
    }

    /// Schema 2 gave a worker's stages the plan's levels; schema 3 gives its
    /// share (as its open loop's `target_rate` always was) and keeps the
    /// plan's in `run_from`/`run_to`. Read in today's meaning, a schema-2
    /// worker merges exactly with schema-3 ones.
    fn upgrade_from_schema_2(&mut self) {
        if let Some(share) = self.worker {
            for scenario in &mut self.scenarios {
                let stages = std::mem::take(&mut scenario.metrics.stages);
                scenario.metrics.stages = stages.into_iter().map(|s| s.share_of(share)).collect();
            }
        }
        self.schema_version = SCHEMA_VERSION;
    }
}
