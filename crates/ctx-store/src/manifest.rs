//! `ctx-manifest.json`: written once, when a data directory first holds a store, so a
//! later start can tell "a new, empty directory" from "a directory whose data file went
//! missing". Without it, a deleted or emptied `context.redb` looked like a fresh store and
//! every checkpointed write was silently gone.
//!
//! It also holds the revision ceiling: no revision above it has ever been handed out. The
//! committer raises it (one small synced write) before the first change that would pass
//! it, [`RESERVE`] revisions at a time, so a recovery that lost an unknown number of
//! changes (a deleted log segment, a deleted data file) can still continue above every
//! revision a client may have seen.

use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const MANIFEST_FILE: &str = "ctx-manifest.json";
/// The layout this build writes: redb file, `wal/` segments with headers.
const FORMAT: u32 = 1;
/// Revisions reserved per raise of the ceiling: one manifest write (two fsyncs, ~1 ms)
/// per million changes, and a recovery's jump is at most this.
const RESERVE: u64 = 1 << 20;

#[derive(Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    /// When the directory first held a store (RFC 3339), for the operator's benefit.
    pub created: String,
    /// No revision above this was ever handed out.
    pub revision_ceiling: u64,
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest {
            format: FORMAT,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            revision_ceiling: 0,
        }
    }
}

/// The manifest as the committer keeps it current.
pub(crate) struct Ceiling {
    data_dir: PathBuf,
    manifest: Manifest,
}

impl Ceiling {
    pub fn new(data_dir: &Path, manifest: Manifest) -> Ceiling {
        Ceiling {
            data_dir: data_dir.to_owned(),
            manifest,
        }
    }

    /// Makes sure the ceiling on disk is at least `revision` before it is handed out.
    pub fn cover(&mut self, revision: u64) -> std::io::Result<()> {
        if revision <= self.manifest.revision_ceiling {
            return Ok(());
        }
        self.manifest.revision_ceiling = revision + RESERVE;
        write(&self.data_dir, &self.manifest)
    }
}

/// The manifest in `data_dir`, or `None` when there is none (a new directory, or one
/// from a build before manifests).
pub(crate) fn read(data_dir: &Path) -> Result<Option<Manifest>, StoreError> {
    let path = data_dir.join(MANIFEST_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Storage(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        StoreError::Corrupt(format!("{} is not a ctx manifest: {e}", path.display()))
    })?;
    if manifest.format > FORMAT {
        return Err(StoreError::Storage(format!(
            "{} says format {}; this build reads format {FORMAT}: run a newer ctx",
            path.display(),
            manifest.format
        )));
    }
    Ok(Some(manifest))
}

/// Writes the manifest (to a temporary name, synced, then renamed), so a crash leaves
/// either no manifest or a whole one.
fn write(data_dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let temporary = data_dir.join(format!("{MANIFEST_FILE}.new"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&temporary, data_dir.join(MANIFEST_FILE))?;
    std::fs::File::open(data_dir)?.sync_all()
}
