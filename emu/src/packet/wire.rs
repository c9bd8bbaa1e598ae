//! One emulated wire between two tile ends: two independent lanes (one per
//! direction of travel), a cut switch, and the link's timing and fault model.
//!
//! A lane is a bounded FIFO of packets in flight ([`WIRE_QUEUE_PACKETS`]).
//! A packet occupies the lane for its serialisation time,
//! `(len + FRAME_OVERHEAD) * 8` bits at `rate_bps`, starting when the lane
//! is free, and arrives `latency` after its last bit left; arrival times in a
//! lane therefore never decrease, and packets arrive in the order sent.
//! Loss, probabilistic corruption (a damaged frame, which the far PRU drops
//! and reports), and the `damage_next`/`overrun_next` counts (EROR, OVRN)
//! are decided when a packet is put on the lane, from the lane's own seeded
//! generator. Cutting the wire drops everything in flight on both lanes.
#![deny(unsafe_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::WIRE_QUEUE_PACKETS;
use crate::rng::Rng;
use crate::wires::LinkParams;
use itc_proto::Dir;

/// Bytes of framing per packet counted in the serialisation time: an
/// opening delimiter, the CRC-16 and a closing delimiter.
pub(crate) const FRAME_OVERHEAD: usize = 4;

/// One end of a wire: a tile (by index) and the direction it leaves in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct End {
    pub(crate) tile: usize,
    pub(crate) dir: Dir,
}

/// A packet on its way.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The bytes as the sender wrote them.
    pub(crate) bytes: Vec<u8>,
    /// When the last bit reaches the far PRU.
    pub(crate) arrival: Instant,
    /// The far PRU will never see it.
    pub(crate) lost: bool,
    /// Damaged on the way (`corrupt`): the far PRU drops the frame and
    /// reports it, as the firmware does with a bad frame check.
    pub(crate) corrupted: bool,
    /// Arrives with EROR set (`damage_next`).
    pub(crate) eror: bool,
    /// Arrives with OVRN set.
    pub(crate) overrun: bool,
}

/// What became of a packet handed to [`Wire::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// On the wire; it arrives (or is lost) at `arrival`; `damaged` if
    /// corrupted or marked EROR.
    Queued { arrival: Instant, damaged: bool },
    /// The lane already holds [`WIRE_QUEUE_PACKETS`]; here are the bytes
    /// back.
    QueueFull(Vec<u8>),
}

#[derive(Debug)]
struct Lane {
    in_flight: VecDeque<InFlight>,
    /// When the last queued packet's final bit leaves the sender.
    busy_until: Option<Instant>,
    damage_next: u32,
    overrun_next: u32,
    rng: Rng,
}

impl Lane {
    fn new(seed: u64) -> Lane {
        Lane {
            in_flight: VecDeque::new(),
            busy_until: None,
            damage_next: 0,
            overrun_next: 0,
            rng: Rng::new(seed),
        }
    }
}

/// A wire: `ends[0]` and `ends[1]`, lane `i` carrying from `ends[i]` to the
/// other end.
#[derive(Debug)]
pub(crate) struct Wire {
    ends: [End; 2],
    params: LinkParams,
    cut: bool,
    lanes: [Lane; 2],
}

/// How long `len` bytes plus framing take at `rate_bps` (0: no time),
/// rounded up to the nanosecond.
pub(crate) fn serialisation_delay(len: usize, rate_bps: u64) -> Duration {
    if rate_bps == 0 {
        return Duration::ZERO;
    }
    let bits = (len as u128 + FRAME_OVERHEAD as u128) * 8;
    let rate = u128::from(rate_bps);
    let nanos = (bits * 1_000_000_000).div_ceil(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl Wire {
    /// A wire between `a` and `b` (which should face each other); `salt`
    /// distinguishes its lanes' generators from other wires with the same
    /// seed.
    pub(crate) fn new(a: End, b: End, params: LinkParams, salt: u64) -> Wire {
        let seed = params.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Wire {
            ends: [a, b],
            params,
            cut: false,
            lanes: [Lane::new(seed), Lane::new(seed ^ 0x5555_5555_5555_5555)],
        }
    }

    /// The end on `side` (0 or 1).
    pub(crate) fn end(&self, side: usize) -> End {
        self.ends[side]
    }

    /// True while the wire is cut.
    pub(crate) fn is_cut(&self) -> bool {
        self.cut
    }

    /// Puts `bytes` on the lane leaving `side` at time `now`.
    pub(crate) fn send(&mut self, side: usize, now: Instant, bytes: Vec<u8>) -> Sent {
        let params = &self.params;
        let lane = &mut self.lanes[side];
        if lane.in_flight.len() >= WIRE_QUEUE_PACKETS {
            return Sent::QueueFull(bytes);
        }
        let start = lane.busy_until.map_or(now, |b| b.max(now));
        let done = start + serialisation_delay(bytes.len(), params.rate_bps);
        lane.busy_until = Some(done);
        let arrival = done + params.latency;
        let lost = lane.rng.chance(params.loss);
        let corrupted = lane.rng.chance(params.corrupt);
        let mut eror = false;
        if lane.damage_next > 0 {
            lane.damage_next -= 1;
            eror = true;
        }
        let mut overrun = false;
        if lane.overrun_next > 0 {
            lane.overrun_next -= 1;
            overrun = true;
        }
        lane.in_flight.push_back(InFlight {
            bytes,
            arrival,
            lost,
            corrupted,
            eror,
            overrun,
        });
        Sent::Queued {
            arrival,
            damaged: corrupted || eror,
        }
    }

    /// The oldest packet on the lane leaving `side` if it has arrived by
    /// `now`.
    pub(crate) fn pop_arrived(&mut self, side: usize, now: Instant) -> Option<InFlight> {
        let lane = &mut self.lanes[side];
        if lane.in_flight.front()?.arrival <= now {
            lane.in_flight.pop_front()
        } else {
            None
        }
    }

    /// Cuts the wire, dropping what is in flight; returns how many packets
    /// each lane lost. Cutting a cut wire drops nothing.
    pub(crate) fn cut(&mut self) -> [usize; 2] {
        self.cut = true;
        let mut dropped = [0; 2];
        for (lane, n) in self.lanes.iter_mut().zip(dropped.iter_mut()) {
            *n = lane.in_flight.len();
            lane.in_flight.clear();
            lane.busy_until = None;
        }
        dropped
    }

    /// Reconnects a cut wire.
    pub(crate) fn restore(&mut self) {
        self.cut = false;
    }

    /// The next `n` packets leaving `side` arrive with EROR set.
    pub(crate) fn damage_next(&mut self, side: usize, n: u32) {
        self.lanes[side].damage_next = n;
    }

    /// The next `n` packets leaving `side` arrive with OVRN set.
    pub(crate) fn overrun_next(&mut self, side: usize, n: u32) {
        self.lanes[side].overrun_next = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(params: LinkParams) -> Wire {
        let a = End {
            tile: 0,
            dir: Dir::ET,
        };
        let b = End {
            tile: 1,
            dir: Dir::WT,
        };
        Wire::new(a, b, params, 0)
    }

    #[test]
    fn serialisation_counts_framing_and_rounds_up() {
        assert_eq!(serialisation_delay(100, 0), Duration::ZERO);
        // (1 + 4) * 8 = 40 bits at 1000 bit/s
        assert_eq!(serialisation_delay(1, 1000), Duration::from_millis(40));
        // 40 bits at 3 bit/s = 13.333.. s, rounded up
        assert_eq!(
            serialisation_delay(1, 3),
            Duration::from_nanos(13_333_333_334)
        );
    }

    #[test]
    fn lane_is_fifo_and_serialises() {
        let mut w = wire(LinkParams {
            rate_bps: 1000,
            latency: Duration::from_millis(5),
            ..LinkParams::default()
        });
        let t0 = Instant::now();
        let mut arrivals = Vec::new();
        for i in 0..3u8 {
            match w.send(0, t0, vec![0x82, i]) {
                Sent::Queued { arrival, damaged } => {
                    assert!(!damaged);
                    arrivals.push(arrival);
                }
                Sent::QueueFull(_) => panic!("full"),
            }
        }
        // 2 bytes + 4 framing = 48 bits = 48 ms each, then 5 ms latency
        let ms = Duration::from_millis;
        assert_eq!(arrivals, [t0 + ms(53), t0 + ms(101), t0 + ms(149)]);
        assert!(w.pop_arrived(0, t0 + ms(52)).is_none());
        assert_eq!(w.pop_arrived(0, t0 + ms(200)).map(|p| p.bytes[1]), Some(0));
        assert_eq!(w.pop_arrived(0, t0 + ms(200)).map(|p| p.bytes[1]), Some(1));
        assert_eq!(w.pop_arrived(0, t0 + ms(200)).map(|p| p.bytes[1]), Some(2));
        assert!(w.pop_arrived(0, t0 + ms(200)).is_none());
        // the other lane is independent and idle
        assert!(w.pop_arrived(1, t0 + ms(200)).is_none());
    }

    #[test]
    fn lane_is_bounded() {
        let mut w = wire(LinkParams {
            rate_bps: 1,
            ..LinkParams::default()
        });
        let now = Instant::now();
        for _ in 0..WIRE_QUEUE_PACKETS {
            assert!(matches!(w.send(0, now, vec![0x82]), Sent::Queued { .. }));
        }
        assert_eq!(w.send(0, now, vec![0x82]), Sent::QueueFull(vec![0x82]));
        assert!(matches!(w.send(1, now, vec![0x86]), Sent::Queued { .. }));
    }

    #[test]
    fn cut_drops_in_flight_on_both_lanes() {
        let mut w = wire(LinkParams {
            latency: Duration::from_secs(10),
            ..LinkParams::default()
        });
        let now = Instant::now();
        w.send(0, now, vec![0x82]);
        w.send(0, now, vec![0x82]);
        w.send(1, now, vec![0x86]);
        assert_eq!(w.cut(), [2, 1]);
        assert!(w.is_cut());
        assert!(w.pop_arrived(0, now + Duration::from_secs(20)).is_none());
        assert_eq!(w.cut(), [0, 0]);
        w.restore();
        assert!(!w.is_cut());
    }

    #[test]
    fn damage_and_overrun_counts_apply_to_next_packets() {
        let mut w = wire(LinkParams::default());
        let now = Instant::now();
        w.damage_next(0, 1);
        w.overrun_next(0, 2);
        for _ in 0..3 {
            w.send(0, now, vec![0x82, 1, 2]);
        }
        let got: Vec<(bool, bool, Vec<u8>)> = (0..3)
            .map(|_| {
                let p = w.pop_arrived(0, now).expect("arrived");
                assert!(!p.corrupted);
                (p.eror, p.overrun, p.bytes)
            })
            .collect();
        assert_eq!(
            got,
            [
                (true, true, vec![0x82, 1, 2]),
                (false, true, vec![0x82, 1, 2]),
                (false, false, vec![0x82, 1, 2]),
            ]
        );
    }

    #[test]
    fn corruption_is_decided_per_packet_and_is_not_eror() {
        let mut w = wire(LinkParams {
            corrupt: 0.5,
            seed: 9,
            ..LinkParams::default()
        });
        let now = Instant::now();
        let mut corrupted = 0;
        for _ in 0..200 {
            let Sent::Queued { damaged, .. } = w.send(0, now, vec![0x82, 7]) else {
                panic!("full");
            };
            let p = w.pop_arrived(0, now).expect("arrived");
            assert_eq!(p.corrupted, damaged);
            assert!(!p.eror && !p.lost);
            corrupted += usize::from(p.corrupted);
        }
        assert!((60..=140).contains(&corrupted), "{corrupted} of 200");
    }

    #[test]
    fn loss_is_decided_per_packet() {
        let mut w = wire(LinkParams {
            loss: 1.0,
            ..LinkParams::default()
        });
        let now = Instant::now();
        w.send(0, now, vec![0x82]);
        assert!(w.pop_arrived(0, now).expect("arrived").lost);
    }
}
