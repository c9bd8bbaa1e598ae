//! The tile core under any sequence of PRU messages and user operations:
//! nothing panics, and every routed packet a PRU hands up is accounted for
//! exactly once, delivered (counted as received) or dropped under one
//! reason, on the direction it came from; so is every packet of ours a PRU
//! bounces. Readers get only packets a PRU handed up (besides the daemon's
//! own TEPs), each at most once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fuse_fs::{Backend, Fh, FileKind, Scope};
use itcio::stats::DropReason;
use itcio::tile::{Config, Tile};
use itcio::wire::{BounceRepr, EchoOp, EchoRepr, HelloRepr, Packet};
use itcio::{Dir, Pru};
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
        2 => (dir(), prop_oneof![4 => Just(b'P'), 1 => Just(b'F'), 1 => Just(b'T')])
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
                flags: *flags,
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
        // A bounce counts on a direction only if it holds a routed packet.
        let original = Packet::new_checked(BounceRepr::parse(&p).ok()?.packet).ok()?;
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
            tile.sent(dir, lane, p.len());
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
