//! Unit tests of [`EventLog`](super::EventLog) and
//! [`EventsReader`](super::EventsReader).

use super::*;

fn read(r: &mut EventsReader, log: &EventLog) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.pop_into(log, &mut out).map(|_| out)
}

fn append(log: &mut EventLog, readers: &mut [&mut EventsReader], connected: bool, dir: Dir) {
    for r in readers.iter_mut() {
        r.on_append(dir, log);
    }
    log.append(connected, dir);
}

#[test]
fn a_reader_starts_with_a_snapshot_then_reads_changes_in_its_format() {
    let mut log = EventLog::new(100);
    let present = |d: Dir| d == Dir::NE || d == Dir::SE;
    let mut all = EventsReader::new(None, &log, present);
    let mut ne = EventsReader::new(Some(Dir::NE), &log, present);
    let mut wt = EventsReader::new(Some(Dir::WT), &log, present);
    assert!(!wt.readable(&log));
    append(&mut log, &mut [&mut all, &mut ne, &mut wt], false, Dir::NE);
    append(&mut log, &mut [&mut all, &mut ne, &mut wt], true, Dir::WT);
    // Snapshot in the order of Dir::ALL (SE before NE), then the changes.
    assert_eq!(read(&mut all, &log).unwrap(), [0xc4, 0x01, 3]);
    assert_eq!(read(&mut all, &log).unwrap(), [0xc4, 0x01, 1]);
    assert_eq!(read(&mut all, &log).unwrap(), [0xc4, 0x02, 1]);
    assert_eq!(read(&mut all, &log).unwrap(), [0xc4, 0x01, 6]);
    assert_eq!(read(&mut all, &log), None);
    assert_eq!(read(&mut ne, &log).unwrap(), [0xc4, 0x01]);
    assert_eq!(read(&mut ne, &log).unwrap(), [0xc4, 0x02]);
    assert!(!ne.readable(&log));
    assert_eq!(wt.next_len(&log), Some(2));
    assert_eq!(read(&mut wt, &log).unwrap(), [0xc4, 0x01]);
    assert_eq!(read(&mut wt, &log), None);
}

#[test]
fn a_reader_that_falls_out_of_the_log_reads_events_lost_then_new_events() {
    let mut log = EventLog::new(3);
    let mut slow = EventsReader::new(None, &log, |_| true);
    for _ in 0..5 {
        append(&mut log, &mut [&mut slow], false, Dir::ET);
    }
    assert_eq!(log.len(), 3, "bounded");
    // The snapshot first, then one marker for everything it missed.
    for _ in 0..6 {
        assert_eq!(read(&mut slow, &log).unwrap()[1], 0x01);
    }
    assert_eq!(read(&mut slow, &log).unwrap(), [0xc4, 0x03]);
    assert_eq!(read(&mut slow, &log), None);
    append(&mut log, &mut [&mut slow], true, Dir::SW);
    assert_eq!(read(&mut slow, &log).unwrap(), [0xc4, 0x01, 5]);
}

#[test]
fn a_log_of_capacity_zero_still_reports_lost_events() {
    let mut log = EventLog::new(0);
    let mut r = EventsReader::new(None, &log, |_| false);
    append(&mut log, &mut [&mut r], true, Dir::ET);
    append(&mut log, &mut [&mut r], true, Dir::SE);
    assert_eq!(read(&mut r, &log).unwrap(), [0xc4, 0x03]);
    assert_eq!(read(&mut r, &log), None);
}

#[test]
fn a_scoped_reader_loses_only_when_its_own_events_go() {
    let mut log = EventLog::new(3);
    let mut et = EventsReader::new(Some(Dir::ET), &log, |_| false);
    // Changes elsewhere never hold the log back or cost this reader.
    for _ in 0..10 {
        append(&mut log, &mut [&mut et], true, Dir::SE);
        log.forget_before(et.needs_from(&log).unwrap_or(log.head()));
    }
    assert!(log.is_empty(), "nobody needs them");
    append(&mut log, &mut [&mut et], true, Dir::ET);
    for _ in 0..2 {
        append(&mut log, &mut [&mut et], true, Dir::SE);
    }
    assert_eq!(read(&mut et, &log).unwrap(), [0xc4, 0x01]);
    assert_eq!(read(&mut et, &log), None);
    // Its own event pushed out by others: now it has lost one.
    append(&mut log, &mut [&mut et], false, Dir::ET);
    for _ in 0..3 {
        append(&mut log, &mut [&mut et], true, Dir::SE);
    }
    assert_eq!(read(&mut et, &log).unwrap(), [0xc4, 0x03]);
    assert_eq!(read(&mut et, &log), None);
}

#[test]
fn the_log_keeps_only_what_a_reader_still_needs_and_frees_the_rest() {
    let mut log = EventLog::new(100_000);
    let mut r = EventsReader::new(None, &log, |_| false);
    for i in 0..50_000 {
        append(&mut log, &mut [&mut r], i % 2 == 0, Dir::WT);
    }
    assert_eq!(log.len(), 50_000);
    assert!(
        log.memory() < 2 * 50_000,
        "one byte per event: {}",
        log.memory()
    );
    for _ in 0..50_000 {
        read(&mut r, &log).unwrap();
    }
    log.forget_before(r.needs_from(&log).unwrap());
    assert!(log.is_empty());
    assert_eq!(log.memory(), 0, "given back");
}
