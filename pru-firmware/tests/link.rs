//! Two firmware instances wired to each other in lockstep: PRU 0 of tile A
//! faces PRU 1 of tile B, so A's ET (prudir 0) is B's WT.

use itc_proto::{field, Dir};
use pru_firmware::{default_config, in_data_pin, sys, wire, Config, Firmware};
use test_support::Rng;

/// Routed, service traffic, DIR = ET.
const ET_HDR: u8 = field::STND | Dir::ET.dir8();
/// As it arrives at B: DIR = WT.
const WT_HDR: u8 = field::STND | Dir::WT.dir8();
const LINK_STATUS: u8 = sys::ITC_FW_MSG_LINK_STATUS as u8;
const SYNC_LOST: u8 = sys::ITC_FW_STATUS_FRAME as u8;
const FRAME_DROPPED: u8 = sys::ITC_FW_STATUS_DROPPED as u8;

/// Packet number `n`: header, service 20, the number, then bytes derived
/// from it, `len` bytes in all.
fn packet(n: u32, len: usize) -> Vec<u8> {
    let mut p = vec![ET_HDR, 20];
    p.extend_from_slice(&n.to_le_bytes()[..1]);
    p.extend((3..len).map(|i| (n as usize * 31 + i * 7) as u8));
    p
}

struct Pair {
    a: Firmware,
    b: Firmware,
    rng: Rng,
    /// Probability of flipping each data bit on the A-to-B wire.
    flip: f64,
    flips: u64,
}

impl Pair {
    fn new(cfg: &Config, flip: f64) -> Pair {
        let mut a = Firmware::new(0, cfg).unwrap();
        let mut b = Firmware::new(1, cfg).unwrap();
        a.push_host(&[]).unwrap();
        b.push_host(&[]).unwrap();
        Pair {
            a,
            b,
            rng: Rng::new(0x1234_5678_9abc_def1),
            flip,
            flips: 0,
        }
    }

    fn step(&mut self) {
        self.a.step();
        self.b.step();
        let mut to_b = wire(self.a.outputs(), 0);
        if self.flip > 0.0 && self.rng.chance(self.flip) {
            to_b ^= in_data_pin(0);
            self.flips += 1;
        }
        self.b.set_inputs(to_b);
        self.a.set_inputs(wire(self.b.outputs(), 0));
    }
}

/// Packets sent by A, packets received by B, the dropped frames and lost
/// syncs B reported (`E` and `F`).
type Exchanged = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Runs the pair until `count` packets of 3..=242 bytes went from A's ET
/// and B stopped receiving; returns B's packets and the dropped frames and
/// lost syncs B reported.
fn exchange(pair: &mut Pair, count: u32) -> Exchanged {
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut errors = Vec::new();
    let mut n = 0;
    let mut idle = 0;
    for _ in 0..20_000_000u64 {
        pair.step();
        // Before A has sync on ET its packets would bounce "no sync".
        if n < count && pair.a.stats().sync_bitmap & (1 << 2) != 0 {
            let len = 3 + pair.rng.below(240);
            let p = packet(n, len);
            if pair.a.push_host(&p).is_ok() {
                sent.push(p);
                n += 1;
            }
        }
        while let Some(m) = pair.a.pop_host() {
            assert_eq!(m[0], LINK_STATUS, "A bounced a packet: {m:02x?}");
        }
        while let Some(m) = pair.b.pop_host() {
            if m[0] == LINK_STATUS {
                if m[1] == FRAME_DROPPED || m[1] == SYNC_LOST {
                    errors.push(m);
                }
            } else {
                got.push(m);
            }
        }
        if n == count && pair.a.quiescent() && pair.b.quiescent() {
            idle += 1;
            if idle > 100 {
                break;
            }
        }
    }
    (sent, got, errors)
}

#[test]
fn two_hundred_packets_arrive_intact_and_in_order() {
    let mut pair = Pair::new(&default_config(), 0.0);
    let (sent, got, errors) = exchange(&mut pair, 200);
    assert_eq!(sent.len(), 200);
    assert!(
        errors.is_empty(),
        "frame errors on a clean wire: {errors:?}"
    );
    assert_eq!(got.len(), 200);
    for (s, g) in sent.iter().zip(&got) {
        assert_eq!(g[0], WT_HDR, "DIR rewritten to the arrival direction");
        assert_eq!(&g[1..], &s[1..]);
    }
    let st = pair.b.stats();
    assert_eq!(st.dir[0].packets_received, 200);
    assert_eq!(pair.a.stats().dir[0].frames_sent, 200);
}

#[test]
fn bit_flips_never_deliver_a_damaged_packet_nor_lose_sync() {
    let mut pair = Pair::new(&default_config(), 2e-4);
    let (sent, got, errors) = exchange(&mut pair, 200);
    assert!(pair.flips > 10, "the wire flipped {} bits", pair.flips);
    assert!(
        !errors.is_empty(),
        "flipped bits must show as dropped frames"
    );
    // Each damaged frame costs that frame only: `E`, never `F`.
    for e in &errors {
        assert_eq!(e, &[LINK_STATUS, FRAME_DROPPED, 6]);
    }
    let st = pair.b.stats().dir[0];
    let dropped = st.crc_errors + st.aborts + st.misaligned + st.overlong;
    assert_eq!(dropped as usize, errors.len(), "each drop reported once");
    assert_eq!((st.syncs, st.no_delimiter), (1, 0), "sync never lost");
    assert!(got.len() < sent.len(), "some packets must have been lost");
    assert!(!got.is_empty());
    // Every delivered packet is one that was sent, whole, in order.
    let mut next = 0;
    for g in &got {
        let n = g[2] as usize;
        let at = (next..sent.len())
            .find(|&i| i % 256 == n && sent[i][1..] == g[1..])
            .unwrap_or_else(|| panic!("damaged or out-of-order packet {g:02x?}"));
        assert_eq!(g[0] & !0x10, WT_HDR, "OVRN may be set, nothing else");
        next = at + 1;
    }
}
