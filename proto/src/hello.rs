//! Hello (service 1), which each `itcd` sends to its neighbours to show it
//! is alive and to tell its name and physics id.
//!
//! ```text
//! byte 0      1 | 0 | 0 | 0 || 0 | DIR2 | DIR1 | DIR0   routed, service traffic
//! byte 1      0x01                                     service 1, reserved bits 0
//! byte 2      VERSION = 1
//! byte 3      N, length of the name, 0..=64
//! 4..4+N      name, UTF-8
//! 4+N         P, length of the physics id, 0..=64
//! 5+N..5+N+P  physics id, UTF-8
//! 5+N+P..     ignored, for later extensions
//! ```
//!
//! [`HelloRepr::parse`] checks the service, the version, both lengths
//! against the packet and their maxima, and UTF-8; it ignores DIR, OVRN,
//! EROR and the reserved bits, which `itcd` handles from the header.

use super::packet::{emit_service_header, service_payload};
use super::{check_buffer, Error, Packet, Result};
use crate::dir::Dir;
use crate::service::SVC_HELLO;

/// The hello version this module reads and writes.
pub const HELLO_VERSION: u8 = 1;
/// The longest tile name in a hello, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The longest physics id in a hello, in bytes.
pub const MAX_PHYSICS_LEN: usize = 64;
bitflags::bitflags! {
    /// The optional flags byte after the physics id. Bits without a name
    /// are kept as they came, so a hello parses and emits back unchanged.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct HelloFlags: u8 {
        /// The sender does not see the receiver as present (it just gained
        /// sync, or started) and asks for a hello back at once.
        const ASK = 0b0000_0001;
        // The other bits are for later versions.
        const _ = !0;
    }
}

/// Offset of the VERSION byte in the packet.
const VERSION: usize = 2;
/// Offset of the name length byte in the packet.
const NAME_LEN: usize = 3;

/// A decoded hello, borrowing the name and physics id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HelloRepr<'a> {
    /// The sender's tile name.
    pub name: &'a str,
    /// The sender's physics id; empty by default.
    pub physics: &'a str,
    /// Flag bits; an optional byte after the physics id, absent (empty) in
    /// version 1 hellos that predate it.
    pub flags: HelloFlags,
}

/// Reads a length-prefixed string at `at`, failing with offsets relative to
/// the whole packet.
fn read_str(bytes: &[u8], at: usize, max: usize) -> Result<(&str, usize)> {
    let len = bytes.len();
    let Some(&n) = bytes.get(at) else {
        return Err(Error::Truncated { len, need: at + 1 });
    };
    let n = usize::from(n);
    if n > max {
        return Err(Error::FieldTooLong { len: n, max });
    }
    let start = at + 1;
    let end = start + n;
    let Some(raw) = bytes.get(start..end) else {
        return Err(Error::Truncated { len, need: end });
    };
    let s = core::str::from_utf8(raw).map_err(|_| Error::BadHello)?;
    Ok((s, end))
}

impl<'a> HelloRepr<'a> {
    /// Decodes a hello; bytes after the physics id are ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<HelloRepr<'a>> {
        let bytes: &'a [u8] = packet.into_inner().as_ref();
        service_payload(bytes, SVC_HELLO)?;
        let Some(&version) = bytes.get(VERSION) else {
            return Err(Error::Truncated {
                len: bytes.len(),
                need: VERSION + 1,
            });
        };
        if version != HELLO_VERSION {
            return Err(Error::BadVersion(version));
        }
        let (name, next) = read_str(bytes, NAME_LEN, MAX_NAME_LEN)?;
        let (physics, next) = read_str(bytes, next, MAX_PHYSICS_LEN)?;
        let flags = HelloFlags::from_bits_retain(bytes.get(next).copied().unwrap_or(0));
        Ok(HelloRepr {
            name,
            physics,
            flags,
        })
    }

    /// Fails with [`Error::FieldTooLong`] if a string is over its maximum.
    fn check(&self) -> Result<()> {
        if self.name.len() > MAX_NAME_LEN {
            return Err(Error::FieldTooLong {
                len: self.name.len(),
                max: MAX_NAME_LEN,
            });
        }
        if self.physics.len() > MAX_PHYSICS_LEN {
            return Err(Error::FieldTooLong {
                len: self.physics.len(),
                max: MAX_PHYSICS_LEN,
            });
        }
        Ok(())
    }

    /// Length of the encoded packet, header included.
    pub const fn buffer_len(&self) -> usize {
        NAME_LEN + 1 + self.name.len() + 1 + self.physics.len() + !self.flags.is_empty() as usize
    }

    /// Writes the whole packet, routed to `dir`, to the start of `buf` and
    /// returns its length. Fails if a string is too long or `buf` too small.
    pub fn emit(&self, buf: &mut [u8], dir: Dir) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        check_buffer(buf, len)?;
        emit_service_header(buf, dir, SVC_HELLO);
        buf[VERSION] = HELLO_VERSION;
        let mut at = NAME_LEN;
        for s in [self.name, self.physics] {
            // check() bounds both lengths by 64, so they fit in a byte.
            buf[at] = s.len() as u8;
            buf[at + 1..at + 1 + s.len()].copy_from_slice(s.as_bytes());
            at += 1 + s.len();
        }
        if !self.flags.is_empty() {
            buf[at] = self.flags.bits();
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static HELLO: [u8; 12] = [
        0x86, // STND=1 LOCL=0 MFMT=0 OVRN=0 EROR=0 DIR=6 (WT)
        0x01, // RSV=0 SVC=1 (hello)
        0x01, // VERSION 1
        0x04, // name length 4
        b'r', b'0', b'c', b'1', // name "r0c1"
        0x03, // physics length 3
        b'a', b'b', b'c', // physics "abc"
    ];

    fn parse(bytes: &[u8]) -> Result<HelloRepr<'_>> {
        HelloRepr::parse(&Packet::new_unchecked(bytes))
    }

    #[test]
    fn parses_a_hello() {
        let r = parse(&HELLO).unwrap();
        assert_eq!(
            r,
            HelloRepr {
                name: "r0c1",
                physics: "abc",
                flags: HelloFlags::empty(),
            }
        );
        assert_eq!(r.buffer_len(), HELLO.len());
    }

    #[test]
    fn ask_flag_round_trips_and_is_absent_when_clear() {
        let r = HelloRepr {
            name: "a",
            physics: "",
            flags: HelloFlags::ASK,
        };
        let mut buf = [0u8; 16];
        let n = r.emit(&mut buf, Dir::ET).unwrap();
        assert_eq!(&buf[..n], &[0x82, 0x01, 0x01, 0x01, b'a', 0x00, 0x01]);
        assert_eq!(parse(&buf[..n]), Ok(r));
        let plain = HelloRepr {
            flags: HelloFlags::empty(),
            ..r
        };
        assert_eq!(plain.buffer_len(), n - 1, "no flags byte when clear");
    }

    #[test]
    fn ignores_flags_reserved_bits_and_trailing_bytes() {
        let bytes = [
            0x99, // STND=1 MFMT=0 OVRN=1 EROR=1 DIR=1 (NE)
            0xc1, // RSV=3 SVC=1
            0x01, // VERSION 1
            0x00, // name length 0
            0x00, // physics length 0
            0xde, // flags (unknown bits kept for the caller to ignore)
            0xad, // later extension, ignored
        ];
        assert_eq!(
            parse(&bytes),
            Ok(HelloRepr {
                name: "",
                physics: "",
                flags: HelloFlags::from_bits_retain(0xde),
            })
        );
    }

    #[test]
    fn rejects_wrong_packets() {
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(parse(&[0xc4, 0x01]), Err(Error::NotRouted(0xc4)));
        assert_eq!(parse(&[0xa6, 0x01]), Err(Error::WrongKind(0xa6))); // MFM
        assert_eq!(
            parse(&[0x86, 0x02, 0x01]), // echo
            Err(Error::WrongService { want: 1, got: 2 })
        );
        assert_eq!(parse(&[0x86, 0x01, 0x02]), Err(Error::BadVersion(2)));
    }

    #[test]
    fn rejects_truncation_at_every_field() {
        for (cut, need) in [
            (1, 2),
            (2, 3),
            (3, 4),
            (4, 8),
            (7, 8),
            (8, 9),
            (9, 12),
            (11, 12),
        ] {
            assert_eq!(
                parse(&HELLO[..cut]),
                Err(Error::Truncated { len: cut, need }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn rejects_over_long_fields_and_bad_utf8() {
        let bytes = [
            0x86, // routed service to WT
            0x01, // service 1
            0x01, // VERSION 1
            65,   // name length 65: over the maximum
        ];
        assert_eq!(parse(&bytes), Err(Error::FieldTooLong { len: 65, max: 64 }));
        let bytes = [
            0x86, // routed service to WT
            0x01, // service 1
            0x01, // VERSION 1
            0x01, // name length 1
            0xff, // not UTF-8
            0x00, // physics length 0
        ];
        assert_eq!(parse(&bytes), Err(Error::BadHello));
        let bytes = [
            0x86, // routed service to WT
            0x01, // service 1
            0x01, // VERSION 1
            0x00, // name length 0
            0x01, // physics length 1
            0xc3, // truncated UTF-8 sequence
        ];
        assert_eq!(parse(&bytes), Err(Error::BadHello));
    }

    #[test]
    fn emits_on_ff_buffer() {
        let mut buf = [0xffu8; 13];
        let r = HelloRepr {
            name: "r0c1",
            physics: "abc",
            flags: HelloFlags::empty(),
        };
        assert_eq!(r.emit(&mut buf, Dir::WT), Ok(12));
        assert_eq!(&buf[..12], &HELLO);
        assert_eq!(buf[12], 0xff);
    }

    #[test]
    fn emit_rejects_impossible_lengths() {
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let mut buf = [0u8; 255];
        let r = HelloRepr {
            name: &long,
            physics: "",
            flags: HelloFlags::empty(),
        };
        assert_eq!(
            r.emit(&mut buf, Dir::ET),
            Err(Error::FieldTooLong { len: 65, max: 64 })
        );
        let r = HelloRepr {
            name: "",
            physics: &long,
            flags: HelloFlags::empty(),
        };
        assert_eq!(
            r.emit(&mut buf, Dir::ET),
            Err(Error::FieldTooLong { len: 65, max: 64 })
        );
        let r = HelloRepr {
            name: "ab",
            physics: "",
            flags: HelloFlags::empty(),
        };
        assert_eq!(
            r.emit(&mut buf[..6], Dir::ET),
            Err(Error::BufferTooSmall { len: 6, need: 7 })
        );
        // The largest hello fits in a packet.
        let max = "y".repeat(MAX_NAME_LEN);
        let r = HelloRepr {
            name: &max,
            physics: &max,
            flags: HelloFlags::empty(),
        };
        assert_eq!(r.emit(&mut buf, Dir::ET), Ok(133));
        assert_eq!(parse(&buf[..133]), Ok(r));
    }
}
