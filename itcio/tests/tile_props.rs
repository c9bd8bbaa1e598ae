//! The tile core under any sequence of PRU messages and user operations:
//! nothing panics, and every routed packet a PRU hands up is accounted for
//! exactly once, delivered (counted as received) or dropped under one
//! reason, on the direction it came from; so is every packet of ours a PRU
//! bounces. Readers get only packets a PRU handed up (besides the daemon's
//! own TEPs), each at most once. And any file operation, on any file kind
//! under any queue bounds, is answered without panic and never told to
//! wait for something that cannot come.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fuse_fs::{Backend, Errno, Fh, FileKind, Readiness, Scope};
use itc_proto::{BounceReason, BounceRepr, EchoOp, EchoRepr, HelloRepr, Packet};
use itc_proto::{Dir, Pru};
use itcio::stats::DropReason;
use itcio::tile::{Config, Tile};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Arbitrary bytes from a PRU.
    Raw(usize, Vec<u8>),
    /// `0xc3` link status for a direction: P, F or T.
    Link(usize, u8),
    /// `0xc3 'M'` bitmap from a PRU.
    Monitor(usize, u8),
    /// A hello arriving from a direction.
    Hello(usize, String, String, u8),
    /// An echo request or reply arriving from a direction.
    Echo(usize, bool, Vec<u8>),
    /// A routed packet arriving from a direction.
    Routed {
        dir: usize,
        mfm: bool,
        svc: u8,
        ovrn: bool,
        eror: bool,
        payload: Vec<u8>,
    },
    Open(usize, bool),
    Read(usize, u32),
    Write(usize, Vec<u8>),
    Release(usize),
    Advance(u64),
    Physics(String),
    /// The PRU device is lost and reopened.
    Reopen(usize),
}

/// The files a test opens: both scopes of mfm, a few services, events.
fn kinds() -> Vec<FileKind> {
    let mut k = vec![FileKind::Mfm(Scope::All), FileKind::Events(Scope::All)];
    for svc in [2u8, 3] {
        k.push(FileKind::Svc(Scope::All, svc));
    }
    for d in [0u8, 3, 1] {
        k.push(FileKind::Mfm(Scope::Dir(d)));
        k.push(FileKind::Events(Scope::Dir(d)));
        for svc in [2u8, 3] {
            k.push(FileKind::Svc(Scope::Dir(d), svc));
        }
    }
    k
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,6}",
        "\\PC{0,40}",
        Just("x".repeat(300)),
    ]
}

/// A direction, mostly ET or WT (one on each PRU) so that link, hello,
/// open, packet and read often meet on the same one.
fn dir() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 4 => Just(3usize), 1 => 0..6usize]
}

fn op() -> impl Strategy<Value = Op> {
    let nkinds = kinds().len();
    prop_oneof![
        1 => (0..2usize, vec(any::<u8>(), 0..300)).prop_map(|(p, b)| Op::Raw(p, b)),
        2 => (dir(), prop_oneof![4 => Just(b'P'), 1 => Just(b'F'), 1 => Just(b'T'), 1 => Just(b'E')])
            .prop_map(|(d, c)| Op::Link(d, c)),
        1 => (0..2usize, any::<u8>()).prop_map(|(p, m)| Op::Monitor(p, m)),
        2 => (dir(), name(), prop_oneof![3 => Just(String::new()), 1 => name()], any::<u8>())
            .prop_map(|(d, n, p, f)| Op::Hello(d, n, p, f)),
        1 => (dir(), any::<bool>(), vec(any::<u8>(), 0..260))
            .prop_map(|(d, r, p)| Op::Echo(d, r, p)),
        6 => (
            dir(),
            any::<bool>(),
            prop_oneof![1 => Just(0u8), 1 => Just(1), 4 => Just(2), 4 => Just(3), 1 => 0..64u8],
            any::<bool>(),
            prop::bool::weighted(0.1),
            vec(any::<u8>(), 0..260),
        )
            .prop_map(|(dir, mfm, svc, ovrn, eror, payload)| Op::Routed {
                dir,
                mfm,
                svc,
                ovrn,
                eror,
                payload
            }),
        3 => (0..nkinds, any::<bool>()).prop_map(|(k, nb)| Op::Open(k, nb)),
        6 => (0..4usize, prop_oneof![1 => Just(0u32), 1 => 1..300u32, 4 => Just(4096)])
            .prop_map(|(s, n)| Op::Read(s, n)),
        2 => (0..4usize, vec(any::<u8>(), 0..300)).prop_map(|(s, b)| Op::Write(s, b)),
        1 => (0..4usize).prop_map(Op::Release),
        1 => prop_oneof![0..100u64, 0..5000u64].prop_map(Op::Advance),
        1 => prop_oneof![Just(String::new()), name()].prop_map(Op::Physics),
        1 => (0..2usize).prop_map(Op::Reopen),
    ]
}

fn routed_header(dir: Dir, mfm: bool, ovrn: bool, eror: bool) -> u8 {
    0x80 | if mfm { 0x20 } else { 0 }
        | if ovrn { 0x10 } else { 0 }
        | if eror { 0x08 } else { 0 }
        | dir.dir8()
}

/// The message an op hands to a PRU, and which PRU.
fn pru_message(op: &Op) -> Option<(Pru, Vec<u8>)> {
    let msg = match op {
        Op::Raw(p, b) => return Some((Pru::ALL[*p], b.clone())),
        Op::Monitor(p, m) => return Some((Pru::ALL[*p], vec![0xc3, b'M', *m])),
        Op::Link(d, code) => {
            let dir = Dir::ALL[*d];
            return Some((dir.pru(), vec![0xc3, *code, dir.dir8()]));
        }
        Op::Hello(d, n, p, flags) => {
            let dir = Dir::ALL[*d];
            let hello = HelloRepr {
                name: n,
                physics: p,
                flags: itc_proto::HelloFlags::from_bits_retain(*flags),
            };
            let mut buf = vec![0u8; 600];
            match hello.emit(&mut buf, dir) {
                Ok(n) => buf[..n].to_vec(),
                // Too long a name: send the bytes a broken neighbour might.
                Err(_) => {
                    let mut b = vec![routed_header(dir, false, false, false), 1, 1];
                    b.extend(n.bytes().take(250));
                    b
                }
            }
        }
        Op::Echo(d, request, payload) => {
            let dir = Dir::ALL[*d];
            let echo = EchoRepr {
                op: if *request {
                    EchoOp::Request
                } else {
                    EchoOp::Reply
                },
                payload,
            };
            let mut buf = vec![0u8; 600];
            match echo.emit(&mut buf, dir) {
                Ok(n) => buf[..n].to_vec(),
                Err(_) => return None,
            }
        }
        Op::Routed {
            dir,
            mfm,
            svc,
            ovrn,
            eror,
            payload,
        } => {
            let dir = Dir::ALL[*dir];
            let mut b = vec![routed_header(dir, *mfm, *ovrn, *eror)];
            if !*mfm {
                b.push(*svc);
            }
            b.extend(payload.iter().take(255 - b.len()));
            b
        }
        _ => return None,
    };
    let dir = Dir::from_dir8(msg[0] & 0x07).ok()?;
    Some((dir.pru(), msg))
}

/// The direction a message counts on, if the tile must account for it: a
/// routed packet from a direction of that PRU (delivered or dropped), or a
/// packet of ours the PRU bounced (dropped).
fn accountable(pru: Pru, msg: &[u8]) -> Option<Dir> {
    let p = Packet::new_checked(msg).ok()?;
    let dir8 = if p.is_routed() {
        p.dir8()
    } else {
        // A bounce counts on a direction only if it holds a routed packet
        // and gives a reason the firmware defines (else it is the PRU's
        // malformed message).
        let bounce = BounceRepr::parse(&p).ok()?;
        if matches!(bounce.reason, BounceReason::Unknown(_)) {
            return None;
        }
        let original = Packet::new_checked(bounce.packet).ok()?;
        if !original.is_routed() {
            return None;
        }
        original.dir8()
    };
    let dir = Dir::from_dir8(dir8).ok()?;
    (dir.pru() == pru).then_some(dir)
}

fn accounted(tile: &Tile, dir: Dir) -> u64 {
    let s = tile.stats(dir);
    s.rx_mfm.packets + s.rx_svc.packets + DropReason::ALL.iter().map(|r| s.drops(*r)).sum::<u64>()
}

/// Hands every queued outbound packet to the "PRU" as the daemon does, so
/// no outbound packet is ever dropped and the drop counters hold only
/// inbound packets.
fn drain_outbound(tile: &mut Tile) {
    for pru in Pru::ALL {
        while let Some((dir, lane, p)) = tile.pop_outbound(pru) {
            tile.sent(dir, lane, &p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_routed_packet_is_delivered_or_counted_once(ops in vec(op(), 1..120)) {
        let mut tile = Tile::new(Config {
            name: "T".into(),
            reader_queue_limit: 1024,
            ..Config::default()
        });
        let kinds = kinds();
        for pru in Pru::ALL {
            tile.set_pru_up(pru, true);
        }
        let mut now = Instant::now();
        let mut handed_up = [0u64; 6];
        // Every payload a PRU handed up, for checking what readers get.
        let mut sent_up: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut slots: Vec<Option<Fh>> = vec![None; 4];
        let mut next_slot = 0;
        let mut out = Vec::new();
        for op in &ops {
            if let Some((pru, msg)) = pru_message(op) {
                if let Some(dir) = accountable(pru, &msg) {
                    handed_up[dir.index()] += 1;
                    if msg.len() > 1 {
                        *sent_up.entry(msg[1..].to_vec()).or_default() += 1;
                    }
                }
                tile.on_pru_message(pru, &msg, now);
            }
            match op {
                Op::Open(k, nonblock) => {
                    let flags = libc::O_RDWR | if *nonblock { libc::O_NONBLOCK } else { 0 };
                    if let Ok(fh) = tile.open(kinds[*k], flags) {
                        if let Some(old) = slots[next_slot].replace(fh) {
                            tile.release(old);
                        }
                        next_slot = (next_slot + 1) % slots.len();
                    }
                }
                Op::Read(s, size) => {
                    if let Some(fh) = slots[*s] {
                        out.clear();
                        if tile.read(fh, 0, *size, &mut out).is_ok() && out.len() > 1 && out[0] != 0xc4 {
                            // Data: a packet some PRU handed up and not yet
                            // read, header byte aside (OVRN is cleared on
                            // delivery); never the same packet twice.
                            let count = sent_up.get_mut(&out[1..]);
                            prop_assert!(
                                count.as_ref().is_some_and(|c| **c > 0),
                                "read a packet no PRU sent, or read it twice: {:02x?}",
                                out
                            );
                            if let Some(c) = count {
                                *c -= 1;
                            }
                        }
                        let _ = tile.poll(fh);
                    }
                }
                Op::Write(s, bytes) => {
                    if let Some(fh) = slots[*s] {
                        let _ = tile.write(fh, 0, bytes);
                    }
                }
                Op::Release(s) => {
                    if let Some(fh) = slots[*s].take() {
                        tile.release(fh);
                    }
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(*ms);
                    tile.expire(now);
                    tile.send_hellos();
                }
                Op::Physics(p) => {
                    let _ = tile.set_physics(p);
                }
                Op::Reopen(p) => {
                    tile.set_pru_up(Pru::ALL[*p], false);
                    tile.set_pru_up(Pru::ALL[*p], true);
                }
                _ => {}
            }
            drain_outbound(&mut tile);
            for dir in Dir::ALL {
                prop_assert_eq!(
                    accounted(&tile, dir),
                    handed_up[dir.index()],
                    "direction {} after {:?}",
                    dir,
                    op
                );
            }
        }
    }
}

/// One call a user of the tree (or the PRU side) makes, for
/// `any_file_operation_under_any_bounds_is_answered`.
#[derive(Debug, Clone)]
enum FileOp {
    Open(FileKind, i32),
    Read(usize, u64, u32),
    Write(usize, u64, Vec<u8>),
    Poll(usize),
    Flush(usize),
    Release(usize),
    /// A handle the tile never gave out.
    Bogus(Fh, u32),
    /// Link up and a hello from a direction (name, physics).
    Neighbour(usize, String),
    /// Link down at a direction.
    LinkDown(usize),
    /// A routed packet from a direction: MFM or service, length.
    Inbound(usize, bool, u8, usize),
    /// The PRUs take everything queued for them.
    Drain,
    Physics(String),
    Advance(u64),
}

/// Any file kind, those the tree lacks included.
fn any_kind() -> impl Strategy<Value = FileKind> {
    let scope = prop_oneof![
        2 => Just(Scope::All),
        3 => (0..6u8).prop_map(Scope::Dir),
        1 => any::<u8>().prop_map(Scope::Dir),
    ];
    let svc = prop_oneof![4 => 2..6u8, 1 => any::<u8>()];
    prop_oneof![
        3 => scope.clone().prop_map(FileKind::Mfm),
        3 => (scope.clone(), svc).prop_map(|(s, n)| FileKind::Svc(s, n)),
        1 => scope.clone().prop_map(FileKind::Events),
        1 => scope.prop_map(FileKind::Status),
        1 => Just(FileKind::SelfInfo),
        1 => Just(FileKind::Physics),
        1 => Just(FileKind::Capture),
    ]
}

/// A bound: tiny, around one packet, usual, or absurd.
fn bound() -> impl Strategy<Value = usize> {
    prop_oneof![
        0..8usize,
        250..260usize,
        Just(16 * 1024),
        Just(usize::MAX),
        any::<usize>(),
    ]
}

fn file_op() -> impl Strategy<Value = FileOp> {
    let flags = prop_oneof![
        Just(libc::O_RDONLY),
        Just(libc::O_WRONLY),
        Just(libc::O_RDWR),
        Just(libc::O_RDWR | libc::O_NONBLOCK),
    ];
    let offset = prop_oneof![4 => Just(0u64), 1 => 0..80u64, 1 => any::<u64>()];
    let size = prop_oneof![Just(0u32), 1..300u32, Just(4096), any::<u32>()];
    prop_oneof![
        4 => (any_kind(), flags).prop_map(|(k, f)| FileOp::Open(k, f)),
        5 => (0..4usize, offset.clone(), size.clone()).prop_map(|(s, o, n)| FileOp::Read(s, o, n)),
        5 => (0..4usize, offset, vec(any::<u8>(), 0..300)).prop_map(|(s, o, b)| FileOp::Write(s, o, b)),
        2 => (0..4usize).prop_map(FileOp::Poll),
        1 => (0..4usize).prop_map(FileOp::Flush),
        1 => (0..4usize).prop_map(FileOp::Release),
        1 => (any::<Fh>(), size).prop_map(|(fh, n)| FileOp::Bogus(fh, n)),
        2 => (0..6usize, name()).prop_map(|(d, p)| FileOp::Neighbour(d, p)),
        1 => (0..6usize).prop_map(FileOp::LinkDown),
        3 => (0..6usize, any::<bool>(), 2..6u8, 1..256usize)
            .prop_map(|(d, m, s, n)| FileOp::Inbound(d, m, s, n)),
        2 => Just(FileOp::Drain),
        1 => name().prop_map(FileOp::Physics),
        1 => (0..5000u64).prop_map(FileOp::Advance),
    ]
}

/// Run one file operation and check that it was answered in a way that
/// cannot leave its caller waiting for ever: a call that would block
/// (`EAGAIN`) is one that `poll` reports as not ready, so the server
/// parks it until a change the tile will report; a write is never told
/// to wait on empty queues, nor reported not writable when it would fail
/// at once for want of a neighbour; a read never returns more than was
/// asked.
fn check_file_op(
    tile: &mut Tile,
    slots: &mut [Option<(Fh, FileKind)>],
    op: &FileOp,
    now: &mut Instant,
) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    match op {
        FileOp::Open(kind, flags) => match tile.open(*kind, *flags) {
            Ok(fh) => {
                prop_assert!(kind.exists(), "opened {:?}, which the tree lacks", kind);
                let slot = slots.iter().position(Option::is_none).unwrap_or(0);
                if let Some((old, _)) = slots[slot].replace((fh, *kind)) {
                    tile.release(old);
                }
            }
            Err(e) if !kind.exists() => prop_assert_eq!(e, Errno::ENOENT),
            Err(_) => {}
        },
        FileOp::Read(s, offset, size) => {
            if let Some((fh, kind)) = slots[*s] {
                match tile.read(fh, *offset, *size, &mut out) {
                    Ok(()) => prop_assert!(out.len() <= *size as usize, "{:?}", kind),
                    Err(Errno::EAGAIN) => {
                        prop_assert!(
                            !tile.poll(fh).contains(Readiness::READABLE),
                            "{:?}: EAGAIN yet readable",
                            kind
                        )
                    }
                    Err(_) => {}
                }
                if tile.poll(fh).contains(Readiness::READABLE) && kind.is_packet_file() {
                    out.clear();
                    let r = tile.read(fh, 0, 255, &mut out);
                    prop_assert_ne!(r, Err(Errno::EAGAIN), "{:?}: readable, read waits", kind);
                }
            }
        }
        FileOp::Write(s, offset, bytes) => {
            if let Some((fh, kind)) = slots[*s] {
                let writable = tile.poll(fh).contains(Readiness::WRITABLE);
                match tile.write(fh, *offset, bytes) {
                    Ok(n) => prop_assert_eq!(n as usize, bytes.len()),
                    Err(Errno::EAGAIN) => {
                        prop_assert!(!writable, "{:?}: writable, yet a write waits", kind);
                        prop_assert!(
                            !tile.poll(fh).contains(Readiness::WRITABLE),
                            "{:?}: waits, yet writable",
                            kind
                        );
                        // Once the PRUs take what is queued, the same
                        // write goes through or fails: never waits again.
                        drain_outbound(tile);
                        let again = tile.write(fh, *offset, bytes);
                        prop_assert_ne!(
                            again,
                            Err(Errno::EAGAIN),
                            "{:?}: waits on empty queues",
                            kind
                        );
                    }
                    // A write that fails at once for want of a neighbour
                    // does not wait: poll must not leave a select-driven
                    // writer waiting for room it does not need.
                    Err(Errno::EHOSTUNREACH) => {
                        prop_assert!(writable, "{:?}: EHOSTUNREACH, yet not writable", kind)
                    }
                    Err(_) => {}
                }
            }
        }
        FileOp::Poll(s) => {
            if let Some((fh, _)) = slots[*s] {
                let _ = tile.poll(fh);
            }
        }
        FileOp::Flush(s) => {
            if let Some((fh, _)) = slots[*s] {
                tile.flush(fh);
            }
        }
        FileOp::Release(s) => {
            if let Some((fh, _)) = slots[*s].take() {
                tile.release(fh);
            }
        }
        FileOp::Bogus(fh, size) => {
            let fh = fh | 1 << 63;
            prop_assert_eq!(tile.read(fh, 0, *size, &mut out), Err(Errno::EBADF));
            prop_assert_eq!(tile.write(fh, 0, &[0xa2]), Err(Errno::EBADF));
            prop_assert!(tile.poll(fh).contains(Readiness::ERROR));
            tile.flush(fh);
            tile.release(fh);
        }
        FileOp::Neighbour(d, physics) => {
            let dir = Dir::ALL[*d];
            tile.on_pru_message(dir.pru(), &[0xc3, b'P', dir.dir8()], *now);
            let hello = HelloRepr {
                name: "N",
                physics,
                flags: itc_proto::HelloFlags::empty(),
            };
            let mut buf = vec![0u8; 600];
            if let Ok(n) = hello.emit(&mut buf, dir) {
                tile.on_pru_message(dir.pru(), &buf[..n], *now);
            }
        }
        FileOp::LinkDown(d) => {
            let dir = Dir::ALL[*d];
            tile.on_pru_message(dir.pru(), &[0xc3, b'F', dir.dir8()], *now);
        }
        FileOp::Inbound(d, mfm, svc, len) => {
            let dir = Dir::ALL[*d];
            let mut p = vec![routed_header(dir, *mfm, false, false)];
            if !*mfm {
                p.push(*svc);
            }
            p.resize((*len).max(p.len()), 0x5a);
            tile.on_pru_message(dir.pru(), &p, *now);
        }
        FileOp::Drain => drain_outbound(tile),
        FileOp::Physics(p) => {
            let _ = tile.set_physics(p);
        }
        FileOp::Advance(ms) => {
            *now += Duration::from_millis(*ms);
            tile.expire(*now);
            tile.send_hellos();
        }
    }
    let mut changed = Vec::new();
    tile.take_changed(&mut changed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_file_operation_under_any_bounds_is_answered(
        out_limit in bound(),
        reader_limit in bound(),
        ops in vec(file_op(), 1..100),
    ) {
        let mut tile = Tile::new(Config {
            name: "T".into(),
            out_queue_limit: out_limit,
            reader_queue_limit: reader_limit,
            ..Config::default()
        });
        for pru in Pru::ALL {
            tile.set_pru_up(pru, true);
        }
        let mut now = Instant::now();
        let mut slots = vec![None; 4];
        for op in &ops {
            check_file_op(&mut tile, &mut slots, op, &mut now)?;
        }
    }
}
