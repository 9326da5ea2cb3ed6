//! The write-ahead log: where a group of writes becomes durable.
//!
//! Committing a group straight to redb durably means rewriting every B-tree page the
//! group touched and fsyncing them: scattered page writes that measured 0.7–0.8 ms plus
//! the CPU to copy them, per group. Appending the group's records to this log and
//! `fdatasync`ing it is one short sequential write (0.1–0.15 ms on the same disk).
//!
//! The log is a series of segment files, `wal/<sequence>.log`. The committer writes to
//! the newest one and starts a new one every checkpoint interval ([`Wal::rotate`]); the
//! applier (`applier.rs`) retires a closed segment once redb is durable past everything
//! in it ([`retire_through`]). Segments are what let the checkpoint run beside the
//! committer instead of stalling it: nothing ever truncates the file being written.
//!
//! A retired segment is kept as a spare (`wal/spare-<sequence>.log`, a few at most) and
//! renamed into place as a later segment, which is then overwritten from the start:
//! `fdatasync` after overwriting blocks the file already has is cheaper than after an
//! append, which must also write the file system's metadata for the new size and blocks
//! (0.080 ms against 0.118 ms for 16 KiB on the bench machine:
//! `bench/experiments/fsync-shapes`, `bench/results/2026-11-24-fsync-overwrite.txt`).
//! Spares take at most `MAX_SPARES` segments' worth of disk.
//!
//! The file format (a header, then records checked by sequence and CRC) is in
//! `segment.rs`. Reading the log judges nothing: `open.rs` checks that the segments
//! continue each other and redb, and decides what a damaged one means.

mod segment;

#[cfg(test)]
pub(crate) use segment::HEADER_BYTES;
pub(crate) use segment::{Damage, Segment};

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The log's directory, inside the data directory.
pub(crate) const WAL_DIR: &str = "wal";

const SPARE_PREFIX: &str = "spare-";
/// A segment being started: header written and synced under this name, then renamed.
const NEW_PREFIX: &str = "new-";
/// Retired segments kept for reuse; more are deleted.
const MAX_SPARES: usize = 4;

/// How an append failed. The difference matters: after a failed `write` nothing of the
/// record is durable (a part of it may be in the file, as a torn tail), but after a failed
/// `fdatasync` Linux may have dropped the pages and marked them clean, so what is on disk
/// is unknown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppendError {
    #[error("write: {0}")]
    Write(#[source] std::io::Error),
    #[error("fdatasync: {0}")]
    Sync(#[source] std::io::Error),
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub(crate) fn is_no_space(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    )
}

pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    sequence: u64,
    len: u64,
    /// Reused for each record so an append does not allocate.
    buffer: Vec<u8>,
}

pub(crate) fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}.log"))
}

/// The segments (sequence numbers, oldest first) and the spares in `dir`. Only files that
/// start like our segments count as spares: a foreign file named `spare-*` is never reused.
fn list(dir: &Path) -> std::io::Result<(Vec<u64>, Vec<PathBuf>)> {
    let mut segments = Vec::new();
    let mut spares = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|name| name.strip_suffix(".log")) else {
            continue;
        };
        if stem.starts_with(SPARE_PREFIX) {
            if segment::is_ours(&entry.path()) {
                spares.push(entry.path());
            }
        } else if let Ok(sequence) = stem.parse::<u64>() {
            segments.push(sequence);
        }
    }
    segments.sort_unstable();
    Ok((segments, spares))
}

/// Development builds before segments kept one `wal.log`, emptied at every checkpoint and
/// at a clean stop. An empty one is removed; one with records (that build was killed) is
/// refused rather than ignored, since it may hold acknowledged writes.
fn refuse_single_file_log(data_dir: &Path) -> std::io::Result<()> {
    let path = data_dir.join("wal.log");
    match std::fs::metadata(&path) {
        Ok(meta) if meta.len() == 0 => std::fs::remove_file(&path),
        Ok(_) => Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} is a log from an older ctx build that was not stopped cleanly; start that \
                 build once and stop it to checkpoint it, or delete the file to discard its writes",
                path.display()
            ),
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes a new or renamed directory entry durable: without it, a crash could lose a new
/// segment (and the acknowledged writes in it) even though its contents were synced.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Starts segment `sequence`, in a spare when there is one. The header is written and
/// synced under a temporary name first, so a segment file never lacks it.
fn start_segment(dir: &Path, sequence: u64, start_revision: u64) -> std::io::Result<File> {
    let temporary = dir.join(format!("{NEW_PREFIX}{sequence}.log"));
    if let Some(spare) = list(dir)?.1.pop() {
        std::fs::rename(spare, &temporary)?;
    }
    // Not truncated: a spare's old records are overwritten in place and the rest is
    // never read (it carries another sequence).
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&temporary)?;
    file.write_all(&segment::header(sequence, start_revision))?;
    file.sync_data()?;
    std::fs::rename(&temporary, segment_path(dir, sequence))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Every segment in `data_dir`'s log, oldest first, read but not judged: whether they
/// continue each other and redb is for the caller (`open.rs`) to decide. `legacy` reads
/// segments without header (a data directory from a build before them). Writes nothing,
/// except removing a segment start that a crash interrupted before its rename.
pub(crate) fn read_all(data_dir: &Path, legacy: bool) -> std::io::Result<Vec<Segment>> {
    refuse_single_file_log(data_dir)?;
    let dir = data_dir.join(WAL_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(NEW_PREFIX) {
            std::fs::remove_file(entry.path())?;
        }
    }
    list(&dir)?
        .0
        .into_iter()
        .map(|sequence| Segment::read(&segment_path(&dir, sequence), sequence, legacy))
        .collect()
}

impl Wal {
    /// Starts writing segment `sequence` in `data_dir`'s log; its first change will have
    /// revision `start_revision`.
    pub fn start(data_dir: &Path, sequence: u64, start_revision: u64) -> std::io::Result<Wal> {
        let dir = data_dir.join(WAL_DIR);
        std::fs::create_dir_all(&dir)?;
        let file = start_segment(&dir, sequence, start_revision)?;
        Ok(Wal {
            dir,
            file,
            sequence,
            len: segment::HEADER_BYTES as u64,
            buffer: Vec::new(),
        })
    }

    /// Appends one record and returns once it is on disk.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), AppendError> {
        let len = u32::try_from(payload.len()).map_err(|_| {
            AppendError::Write(std::io::Error::new(
                ErrorKind::InvalidInput,
                "log record over 4 GiB",
            ))
        })?;
        self.buffer.clear();
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer
            .extend_from_slice(&segment::checksum(self.sequence, payload).to_le_bytes());
        self.buffer.extend_from_slice(&self.sequence.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        self.file
            .write_all(&self.buffer)
            .map_err(AppendError::Write)?;
        self.file.sync_data().map_err(AppendError::Sync)?;
        self.len += self.buffer.len() as u64;
        Ok(())
    }

    /// Bytes written to the current segment.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The current segment's sequence number.
    #[cfg(test)]
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Closes the current segment and starts the next, whose first change will have
    /// revision `start_revision`; returns the closed one's sequence. Everything appended
    /// so far is in segments up to and including it.
    pub fn rotate(&mut self, start_revision: u64) -> std::io::Result<u64> {
        let next = self.sequence + 1;
        self.file = start_segment(&self.dir, next, start_revision)?;
        self.len = segment::HEADER_BYTES as u64;
        Ok(std::mem::replace(&mut self.sequence, next))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Retires the segments in `dir` up to and including `sequence` (kept as spares, or
/// deleted); call only once everything in them is durable elsewhere. A retirement lost
/// in a crash costs only a replay of records that are then skipped.
pub(crate) fn retire_through(dir: &Path, sequence: u64) -> std::io::Result<()> {
    let (segments, spares) = list(dir)?;
    let mut spares = spares.len();
    for old in segments.into_iter().take_while(|&s| s <= sequence) {
        let path = segment_path(dir, old);
        if spares < MAX_SPARES && segment::is_ours(&path) {
            std::fs::rename(path, dir.join(format!("{SPARE_PREFIX}{old}.log")))?;
            spares += 1;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
