//! Completeness checking for one subscriber: which writes arrived, and
//! whether any arrived twice or out of revision order.

use crate::model::Tally;

/// A set of write sequence numbers (a bitmap: `planned / 8` bytes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeqSet {
    words: Vec<u64>,
    count: u64,
}

impl SeqSet {
    /// Adds `seq`; true when it was not there yet.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.count += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.words
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many members `self` and `other` share.
    pub fn common(&self, other: &SeqSet) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a & b).count_ones()))
            .sum()
    }
}

impl FromIterator<u64> for SeqSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut s = SeqSet::default();
        for seq in iter {
            s.insert(seq);
        }
        s
    }
}

/// How one event arrived, relative to those before it on the same connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// First delivery of this write, after every revision seen so far.
    InOrder,
    /// First delivery of this write, but its revision is not above one seen before.
    OutOfOrder,
    /// This write was delivered before.
    Duplicate,
}

/// One subscriber's completeness checker: fed each event's write sequence
/// number and revision in arrival order, it detects duplicates and revision
/// reordering as they happen, and gaps (missing writes) against the expected
/// set at the end.
#[derive(Clone, Debug, Default)]
pub struct DeliveryTracker {
    seen: SeqSet,
    highest_revision: Option<u64>,
    duplicates: u64,
    out_of_order: u64,
}

impl DeliveryTracker {
    pub fn observe(&mut self, seq: u64, revision: u64) -> Arrival {
        if !self.seen.insert(seq) {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        match self.highest_revision {
            Some(h) if revision <= h => {
                self.out_of_order += 1;
                Arrival::OutOfOrder
            }
            _ => {
                self.highest_revision = Some(revision);
                Arrival::InOrder
            }
        }
    }

    /// Writes delivered so far, duplicates not counted.
    pub fn seen(&self) -> &SeqSet {
        &self.seen
    }

    pub fn tally(&self, expected: &SeqSet) -> Tally {
        let delivered = self.seen.common(expected);
        Tally {
            delivered,
            missing: expected.len() - delivered,
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            unconfirmed: self.seen.len() - delivered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_set() {
        let mut s = SeqSet::default();
        assert!(s.insert(3) && s.insert(200) && !s.insert(3));
        assert_eq!(s.len(), 2);
        assert!(s.contains(200) && !s.contains(199) && !s.contains(100_000));
        let t: SeqSet = [3, 4, 200].into_iter().collect();
        assert_eq!(s.common(&t), 2);
        assert_eq!(t.common(&s), 2);
    }
}
