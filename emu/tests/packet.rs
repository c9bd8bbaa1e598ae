//! The packet model driven through its sockets, with plain seqpacket
//! client sockets standing in for each tile's `itcd`.

mod common;

use std::time::{Duration, Instant};

use common::{deadline, Host, TestDir, STATUS};
use itc_emu::{Error, LinkParams, PacketModel, SimStats, TileId, Wires, HOST_BACKLOG_PACKETS};
use itc_proto::{field, BounceReason, Dir, Pru};

/// Bounce type and reason.
const BOUNCE: u8 = field::TYPE_BOUNCE;
const BOUNCE_NO_SYNC: u8 = BounceReason::NoSync.to_byte();
/// Byte 0 flags of a routed packet.
const OVRN: u8 = field::OVRN;
const EROR: u8 = field::EROR;

/// Tiles `a` and `b`, with a's ET wired to b's WT. The emulator stops
/// before the directory goes.
struct Pair {
    sim: PacketModel,
    a: TileId,
    b: TileId,
    _dir: TestDir,
}

/// Default parameters without monitor reports in the way.
fn quiet() -> LinkParams {
    LinkParams {
        monitor_interval: Duration::from_secs(3600),
        ..LinkParams::default()
    }
}

fn pair(params: LinkParams) -> Pair {
    let dir = TestDir::new();
    let mut wires = Wires::new(&dir.0, params);
    let a = wires.add_tile("a");
    let b = wires.add_tile("b");
    wires.connect(a, Dir::ET, b);
    let sim = PacketModel::start(wires).expect("emulator starts");
    Pair {
        sim,
        a,
        b,
        _dir: dir,
    }
}

impl Pair {
    /// Counters are published after each turn of the loop, possibly just
    /// after a host has seen a message: wait for them.
    fn settle(&self, f: impl Fn(&SimStats) -> bool) {
        assert!(
            self.sim.wait_until(deadline(), &f),
            "counters never matched: {:?}",
            self.sim.stats()
        );
    }

    fn host(&self, tile: TileId, pru: Pru) -> Host {
        Host::connect(&self.sim.pru_socket(tile, pru))
    }

    /// A started host whose three status reports have been read.
    fn started(&self, tile: TileId, pru: Pru) -> Host {
        let h = self.host(tile, pru);
        h.start();
        h.take(3);
        h
    }

    /// a's PRU 0 (ET) and b's PRU 1 (WT), both started.
    fn ends(&self) -> (Host, Host) {
        (
            self.started(self.a, Pru::Pru0),
            self.started(self.b, Pru::Pru1),
        )
    }
}

#[test]
fn start_message_yields_status_and_nothing_comes_before_it() {
    let p = pair(quiet());
    let a0 = p.host(p.a, Pru::Pru0);
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.pru(p.a, Pru::Pru0).connected));
    assert!(!p.sim.host_started(p.a, Pru::Pru0));
    // Neither injected bytes nor routed packets reach a host before it starts.
    p.sim.inject(p.a, Pru::Pru0, vec![0xc1, 1]);
    assert_eq!(p.sim.stats().pru(p.a, Pru::Pru0).dropped_local, 1);

    a0.start();
    assert_eq!(
        a0.take(3),
        [
            vec![STATUS, b'P', 2], // ET: wired
            vec![STATUS, b'T', 3], // SE: no wire, no clock
            vec![STATUS, b'T', 5], // SW: no wire
        ]
    );
    p.settle(|s| s.pru(p.a, Pru::Pru0).started);
    assert!(p.sim.host_started(p.a, Pru::Pru0));

    let b1 = p.host(p.b, Pru::Pru1);
    b1.start();
    assert_eq!(
        b1.take(3),
        [
            vec![STATUS, b'P', 6], // WT: wired to a
            vec![STATUS, b'T', 7], // NW
            vec![STATUS, b'T', 1], // NE
        ]
    );
}

#[test]
fn packet_crosses_the_wire_with_arrival_direction() {
    let p = pair(quiet());
    let (a0, b1) = p.ends();

    // service packet toward ET: 1 0 0 0 0 010, svc 2, payload
    a0.send(&[0x82, 0x02, 0xde, 0xad]);
    // arrives from WT: 1 0 0 0 0 110
    assert_eq!(b1.next(), [0x86, 0x02, 0xde, 0xad]);

    // MFM toward ET with stray OVRN and EROR: 1 0 1 1 1 010
    a0.send(&[0xba, 1, 2, 3]);
    // MFMT kept, flags cleared, from WT: 1 0 1 0 0 110
    assert_eq!(b1.next(), [0xa6, 1, 2, 3]);

    // Replying with the received header sends it back.
    b1.send(&[0x86, 0x02, 9]);
    assert_eq!(a0.next(), [0x82, 0x02, 9]);

    p.settle(|s| {
        let ab = s.link(p.a, Dir::ET);
        (ab.sent, ab.delivered_packets, ab.delivered_bytes) == (2, 2, 8)
            && s.link(p.b, Dir::WT).delivered_packets == 1
    });
}

#[test]
fn cut_reports_timeout_bounces_and_restore_reports_sync() {
    let p = pair(quiet());
    let (a0, b1) = p.ends();
    assert!(p.sim.link_up(p.a, Dir::ET) && p.sim.link_up(p.b, Dir::WT));

    p.sim.cut(p.a, Dir::ET);
    assert_eq!(a0.next(), [STATUS, b'T', 2]);
    assert_eq!(b1.next(), [STATUS, b'T', 6]);
    assert!(!p.sim.link_up(p.a, Dir::ET) && !p.sim.link_up(p.b, Dir::WT));

    a0.send(&[0x82, 0x02, 7]);
    assert_eq!(a0.next(), [BOUNCE, BOUNCE_NO_SYNC, 0x82, 0x02, 7]);
    b1.send(&[0x86, 0x02, 8]);
    assert_eq!(b1.next(), [BOUNCE, BOUNCE_NO_SYNC, 0x86, 0x02, 8]);
    p.settle(|s| s.pru(p.a, Pru::Pru0).bounced_no_sync == 1);

    // A host that starts now hears T for the cut direction.
    let a0_again = p.host(p.a, Pru::Pru0);
    a0_again.start();
    assert_eq!(a0_again.next(), [STATUS, b'T', 2]);
    a0_again.take(2);

    // Restoring from the other end works on the same wire.
    p.sim.restore(p.b, Dir::WT);
    assert_eq!(a0_again.next(), [STATUS, b'P', 2]);
    assert_eq!(b1.next(), [STATUS, b'P', 6]);
    assert!(p.sim.link_up(p.a, Dir::ET));
    a0_again.send(&[0x82, 0x02, 9]);
    assert_eq!(b1.next(), [0x86, 0x02, 9]);
}

#[test]
fn cut_drops_packets_in_flight() {
    let p = pair(LinkParams {
        latency: Duration::from_secs(3600),
        ..quiet()
    });
    let (a0, _b1) = p.ends();
    for i in 0..3 {
        a0.send(&[0x82, 0x02, i]);
    }
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.link(p.a, Dir::ET).sent == 3));
    p.sim.cut(p.a, Dir::ET);
    let s = p.sim.stats();
    assert_eq!(s.link(p.a, Dir::ET).dropped_cut, 3);
    assert_eq!(s.link(p.a, Dir::ET).delivered_packets, 0);
}

#[test]
fn packets_without_a_working_wire_on_this_pru_bounce() {
    let p = pair(quiet());
    let (a0, _b1) = p.ends();
    // WT belongs to PRU 1; SE has no wire; NT (0) is not a T2 direction.
    for packet in [[0x86, 0x02, 1], [0x83, 0x02, 2], [0x80, 0x02, 3]] {
        a0.send(&packet);
        let mut expect = vec![BOUNCE, BOUNCE_NO_SYNC];
        expect.extend_from_slice(&packet);
        assert_eq!(a0.next(), expect);
    }
    // A bounce of a maximum-size packet carries all of it: 257 bytes.
    let mut big = vec![0x83, 0x02];
    big.resize(255, 0x5a);
    a0.send(&big);
    let bounced = a0.next();
    assert_eq!(bounced.len(), 257);
    assert_eq!(bounced[2..], big[..]);
    assert_eq!(bounced[..4], [BOUNCE, BOUNCE_NO_SYNC, 0x83, 0x02]);
    p.settle(|s| s.pru(p.a, Pru::Pru0).bounced_no_sync == 4);
}

#[test]
fn damage_next_sets_eror_on_exactly_n_packets() {
    let p = pair(quiet());
    let (a0, b1) = p.ends();
    p.sim.damage_next(p.a, Dir::ET, 2);
    for i in 0..3 {
        a0.send(&[0x82, 0x02, i]);
    }
    assert_eq!(
        b1.take(3),
        [
            vec![0x86 | EROR, 0x02, 0],
            vec![0x86 | EROR, 0x02, 1],
            vec![0x86, 0x02, 2],
        ]
    );
    p.settle(|s| s.link(p.a, Dir::ET).corrupted == 2);
}

#[test]
fn overrun_next_sets_ovrn() {
    let p = pair(quiet());
    let (a0, b1) = p.ends();
    p.sim.overrun_next(p.a, Dir::ET, 1);
    a0.send(&[0x82, 0x02, 1]);
    a0.send(&[0x82, 0x02, 2]);
    assert_eq!(
        b1.take(2),
        [vec![0x86 | OVRN, 0x02, 1], vec![0x86, 0x02, 2]]
    );
    p.settle(|s| s.link(p.a, Dir::ET).overrun == 1);
}

#[test]
fn packets_for_a_host_that_has_not_started_are_dropped_and_counted() {
    let p = pair(quiet());
    let a0 = p.started(p.a, Pru::Pru0);
    // b's PRU 1 has no host at all.
    a0.send(&[0x82, 0x02, 1]);
    a0.send(&[0x82, 0x02, 2]);
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.link(p.a, Dir::ET).dropped_no_host == 2));
    // Connected but not started is no better.
    let b1 = p.host(p.b, Pru::Pru1);
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.pru(p.b, Pru::Pru1).connected));
    a0.send(&[0x82, 0x02, 3]);
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.link(p.a, Dir::ET).dropped_no_host == 3));

    b1.start();
    assert_eq!(b1.next(), [STATUS, b'P', 6]);
    b1.take(2);
    // The first packet after the losses carries OVRN, the next does not.
    a0.send(&[0x82, 0x02, 4]);
    a0.send(&[0x82, 0x02, 5]);
    assert_eq!(
        b1.take(2),
        [vec![0x86 | OVRN, 0x02, 4], vec![0x86, 0x02, 5]]
    );
    p.settle(|s| {
        let l = s.link(p.a, Dir::ET);
        (l.delivered_packets, l.overrun, l.dropped_no_host) == (2, 1, 3)
    });
}

#[test]
fn rate_limited_link_delivers_in_order_no_sooner_than_the_rate_allows() {
    let rate = 100_000;
    let p = pair(LinkParams {
        rate_bps: rate,
        latency: Duration::from_millis(2),
        ..quiet()
    });
    let (a0, b1) = p.ends();
    let count = 20u8;
    let len = 50;
    let t0 = Instant::now();
    for i in 0..count {
        let mut packet = vec![0x82, 0x02, i];
        packet.resize(len, 0);
        a0.send(&packet);
    }
    for i in 0..count {
        let got = b1.next();
        assert_eq!(got.len(), len);
        assert_eq!(got[..3], [0x86, 0x02, i], "packet {i} out of order");
    }
    // Each packet holds the wire for (len + 4) * 8 bits.
    let per_packet = Duration::from_nanos((len as u64 + 4) * 8 * 1_000_000_000 / rate);
    assert!(t0.elapsed() >= per_packet * u32::from(count) + Duration::from_millis(2));
}

#[test]
fn a_full_wire_holds_its_host_back_and_loses_nothing() {
    // 40 kbit/s: a 3-byte packet holds the wire for 1.4 ms, so a burst of
    // 100 fills its 64 places at once. The PRU then stops reading its host
    // (whose sends queue in the socket) instead of bouncing.
    let p = pair(LinkParams {
        rate_bps: 40_000,
        ..quiet()
    });
    let (a0, b1) = p.ends();
    let total = 100u8;
    for i in 0..total {
        a0.send(&[0x82, 0x02, i]);
    }
    for i in 0..total {
        assert_eq!(b1.next(), [0x86, 0x02, i], "packet {i}");
    }
    p.settle(|s| {
        let l = s.link(p.a, Dir::ET);
        l.sent == u64::from(total) && l.held > 0 && l.delivered_packets == u64::from(total)
    });
    assert_eq!(
        a0.recv_by(Instant::now() + Duration::from_millis(50)),
        None,
        "nothing comes back to the sender: no bounce"
    );
}

#[test]
fn a_packet_held_for_a_wire_that_is_cut_bounces_with_no_sync() {
    // 8 bit/s: nothing arrives during the test, so the 65th packet waits.
    let p = pair(LinkParams {
        rate_bps: 8,
        ..quiet()
    });
    let (a0, _b1) = p.ends();
    for i in 0..66u8 {
        a0.send(&[0x82, 0x02, i]);
    }
    p.settle(|s| s.link(p.a, Dir::ET).held == 1);
    p.sim.cut(p.a, Dir::ET);
    assert_eq!(a0.next(), [STATUS, b'T', Dir::ET.dir8()]);
    assert_eq!(a0.next(), [BOUNCE, BOUNCE_NO_SYNC, 0x82, 0x02, 64]);
    // Reading resumed: the packet behind it finds the wire cut too.
    assert_eq!(a0.next(), [BOUNCE, BOUNCE_NO_SYNC, 0x82, 0x02, 65]);
    p.settle(|s| s.link(p.a, Dir::ET).dropped_cut == 64);
}

#[test]
fn slow_host_gets_a_bounded_backlog_and_an_overrun_mark() {
    let p = pair(quiet());
    let a0 = p.started(p.a, Pru::Pru0);
    let b1 = p.host(p.b, Pru::Pru1);
    b1.start();
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.pru(p.b, Pru::Pru1).started));

    // b1 reads nothing while a0 sends until its PRU has to drop.
    let mut sent: u16 = 0;
    let link = |s: &SimStats| *s.link(p.a, Dir::ET);
    while link(&p.sim.stats()).dropped_backlog == 0 {
        assert!(sent < 20_000, "the host socket never filled");
        for _ in 0..50 {
            let mut packet = vec![0x82, 0x02, (sent >> 8) as u8, sent as u8];
            packet.resize(250, 0xee);
            a0.send(&packet);
            sent += 1;
        }
        assert!(p
            .sim
            .wait_until(deadline(), |s| link(s).sent == u64::from(sent)));
    }
    let s = p.sim.stats();
    assert_eq!(s.pru(p.b, Pru::Pru1).backlog, HOST_BACKLOG_PACKETS as u64);
    let l = link(&s);
    assert_eq!(
        l.delivered_packets + l.dropped_backlog + HOST_BACKLOG_PACKETS as u64,
        u64::from(sent)
    );

    // Drain: statuses, then every packet not dropped, in order, with at
    // least one marked OVRN.
    assert_eq!(b1.take(3)[0], [STATUS, b'P', 6]);
    let expected = u64::from(sent) - l.dropped_backlog;
    let mut last = None;
    let mut overruns = 0;
    for _ in 0..expected {
        let m = b1.next();
        assert_eq!(m[0] & !OVRN, 0x86);
        if m[0] & OVRN != 0 {
            overruns += 1;
        }
        let seq = u16::from_be_bytes([m[2], m[3]]);
        assert!(last < Some(seq), "out of order: {seq} after {last:?}");
        last = Some(seq);
    }
    assert!(overruns >= 1);
    assert_eq!(last, Some(sent - 1));
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.pru(p.b, Pru::Pru1).backlog == 0));
}

#[test]
fn host_messages_that_are_not_routed_packets_are_ignored() {
    let p = pair(quiet());
    let a0 = p.host(p.a, Pru::Pru0);
    // Before the start message even a good packet is ignored.
    a0.send(&[0x82, 0x02, 1]);
    a0.start();
    a0.take(3);
    a0.send(&[0xc1, 0x01]); // local: labelled value
    a0.send(b"A"); // non-standard
    a0.send(&[0x82; 300]); // too long
    a0.send(&[]); // a second start message
                  // Order is kept, so the bounce proves nothing answered those.
    a0.send(&[0x83, 0x02]);
    assert_eq!(a0.next(), [BOUNCE, BOUNCE_NO_SYNC, 0x83, 0x02]);
    p.settle(|s| s.pru(p.a, Pru::Pru0).ignored == 5 && s.link(p.a, Dir::ET).sent == 0);
}

#[test]
fn injected_bytes_reach_the_host_unchanged() {
    let p = pair(quiet());
    let a1 = p.started(p.a, Pru::Pru1);
    p.sim.inject(p.a, Pru::Pru1, vec![0xc3, b'Z', 0xff, 0x00]);
    p.sim.inject(p.a, Pru::Pru1, vec![0x9f]);
    assert_eq!(a1.take(2), [vec![0xc3, b'Z', 0xff, 0x00], vec![0x9f]]);
}

#[test]
fn new_connection_replaces_the_old_and_links_survive_the_host() {
    let p = pair(quiet());
    let (a0, b1) = p.ends();
    let replacement = p.host(p.a, Pru::Pru0);
    // The old connection is closed: end of file.
    assert_eq!(a0.recv_by(deadline()), Some(vec![]));
    assert!(p.sim.wait_until(deadline(), |s| {
        let pru = s.pru(p.a, Pru::Pru0);
        pru.connections == 2 && !pru.started
    }));
    assert!(p.sim.link_up(p.a, Dir::ET));
    replacement.start();
    assert_eq!(replacement.next(), [STATUS, b'P', 2]);
    replacement.take(2);
    b1.send(&[0x86, 0x02, 1]);
    assert_eq!(replacement.next(), [0x82, 0x02, 1]);

    drop(replacement);
    assert!(p
        .sim
        .wait_until(deadline(), |s| !s.pru(p.a, Pru::Pru0).connected));
    assert!(p.sim.link_up(p.a, Dir::ET));
}

#[test]
fn monitor_reports_the_directions_with_sync() {
    let p = pair(LinkParams {
        monitor_interval: Duration::from_millis(20),
        ..LinkParams::default()
    });
    let a0 = p.host(p.a, Pru::Pru0);
    a0.start();
    let monitor = |h: &Host| loop {
        let m = h.recv_by(deadline()).expect("monitor report in time");
        if m.starts_with(&[STATUS, b'M']) {
            return m;
        }
    };
    assert_eq!(monitor(&a0), [STATUS, b'M', 1 << 2]); // ET only
    p.sim.cut(p.a, Dir::ET);
    // Reports already queued may still show ET; the F comes first, then 0.
    loop {
        let m = monitor(&a0);
        if m == [STATUS, b'M', 0] {
            break;
        }
    }
}

#[test]
fn loss_drops_silently_and_corruption_is_a_dropped_frame() {
    let p = pair(LinkParams {
        loss: 1.0,
        ..quiet()
    });
    let (a0, b1) = p.ends();
    a0.send(&[0x82, 0x02, 1]);
    assert!(p
        .sim
        .wait_until(deadline(), |s| s.link(p.a, Dir::ET).dropped_loss == 1));
    // The far host got nothing: the next thing it sees is injected.
    p.sim.inject(p.b, Pru::Pru1, vec![0xc1]);
    assert_eq!(b1.next(), [0xc1]);
    drop(p);

    let p = pair(LinkParams {
        corrupt: 1.0,
        seed: 5,
        ..quiet()
    });
    let (a0, b1) = p.ends();
    a0.send(&[0x82, 0, 0, 0]);
    // Not delivered: reported as one frame dropped on WT, sync kept.
    assert_eq!(b1.next(), [STATUS, b'E', Dir::WT.dir8()]);
    p.settle(|s| {
        let l = s.link(p.a, Dir::ET);
        l.corrupted == 1 && l.dropped_corrupt == 1 && l.delivered_packets == 0 && l.up
    });
    // The next thing the far host sees is what comes next.
    p.sim.inject(p.b, Pru::Pru1, vec![0xc1]);
    assert_eq!(b1.next(), [0xc1]);
}

#[test]
fn start_replaces_stale_sockets_and_shutdown_removes_them() {
    let dir = TestDir::new();
    let mut wires = Wires::new(&dir.0, quiet());
    let t = wires.add_tile("t");
    let path = wires.pru_socket(t, Pru::Pru0);
    assert_eq!(path, dir.0.join("t.pru0"));
    // A socket file left behind by a run that did not clean up.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("stale socket"));
    assert!(path.exists());
    let sim = PacketModel::start(wires).expect("start over a stale socket");
    let h = Host::connect(&path);
    h.start();
    assert_eq!(h.next(), [STATUS, b'T', 2]);
    sim.shutdown();
    assert!(!path.exists());
    assert!(!dir.0.join("t.pru1").exists());
}

#[test]
fn start_rejects_bad_configurations() {
    let dir = TestDir::new();
    let start_error = |wires: Wires| {
        let e = PacketModel::start(wires)
            .map_err(std::io::Error::from)
            .expect_err("must not start");
        let kind = e.kind();
        let inner = e.into_inner().expect("an Error inside");
        (kind, *inner.downcast::<Error>().expect("an Error"))
    };

    let mut wires = Wires::new(&dir.0.join("x".repeat(120)), quiet());
    wires.add_tile("t");
    let (kind, e) = start_error(wires);
    assert_eq!(kind, std::io::ErrorKind::InvalidInput);
    assert!(matches!(e, Error::PathTooLong { .. }), "{e}");

    let mut wires = Wires::new(&dir.0, quiet());
    let a = wires.add_tile("a");
    let b = wires.add_tile("b");
    let c = wires.add_tile("c");
    wires.connect(a, Dir::ET, b);
    wires.connect(c, Dir::WT, a);
    let (_, e) = start_error(wires);
    assert!(matches!(e, Error::WiredTwice { dir: Dir::ET, .. }), "{e}");

    let mut wires = Wires::new(&dir.0, quiet());
    wires.add_tile("a/b");
    assert!(matches!(start_error(wires).1, Error::BadTileName(_)));

    let mut wires = Wires::new(&dir.0, quiet());
    wires.add_tile("q");
    std::fs::write(dir.0.join("q.pru0"), b"not a socket").expect("write");
    let (kind, e) = start_error(wires);
    assert_eq!(kind, std::io::ErrorKind::AlreadyExists);
    assert!(matches!(e, Error::NotASocket(_)), "{e}");
    assert!(!dir.0.join("q.pru1").exists());

    let mut wires = Wires::new(
        &dir.0,
        LinkParams {
            loss: 1.5,
            ..quiet()
        },
    );
    wires.add_tile("r");
    assert!(matches!(start_error(wires).1, Error::BadProbability { .. }));
}
