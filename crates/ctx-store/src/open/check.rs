//! Whether the log continues redb exactly: the checks listed in `mod.rs`.

use crate::disk::{self, DATA_FILE};
use crate::leases::LeaseEvent;
use crate::state::Change;
use crate::wal::{self, Damage, Segment};
use std::sync::Arc;

/// What the log holds, judged against redb.
pub(super) struct LogCheck {
    /// Changes up to the first damage, in order.
    pub intact: Vec<Arc<Change>>,
    /// The lease events of the same records, in order.
    pub intact_leases: Vec<LeaseEvent>,
    /// The highest revision seen anywhere in the log, damaged parts included.
    pub highest: u64,
    pub problems: Vec<String>,
    /// The log's first revision, when changes between redb and it are missing.
    pub gap_before: Option<u64>,
}

pub(super) fn check_log(segments: &[Segment], redb_revision: u64, next_segment: u64) -> LogCheck {
    let mut walk = LogWalk::default();
    if next_segment > 0 && segments.last().is_none_or(|s| s.sequence < next_segment) {
        walk.damage(format!(
            "{}/{next_segment:020}.log is missing: the last checkpoint wrote that the log continues in it",
            wal::WAL_DIR
        ));
        // Nothing after it is lost from what is here: keep replaying.
        walk.intact = true;
    }
    let mut previous: Option<&Segment> = None;
    for segment in segments {
        if let Some(before) = previous
            && segment.sequence != before.sequence + 1
        {
            walk.damage(format!(
                "log segments {}..={} are missing (between {} and {})",
                before.sequence + 1,
                segment.sequence - 1,
                name(before),
                name(segment)
            ));
        }
        previous = Some(segment);
        if let Some(Damage::NoHeader) = segment.damage {
            walk.damage(format!(
                "{} has no valid header: it was truncated, or is not a ctx log segment",
                name(segment)
            ));
            continue;
        }
        if let (Some(start), Some(next)) = (segment.start_revision, walk.expected)
            && start != next
        {
            walk.damage(format!(
                "{} starts at revision {start} but the log before it ends at revision {}",
                name(segment),
                next - 1
            ));
        }
        walk.expected = walk.expected.or(segment.start_revision);
        walk.start = walk.start.or(segment.start_revision);
        for payload in &segment.records {
            walk.take(segment, payload);
        }
        if let Some(Damage::BadRecord { offset, after }) = &segment.damage {
            walk.damage(format!(
                "{} has a damaged record at byte {offset} with {} valid records after it",
                name(segment),
                after.len()
            ));
            for payload in after {
                walk.take(segment, payload);
            }
        }
    }
    if let Some(start) = walk.start
        && start > redb_revision + 1
    {
        walk.check.gap_before = Some(start);
        walk.check.problems.push(format!(
            "{DATA_FILE} ends at revision {redb_revision} but the log starts at {start}: changes {}..={} are lost",
            redb_revision + 1,
            start - 1
        ));
    }
    if let Some(next) = walk.expected
        && walk.intact
        && next <= redb_revision
    {
        walk.check.problems.push(format!(
            "the log ends at revision {} but {DATA_FILE} holds revision {redb_revision}: the log lost its end",
            next - 1
        ));
    }
    walk.check
}

fn name(segment: &Segment) -> String {
    format!("{}/{:020}.log", wal::WAL_DIR, segment.sequence)
}

/// The state of [`check_log`]'s walk through the segments.
struct LogWalk {
    check: LogCheck,
    /// The revision the log must hold next, once known.
    expected: Option<u64>,
    /// The first revision the log covers.
    start: Option<u64>,
    /// No damage yet: changes still count as intact.
    intact: bool,
}

impl Default for LogWalk {
    fn default() -> Self {
        LogWalk {
            check: LogCheck {
                intact: Vec::new(),
                intact_leases: Vec::new(),
                highest: 0,
                problems: Vec::new(),
                gap_before: None,
            },
            expected: None,
            start: None,
            intact: true,
        }
    }
}

impl LogWalk {
    /// Records damage; only the first of a run is reported, everything after it is
    /// no longer intact.
    fn damage(&mut self, problem: String) {
        if self.intact {
            self.check.problems.push(problem);
        }
        self.intact = false;
    }

    fn take(&mut self, segment: &Segment, payload: &[u8]) {
        let (changes, leases) = match disk::decode_group(payload) {
            Ok(group) => group,
            Err(e) => {
                self.damage(format!("a record in {} cannot be read: {e}", name(segment)));
                return;
            }
        };
        for change in changes {
            self.check.highest = self.check.highest.max(change.revision);
            if let Some(next) = self.expected
                && change.revision != next
            {
                self.damage(format!(
                    "{} holds revision {} where the log should continue at {next}",
                    name(segment),
                    change.revision
                ));
            }
            self.start = self.start.or(Some(change.revision));
            self.expected = Some(change.revision + 1);
            if self.intact {
                self.check.intact.push(change);
            }
        }
        if self.intact {
            self.check.intact_leases.extend(leases);
        }
    }
}
