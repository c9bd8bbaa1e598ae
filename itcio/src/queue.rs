//! Bounded packet queues.
//!
//! A [`PacketQueue`] holds whole packets and is bounded by the bytes of
//! the packets it holds, never by a count. It stores them in a
//! [`PacketRing`], so its memory is those bytes plus one per packet: at
//! most twice the bound, whatever the packet sizes. A push that would
//! exceed the bound is refused and the caller counts the drop.

use itc_proto::MAX_PACKET_LEN;

use crate::ring::PacketRing;

/// A FIFO of packets bounded by total bytes.
#[derive(Debug)]
pub struct PacketQueue {
    ring: PacketRing,
    bytes: usize,
    limit: usize,
}

impl PacketQueue {
    /// An empty queue holding at most `limit` bytes of packets.
    pub fn new(limit: usize) -> PacketQueue {
        PacketQueue {
            // One length byte per packet of at least one byte.
            ring: PacketRing::new(limit.saturating_mul(2)),
            bytes: 0,
            limit,
        }
    }

    /// Whether a packet of `len` bytes would be accepted now. Any bound,
    /// up to `usize::MAX`, works: the sum cannot overflow.
    pub fn has_room(&self, len: usize) -> bool {
        self.bytes
            .checked_add(len)
            .is_some_and(|total| total <= self.limit)
    }

    /// Append a packet; gives it back if it does not fit.
    pub fn push(&mut self, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        if !self.has_room(packet.len()) {
            return Err(packet);
        }
        self.force_push(packet)
    }

    /// Append a packet even beyond the bound. For the few control packets
    /// whose loss would break a guarantee; callers bound their number.
    /// Gives back only a packet longer than any packet.
    pub fn force_push(&mut self, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        if !self.ring.push_back(&packet) {
            return Err(packet);
        }
        self.bytes = self.bytes.saturating_add(packet.len());
        Ok(())
    }

    /// Put a packet back at the head (it was taken but could not be used).
    pub fn push_front(&mut self, packet: Box<[u8]>) {
        if self.ring.push_front(&packet) {
            self.bytes = self.bytes.saturating_add(packet.len());
        }
    }

    /// Take the packet at the head.
    pub fn pop(&mut self) -> Option<Box<[u8]>> {
        let p = self.ring.pop()?;
        self.bytes = self.bytes.saturating_sub(p.len());
        Some(p)
    }

    /// Remove everything; returns how many packets were removed.
    pub fn clear(&mut self) -> usize {
        self.bytes = 0;
        self.ring.clear()
    }

    /// Number of packets queued.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Bytes of the packets queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes of memory the queue holds.
    pub fn memory(&self) -> usize {
        self.ring.capacity()
    }

    /// The bound in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The lane of an [`OutQueue`] a packet travels in, in the order they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// `itcd`'s own hello: at most one waits, and it goes first, so that
    /// a link full of traffic never starves the neighbour's liveness.
    Hello,
    /// MFM traffic.
    Mfm,
    /// Service traffic.
    Service,
}

impl Lane {
    /// The lane for a packet of MFM (`true`) or service traffic.
    pub fn of(mfm: bool) -> Lane {
        if mfm {
            Lane::Mfm
        } else {
            Lane::Service
        }
    }
}

/// The outbound queue of one direction: a pending hello first, then MFM
/// traffic, then service traffic; the two traffic lanes are bounded
/// separately.
#[derive(Debug)]
pub struct OutQueue {
    hello: Option<Box<[u8]>>,
    mfm: PacketQueue,
    svc: PacketQueue,
}

impl OutQueue {
    /// Empty lanes of `limit` bytes each.
    pub fn new(limit: usize) -> OutQueue {
        OutQueue {
            hello: None,
            mfm: PacketQueue::new(limit),
            svc: PacketQueue::new(limit),
        }
    }

    fn lane(&mut self, mfm: bool) -> &mut PacketQueue {
        if mfm {
            &mut self.mfm
        } else {
            &mut self.svc
        }
    }

    /// The longest packet a lane can take: a maximum-size packet, or less
    /// when the bound is smaller. Writers are told a lane is writable when
    /// this much room is free, so that every write then goes through or
    /// fails at once.
    pub fn largest(&self) -> usize {
        MAX_PACKET_LEN.min(self.mfm.limit())
    }

    /// Whether a packet of `len` bytes would be accepted in that lane.
    pub fn has_room(&self, mfm: bool, len: usize) -> bool {
        if mfm {
            self.mfm.has_room(len)
        } else {
            self.svc.has_room(len)
        }
    }

    /// Queue a packet in its lane; gives it back if the lane is full.
    pub fn push(&mut self, mfm: bool, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        self.lane(mfm).push(packet)
    }

    /// Queue a hello ahead of all traffic. A newer hello replaces one that
    /// has not gone yet: only the latest name and physics id matter.
    pub fn set_hello(&mut self, packet: Box<[u8]>) {
        self.hello = Some(packet);
    }

    /// The next packet to send: the hello, then MFM, then service traffic.
    pub fn pop(&mut self) -> Option<(Lane, Box<[u8]>)> {
        if let Some(p) = self.hello.take() {
            return Some((Lane::Hello, p));
        }
        if let Some(p) = self.mfm.pop() {
            return Some((Lane::Mfm, p));
        }
        self.svc.pop().map(|p| (Lane::Service, p))
    }

    /// Put back a packet taken by [`OutQueue::pop`] that could not be sent.
    /// A hello is put back only if no newer one was queued meanwhile.
    pub fn unpop(&mut self, lane: Lane, packet: Box<[u8]>) {
        match lane {
            Lane::Hello => {
                self.hello.get_or_insert(packet);
            }
            Lane::Mfm => self.mfm.push_front(packet),
            Lane::Service => self.svc.push_front(packet),
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.hello.is_none() && self.mfm.is_empty() && self.svc.is_empty()
    }

    /// Empty every lane; returns how many packets were discarded.
    pub fn clear(&mut self) -> usize {
        usize::from(self.hello.take().is_some()) + self.mfm.clear() + self.svc.clear()
    }

    /// Bytes queued in the traffic lanes.
    pub fn bytes(&self) -> usize {
        self.mfm.bytes() + self.svc.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(len: usize, tag: u8) -> Box<[u8]> {
        vec![tag; len].into_boxed_slice()
    }

    #[test]
    fn bounded_by_bytes_and_fifo() {
        let mut q = PacketQueue::new(10);
        assert!(q.push(pkt(4, 1)).is_ok());
        assert!(q.push(pkt(6, 2)).is_ok());
        assert_eq!(q.push(pkt(1, 3)).unwrap_err()[0], 3, "full queue refuses");
        assert_eq!(q.bytes(), 10);
        assert_eq!(q.pop().unwrap()[0], 1);
        assert!(q.has_room(4) && !q.has_room(5));
        assert_eq!(q.pop().unwrap()[0], 2);
        assert!(q.pop().is_none());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn any_bound_up_to_usize_max_works() {
        let mut q = PacketQueue::new(usize::MAX);
        assert!(q.has_room(usize::MAX));
        q.push(pkt(255, 1)).unwrap();
        assert!(!q.has_room(usize::MAX), "no overflow past the bound");
        assert!(q.has_room(255));
        let mut none = PacketQueue::new(0);
        assert!(none.push(pkt(1, 1)).is_err());
        assert!(none.has_room(0));
    }

    #[test]
    fn push_front_and_force_push_keep_accounting() {
        let mut q = PacketQueue::new(4);
        q.push(pkt(4, 1)).unwrap();
        let p = q.pop().unwrap();
        q.force_push(pkt(3, 2)).unwrap();
        q.push_front(p);
        assert_eq!(q.bytes(), 7);
        assert_eq!(q.pop().unwrap()[0], 1);
        q.push_front(pkt(4, 1));
        assert_eq!(q.clear(), 2);
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn memory_is_at_most_twice_the_bound_whatever_the_packet_sizes() {
        let mut q = PacketQueue::new(16 * 1024);
        while q.push(pkt(1, 7)).is_ok() {}
        assert_eq!(q.len(), 16 * 1024);
        assert!(q.memory() <= 2 * 16 * 1024, "{}", q.memory());
        while q.pop().is_some() {}
        assert!(q.memory() <= crate::ring::KEEP, "given back once empty");
        assert!(q.force_push(pkt(256, 1)).is_err(), "longer than a packet");
    }

    #[test]
    fn mfm_lane_goes_first_and_lanes_are_bounded_separately() {
        let mut q = OutQueue::new(8);
        q.push(false, pkt(8, 1)).unwrap();
        assert!(q.push(false, pkt(1, 2)).is_err());
        q.push(true, pkt(8, 3)).unwrap();
        let (lane, p) = q.pop().unwrap();
        assert_eq!(lane, Lane::Mfm);
        assert_eq!(p[0], 3);
        q.unpop(lane, p);
        assert_eq!(q.pop().unwrap().1[0], 3);
        assert_eq!(q.pop().unwrap(), (Lane::Service, pkt(8, 1)));
        assert!(q.is_empty());
    }

    #[test]
    fn lanes_smaller_than_a_packet_say_what_fits() {
        let q = OutQueue::new(100);
        assert_eq!(q.largest(), 100);
        assert_eq!(OutQueue::new(usize::MAX).largest(), MAX_PACKET_LEN);
    }

    #[test]
    fn a_hello_goes_first_even_when_the_lanes_are_full() {
        let mut q = OutQueue::new(8);
        q.push(false, pkt(8, 1)).unwrap();
        q.push(true, pkt(8, 2)).unwrap();
        q.set_hello(pkt(3, 3));
        q.set_hello(pkt(3, 4));
        let (lane, p) = q.pop().unwrap();
        assert_eq!((lane, p[0]), (Lane::Hello, 4), "the newest hello only");
        // Put back after a newer one was queued: the newer one stays.
        q.set_hello(pkt(3, 5));
        q.unpop(lane, p);
        assert_eq!(q.pop().unwrap(), (Lane::Hello, pkt(3, 5)));
        assert_eq!(q.pop().unwrap().0, Lane::Mfm);
        q.set_hello(pkt(3, 6));
        assert_eq!(q.clear(), 2, "the hello and the service packet");
        assert!(q.is_empty());
    }
}
