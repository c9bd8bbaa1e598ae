//! Packets stored back to back in one byte ring, each after a length byte,
//! so that what a queue holds is what it costs: a packet of `n` bytes
//! takes `n + 1` bytes of memory, with no allocation of its own and no
//! per-packet header.
//!
//! The ring grows by doubling up to the most its owner will ever store
//! (given at creation), never past it, and gives its memory back as it
//! empties: an empty ring above a small size is freed, a ring used below a
//! quarter is halved. No bound is enforced here; the owners decide what
//! fits ([`crate::queue`], [`crate::channel`]). Packets are 0..=255 bytes
//! (every packet and TEP is); a longer one is refused.

use std::collections::VecDeque;

/// Bytes a packet of `len` bytes takes in a ring.
pub const fn cost(len: usize) -> usize {
    len + 1
}

/// The longest packet a ring stores.
pub const MAX_ITEM: usize = u8::MAX as usize;

/// Capacity a ring keeps rather than freeing or shrinking it.
pub const KEEP: usize = 256;

/// A FIFO of packets of at most [`MAX_ITEM`] bytes in one byte ring.
#[derive(Debug, Default)]
pub struct PacketRing {
    ring: VecDeque<u8>,
    packets: usize,
    max_stored: usize,
}

impl PacketRing {
    /// An empty ring that will never need more than `max_stored` bytes
    /// (its owner's bound on [`PacketRing::stored`]); it allocates nothing
    /// until the first push.
    pub fn new(max_stored: usize) -> PacketRing {
        PacketRing {
            ring: VecDeque::new(),
            packets: 0,
            max_stored,
        }
    }

    /// Make room for `extra` more bytes: double, but not past the owner's
    /// bound (unless the owner pushes past it, when exactly what is needed).
    fn reserve(&mut self, extra: usize) {
        let need = self.ring.len().saturating_add(extra);
        let cap = self.ring.capacity();
        if need <= cap {
            return;
        }
        let target = cap
            .saturating_mul(2)
            .max(KEEP.min(self.max_stored))
            .min(self.max_stored)
            .max(need);
        self.ring.reserve_exact(target - self.ring.len());
    }

    /// Append a packet; refused (false) if longer than [`MAX_ITEM`].
    pub fn push_back(&mut self, packet: &[u8]) -> bool {
        let Ok(len) = u8::try_from(packet.len()) else {
            return false;
        };
        self.reserve(cost(packet.len()));
        self.ring.push_back(len);
        self.ring.extend(packet);
        self.packets += 1;
        true
    }

    /// Put a packet at the head; refused (false) if longer than
    /// [`MAX_ITEM`].
    pub fn push_front(&mut self, packet: &[u8]) -> bool {
        let Ok(len) = u8::try_from(packet.len()) else {
            return false;
        };
        self.reserve(cost(packet.len()));
        for &b in packet.iter().rev() {
            self.ring.push_front(b);
        }
        self.ring.push_front(len);
        self.packets += 1;
        true
    }

    /// Length of the packet at the head.
    pub fn front_len(&self) -> Option<usize> {
        self.ring.front().map(|&len| usize::from(len))
    }

    /// The first byte of the packet at the head (none for an empty packet).
    pub fn front_byte(&self) -> Option<u8> {
        self.ring
            .get(1)
            .filter(|_| self.front_len() != Some(0))
            .copied()
    }

    /// Take the packet at the head, appending it to `out`; returns its
    /// length.
    pub fn pop_into(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let len = self.front_len()?;
        out.extend(self.ring.range(1..=len));
        self.ring.drain(..=len);
        self.packets -= 1;
        self.give_back();
        Some(len)
    }

    /// Take the packet at the head.
    pub fn pop(&mut self) -> Option<Box<[u8]>> {
        let mut out = Vec::with_capacity(self.front_len()?);
        self.pop_into(&mut out)?;
        Some(out.into_boxed_slice())
    }

    /// Remove everything; returns how many packets were removed.
    pub fn clear(&mut self) -> usize {
        let n = self.packets;
        self.ring = VecDeque::new();
        self.packets = 0;
        n
    }

    /// Free memory the ring no longer uses.
    fn give_back(&mut self) {
        let (len, cap) = (self.ring.len(), self.ring.capacity());
        if len == 0 && cap > KEEP {
            self.ring = VecDeque::new();
        } else if cap > KEEP && len < cap / 4 {
            self.ring.shrink_to(cap / 2);
        }
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.packets
    }

    /// Whether it holds no packet.
    pub fn is_empty(&self) -> bool {
        self.packets == 0
    }

    /// Bytes stored: every packet's length plus one.
    pub fn stored(&self) -> usize {
        self.ring.len()
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(r: &mut PacketRing) -> Vec<u8> {
        let mut out = Vec::new();
        r.pop_into(&mut out).expect("a packet");
        out
    }

    #[test]
    fn packets_come_back_whole_and_in_order_and_cost_one_byte_more() {
        let mut r = PacketRing::new(1024);
        assert!(r.push_back(&[1, 2, 3]));
        assert!(r.push_back(&[]));
        assert!(r.push_back(&[9; 255]));
        assert!(!r.push_back(&[0; 256]), "too long for a length byte");
        assert_eq!((r.len(), r.stored()), (3, 4 + 1 + 256));
        assert_eq!(r.front_len(), Some(3));
        assert_eq!(r.front_byte(), Some(1));
        assert!(r.push_front(&[7, 8]));
        assert_eq!(pop(&mut r), [7, 8]);
        assert_eq!(pop(&mut r), [1, 2, 3]);
        assert_eq!(r.front_byte(), None, "an empty packet has no first byte");
        assert_eq!(pop(&mut r), [] as [u8; 0]);
        assert_eq!(r.pop().unwrap().len(), 255);
        assert!(r.pop().is_none() && r.is_empty());
        assert_eq!(r.stored(), 0);
    }

    #[test]
    fn it_never_allocates_past_its_bound_and_frees_as_it_empties() {
        let max = cost(100) * 40;
        let mut r = PacketRing::new(max);
        assert_eq!(r.capacity(), 0, "nothing until the first push");
        for i in 0..40u8 {
            assert!(r.push_back(&[i; 100]));
            assert!(r.capacity() <= max, "{} > {max}", r.capacity());
        }
        assert_eq!(r.stored(), max);
        // Wrapped around: still whole.
        for i in 0..20u8 {
            assert_eq!(pop(&mut r), [i; 100]);
            assert!(r.push_back(&[i + 40; 100]));
        }
        let mut want = 20u8;
        while let Some(p) = r.pop() {
            assert_eq!(&p[..], &[want; 100]);
            want += 1;
        }
        assert_eq!(want, 60);
        assert!(r.capacity() <= KEEP, "an empty ring gives its memory back");
    }

    #[test]
    fn a_mostly_empty_ring_shrinks() {
        let mut r = PacketRing::new(usize::MAX);
        for _ in 0..1000 {
            r.push_back(&[5; 15]);
        }
        let big = r.capacity();
        assert!(big >= 16_000);
        for _ in 0..990 {
            r.pop();
        }
        assert!(r.capacity() <= big / 4, "{} of {big}", r.capacity());
        assert_eq!(r.len(), 10);
        assert_eq!(r.clear(), 10);
        assert_eq!(r.capacity(), 0, "cleared: all of it");
    }
}
