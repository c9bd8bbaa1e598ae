//! Unit tests of [`Channel`](super::Channel).

use super::*;

fn data(dir: Dir, len: usize, tag: u8) -> Vec<u8> {
    let mut p = vec![0xa0 | dir.dir8()];
    p.resize(len, tag);
    p
}

fn pop(ch: &mut Channel) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    ch.pop_into(&mut out).map(|_| out)
}

#[test]
fn teps_carry_dir_only_in_itc_files() {
    let mut all = Channel::new(Carries::Mfm, None, 0, 64);
    all.push_event(TepEvent::Connect, Dir::ET);
    assert_eq!(pop(&mut all).unwrap(), [0xc4, 0x01, 2]);
    let mut one = Channel::new(Carries::Mfm, Some(Dir::ET), 0, 64);
    one.push_event(TepEvent::Disconnect, Dir::ET);
    assert_eq!(pop(&mut one).unwrap(), [0xc4, 0x02]);
}

#[test]
fn the_bound_counts_one_byte_more_per_packet() {
    // Four 255-byte packets cost 4 * 256: exactly a 1024-byte bound.
    let mut ch = Channel::new(Carries::Svc(41), None, 0, 1024);
    assert!(
        ch.push_event(TepEvent::Connect, Dir::WT),
        "from the reserve"
    );
    for i in 0..4 {
        assert!(ch.push_data(Dir::WT, &data(Dir::WT, 255, i)));
    }
    assert!(!ch.push_data(Dir::WT, &data(Dir::WT, 1, 9)), "full");
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x01, 6]);
    assert_eq!(pop(&mut ch).unwrap()[1], 0);
    // One packet read: one packet's room, and the loss is told first.
    assert!(ch.push_data(Dir::WT, &data(Dir::WT, 200, 5)));
    for i in 1..4 {
        assert_eq!(pop(&mut ch).unwrap()[1], i);
    }
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x04, 6, 1, 0, 0, 0]);
    assert_eq!(pop(&mut ch).unwrap(), data(Dir::WT, 200, 5));
    assert!(pop(&mut ch).is_none());
}

#[test]
fn packets_lost_comes_before_the_next_packet_of_its_direction_only() {
    let mut ch = Channel::new(Carries::Mfm, Some(Dir::SE), 0, 300);
    ch.push_event(TepEvent::Connect, Dir::SE);
    assert!(ch.push_data(Dir::SE, &data(Dir::SE, 255, 1)));
    for _ in 0..300 {
        assert!(!ch.push_data(Dir::SE, &data(Dir::SE, 100, 2)));
    }
    // A Disconnect and Connect later the count still stands.
    assert!(ch.push_event(TepEvent::Disconnect, Dir::SE));
    assert!(ch.push_event(TepEvent::Connect, Dir::SE));
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x01]);
    assert_eq!(pop(&mut ch).unwrap().len(), 255);
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x02]);
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x01]);
    assert!(pop(&mut ch).is_none(), "told only with the next packet");
    assert!(ch.push_data(Dir::SE, &data(Dir::SE, 3, 3)));
    // In tile/<D> files too it names its direction: 300 = 0x012c.
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x04, 3, 0x2c, 0x01, 0, 0]);
    assert_eq!(pop(&mut ch).unwrap(), data(Dir::SE, 3, 3));
    assert!(ch.push_data(Dir::SE, &data(Dir::SE, 3, 4)));
    assert_eq!(pop(&mut ch).unwrap(), data(Dir::SE, 3, 4), "owed nothing");
}

#[test]
fn a_busy_direction_gets_its_share_and_the_others_still_get_in() {
    let mut ch = Channel::new(Carries::Mfm, None, 0, 16 * 1024);
    for d in [Dir::ET, Dir::WT, Dir::NW, Dir::NE] {
        ch.push_event(TepEvent::Connect, d);
    }
    // ET floods: it stops at a quarter of the bound.
    let mut taken = 0;
    while ch.push_data(Dir::ET, &data(Dir::ET, 255, 1)) {
        taken += 1;
    }
    assert_eq!(taken, 16, "16 * 256 = 4 KiB, a quarter");
    for _ in 0..9 {
        assert!(!ch.push_data(Dir::ET, &data(Dir::ET, 255, 1)));
    }
    // The others are not starved.
    for d in [Dir::WT, Dir::NW, Dir::NE] {
        assert!(ch.push_data(d, &data(d, 255, 2)), "{d}");
    }
    // ET's neighbour WT leaves: the shares grow to a third.
    ch.push_event(TepEvent::Disconnect, Dir::WT);
    let mut more = 0;
    while ch.push_data(Dir::ET, &data(Dir::ET, 255, 3)) {
        more += 1;
    }
    assert_eq!(more, 21 - 16, "16 KiB / 3 = 21 packets");
    let mut got = Vec::new();
    while let Some(p) = pop(&mut ch) {
        got.push(p);
    }
    let markers: Vec<&Vec<u8>> = got.iter().filter(|p| p[1] == 0x04).collect();
    assert_eq!(markers, [&vec![0xc4, 0x04, 2, 10, 0, 0, 0]], "10 from ET");
    let marker_at = got.iter().position(|p| p[1] == 0x04).unwrap();
    assert_eq!(
        got[marker_at + 1],
        data(Dir::ET, 255, 3),
        "just before ET's next"
    );
}

#[test]
fn any_bound_up_to_usize_max_works() {
    for carries in [Carries::Mfm, Carries::Svc(9)] {
        let mut ch = Channel::new(carries, None, 0, usize::MAX);
        assert!(ch.push_event(TepEvent::Connect, Dir::ET));
        assert!(ch.push_data(Dir::ET, &data(Dir::ET, 255, 1)));
        assert!(ch.push_event(TepEvent::Disconnect, Dir::ET));
        assert!(pop(&mut ch).is_some());
    }
}

#[test]
fn a_zero_bound_takes_no_data_but_teps_and_their_loss() {
    let mut ch = Channel::new(Carries::Mfm, None, 0, 0);
    assert!(ch.push_event(TepEvent::Connect, Dir::ET));
    assert!(!ch.push_data(Dir::ET, &data(Dir::ET, 1, 1)));
    // The reserve: 1024 bytes of 4-byte TEPs, then the rest is lost.
    let mut n = 1;
    while ch.push_event(TepEvent::Disconnect, Dir::ET) {
        n += 1;
    }
    assert_eq!(n, 256);
    assert!(!ch.push_event(TepEvent::Connect, Dir::ET));
    assert_eq!(ch.queued(), 256);
    pop(&mut ch);
    // Room for the marker now, and it comes after what was queued.
    let mut last = Vec::new();
    while let Some(p) = pop(&mut ch) {
        last = p;
    }
    assert_eq!(last, [0xc4, 0x03]);
    assert!(ch.push_event(TepEvent::Connect, Dir::ET));
}

#[test]
fn packet_files_keep_teps_behind_full_data() {
    let mut ch = Channel::new(Carries::Mfm, Some(Dir::WT), 0, 101);
    assert!(ch.push_data(Dir::WT, &data(Dir::WT, 100, 1)));
    assert!(
        !ch.push_data(Dir::WT, &data(Dir::WT, 1, 2)),
        "data is bounded"
    );
    assert!(
        ch.push_event(TepEvent::Disconnect, Dir::WT),
        "a TEP still fits"
    );
    assert_eq!(pop(&mut ch).unwrap().len(), 100);
    assert_eq!(pop(&mut ch).unwrap(), [0xc4, 0x02]);
}

#[test]
fn memory_stays_within_the_bound_and_the_reserve() {
    let limit = 16 * 1024;
    let mut ch = Channel::new(Carries::Mfm, Some(Dir::ET), 0, limit);
    ch.push_event(TepEvent::Connect, Dir::ET);
    while ch.push_data(Dir::ET, &data(Dir::ET, 1, 0)) {}
    while ch.push_event(TepEvent::Connect, Dir::ET) {}
    assert_eq!(ch.queued(), 1 + limit / 2 + (TEP_RESERVE - 3) / 3);
    assert!(ch.memory() <= limit + TEP_RESERVE, "{}", ch.memory());
    while pop(&mut ch).is_some() {}
    assert!(ch.memory() <= crate::ring::KEEP, "given back once read");
}
