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
//! Record: `len: u32 LE`, `crc32(sequence, payload): u32 LE`, `sequence: u64 LE`,
//! `payload` (postcard). The segment's sequence in every record is what tells a record
//! from what a reused file held before: the first record that is short, carries another
//! sequence or fails its checksum ends the segment. A record cut short by a crash was
//! never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The log's directory, inside the data directory.
pub(crate) const WAL_DIR: &str = "wal";

const SPARE_PREFIX: &str = "spare-";
/// Retired segments kept for reuse; more are deleted.
const MAX_SPARES: usize = 4;
const HEADER: usize = 16;

pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    sequence: u64,
    len: u64,
    /// Reused for each record so an append does not allocate.
    buffer: Vec<u8>,
}

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}.log"))
}

/// The segments (sequence numbers, oldest first) and the spares in `dir`.
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
            spares.push(entry.path());
        } else if let Ok(sequence) = stem.parse::<u64>() {
            segments.push(sequence);
        }
    }
    segments.sort_unstable();
    Ok((segments, spares))
}

fn checksum(sequence: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&sequence.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The payloads of the records written to segment `sequence`, in order.
fn read_segment(dir: &Path, sequence: u64) -> std::io::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(segment_path(dir, sequence))?;
    let mut records = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((header, tail)) = rest.split_first_chunk::<HEADER>() {
        let [l0, l1, l2, l3, c0, c1, c2, c3, seq @ ..] = *header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let Some(payload) = tail.get(..len) else {
            break;
        };
        if u64::from_le_bytes(seq) != sequence
            || checksum(sequence, payload) != u32::from_le_bytes([c0, c1, c2, c3])
        {
            break;
        }
        records.push(payload.to_vec());
        rest = &tail[len..];
    }
    Ok(records)
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

/// Starts segment `sequence`, in a spare when there is one.
fn start_segment(dir: &Path, sequence: u64) -> std::io::Result<File> {
    let path = segment_path(dir, sequence);
    if let Some(spare) = list(dir)?.1.pop() {
        std::fs::rename(spare, &path)?;
    }
    // Not truncated: a spare's old records are overwritten in place and the rest is
    // never read (it carries another sequence).
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    sync_dir(dir)?;
    Ok(file)
}

impl Wal {
    /// Opens the log in `data_dir` and returns it with the payloads of every record in
    /// its segments, oldest first. New records go to a fresh segment, so the old ones
    /// stay as they are until [`retire_through`] is told they are durable elsewhere (the
    /// caller does that once it has replayed them).
    pub fn open(data_dir: &Path) -> std::io::Result<(Wal, Vec<Vec<u8>>)> {
        refuse_single_file_log(data_dir)?;
        let dir = data_dir.join(WAL_DIR);
        std::fs::create_dir_all(&dir)?;
        let (existing, _) = list(&dir)?;
        let mut records = Vec::new();
        for &sequence in &existing {
            records.extend(read_segment(&dir, sequence)?);
        }
        let sequence = existing.last().map_or(1, |last| last + 1);
        let file = start_segment(&dir, sequence)?;
        let wal = Wal {
            dir,
            file,
            sequence,
            len: 0,
            buffer: Vec::new(),
        };
        Ok((wal, records))
    }

    /// Appends one record and returns once it is on disk.
    pub fn append(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(payload.len())
            .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "log record over 4 GiB"))?;
        self.buffer.clear();
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer
            .extend_from_slice(&checksum(self.sequence, payload).to_le_bytes());
        self.buffer.extend_from_slice(&self.sequence.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        self.file.write_all(&self.buffer)?;
        self.file.sync_data()?;
        self.len += self.buffer.len() as u64;
        Ok(())
    }

    /// Bytes written to the current segment.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The current segment's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Closes the current segment and starts the next; returns the closed one's sequence.
    /// Everything appended so far is in segments up to and including it.
    pub fn rotate(&mut self) -> std::io::Result<u64> {
        let next = self.sequence + 1;
        self.file = start_segment(&self.dir, next)?;
        self.len = 0;
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
        if spares < MAX_SPARES {
            std::fs::rename(path, dir.join(format!("{SPARE_PREFIX}{old}.log")))?;
            spares += 1;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(dir: &Path) -> Vec<Vec<u8>> {
        Wal::open(dir).unwrap().1
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first_segment = {
            let (mut wal, records) = Wal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            wal.append(b"first").unwrap();
            wal.append(b"second group").unwrap();
            segment_path(wal.dir(), wal.sequence())
        };
        // A crash in the middle of a third append: a header promising more than is there.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&first_segment)
            .unwrap();
        file.write_all(&100u32.to_le_bytes()).unwrap();
        file.write_all(b"\x01\x02\x03\x04partial").unwrap();
        drop(file);

        let (mut wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records, vec![b"first".to_vec(), b"second group".to_vec()]);
        // Later records go to a new segment and are read after the old one's good records.
        wal.append(b"third").unwrap();
        let records = reopen(dir.path());
        assert_eq!(records.len(), 3);
        assert_eq!(records[2], b"third");
    }

    #[test]
    fn a_corrupted_record_ends_its_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let (mut wal, _) = Wal::open(dir.path()).unwrap();
            wal.append(b"good").unwrap();
            wal.append(b"flipped").unwrap();
            segment_path(wal.dir(), wal.sequence())
        };
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(reopen(dir.path()), vec![b"good".to_vec()]);
    }

    #[test]
    fn rotation_keeps_order_and_retiring_drops_only_closed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.append(b"a").unwrap();
        let closed = wal.rotate().unwrap();
        assert_eq!(wal.sequence(), closed + 1);
        assert_eq!(wal.len(), 0);
        wal.append(b"b").unwrap();
        let second = wal.rotate().unwrap();
        wal.append(b"c").unwrap();
        assert_eq!(
            reopen(dir.path()),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );

        retire_through(wal.dir(), closed).unwrap();
        // Each reopen above started a segment after "c"; the order still holds.
        assert_eq!(reopen(dir.path()), vec![b"b".to_vec(), b"c".to_vec()]);
        retire_through(wal.dir(), second).unwrap();
        wal.append(b"d").unwrap();
        assert_eq!(reopen(dir.path()), vec![b"c".to_vec(), b"d".to_vec()]);
        assert!(list(wal.dir()).unwrap().0.iter().all(|&s| s > second));
    }

    #[test]
    fn a_reused_segment_does_not_give_back_what_it_held_before() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.append(b"old1").unwrap();
        wal.append(b"old2").unwrap();
        let closed = wal.rotate().unwrap();
        retire_through(wal.dir(), closed).unwrap();
        assert_eq!(list(wal.dir()).unwrap().1.len(), 1, "kept as a spare");

        wal.rotate().unwrap();
        assert!(
            list(wal.dir()).unwrap().1.is_empty(),
            "the spare was reused"
        );
        // Same length as "old1": the next header in the file is old2's, intact.
        wal.append(b"new1").unwrap();
        assert_eq!(reopen(dir.path()), vec![b"new1".to_vec()]);
    }

    #[test]
    fn spares_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        for _ in 0..MAX_SPARES + 3 {
            wal.append(b"x").unwrap();
            wal.rotate().unwrap();
        }
        retire_through(wal.dir(), wal.sequence() - 1).unwrap();
        let (segments, spares) = list(wal.dir()).unwrap();
        assert_eq!(segments, vec![wal.sequence()]);
        assert_eq!(spares.len(), MAX_SPARES);
    }

    #[test]
    fn an_old_single_file_log_is_removed_when_empty_and_refused_when_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("wal.log");
        std::fs::write(&old, b"").unwrap();
        Wal::open(dir.path()).unwrap();
        assert!(!old.exists());

        std::fs::write(&old, b"\x05\0\0\0records").unwrap();
        let error = Wal::open(dir.path()).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert!(error.to_string().contains("older ctx build"), "{error}");
        assert!(old.exists(), "nothing is discarded");
    }
}
