//! The ws_fanout completeness checker on synthetic event sequences: each
//! kind of fault (gap, duplicate, reorder) is detected and counted apart from
//! the others, and a clean sequence is clean.

use ctx_load::fanout::{Arrival, DeliveryTracker, SeqSet};
use ctx_load::model::Tally;

/// Feeds `(seq, revision)` events in arrival order; returns the arrivals and
/// the tally against writes `0..expected`.
fn check(events: &[(u64, u64)], expected: u64) -> (Vec<Arrival>, Tally) {
    let mut t = DeliveryTracker::default();
    let arrivals = events.iter().map(|&(s, r)| t.observe(s, r)).collect();
    (arrivals, t.tally(&(0..expected).collect::<SeqSet>()))
}

/// Five writes, revisions 101..=105 (seq i has revision 101 + i).
fn in_order() -> Vec<(u64, u64)> {
    (0..5).map(|i| (i, 101 + i)).collect()
}

#[test]
fn a_clean_sequence_is_clean() {
    let (arrivals, tally) = check(&in_order(), 5);
    assert!(arrivals.iter().all(|a| *a == Arrival::InOrder));
    assert_eq!(
        tally,
        Tally {
            delivered: 5,
            ..Tally::default()
        }
    );
    assert!(tally.is_clean());
}

#[test]
fn a_gap_is_counted_as_missing() {
    let mut events = in_order();
    events.remove(2);
    let (arrivals, tally) = check(&events, 5);
    // Skipping a revision is not a reordering: only the end tally sees it.
    assert!(arrivals.iter().all(|a| *a == Arrival::InOrder));
    assert_eq!((tally.delivered, tally.missing), (4, 1));
    assert_eq!((tally.duplicates, tally.out_of_order), (0, 0));
    assert!(!tally.is_clean());
    // The gap at the end (the last write never came) too.
    let (_, tally) = check(&in_order()[..4], 5);
    assert_eq!(tally.missing, 1);
}

#[test]
fn a_duplicate_is_counted_once_and_not_as_a_reorder() {
    let mut events = in_order();
    events.insert(3, (1, 102)); // write 1 again, after 2
    events.push((4, 105)); // and the last one again, straight after itself
    let (arrivals, tally) = check(&events, 5);
    assert_eq!(arrivals[3], Arrival::Duplicate);
    assert_eq!(arrivals[6], Arrival::Duplicate);
    assert_eq!(
        tally,
        Tally {
            delivered: 5,
            duplicates: 2,
            ..Tally::default()
        }
    );
    assert!(!tally.is_clean());
}

#[test]
fn a_reorder_is_counted_as_out_of_order() {
    let mut events = in_order();
    events.swap(1, 3); // revisions 101, 104, 103, 102, 105
    let (arrivals, tally) = check(&events, 5);
    assert_eq!(
        arrivals,
        [
            Arrival::InOrder,
            Arrival::InOrder,
            Arrival::OutOfOrder,
            Arrival::OutOfOrder,
            Arrival::InOrder
        ]
    );
    assert_eq!(
        tally,
        Tally {
            delivered: 5,
            out_of_order: 2,
            ..Tally::default()
        }
    );
    // The same revision twice for two different writes cannot be in order either.
    let (arrivals, _) = check(&[(0, 7), (1, 7)], 2);
    assert_eq!(arrivals[1], Arrival::OutOfOrder);
}

#[test]
fn faults_together_are_counted_apart() {
    // Write 2 lost, write 0 duplicated, writes 3 and 4 swapped.
    let events = [(0, 101), (1, 102), (0, 101), (4, 105), (3, 104)];
    let (_, tally) = check(&events, 5);
    assert_eq!(
        tally,
        Tally {
            delivered: 4,
            missing: 1,
            duplicates: 1,
            out_of_order: 1,
            unconfirmed: 0,
        }
    );
}

#[test]
fn events_of_unconfirmed_writes_are_neither_expected_nor_errors() {
    // Writes 0..3 got a 2xx; write 3 timed out but was committed anyway.
    let expected: SeqSet = (0..3).collect();
    let mut t = DeliveryTracker::default();
    for (s, r) in [(0, 1), (1, 2), (3, 3), (2, 4)] {
        t.observe(s, r);
    }
    let tally = t.tally(&expected);
    assert_eq!(
        tally,
        Tally {
            delivered: 3,
            unconfirmed: 1,
            ..Tally::default()
        }
    );
    assert!(tally.is_clean());
}
