//! Tile Event Packets (local type 0xc4), which `itcd` delivers in-band to
//! readers of packet and events files.
//!
//! ```text
//! byte 0    0xc4
//! byte 1    EVENT  0x01 Connect, 0x02 Disconnect, 0x03 Events lost,
//!                  0x00 illegal, others reserved
//! byte 2    dir8 of the neighbour, one of the six (in itc/... files only;
//!                  absent in tile/<D>/... files and for Events lost)
//! byte 3..  ignored, for later extensions
//! ```
//!
//! Event 0x00 fails with [`Error::BadTep`]; reserved events parse as
//! [`TepEvent::Unknown`]. A dir8 that is not one of the six fails with
//! [`Error::BadDir`].

use super::packet::field;
use super::{check_buffer, Error, Packet, Result};
use crate::dir::Dir;

/// Index of the EVENT byte.
const EVENT: usize = 1;
/// Index of the dir8 byte.
const DIR: usize = 2;

/// What a Tile Event Packet reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TepEvent {
    /// 0x00, never valid.
    Illegal,
    /// 0x01: a neighbour became present.
    Connect,
    /// 0x02: a neighbour ceased to be present.
    Disconnect,
    /// 0x03: this reader fell behind and events were dropped.
    EventsLost,
    /// Any other event code, kept as is.
    Unknown(u8),
}

impl TepEvent {
    /// The event for an EVENT byte.
    pub const fn from_byte(byte: u8) -> TepEvent {
        match byte {
            0x00 => TepEvent::Illegal,
            0x01 => TepEvent::Connect,
            0x02 => TepEvent::Disconnect,
            0x03 => TepEvent::EventsLost,
            other => TepEvent::Unknown(other),
        }
    }

    /// The EVENT byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            TepEvent::Illegal => 0x00,
            TepEvent::Connect => 0x01,
            TepEvent::Disconnect => 0x02,
            TepEvent::EventsLost => 0x03,
            TepEvent::Unknown(other) => other,
        }
    }
}

/// A decoded Tile Event Packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TepRepr {
    /// What happened.
    pub event: TepEvent,
    /// The raw dir8 of the neighbour, when the packet carries one.
    pub dir: Option<u8>,
}

impl TepRepr {
    /// A TEP about `dir`, or without a direction.
    pub const fn new(event: TepEvent, dir: Option<Dir>) -> TepRepr {
        let dir = match dir {
            Some(d) => Some(d.dir8()),
            None => None,
        };
        TepRepr { event, dir }
    }

    /// Decodes a TEP; bytes after the dir8 are ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<TepRepr> {
        packet.check_len()?;
        let bytes = packet.as_bytes();
        if bytes[field::HEADER] != field::TYPE_TEP {
            return Err(Error::WrongType {
                want: field::TYPE_TEP,
                got: bytes[field::HEADER],
            });
        }
        let Some(&event) = bytes.get(EVENT) else {
            return Err(Error::Truncated {
                len: bytes.len(),
                need: EVENT + 1,
            });
        };
        let repr = TepRepr {
            event: TepEvent::from_byte(event),
            dir: bytes.get(DIR).copied(),
        };
        repr.check()?;
        Ok(repr)
    }

    /// Fails on an illegal event or a dir8 that is not one of the six.
    fn check(&self) -> Result<()> {
        if self.event.to_byte() == 0 {
            return Err(Error::BadTep(0));
        }
        if let Some(d) = self.dir {
            Dir::from_dir8(d).map_err(|_| Error::BadDir(d))?;
        }
        Ok(())
    }

    /// The direction, if the packet carries one.
    pub fn direction(&self) -> Option<Dir> {
        self.dir.and_then(|d| Dir::from_dir8(d).ok())
    }

    /// Length of the encoded packet: 2, or 3 with a direction.
    pub const fn buffer_len(&self) -> usize {
        if self.dir.is_some() {
            DIR + 1
        } else {
            EVENT + 1
        }
    }

    /// Writes the packet to the start of `buf` and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        check_buffer(buf, len)?;
        buf[field::HEADER] = field::TYPE_TEP;
        buf[EVENT] = self.event.to_byte();
        if let Some(d) = self.dir {
            buf[DIR] = d;
        }
        Ok(len)
    }
}

/// Builds a TEP without allocating: the bytes and how many of them to use
/// (2 without a direction, 3 with one).
pub const fn tep_bytes(event: TepEvent, dir: Option<Dir>) -> ([u8; 3], usize) {
    match dir {
        Some(d) => ([field::TYPE_TEP, event.to_byte(), d.dir8()], 3),
        None => ([field::TYPE_TEP, event.to_byte(), 0], 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CONNECT_SW: [u8; 3] = [
        0xc4, // local type: TEP
        0x01, // EVENT: Connect
        0x05, // dir8 5 (SW)
    ];

    static DISCONNECT: [u8; 2] = [
        0xc4, // local type: TEP
        0x02, // EVENT: Disconnect, no direction (tile/<D>/ files)
    ];

    fn parse(bytes: &[u8]) -> Result<TepRepr> {
        TepRepr::parse(&Packet::new_unchecked(bytes))
    }

    #[test]
    fn parses_with_and_without_dir() {
        let r = parse(&CONNECT_SW).unwrap();
        assert_eq!(
            r,
            TepRepr {
                event: TepEvent::Connect,
                dir: Some(5)
            }
        );
        assert_eq!(r.direction(), Some(Dir::SW));
        assert_eq!(r.buffer_len(), 3);

        let r = parse(&DISCONNECT).unwrap();
        assert_eq!(r, TepRepr::new(TepEvent::Disconnect, None));
        assert_eq!(r.direction(), None);
        assert_eq!(r.buffer_len(), 2);
    }

    #[test]
    fn ignores_trailing_bytes_and_keeps_reserved_events() {
        let bytes = [
            0xc4, // local type: TEP
            0x03, // EVENT: Events lost
            0x02, // dir8 2 (ET)
            0x77, // ignored
        ];
        assert_eq!(
            parse(&bytes),
            Ok(TepRepr::new(TepEvent::EventsLost, Some(Dir::ET)))
        );
        assert_eq!(
            parse(&[0xc4, 0x42]), // reserved event 0x42
            Ok(TepRepr {
                event: TepEvent::Unknown(0x42),
                dir: None
            })
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(
            parse(&[0xc4]), // no EVENT
            Err(Error::Truncated { len: 1, need: 2 })
        );
        assert_eq!(
            parse(&[0xc3, 0x01]), // link status, not a TEP
            Err(Error::WrongType {
                want: 0xc4,
                got: 0xc3
            })
        );
        assert_eq!(parse(&[0xc4, 0x00]), Err(Error::BadTep(0)));
        assert_eq!(parse(&[0xc4, 0x01, 0x00]), Err(Error::BadDir(0))); // NT
        assert_eq!(parse(&[0xc4, 0x01, 0x09]), Err(Error::BadDir(9)));
    }

    #[test]
    fn emits_on_ff_buffer() {
        let mut buf = [0xffu8; 4];
        let r = TepRepr::new(TepEvent::Connect, Some(Dir::SW));
        assert_eq!(r.emit(&mut buf), Ok(3));
        assert_eq!(&buf[..3], &CONNECT_SW);
        assert_eq!(buf[3], 0xff);

        let mut buf = [0xffu8; 3];
        let r = TepRepr::new(TepEvent::Disconnect, None);
        assert_eq!(r.emit(&mut buf), Ok(2));
        assert_eq!(&buf[..2], &DISCONNECT);
        assert_eq!(buf[2], 0xff);
    }

    #[test]
    fn emit_rejects_bad_reprs_and_small_buffers() {
        let r = TepRepr::new(TepEvent::Connect, Some(Dir::NE));
        assert_eq!(
            r.emit(&mut [0u8; 2]),
            Err(Error::BufferTooSmall { len: 2, need: 3 })
        );
        let r = TepRepr::new(TepEvent::Illegal, None);
        assert_eq!(r.emit(&mut [0u8; 3]), Err(Error::BadTep(0)));
        let r = TepRepr {
            event: TepEvent::Connect,
            dir: Some(4),
        };
        assert_eq!(r.emit(&mut [0u8; 3]), Err(Error::BadDir(4)));
    }

    #[test]
    fn tep_bytes_builds_both_forms() {
        let (b, n) = tep_bytes(TepEvent::Connect, Some(Dir::SW));
        assert_eq!(&b[..n], &CONNECT_SW);
        let (b, n) = tep_bytes(TepEvent::Disconnect, None);
        assert_eq!(&b[..n], &DISCONNECT);
    }
}
