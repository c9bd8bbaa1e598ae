//! Bounces (local type 0xc5): a packet the host sent to a PRU that the PRU
//! could not queue, sent back whole so that the host never mistakes it for
//! a received packet and can count the drop.
//!
//! ```text
//! byte 0    0xc5
//! byte 1    REASON  0x01 queue full, 0x02 no sync on the link, others reserved
//! byte 2..  the original packet, 1..=255 bytes, as the host sent it
//! ```
//!
//! Because it wraps a whole packet, a bounce may be up to
//! [`MAX_BOUNCE_LEN`](super::MAX_BOUNCE_LEN) bytes, two more than any other
//! packet. Reserved reasons parse as [`BounceReason::Unknown`].

use super::packet::field;
use super::{check_buffer, Error, Packet, Result, MAX_PACKET_LEN};

/// Index of the REASON byte.
const REASON: usize = 1;
/// Index of the first byte of the original packet.
const ORIGINAL: usize = 2;

/// Why a PRU could not queue a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BounceReason {
    /// 0x01: the link's outbound queue is full.
    QueueFull,
    /// 0x02: the link has no packet sync.
    NoSync,
    /// Any other reason code, kept as is.
    Unknown(u8),
}

impl BounceReason {
    /// The reason for a REASON byte.
    pub const fn from_byte(byte: u8) -> BounceReason {
        match byte {
            0x01 => BounceReason::QueueFull,
            0x02 => BounceReason::NoSync,
            other => BounceReason::Unknown(other),
        }
    }

    /// The REASON byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            BounceReason::QueueFull => 0x01,
            BounceReason::NoSync => 0x02,
            BounceReason::Unknown(other) => other,
        }
    }
}

/// A decoded bounce, borrowing the original packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BounceRepr<'a> {
    /// Why the packet was not queued.
    pub reason: BounceReason,
    /// The original packet, 1..=255 bytes.
    pub packet: &'a [u8],
}

impl<'a> BounceRepr<'a> {
    /// Decodes a bounce.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<BounceRepr<'a>> {
        packet.check_len()?;
        let bytes: &'a [u8] = packet.into_inner().as_ref();
        if bytes[field::HEADER] != field::TYPE_BOUNCE {
            return Err(Error::WrongType {
                want: field::TYPE_BOUNCE,
                got: bytes[field::HEADER],
            });
        }
        if bytes.len() <= ORIGINAL {
            return Err(Error::Truncated {
                len: bytes.len(),
                need: ORIGINAL + 1,
            });
        }
        // check_len bounds the whole bounce, so the original is at most
        // MAX_PACKET_LEN bytes.
        Ok(BounceRepr {
            reason: BounceReason::from_byte(bytes[REASON]),
            packet: &bytes[ORIGINAL..],
        })
    }

    /// Length of the encoded bounce.
    pub const fn buffer_len(&self) -> usize {
        ORIGINAL + self.packet.len()
    }

    /// Writes the bounce to the start of `buf` and returns its length.
    /// Fails on an empty or over-long original packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.packet.is_empty() {
            return Err(Error::Empty);
        }
        if self.packet.len() > MAX_PACKET_LEN {
            return Err(Error::TooLong {
                len: self.packet.len(),
            });
        }
        let len = self.buffer_len();
        check_buffer(buf, len)?;
        buf[field::HEADER] = field::TYPE_BOUNCE;
        buf[REASON] = self.reason.to_byte();
        buf[ORIGINAL..len].copy_from_slice(self.packet);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_BOUNCE_LEN;

    static QUEUE_FULL: [u8; 5] = [
        0xc5, // local type: bounce
        0x01, // REASON: queue full
        0x82, // original: routed service packet to ET
        0x02, // original: service 2
        0x01, // original: echo request
    ];

    fn parse(bytes: &[u8]) -> Result<BounceRepr<'_>> {
        BounceRepr::parse(&Packet::new_unchecked(bytes))
    }

    #[test]
    fn parses_a_bounce() {
        let r = parse(&QUEUE_FULL).unwrap();
        assert_eq!(r.reason, BounceReason::QueueFull);
        assert_eq!(r.packet, &[0x82, 0x02, 0x01]);
        assert_eq!(r.buffer_len(), 5);

        let r = parse(&[0xc5, 0x09, 0xa1]).unwrap(); // reserved reason 9, MFM to NE
        assert_eq!(r.reason, BounceReason::Unknown(9));
        assert_eq!(r.packet, &[0xa1]);
    }

    #[test]
    fn carries_a_maximum_size_packet() {
        let mut bytes = [0u8; MAX_BOUNCE_LEN];
        bytes[0] = 0xc5; // local type: bounce
        bytes[1] = 0x02; // REASON: no sync
        bytes[2] = 0xa3; // original: MFM to SE, 255 bytes in all
        let r = parse(&bytes).unwrap();
        assert_eq!(r.reason, BounceReason::NoSync);
        assert_eq!(r.packet.len(), MAX_PACKET_LEN);

        let mut out = [0u8; MAX_BOUNCE_LEN];
        assert_eq!(r.emit(&mut out), Ok(MAX_BOUNCE_LEN));
        assert_eq!(out, bytes);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(parse(&[0xc5]), Err(Error::Truncated { len: 1, need: 3 }));
        assert_eq!(
            parse(&[0xc5, 0x01]), // no original packet
            Err(Error::Truncated { len: 2, need: 3 })
        );
        assert_eq!(
            parse(&[0xc4, 0x01, 0x82]), // a TEP
            Err(Error::WrongType {
                want: 0xc5,
                got: 0xc4
            })
        );
        let mut long = [0u8; MAX_BOUNCE_LEN + 1];
        long[0] = 0xc5;
        assert_eq!(parse(&long), Err(Error::TooLong { len: 258 }));
    }

    #[test]
    fn emits_on_ff_buffer() {
        let mut buf = [0xffu8; 6];
        let r = BounceRepr {
            reason: BounceReason::QueueFull,
            packet: &QUEUE_FULL[2..],
        };
        assert_eq!(r.emit(&mut buf), Ok(5));
        assert_eq!(&buf[..5], &QUEUE_FULL);
        assert_eq!(buf[5], 0xff);
    }

    #[test]
    fn emit_rejects_impossible_lengths() {
        let mut buf = [0u8; MAX_BOUNCE_LEN + 1];
        let r = BounceRepr {
            reason: BounceReason::NoSync,
            packet: &[],
        };
        assert_eq!(r.emit(&mut buf), Err(Error::Empty));
        let big = [0xa2u8; MAX_PACKET_LEN + 1];
        let r = BounceRepr {
            reason: BounceReason::NoSync,
            packet: &big,
        };
        assert_eq!(r.emit(&mut buf), Err(Error::TooLong { len: 256 }));
        let r = BounceRepr {
            reason: BounceReason::NoSync,
            packet: &[0xa2],
        };
        assert_eq!(
            r.emit(&mut buf[..2]),
            Err(Error::BufferTooSmall { len: 2, need: 3 })
        );
    }
}
