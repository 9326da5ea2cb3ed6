//! The one error type of the crate. Every variant means "the run could not be
//! carried out as asked" (the CLI maps `InvalidOption` to its usage exit code,
//! the others to could-not-run); a run that happened but missed a threshold is *not* an error, it is a
//! [`crate::RunOutcome`] with `all_passed == false`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad input: URL, scenario name, threshold override, scenario file, option value.
    #[error("{0}")]
    InvalidOption(String),
    /// The target could not be reached, or our server would not start.
    #[error("{0}")]
    CouldNotRun(String),
    /// The run started but was stopped before every scenario finished. When a
    /// report was written it is marked incomplete, and its directory is given.
    #[error("run aborted: {reason}{}", report_dir.as_ref().map(|d| format!(" (incomplete report in {})", d.display())).unwrap_or_default())]
    Aborted {
        reason: crate::model::AbortReason,
        report_dir: Option<PathBuf>,
    },
    /// Writing the report failed.
    #[error("cannot write report in {dir}: {source}")]
    Report {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// A bug or an unexpected runtime failure (a worker task panicked...).
    #[error("internal error: {0}")]
    Internal(String),
}
