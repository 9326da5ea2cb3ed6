use super::*;

fn payloads(dir: &Path) -> Vec<Vec<u8>> {
    let segments = read_all(dir, false).unwrap();
    assert!(segments.iter().all(|s| s.damage.is_none()));
    segments.into_iter().flat_map(|s| s.records).collect()
}

#[test]
fn records_survive_reopen_and_a_torn_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = {
        let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
        wal.append(b"first").unwrap();
        wal.append(b"second group").unwrap();
        segment_path(wal.dir(), wal.sequence())
    };
    // A crash in the middle of a third append: a header promising more than is there.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&100u32.to_le_bytes()).unwrap();
    file.write_all(b"\x01\x02\x03\x04partial").unwrap();
    drop(file);
    assert_eq!(
        payloads(dir.path()),
        vec![b"first".to_vec(), b"second group".to_vec()]
    );
    let segments = read_all(dir.path(), false).unwrap();
    assert_eq!(segments[0].start_revision, Some(1));
}

#[test]
fn a_bad_record_followed_by_good_ones_is_damage_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = {
        let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
        wal.append(b"good").unwrap();
        wal.append(b"flipped").unwrap();
        wal.append(b"after").unwrap();
        segment_path(wal.dir(), wal.sequence())
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let good_end = segment::HEADER_BYTES + 16 + 4;
    bytes[good_end + 16 + 2] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let segments = read_all(dir.path(), false).unwrap();
    assert_eq!(segments[0].records, vec![b"good".to_vec()]);
    match &segments[0].damage {
        Some(Damage::BadRecord { offset, after }) => {
            assert_eq!(*offset, good_end);
            assert_eq!(after, &vec![b"after".to_vec()]);
        }
        other => panic!("expected a bad record, got {other:?}"),
    }

    // The same flip in the last record is a torn tail: nothing valid follows it.
    let last = bytes.len() - 1;
    bytes[good_end + 16 + 2] ^= 0x10;
    bytes[last] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(payloads(dir.path()).len(), 2);
}

#[test]
fn a_segment_without_its_header_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    drop(Wal::start(dir.path(), 7, 1).unwrap());
    let path = segment_path(&dir.path().join(WAL_DIR), 7);
    std::fs::write(&path, b"").unwrap();
    let segments = read_all(dir.path(), false).unwrap();
    assert!(matches!(segments[0].damage, Some(Damage::NoHeader)));
    // A build before headers wrote records from the first byte.
    assert!(read_all(dir.path(), true).unwrap()[0].damage.is_none());
}

#[test]
fn rotation_keeps_order_and_retiring_drops_only_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
    wal.append(b"a").unwrap();
    let closed = wal.rotate(2).unwrap();
    assert_eq!(wal.sequence(), closed + 1);
    wal.append(b"b").unwrap();
    let second = wal.rotate(3).unwrap();
    wal.append(b"c").unwrap();
    assert_eq!(
        payloads(dir.path()),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    let starts: Vec<_> = read_all(dir.path(), false)
        .unwrap()
        .iter()
        .map(|s| s.start_revision)
        .collect();
    assert_eq!(starts, vec![Some(1), Some(2), Some(3)]);

    retire_through(wal.dir(), closed).unwrap();
    assert_eq!(payloads(dir.path()), vec![b"b".to_vec(), b"c".to_vec()]);
    retire_through(wal.dir(), second).unwrap();
    wal.append(b"d").unwrap();
    assert_eq!(payloads(dir.path()), vec![b"c".to_vec(), b"d".to_vec()]);
    assert!(list(wal.dir()).unwrap().0.iter().all(|&s| s > second));
}

#[test]
fn a_reused_segment_does_not_give_back_what_it_held_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
    wal.append(b"old1").unwrap();
    wal.append(b"old2").unwrap();
    let closed = wal.rotate(3).unwrap();
    retire_through(wal.dir(), closed).unwrap();
    assert_eq!(list(wal.dir()).unwrap().1.len(), 1, "kept as a spare");

    wal.rotate(3).unwrap();
    assert!(
        list(wal.dir()).unwrap().1.is_empty(),
        "the spare was reused"
    );
    // Same length as "old1": the next header in the file is old2's, intact.
    wal.append(b"new1").unwrap();
    assert_eq!(payloads(dir.path()), vec![b"new1".to_vec()]);
}

#[test]
fn a_foreign_file_is_never_taken_as_a_spare() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
    let foreign = wal.dir().join("spare-9.log");
    std::fs::write(&foreign, b"someone else's notes").unwrap();
    wal.rotate(1).unwrap();
    retire_through(wal.dir(), 1).unwrap();
    wal.rotate(1).unwrap();
    assert_eq!(std::fs::read(&foreign).unwrap(), b"someone else's notes");
}

#[test]
fn spares_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::start(dir.path(), 1, 1).unwrap();
    for _ in 0..MAX_SPARES + 3 {
        wal.append(b"x").unwrap();
        wal.rotate(1).unwrap();
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
    read_all(dir.path(), false).unwrap();
    assert!(!old.exists());

    std::fs::write(&old, b"\x05\0\0\0records").unwrap();
    let error = read_all(dir.path(), false).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidData);
    assert!(error.to_string().contains("older ctx build"), "{error}");
    assert!(old.exists(), "nothing is discarded");
}
