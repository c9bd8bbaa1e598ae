//! Neighbours and traffic through a real grid: the library at both tiles
//! of a 1x2 `tile-sim` grid sees the Connects, moves packets both ways,
//! refuses what it cannot send with errors that name the file, and under
//! back-pressure on a slow link throttles the sender without losing a
//! packet.

mod common;

use common::{Grid, Peer, Seen, DEADLINE};
use itc_service::{Config, Dir, Error, MAX_PAYLOAD};
use test_support::wait_for;

#[test]
fn connects_are_seen_and_packets_flow_both_ways() {
    let grid = Grid::start("both-ways", &["--rate", "0"]);
    let a = Peer::start(Config::new(20).mount(grid.mount("r0c0"))).expect("open at r0c0");
    let b = Peer::start(Config::new(20).mount(grid.mount("r0c1"))).expect("open at r0c1");
    a.wait_seen(Seen::Connect(Dir::ET), 1);
    b.wait_seen(Seen::Connect(Dir::WT), 1);
    assert_eq!(
        a.call(|svc, _| svc.neighbours().collect::<Vec<_>>()),
        [Dir::ET]
    );

    a.call(|svc, _| svc.send(Dir::ET, b"hello"))
        .expect("send to ET");
    assert!(wait_for(DEADLINE, || b.packets(Dir::WT).len() == 1));
    assert_eq!(b.packets(Dir::WT)[0].0, b"hello");
    b.call(|svc, _| svc.send(Dir::WT, b"world"))
        .expect("send to WT");
    assert!(wait_for(DEADLINE, || a.packets(Dir::ET).len() == 1));
    assert_eq!(a.packets(Dir::ET)[0].0, b"world");

    // The largest payload goes through; one byte more is refused.
    let big = vec![0x5a; MAX_PAYLOAD];
    let sent = big.clone();
    a.call(move |svc, _| svc.send(Dir::ET, &sent))
        .expect("largest payload");
    assert!(wait_for(DEADLINE, || b.packets(Dir::WT).len() == 2));
    assert_eq!(b.packets(Dir::WT)[1].0, big);
    let path = a.path.display().to_string();
    let e = a
        .call(|svc, _| svc.send(Dir::ET, &[0; MAX_PAYLOAD + 1]))
        .unwrap_err();
    assert!(matches!(e, Error::TooLong { len: 254, .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("{path}: payload of 254 bytes")),
        "{e}"
    );

    // No neighbour there: refused, naming the file.
    let e = a.call(|svc, _| svc.send(Dir::NW, b"x")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{path}: no neighbour at NW (EHOSTUNREACH)")
    );

    // The file is exclusive: a second service on it fails, saying why.
    let e = Peer::start(Config::new(20).mount(grid.mount("r0c0")))
        .err()
        .expect("EBUSY");
    assert_eq!(e.errno(), Some(nix::errno::Errno::EBUSY), "{e}");
    assert!(e.to_string().starts_with(&format!("{path}: busy")), "{e}");

    // Counters: whole packets, headers included.
    let sa = a.call(|svc, _| svc.stats());
    let sb = b.call(|svc, _| svc.stats());
    assert_eq!(
        (sa.tx_packets, sa.tx_bytes),
        (2, 7 + 2 + MAX_PAYLOAD as u64)
    );
    assert_eq!(
        (sb.rx_packets, sb.rx_bytes),
        (2, 7 + 2 + MAX_PAYLOAD as u64)
    );
    assert_eq!((sa.rx_packets, sa.rx_bytes), (1, 7));
    assert_eq!((sb.tx_packets, sb.tx_bytes), (1, 7));
    assert_eq!((sa.connects, sa.disconnects, sa.refused_absent), (1, 0, 1));
    let drops = |s: itc_service::Stats| {
        s.drop_unreachable + s.drop_disconnected + s.drop_rejected + s.drop_malformed
    };
    assert_eq!((drops(sa), drops(sb)), (0, 0));
    let text = sa.to_string();
    assert!(text.contains("\ntx_packets: 2\n"), "{text}");
    assert!(text.contains("\nrefused_absent: 1\n"), "{text}");
}

/// Packets of the back-pressure test: a sequence number, then filler.
fn numbered(i: u32, len: usize) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.resize(len, (i % 251) as u8);
    p
}

#[test]
fn back_pressure_throttles_the_sender_and_loses_nothing() {
    // 62.5 kB/s: the packets below (120 kB) are far more than itcd's
    // queue to the neighbour (16 KiB), the emulated PRU's socket and the
    // service's queue (16 packets) hold. Hellos wait behind what the PRU
    // socket holds (up to a second here), so they keep their default
    // interval (absent after 3.5 s).
    let grid = Grid::start("back-pressure", &["--rate", "500000", "--hello", "1000"]);
    let config = |tile| Config::new(21).mount(grid.mount(tile)).queue_limit(16);
    let a = Peer::start(config("r0c0")).expect("open at r0c0");
    let b = Peer::start(config("r0c1")).expect("open at r0c1");
    a.wait_seen(Seen::Connect(Dir::ET), 1);
    b.wait_seen(Seen::Connect(Dir::WT), 1);

    const N: u32 = 600;
    const LEN: usize = 200;
    // Queue far more than fits, and pump as room comes.
    let throttled = a.call(|svc, rec| {
        rec.outbox = (0..N).map(|i| (Dir::ET, numbered(i, LEN))).collect();
        rec.pump(svc);
        (rec.outbox.len(), svc.queued(Dir::ET), svc.queue_limit())
    });
    assert!(
        throttled.0 > 0,
        "the first burst was not throttled: {throttled:?}"
    );
    assert!(
        throttled.1 <= throttled.2,
        "queue over its bound: {throttled:?}"
    );

    assert!(
        wait_for(DEADLINE, || b.packets(Dir::WT).len() >= N as usize),
        "{} of {N} arrived; sender:\n{}receiver:\n{}r0c0 ET:\n{}r0c1 WT:\n{}",
        b.packets(Dir::WT).len(),
        a.stats(),
        b.stats(),
        grid.status("r0c0", Dir::ET),
        grid.status("r0c1", Dir::WT),
    );
    let got: Vec<Vec<u8>> = b.packets(Dir::WT).into_iter().map(|(p, _)| p).collect();
    assert_eq!(got.len(), N as usize, "no duplicates");
    for (i, p) in got.iter().enumerate() {
        assert_eq!(*p, numbered(i as u32, LEN), "packet {i} in order and whole");
    }

    assert!(wait_for(DEADLINE, || a.outbox() == 0));
    let sa = a.call(|svc, _| svc.stats());
    let sb = b.call(|svc, _| svc.stats());
    let wire = (LEN + 2) as u64;
    assert_eq!(
        (sa.tx_packets, sa.tx_bytes),
        (N as u64, N as u64 * wire),
        "{sa}"
    );
    assert_eq!(
        (sb.rx_packets, sb.rx_bytes),
        (N as u64, N as u64 * wire),
        "{sb}"
    );
    assert!(sa.throttled > 0, "sends were refused while full:\n{sa}");
    assert!(sa.would_block > 0, "itcd pushed back (EAGAIN):\n{sa}");
    assert_eq!(
        sa.drop_unreachable + sa.drop_disconnected + sa.drop_rejected,
        0,
        "nothing dropped:\n{sa}"
    );
    assert_eq!(sa.disconnects, 0, "the neighbour stayed:\n{sa}");
    assert!(
        a.count(&Seen::Room(Dir::ET)) > 0,
        "on_room resumed the sender"
    );
}
