//! The set of pieces of one file that are verified: a bitmap of
//! `piece_count` bits, byte `i / 8` bit `i % 8` (least significant first)
//! for piece `i`, the same bit order on disk and on the wire. It is bounded
//! by the manifest's piece count, which is at most `MAX_PIECES`.
#![forbid(unsafe_code)]

use crate::wire::{Have, MAX_BITMAP};

/// Verified pieces of a file of `len` pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceSet {
    bits: Vec<u8>,
    len: u32,
    count: u32,
}

impl PieceSet {
    /// No pieces of `len`.
    pub fn new(len: u32) -> PieceSet {
        PieceSet {
            bits: vec![0; Self::bytes_for(len)],
            len,
            count: 0,
        }
    }

    /// Every piece of `len`.
    pub fn full(len: u32) -> PieceSet {
        let mut s = PieceSet::new(len);
        for i in 0..len {
            s.insert(i);
        }
        s
    }

    /// The bitmap length for `len` pieces.
    pub fn bytes_for(len: u32) -> usize {
        (len as usize).div_ceil(8)
    }

    /// A set read back from its bitmap; `None` if the length is wrong or a
    /// bit past `len` is set.
    pub fn from_bytes(len: u32, bytes: &[u8]) -> Option<PieceSet> {
        if bytes.len() != Self::bytes_for(len) {
            return None;
        }
        let mut s = PieceSet::new(len);
        for i in 0..Self::bytes_for(len) as u32 * 8 {
            if bytes[i as usize / 8] & (1 << (i % 8)) != 0 {
                if i >= len {
                    return None;
                }
                s.insert(i);
            }
        }
        Some(s)
    }

    /// The bitmap.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// How many pieces the file has.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the file has no pieces at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many pieces are verified.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.count == self.len
    }

    /// Whether piece `i` is verified.
    pub fn contains(&self, i: u32) -> bool {
        i < self.len && self.bits[i as usize / 8] & (1 << (i % 8)) != 0
    }

    /// Marks piece `i` verified; false if it already was or is out of range.
    pub fn insert(&mut self, i: u32) -> bool {
        if i >= self.len || self.contains(i) {
            return false;
        }
        self.bits[i as usize / 8] |= 1 << (i % 8);
        self.count += 1;
        true
    }

    /// Marks piece `i` not verified; false if it was not.
    pub fn remove(&mut self, i: u32) -> bool {
        if !self.contains(i) {
            return false;
        }
        self.bits[i as usize / 8] &= !(1 << (i % 8));
        self.count -= 1;
        true
    }

    /// The first piece that is not verified.
    pub fn first_missing(&self) -> Option<u32> {
        (0..self.len).find(|&i| !self.contains(i))
    }

    /// The pieces not verified, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| !self.contains(i))
    }

    /// The compact form for an ANNOUNCE: everything below the first
    /// missing piece, then up to [`MAX_BITMAP`] bytes of bits (trailing zero
    /// bytes dropped), written into `buf`.
    pub fn have<'b>(&self, buf: &'b mut [u8; MAX_BITMAP]) -> Have<'b> {
        let Some(base) = self.first_missing() else {
            return Have::Complete;
        };
        let mut used = 0;
        for k in 0..(MAX_BITMAP as u32 * 8) {
            let i = base + k;
            if i >= self.len {
                break;
            }
            let byte = k as usize / 8;
            if k % 8 == 0 {
                buf[byte] = 0;
            }
            if self.contains(i) {
                buf[byte] |= 1 << (k % 8);
                used = byte + 1;
            }
        }
        Have::Partial {
            base,
            bitmap: &buf[..used],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_round_trips() {
        let mut s = PieceSet::new(10);
        assert!(s.insert(0) && s.insert(9) && !s.insert(9) && !s.insert(10));
        assert!(s.insert(4) && s.remove(4) && !s.remove(4) && !s.remove(10));
        assert_eq!(s.count(), 2);
        assert_eq!(s.as_bytes(), &[0b0000_0001, 0b0000_0010]);
        assert_eq!(PieceSet::from_bytes(10, s.as_bytes()), Some(s.clone()));
        assert_eq!(PieceSet::from_bytes(10, &[0, 0b0000_0100]), None, "bit 10");
        assert_eq!(PieceSet::from_bytes(10, &[0]), None, "short");
        assert_eq!(s.missing().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(PieceSet::full(10).is_complete());
        assert!(PieceSet::new(0).is_complete());
    }

    #[test]
    fn have_is_a_base_and_a_trimmed_bitmap() {
        let mut buf = [0xff; MAX_BITMAP];
        let mut s = PieceSet::new(5000);
        for i in [0, 1, 2, 4, 11, 4000] {
            s.insert(i);
        }
        let have = s.have(&mut buf);
        assert_eq!(
            have,
            Have::Partial {
                base: 3,
                bitmap: &[0b0000_0010, 0b0000_0001]
            }
        );
        for i in [0, 1, 2, 4, 11] {
            assert!(have.contains(i));
        }
        assert!(
            !have.contains(3) && !have.contains(4000),
            "4000 is past the window"
        );
        assert_eq!(PieceSet::full(3).have(&mut buf), Have::Complete);
        assert_eq!(
            PieceSet::new(3).have(&mut buf),
            Have::Partial {
                base: 0,
                bitmap: &[]
            }
        );
    }
}
