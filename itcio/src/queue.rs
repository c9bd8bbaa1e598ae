//! Bounded packet queues.
//!
//! A [`PacketQueue`] holds whole packets and is bounded by the bytes it
//! holds, never by a count, so memory stays bounded whatever the packet
//! sizes. A push that would exceed the bound is refused and the caller
//! counts the drop.

use std::collections::VecDeque;

/// A FIFO of packets bounded by total bytes.
#[derive(Debug)]
pub struct PacketQueue {
    packets: VecDeque<Box<[u8]>>,
    bytes: usize,
    limit: usize,
}

impl PacketQueue {
    /// An empty queue holding at most `limit` bytes.
    pub fn new(limit: usize) -> PacketQueue {
        PacketQueue {
            packets: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    /// Whether a packet of `len` bytes would be accepted now.
    pub fn has_room(&self, len: usize) -> bool {
        self.bytes + len <= self.limit
    }

    /// Append a packet; gives it back if it does not fit.
    pub fn push(&mut self, packet: Box<[u8]>) -> Result<(), Box<[u8]>> {
        if !self.has_room(packet.len()) {
            return Err(packet);
        }
        self.force_push(packet);
        Ok(())
    }

    /// Append a packet even beyond the bound. For the few control packets
    /// whose loss would break a guarantee; callers bound their number.
    pub fn force_push(&mut self, packet: Box<[u8]>) {
        self.bytes += packet.len();
        self.packets.push_back(packet);
    }

    /// Put a packet back at the head (it was taken but could not be used).
    pub fn push_front(&mut self, packet: Box<[u8]>) {
        self.bytes += packet.len();
        self.packets.push_front(packet);
    }

    /// The packet at the head.
    pub fn front(&self) -> Option<&[u8]> {
        self.packets.front().map(|p| &p[..])
    }

    /// Take the packet at the head.
    pub fn pop(&mut self) -> Option<Box<[u8]>> {
        let p = self.packets.pop_front()?;
        self.bytes -= p.len();
        Some(p)
    }

    /// Remove everything; returns how many packets were removed.
    pub fn clear(&mut self) -> usize {
        let n = self.packets.len();
        self.packets.clear();
        self.bytes = 0;
        n
    }

    /// Number of packets queued.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bound in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The outbound queue of one direction: MFM traffic goes out before
/// service traffic; each lane is bounded separately.
#[derive(Debug)]
pub struct OutQueue {
    mfm: PacketQueue,
    svc: PacketQueue,
}

impl OutQueue {
    /// Empty lanes of `limit` bytes each.
    pub fn new(limit: usize) -> OutQueue {
        OutQueue {
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

    /// The next packet to send: MFM first.
    pub fn pop(&mut self) -> Option<(bool, Box<[u8]>)> {
        if let Some(p) = self.mfm.pop() {
            return Some((true, p));
        }
        self.svc.pop().map(|p| (false, p))
    }

    /// Put back a packet taken by [`OutQueue::pop`] that could not be sent.
    pub fn unpop(&mut self, mfm: bool, packet: Box<[u8]>) {
        self.lane(mfm).push_front(packet);
    }

    /// Whether both lanes are empty.
    pub fn is_empty(&self) -> bool {
        self.mfm.is_empty() && self.svc.is_empty()
    }

    /// Empty both lanes; returns how many packets were discarded.
    pub fn clear(&mut self) -> usize {
        self.mfm.clear() + self.svc.clear()
    }

    /// Bytes queued in both lanes.
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
    fn push_front_and_force_push_keep_accounting() {
        let mut q = PacketQueue::new(4);
        q.push(pkt(4, 1)).unwrap();
        let p = q.pop().unwrap();
        q.force_push(pkt(3, 2));
        q.push_front(p);
        assert_eq!(q.bytes(), 7);
        assert_eq!(q.front().unwrap()[0], 1);
        assert_eq!(q.clear(), 2);
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn mfm_lane_goes_first_and_lanes_are_bounded_separately() {
        let mut q = OutQueue::new(8);
        q.push(false, pkt(8, 1)).unwrap();
        assert!(q.push(false, pkt(1, 2)).is_err());
        q.push(true, pkt(8, 3)).unwrap();
        let (mfm, p) = q.pop().unwrap();
        assert!(mfm);
        assert_eq!(p[0], 3);
        q.unpop(mfm, p);
        assert_eq!(q.pop().unwrap().1[0], 3);
        assert_eq!(q.pop().unwrap(), (false, pkt(8, 1)));
        assert!(q.is_empty());
    }
}
