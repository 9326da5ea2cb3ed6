//! Opening a data directory: reload redb, check that the log continues it exactly, replay
//! the log, and refuse — rather than start on — anything damaged.
//!
//! What must hold (anything else is damage, reported in one line):
//! - a directory with a manifest (`manifest.rs`) still has a non-empty `context.redb`,
//!   and redb reads back without error;
//! - log segments have contiguous sequence numbers, each starts with a valid header, and
//!   each starts at the revision the one before ended at (+1);
//! - a bad record is followed by nothing valid of its segment (else it is damage in the
//!   middle, not a torn tail);
//! - the log starts no later than redb's revision + 1 (nothing in between was lost), ends
//!   no earlier than redb's revision, and the segment the last checkpoint named is there.
//!
//! With [`StoreConfig::recover`] the store opens anyway: it keeps redb (or starts an empty
//! one when redb is unreadable) and every change of the log up to the first damage, sets
//! the damaged files aside in `damaged-<unix seconds>/`, and moves the revision counter
//! past the manifest's revision ceiling (and the highest revision the log shows anywhere),
//! so revisions never go backwards.
//!
//! What cannot be told from a crash: a newest segment cut inside or after its last
//! records (a torn append looks the same), and a newest segment deleted while an older
//! one still awaits its checkpoint. docs/reliability.md lists both.

use crate::config::StoreConfig;
use crate::disk::{self, DATA_FILE, Disk, LOAD_CACHE_BYTES};
use crate::error::StoreError;
use crate::manifest::{self, Ceiling, Manifest};
use crate::state::State;
use crate::wal::{self, Wal};
use check::check_log;
use std::path::{Path, PathBuf};

mod check;
#[cfg(test)]
mod tests;

/// A store read back from disk, ready for the committer.
pub(crate) struct Opened {
    pub disk: Disk,
    pub wal: Wal,
    pub state: State,
    pub ceiling: Ceiling,
    /// What a recovery found and dropped, one sentence each (empty when all was well).
    pub recovered: Vec<String>,
}

pub(crate) fn open(config: &StoreConfig) -> Result<Opened, StoreError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        StoreError::Storage(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })?;
    let manifest = manifest::read(dir)?;
    let mut aside = SetAside::new(dir);
    let mut problems = Vec::new();

    let data_file = dir.join(DATA_FILE);
    let data_len = match std::fs::metadata(&data_file) {
        Ok(meta) => Some(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(StoreError::Storage(format!("cannot read {DATA_FILE}: {e}"))),
    };
    if manifest.is_some() && data_len.unwrap_or(0) == 0 {
        let what = if data_len.is_none() {
            "missing"
        } else {
            "empty"
        };
        refuse_unless_recovering(
            config,
            format!(
                "{DATA_FILE} is {what}, but this directory held a store ({})",
                manifest::MANIFEST_FILE
            ),
        )?;
        problems.push(format!(
            "{DATA_FILE} was {what}: every change checkpointed into it is lost"
        ));
        if data_len.is_some() {
            aside.keep(&data_file)?;
        }
    }

    if data_len.is_none() && manifest.is_none() {
        Disk::create(config)?;
    }
    // redb's file lock is what keeps a second server out of this directory, so it is
    // taken before the log is touched. The start-up scan reads every page once; in a
    // cache sized for the applier's writes those pages would stay resident for nothing,
    // so it gets a small one and the database is opened again with the real cache
    // afterwards. (Another server that takes the lock in that instant finds everything
    // replayed and durable, and this one stops with `AlreadyOpen`.)
    let load_cache = LOAD_CACHE_BYTES.min(config.cache_bytes);
    let (disk, mut state, next_segment) = match read_redb(config, load_cache) {
        Ok(read) => read,
        Err(StoreError::Corrupt(reason)) => {
            refuse_unless_recovering(config, format!("{DATA_FILE} is damaged: {reason}"))?;
            problems.push(format!(
                "{DATA_FILE} was damaged ({reason}): every change checkpointed into it is lost"
            ));
            aside.keep(&data_file)?;
            read_redb(config, load_cache)?
        }
        Err(other) => return Err(other),
    };

    let segments = wal::read_all(dir, manifest.is_none())
        .map_err(|e| StoreError::Storage(format!("cannot read the write-ahead log: {e}")))?;
    let check = check_log(&segments, state.revision, next_segment);
    if let Some(first) = check.problems.first() {
        let more = match check.problems.len() {
            1 => String::new(),
            n => format!(" (and {} more problems)", n - 1),
        };
        refuse_unless_recovering(config, format!("{first}{more}"))?;
    }
    let damaged_log = !check.problems.is_empty();
    problems.extend(check.problems);
    if let Some(start) = check.gap_before {
        disk.skip_to(&mut state, start - 1)?;
    }
    disk.replay(check.intact, &check.intact_leases, &mut state, config)?;
    if !problems.is_empty() {
        // Something was lost, and how much is known only where the log still shows it:
        // the counter continues above the ceiling, which no handed-out revision passed.
        let kept = state.revision;
        if check.highest > kept {
            problems.push(format!(
                "changes {}..={} were dropped",
                kept + 1,
                check.highest
            ));
        }
        let ceiling = manifest.as_ref().map_or(0, |m| m.revision_ceiling);
        let floor = check.highest.max(ceiling);
        if floor > kept {
            problems.push(format!(
                "the last change kept is revision {kept}; new writes continue from revision {} so that no revision a client may have seen is reused",
                floor + 1
            ));
            disk.skip_to(&mut state, floor)?;
        }
    }

    let last_sequence = segments.last().map_or(0, |s| s.sequence);
    let sequence = last_sequence.max(next_segment.saturating_sub(1)) + 1;
    let log_error = |e| StoreError::Storage(format!("cannot start the write-ahead log: {e}"));
    if damaged_log {
        // Replayed changes are durable in redb before the segments holding them go aside;
        // until the new segment exists no checkpoint names one.
        disk.checkpoint(0)?;
        for segment in &segments {
            aside.keep(&segment.path)?;
        }
    }
    let wal = Wal::start(dir, sequence, state.revision + 1).map_err(log_error)?;
    // redb may have come back with commits it never made durable (the process died,
    // the machine did not), so it is made durable before the log that covers them goes.
    disk.checkpoint(sequence)?;
    wal::retire_through(wal.dir(), sequence - 1).map_err(disk::log_error)?;
    // Written for a new directory or one adopted from a build without manifests.
    let mut ceiling = Ceiling::new(dir, manifest.unwrap_or_else(Manifest::new));
    ceiling.cover(state.revision + 1).map_err(|e| {
        StoreError::Storage(format!("cannot write {}: {e}", manifest::MANIFEST_FILE))
    })?;
    if let Some(place) = aside.created {
        problems.push(format!(
            "the damaged files were moved to {}",
            place.display()
        ));
    }
    drop(disk);
    Ok(Opened {
        disk: Disk::open_db(config, config.cache_bytes)?,
        wal,
        state,
        ceiling,
        recovered: problems,
    })
}

fn refuse_unless_recovering(config: &StoreConfig, problem: String) -> Result<(), StoreError> {
    if config.recover {
        tracing::warn!(%problem, "recovering");
        Ok(())
    } else {
        Err(StoreError::Damaged(problem))
    }
}

/// Opens redb and reads it back. A damaged page is an error, never a panic (see
/// [`without_panics`]).
fn read_redb(config: &StoreConfig, cache: usize) -> Result<(Disk, State, u64), StoreError> {
    without_panics(|| {
        let disk = Disk::open_db(config, cache)?;
        disk.ensure_tables()?;
        let state = disk.load(config)?;
        let next_segment = disk.next_segment()?;
        Ok((disk, state, next_segment))
    })
}

/// Where a recovery moves what it could not use: nothing is deleted, so an operator (or
/// a later, better tool) can still look at it.
struct SetAside {
    data_dir: PathBuf,
    created: Option<PathBuf>,
}

impl SetAside {
    fn new(data_dir: &Path) -> SetAside {
        SetAside {
            data_dir: data_dir.to_owned(),
            created: None,
        }
    }

    fn keep(&mut self, path: &Path) -> Result<(), StoreError> {
        let storage = |e: std::io::Error| {
            StoreError::Storage(format!("cannot set {} aside: {e}", path.display()))
        };
        let place = match &self.created {
            Some(place) => place.clone(),
            None => {
                let seconds = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let place = self.data_dir.join(format!("damaged-{seconds}"));
                std::fs::create_dir_all(&place).map_err(storage)?;
                self.created = Some(place.clone());
                place
            }
        };
        let name = path.file_name().unwrap_or_default();
        std::fs::rename(path, place.join(name)).map_err(storage)?;
        std::fs::File::open(&self.data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(storage)
    }
}

thread_local! {
    /// Set while this thread runs redb under [`without_panics`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read`, turning a panic into [`StoreError::Corrupt`]. redb answers most damage
/// with `Corrupted`, but some checks on page contents panic instead (in debug builds by
/// design, "entered unreachable code"), and a panic must not be what an operator sees
/// for a bad byte on disk. `AssertUnwindSafe` is sound here: everything `read` builds is
/// dropped during the unwind and nothing it touched is used afterwards. The panic hook is
/// wrapped (once) to stay silent for this thread only while it is inside, so the refusal
/// is still one line; panics anywhere else are reported as before.
fn without_panics<T>(read: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    static WRAP_HOOK: std::sync::Once = std::sync::Once::new();
    WRAP_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.get() {
                previous(info);
            }
        }));
    });
    QUIET.set(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    QUIET.set(false);
    result.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(StoreError::Corrupt(format!(
            "redb failed reading it: {message}"
        )))
    })
}
