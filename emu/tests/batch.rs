//! Batched PRU messages through both models' sockets, with plain seqpacket
//! clients standing in for `itcd`: the framing offer and its answer, old
//! hosts and old PRUs on either side, packets intact and in order, and the
//! counters.

mod common;

use std::time::{Duration, Instant};

use common::{deadline, Host, TestDir, STATUS};
use itc_emu::{FirmwareModel, LinkModel, LinkParams, PacketModel, SimStats, TileId, Wires};
use itc_proto::pru_batch::{framing_bytes, BatchItems, BatchWriter, FRAMING_BATCHED};
use itc_proto::{field, Dir, Pru};

const OFFER: [u8; 2] = framing_bytes(FRAMING_BATCHED);

/// Tiles a and b, a's ET wired to b's WT, and a host on each end's PRU.
struct Grid {
    sim: Box<dyn LinkModel>,
    a: Host,
    b: Host,
    _dir: TestDir,
}

fn grid<M: LinkModel + 'static>(pru_batch: bool, offer: bool) -> Grid {
    let dir = TestDir::new();
    let mut wires = Wires::new(
        &dir.0,
        LinkParams {
            monitor_interval: Duration::from_secs(3600),
            seed: 7,
            pru_batch,
            ..LinkParams::default()
        },
    );
    let a = wires.add_tile("a");
    let b = wires.add_tile("b");
    wires.connect(a, Dir::ET, b);
    let (pa, pb) = (
        wires.pru_socket(a, Pru::Pru0),
        wires.pru_socket(b, Pru::Pru1),
    );
    let sim = itc_emu::start::<M>(wires).expect("emulator starts");
    let hosts = [Host::connect(&pa), Host::connect(&pb)];
    for h in &hosts {
        if offer {
            h.send(&OFFER);
        }
        h.start();
    }
    let [a, b] = hosts;
    Grid {
        sim,
        a,
        b,
        _dir: dir,
    }
}

impl Grid {
    fn settle(&self, f: impl Fn(&SimStats) -> bool) {
        let end = deadline();
        while Instant::now() < end {
            if f(&self.sim.stats()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("counters never matched: {:?}", self.sim.stats());
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        // Stop the loop before the directory goes.
        let sim = std::mem::replace(&mut self.sim, Box::new(Stopped));
        sim.stop();
    }
}

/// What stands in for a stopped model in a dropped grid.
#[derive(Debug)]
struct Stopped;

impl LinkModel for Stopped {
    fn start(_: Wires) -> Result<Self, itc_emu::Error> {
        Ok(Stopped)
    }
    fn name(&self) -> &'static str {
        "stopped"
    }
    fn cut(&self, _: itc_emu::TileId, _: Dir) {}
    fn restore(&self, _: itc_emu::TileId, _: Dir) {}
    fn stats(&self) -> SimStats {
        SimStats::default()
    }
    fn firmware_counters(
        &self,
        _: itc_emu::TileId,
        _: Dir,
    ) -> Result<itc_emu::FirmwareCounters, itc_emu::Error> {
        Ok(itc_emu::FirmwareCounters(Vec::new()))
    }
    fn stop(self: Box<Self>) {}
}

/// Reads batched messages until `want` items other than monitor reports
/// have come; returns them and the number of messages they took.
fn batched_items(h: &Host, want: usize) -> (Vec<Vec<u8>>, usize) {
    let end = deadline();
    let (mut items, mut msgs) = (Vec::new(), 0);
    while items.len() < want {
        let m = h.recv_by(end).expect("a batched message in time");
        msgs += 1;
        let parsed = BatchItems::parse(&m, true).unwrap_or_else(|e| panic!("{e}: {m:02x?}"));
        items.extend(
            parsed
                .filter(|i| !i.starts_with(&[STATUS, b'M']))
                .map(<[u8]>::to_vec),
        );
    }
    (items, msgs)
}

/// Waits for link status `P` of `dir` among batched items.
fn wait_sync_batched(h: &Host, dir: Dir) {
    loop {
        let (items, _) = batched_items(h, 1);
        if items.contains(&vec![STATUS, b'P', dir.dir8()]) {
            return;
        }
    }
}

/// The next `n` routed packets, one message each.
fn take_packets(h: &Host, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = h.next();
        if m[0] & field::KIND == field::STND {
            out.push(m);
        }
    }
    out
}

fn wait_sync_single(h: &Host, dir: Dir) {
    loop {
        if h.next() == [STATUS, b'P', dir.dir8()] {
            return;
        }
    }
}

/// A routed service packet to `dir`: svc 20, then `n` and filler.
fn packet(dir: Dir, n: u8, len: usize) -> Vec<u8> {
    let mut p = vec![field::STND | dir.dir8(), 20, n];
    p.resize(len, n);
    p
}

/// `p` as it arrives at the far end: its direction is where it came from.
fn arrived(p: &[u8], at: Dir) -> Vec<u8> {
    let mut p = p.to_vec();
    p[0] = (p[0] & !field::DIR) | at.dir8();
    p
}

fn both_ways_batched<M: LinkModel + 'static>() {
    let g = grid::<M>(true, true);
    let end = deadline();
    for h in [&g.a, &g.b] {
        assert_eq!(
            h.recv_by(end).as_deref(),
            Some(&OFFER[..]),
            "the agreement comes first"
        );
    }
    wait_sync_batched(&g.a, Dir::ET);
    wait_sync_batched(&g.b, Dir::WT);
    // The packet model's sockets frame the messages; the firmware model's
    // firmware does, and its sockets pass them on as they are.
    let packet_model = g.sim.name() == "packet";
    if packet_model {
        g.settle(|s| {
            s.tiles
                .iter()
                .all(|t| t.prus.iter().all(|p| !p.connected || p.batched))
        });
    }

    // 12 packets of 100 bytes in three batched messages of four.
    let sent: Vec<Vec<u8>> = (0..12).map(|n| packet(Dir::ET, n, 100)).collect();
    for chunk in sent.chunks(4) {
        let mut w = BatchWriter::new();
        for p in chunk {
            assert!(w.push(p));
        }
        g.a.send(w.as_bytes());
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let (items, _) = batched_items(&g.b, 1);
        got.extend(
            items
                .into_iter()
                .filter(|i| i[0] & field::KIND == field::STND),
        );
    }
    let want: Vec<Vec<u8>> = sent.iter().map(|p| arrived(p, Dir::WT)).collect();
    assert_eq!(got, want, "intact and in order");
    if packet_model {
        g.settle(|s| {
            let (a, b) = (&s.tiles[0], &s.tiles[1]);
            a.prus[0].items_from_host == 12
                && a.prus[0].bad_batches == 0
                && b.prus[1].items_to_host >= 12
        });
    }
    // The offer, the start and three batched messages.
    g.settle(|s| s.tiles[0].prus[0].from_host == 5);
    let frames_sent = || {
        let c = g
            .sim
            .firmware_counters(TileId(0), Dir::ET)
            .expect("counters");
        c.0.iter()
            .find(|(k, _)| *k == "frames_sent")
            .map(|(_, v)| *v)
    };
    if !packet_model {
        assert_eq!(frames_sent(), Some(12));
    }

    // A malformed batch is refused whole and counted; nothing goes out.
    g.a.send(&[3, 0x82, 20]);
    g.settle(|s| s.tiles[0].prus[0].from_host == 6);
    if packet_model {
        g.settle(|s| s.tiles[0].prus[0].bad_batches == 1);
        assert_eq!(g.sim.stats().tiles[0].prus[0].items_from_host, 12);
    } else {
        // The firmware counts it in host_ignored (not among a direction's
        // counters); no frame went out for it.
        assert_eq!(frames_sent(), Some(12));
    }
}

/// A host that does not offer batching gets one message per packet.
fn old_host_new_pru<M: LinkModel + 'static>() {
    let g = grid::<M>(true, false);
    wait_sync_single(&g.a, Dir::ET);
    wait_sync_single(&g.b, Dir::WT);
    let sent: Vec<Vec<u8>> = (0..6).map(|n| packet(Dir::ET, n, 60)).collect();
    for p in &sent {
        g.a.send(p);
    }
    let got = take_packets(&g.b, sent.len());
    let want: Vec<Vec<u8>> = sent.iter().map(|p| arrived(p, Dir::WT)).collect();
    assert_eq!(got, want);
    let s = g.sim.stats();
    assert!(!s.tiles[0].prus[0].batched && !s.tiles[1].prus[1].batched);
    assert_eq!(s.tiles[1].prus[1].items_to_host, 0);
}

/// A PRU that does not agree ignores the offer: its first reply is a link
/// report, and messages stay one per packet.
fn new_host_old_pru<M: LinkModel + 'static>() {
    let g = grid::<M>(false, true);
    let first = g.a.next();
    assert_eq!(
        first[0], STATUS,
        "a link report, not an agreement: {first:02x?}"
    );
    wait_sync_single(&g.b, Dir::WT);
    if first != [STATUS, b'P', Dir::ET.dir8()] {
        wait_sync_single(&g.a, Dir::ET);
    }
    let sent: Vec<Vec<u8>> = (0..6).map(|n| packet(Dir::ET, n, 60)).collect();
    for p in &sent {
        g.a.send(p);
    }
    let want: Vec<Vec<u8>> = sent.iter().map(|p| arrived(p, Dir::WT)).collect();
    assert_eq!(take_packets(&g.b, sent.len()), want);
    let s = g.sim.stats();
    assert!(!s.tiles[0].prus[0].batched);
    assert_eq!(s.tiles[0].prus[0].items_from_host, 0);
}

#[test]
fn packet_model_batches_both_ways() {
    both_ways_batched::<PacketModel>();
}

#[test]
fn firmware_model_batches_both_ways() {
    both_ways_batched::<FirmwareModel>();
}

#[test]
fn packet_model_keeps_single_messages_for_a_host_that_does_not_offer() {
    old_host_new_pru::<PacketModel>();
}

#[test]
fn firmware_model_keeps_single_messages_for_a_host_that_does_not_offer() {
    old_host_new_pru::<FirmwareModel>();
}

#[test]
fn packet_model_without_batching_ignores_the_offer() {
    new_host_old_pru::<PacketModel>();
}

#[test]
fn firmware_model_without_batching_ignores_the_offer() {
    new_host_old_pru::<FirmwareModel>();
}
