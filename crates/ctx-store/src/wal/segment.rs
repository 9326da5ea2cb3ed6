//! One segment file's bytes: its header, its records, and how reading them ended.
//!
//! Header (28 bytes): `MAGIC`, `sequence: u64 LE`, `start_revision: u64 LE`,
//! `crc32(the 24 bytes before): u32 LE`. It is written and synced under a temporary name
//! before the file is renamed into place, so a file named like a segment always has one:
//! a segment without it was truncated, or is not ours. `start_revision` is the revision the
//! segment's first change has (or will have), which lets the open check that segments
//! continue each other even across empty ones.
//!
//! Record: `len: u32 LE`, `crc32(sequence, payload): u32 LE`, `sequence: u64 LE`,
//! `payload`. The first record that is short, carries another sequence (what a reused
//! spare held before) or fails its checksum ends the segment. If a valid record of this
//! segment follows it, the bad one was not a torn tail but damage in the middle.

use std::path::{Path, PathBuf};

pub(super) const MAGIC: [u8; 8] = *b"ctx-log1";
pub(crate) const HEADER_BYTES: usize = 28;
const RECORD_HEADER: usize = 16;

pub(super) fn checksum(sequence: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&sequence.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

pub(super) fn header(sequence: u64, start_revision: u64) -> [u8; HEADER_BYTES] {
    let mut bytes = [0u8; HEADER_BYTES];
    bytes[..8].copy_from_slice(&MAGIC);
    bytes[8..16].copy_from_slice(&sequence.to_le_bytes());
    bytes[16..24].copy_from_slice(&start_revision.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..24]);
    bytes[24..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// The start revision in a valid header for segment `sequence`.
fn parse_header(bytes: &[u8], sequence: u64) -> Option<u64> {
    let header = bytes.get(..HEADER_BYTES)?;
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
    let crc = u32::from_le_bytes(header[24..].try_into().unwrap_or([0; 4]));
    (header[..8] == MAGIC && word(8) == sequence && crc32fast::hash(&header[..24]) == crc)
        .then(|| word(16))
}

/// The payload of a valid record of segment `sequence` at `offset`, and where the next
/// record starts.
fn record_at(bytes: &[u8], offset: usize, sequence: u64) -> Option<(&[u8], usize)> {
    let header = bytes.get(offset..offset.checked_add(RECORD_HEADER)?)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if u64::from_le_bytes(header[8..16].try_into().ok()?) != sequence {
        return None;
    }
    let start = offset + RECORD_HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (checksum(sequence, payload) == crc).then_some((payload, start + len))
}

/// Valid records of `sequence` from `offset` on, in a row.
fn records_from(bytes: &[u8], mut offset: usize, sequence: u64) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    while let Some((payload, next)) = record_at(bytes, offset, sequence) {
        records.push(payload.to_vec());
        offset = next;
    }
    (records, offset)
}

/// What is wrong with a segment file.
#[derive(Debug)]
pub(crate) enum Damage {
    /// No valid header: truncated below it, or a file that is not a ctx log segment.
    NoHeader,
    /// A bad record at `offset` with valid records of this segment after it (kept in
    /// `after`, so a recovery can tell how far the lost changes went).
    BadRecord { offset: usize, after: Vec<Vec<u8>> },
}

pub(crate) struct Segment {
    pub sequence: u64,
    pub path: PathBuf,
    /// From the header; `None` for a segment written before headers existed (only read
    /// when adopting a data directory from such a build).
    pub start_revision: Option<u64>,
    /// The payloads of the good records, up to the first bad one.
    pub records: Vec<Vec<u8>>,
    pub damage: Option<Damage>,
}

impl Segment {
    /// Reads segment `sequence` from `path`; `legacy` accepts a file without header.
    pub fn read(path: &Path, sequence: u64, legacy: bool) -> std::io::Result<Segment> {
        let bytes = std::fs::read(path)?;
        let mut segment = Segment {
            sequence,
            path: path.to_owned(),
            start_revision: None,
            records: Vec::new(),
            damage: None,
        };
        let body = match parse_header(&bytes, sequence) {
            Some(start) => {
                segment.start_revision = Some(start);
                HEADER_BYTES
            }
            None if legacy => 0,
            None => {
                segment.damage = Some(Damage::NoHeader);
                return Ok(segment);
            }
        };
        let (records, end) = records_from(&bytes, body, sequence);
        segment.records = records;
        // A torn tail is the last thing in the segment; a valid record of this segment
        // anywhere after the bad one means the bad one is damage. Only this segment's
        // sequence counts, so a reused spare's old records never look like one.
        let sequence_bytes = sequence.to_le_bytes();
        let resumes = (end + 1..bytes.len().saturating_sub(RECORD_HEADER - 1)).find(|&at| {
            bytes[at + 8..at + 16] == sequence_bytes && record_at(&bytes, at, sequence).is_some()
        });
        if let Some(at) = resumes {
            let (after, _) = records_from(&bytes, at, sequence);
            segment.damage = Some(Damage::BadRecord { offset: end, after });
        }
        Ok(segment)
    }
}

/// Whether the file at `path` starts like one of our segments (a spare we may reuse).
pub(super) fn is_ours(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| magic == MAGIC)
}
