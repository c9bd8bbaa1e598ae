//! The framing of the batched packet files (`itc/batch/...`,
//! `tile/<D>/batch/...`): a sequence of items, each one length byte
//! (1..=255) followed by that many bytes, a packet or a TEP.
//!
//! ```text
//!  +-----+-----------+-----+-------------+--
//!  | LEN | LEN bytes | LEN | LEN bytes   | ...
//!  +-----+-----------+-----+-------------+--
//! ```
//!
//! [`Items`] splits a buffer into items and stops at the first one that is
//! no item: a length byte of 0, or an item cut off by the end of the
//! buffer. [`push_item`] appends one. No I/O; never panics.

use core::fmt;

use crate::MAX_PACKET_LEN;

/// Why a buffer holds no further item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A length byte of 0 at offset `at`.
    ZeroLength {
        /// Offset of the length byte.
        at: usize,
    },
    /// An item of `len` bytes at offset `at` of which only `have` arrived.
    CutOff {
        /// Offset of the length byte.
        at: usize,
        /// The length the length byte gives.
        len: usize,
        /// Bytes present after the length byte.
        have: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ZeroLength { at } => write!(f, "length byte 0 at offset {at}"),
            FrameError::CutOff { at, len, have } => write!(
                f,
                "item of {len} bytes at offset {at} cut off after {have} bytes"
            ),
        }
    }
}

/// The items of a buffer in order; after an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    buf: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Items<'a> {
    /// The items of `buf`.
    pub fn new(buf: &'a [u8]) -> Items<'a> {
        Items {
            buf,
            at: 0,
            failed: false,
        }
    }

    /// Bytes taken by the items yielded so far, length bytes included.
    pub fn consumed(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.buf.len() {
            return None;
        }
        let at = self.at;
        let len = usize::from(self.buf[at]);
        let rest = &self.buf[at + 1..];
        let err = if len == 0 {
            Some(FrameError::ZeroLength { at })
        } else if rest.len() < len {
            Some(FrameError::CutOff {
                at,
                len,
                have: rest.len(),
            })
        } else {
            None
        };
        if let Some(e) = err {
            self.failed = true;
            return Some(Err(e));
        }
        self.at = at + 1 + len;
        Some(Ok(&rest[..len]))
    }
}

/// Bytes an item of a `len`-byte packet takes: its length byte and itself.
pub const fn item_len(len: usize) -> usize {
    len + 1
}

/// Append `packet` as one item; `false` (and nothing appended) if it is
/// empty or longer than [`MAX_PACKET_LEN`].
pub fn push_item(out: &mut Vec<u8>, packet: &[u8]) -> bool {
    if packet.is_empty() || packet.len() > MAX_PACKET_LEN {
        return false;
    }
    out.push(packet.len() as u8);
    out.extend_from_slice(packet);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_a_buffer_in_order() {
        let buf = [
            2, 0xa2, 0x01, // an MFM packet of two bytes
            3, 0x82, 0x10, 0x55, // a service packet of three
            2, 0xc4, 0x01, // a TEP (Connect)
        ];
        let mut it = Items::new(&buf);
        assert_eq!(it.next(), Some(Ok(&[0xa2, 0x01][..])));
        assert_eq!(it.consumed(), 3);
        assert_eq!(it.next(), Some(Ok(&[0x82, 0x10, 0x55][..])));
        assert_eq!(it.next(), Some(Ok(&[0xc4, 0x01][..])));
        assert_eq!(it.next(), None);
        assert_eq!(it.consumed(), buf.len());
    }

    #[test]
    fn a_zero_length_byte_ends_the_items() {
        let buf = [1, 0xa2, 0, 1, 0xa2];
        let mut it = Items::new(&buf);
        assert_eq!(it.next(), Some(Ok(&[0xa2][..])));
        assert_eq!(it.next(), Some(Err(FrameError::ZeroLength { at: 2 })));
        assert_eq!(it.next(), None, "nothing after an error");
        assert_eq!(it.consumed(), 2);
    }

    #[test]
    fn a_cut_off_item_is_reported_with_its_numbers() {
        let buf = [
            1, 0xa2, // whole
            5, 0xa2, 0x01, // five announced, two present
        ];
        let mut it = Items::new(&buf);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert_eq!(
            it.next(),
            Some(Err(FrameError::CutOff {
                at: 2,
                len: 5,
                have: 2
            }))
        );
        assert_eq!(it.consumed(), 2);
        // A lone length byte at the end.
        let mut it = Items::new(&[255]);
        assert_eq!(
            it.next(),
            Some(Err(FrameError::CutOff {
                at: 0,
                len: 255,
                have: 0
            }))
        );
    }

    #[test]
    fn an_empty_buffer_has_no_items() {
        assert_eq!(Items::new(&[]).next(), None);
    }

    #[test]
    fn push_item_frames_what_items_reads_back() {
        let mut out = Vec::new();
        assert!(push_item(&mut out, &[0xa2, 7]));
        assert!(push_item(&mut out, &[0x55; 255]));
        assert!(!push_item(&mut out, &[]), "empty");
        assert!(!push_item(&mut out, &[0; 256]), "too long");
        assert_eq!(out.len(), item_len(2) + item_len(255));
        let got: Vec<_> = Items::new(&out).map(|r| r.unwrap().len()).collect();
        assert_eq!(got, [2, 255]);
    }
}
