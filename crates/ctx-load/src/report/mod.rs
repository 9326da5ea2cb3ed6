//! The report: renders the model, judges nothing. `report.md` (every section
//! of the seed's report, plus resource usage, leak verdicts and threshold
//! checks), `report.json` (the model as-is, versioned by `schema_version`,
//! documented in docs/load.md), `report.html` (the same with inline SVG
//! charts) and the terminal summary. Every table goes through one row model
//! ([`table::Table`], built in [`rows`]) rendered in each format.
//!
//! A run that was aborted is still reported when anything was measured, but
//! marked incomplete everywhere (`"complete": false`, an INCOMPLETE banner),
//! so a partial report is never mistaken for a finished one.

pub mod baseline;
mod chart;
pub mod html;
pub mod markdown;
mod plots;
pub mod rows;
pub mod shape_rows;
pub mod table;
pub mod terminal;

use std::path::{Path, PathBuf};

pub use markdown::render_markdown;
pub use terminal::{summary as summary_table, summary_json};

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `./ctx-report/<UTC timestamp>/`, with a numeric suffix if that exists already.
pub fn default_report_dir() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let base = PathBuf::from("ctx-report");
    let mut dir = base.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// Writes report.json, report.md and report.html into `dir` (created if needed).
pub fn write(dir: &Path, report: &crate::model::RunReport) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.md"), render_markdown(report))?;
    std::fs::write(dir.join("report.html"), html::render(report))?;
    Ok(())
}
