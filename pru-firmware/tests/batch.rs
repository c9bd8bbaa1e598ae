//! Batched host messages in the firmware's host build, two instances wired
//! in lockstep (A's ET is B's WT): the offer and the agreement, packets in
//! batches both ways, intact and in order, a firmware that does not batch,
//! a host that does not offer, malformed batches and the lone bounce.

use itc_proto::pru_batch::{framing_bytes, BatchItems, BatchWriter, FRAMING_BATCHED};
use itc_proto::{field, Dir};
use pru_firmware::{default_config, wire, Config, Firmware};

const OFFER: [u8; 2] = framing_bytes(FRAMING_BATCHED);
const ET_HDR: u8 = field::STND | Dir::ET.dir8();
const WT_HDR: u8 = field::STND | Dir::WT.dir8();
const SE_HDR: u8 = field::STND | Dir::SE.dir8();

fn packet(hdr: u8, n: u32, len: usize) -> Vec<u8> {
    let mut p = vec![hdr, 20];
    p.extend_from_slice(&n.to_le_bytes()[..2]);
    p.extend((4..len).map(|i| (n as usize * 31 + i * 7) as u8));
    p
}

struct Pair {
    a: Firmware,
    b: Firmware,
}

impl Pair {
    /// Two instances, each started after an offer if `offer`.
    fn new(cfg: &Config, offer: bool) -> Pair {
        let mut a = Firmware::new(0, cfg).unwrap();
        let mut b = Firmware::new(1, cfg).unwrap();
        for fw in [&mut a, &mut b] {
            if offer {
                fw.push_host(&OFFER).unwrap();
            }
            fw.push_host(&[]).unwrap();
        }
        Pair { a, b }
    }

    fn step(&mut self) {
        self.a.step();
        self.b.step();
        self.b.set_inputs(wire(self.a.outputs(), 0));
        self.a.set_inputs(wire(self.b.outputs(), 0));
    }

    /// Steps until A's ET has sync (B's WT is up at the same time).
    fn sync(&mut self) {
        for _ in 0..100_000 {
            self.step();
            if self.a.stats().sync_bitmap & (1 << Dir::ET.dir8()) != 0
                && self.b.stats().sync_bitmap & (1 << Dir::WT.dir8()) != 0
            {
                return;
            }
        }
        panic!("no sync");
    }
}

/// Every message waiting for the host of `fw`.
fn drain(fw: &mut Firmware) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| fw.pop_host()).collect()
}

fn items(msg: &[u8]) -> Vec<Vec<u8>> {
    BatchItems::parse(msg, true)
        .unwrap_or_else(|e| panic!("{e}: {msg:02x?}"))
        .map(<[u8]>::to_vec)
        .collect()
}

fn batched() -> Config {
    default_config()
}

#[test]
fn the_agreement_comes_first_and_packets_go_batched_both_ways() {
    let mut pair = Pair::new(&batched(), true);
    // One host message per step: the offer, then the start.
    for _ in 0..10 {
        pair.step();
    }
    for fw in [&mut pair.a, &mut pair.b] {
        let msgs = drain(fw);
        assert_eq!(msgs[0], OFFER, "the agreement, alone and first");
        for m in &msgs[1..] {
            items(m);
        }
        assert_eq!(fw.stats().batched, 1);
    }
    pair.sync();
    drain(&mut pair.a);
    drain(&mut pair.b);

    // 40 packets of 60..=99 bytes, in batched messages as full as they go.
    let sent: Vec<Vec<u8>> = (0..40)
        .map(|n| packet(ET_HDR, n, 60 + n as usize))
        .collect();
    let mut batches = Vec::new();
    let mut w = BatchWriter::new();
    for p in &sent {
        if !w.push(p) {
            batches.push(w.as_bytes().to_vec());
            w.clear();
            assert!(w.push(p));
        }
    }
    batches.push(w.as_bytes().to_vec());
    assert!(batches.len() < sent.len() / 3);

    let (mut got, mut msgs) = (Vec::new(), 0);
    let mut pending = batches.into_iter().peekable();
    for step in 0..3_000_000u64 {
        pair.step();
        if let Some(b) = pending.peek() {
            if pair.a.push_host(b).is_ok() {
                pending.next();
            }
        }
        for m in drain(&mut pair.a) {
            for i in items(&m) {
                assert_ne!(i[0], field::TYPE_BOUNCE, "A bounced {i:02x?}");
            }
        }
        // The host takes its messages every 2000 steps: what arrives in
        // between shares messages.
        if step % 2000 == 0 {
            for m in drain(&mut pair.b) {
                msgs += 1;
                got.extend(
                    items(&m)
                        .into_iter()
                        .filter(|i| i[0] & field::KIND == field::STND),
                );
            }
        }
        if got.len() == sent.len() {
            break;
        }
    }
    let want: Vec<Vec<u8>> = sent
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p[0] = WT_HDR;
            p
        })
        .collect();
    assert_eq!(got, want, "intact and in order");
    assert!(
        msgs < got.len(),
        "{msgs} messages for {} packets",
        got.len()
    );
    let st = pair.b.stats();
    assert_eq!(st.dir[0].packets_received, sent.len() as u32);
    assert_eq!(st.dir[0].host_overruns, 0);
    assert_eq!(pair.a.stats().host_ignored, 0);
}

#[test]
fn a_firmware_that_does_not_batch_ignores_the_offer() {
    let cfg = Config {
        batch: 0,
        ..default_config()
    };
    let mut pair = Pair::new(&cfg, true);
    pair.sync();
    let msgs = drain(&mut pair.a);
    assert_eq!(
        msgs[0][0],
        field::TYPE_LINK_STATUS,
        "a report, not an agreement"
    );
    assert!(msgs.iter().all(|m| m[0] != OFFER[0]));
    assert_eq!(pair.a.stats().batched, 0);
    assert_eq!(pair.a.stats().host_ignored, 1, "the offer before the start");
    // One packet per message.
    let p = packet(ET_HDR, 1, 50);
    pair.a.push_host(&p).unwrap();
    let mut got = Vec::new();
    for _ in 0..100_000 {
        pair.step();
        got.extend(drain(&mut pair.b).into_iter().filter(|m| m[0] == WT_HDR));
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][1..], p[1..]);
}

#[test]
fn a_start_without_an_offer_goes_back_to_one_packet_per_message() {
    let mut pair = Pair::new(&batched(), true);
    pair.sync();
    assert_eq!(pair.a.stats().batched, 1);
    drain(&mut pair.a);
    pair.a.push_host(&[]).unwrap();
    for _ in 0..10 {
        pair.step();
    }
    let msgs = drain(&mut pair.a);
    assert_eq!(msgs[0], [field::TYPE_LINK_STATUS, b'P', Dir::ET.dir8()]);
    assert!(msgs
        .iter()
        .all(|m| m[0] == field::TYPE_LINK_STATUS && m.len() == 3));
    assert_eq!(pair.a.stats().batched, 0);
    // A single packet now is a packet, not a batch.
    pair.a.push_host(&packet(SE_HDR, 2, 10)).unwrap();
    for _ in 0..10 {
        pair.step();
    }
    let msgs = drain(&mut pair.a);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0][..2],
        [field::TYPE_BOUNCE, 2],
        "bounced: SE has no sync"
    );
}

#[test]
fn malformed_batches_are_refused_whole_and_long_bounces_go_alone() {
    let mut pair = Pair::new(&batched(), true);
    pair.sync();
    drain(&mut pair.a);
    // A cut-off item after a good one: nothing of it goes.
    let mut bad = vec![4];
    bad.extend(packet(ET_HDR, 1, 4));
    bad.extend([9, ET_HDR, 20]);
    pair.a.push_host(&bad).unwrap();
    pair.a.push_host(&[1, ET_HDR, 0]).unwrap();
    for _ in 0..10 {
        pair.step();
    }
    assert_eq!(pair.a.stats().host_ignored, 2);
    assert_eq!(pair.a.stats().dir[0].frames_sent, 0);

    // A 255-byte packet to SE (no sync) comes back as a 257-byte bounce,
    // too long for an item: alone, after 0x00. A short one comes back as
    // an item.
    let long = packet(SE_HDR, 3, 255);
    let short = packet(SE_HDR, 4, 20);
    let mut w = BatchWriter::new();
    assert!(w.push(&long) && w.push(&short));
    pair.a.push_host(w.as_bytes()).unwrap();
    for _ in 0..10 {
        pair.step();
    }
    let msgs = drain(&mut pair.a);
    assert_eq!(msgs.len(), 2, "{msgs:02x?}");
    assert_eq!(msgs[0][0], 0x00);
    let mut want = vec![field::TYPE_BOUNCE, 2];
    want.extend(&long);
    assert_eq!(items(&msgs[0]), vec![want]);
    let mut want = vec![field::TYPE_BOUNCE, 2];
    want.extend(&short);
    assert_eq!(items(&msgs[1]), vec![want]);
    assert_eq!(pair.a.stats().dir[1].bounced_no_sync, 2);
}
