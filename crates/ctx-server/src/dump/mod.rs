//! Dumps: the context written to a file in one of Framework0's four layouts.
//!
//! `format` renders the bytes (pure, no I/O), writing JSON as Python did through
//! `python`; `files` owns the dump directory: names,
//! uniqueness, listing and download. Both layouts and naming rules are described in
//! `docs/dumps.md`.

mod files;
mod format;
mod python;

pub use files::{DumpDir, DumpError, DumpInfo, DumpListing};
pub use format::{DumpContent, DumpFormat};
