//! Tile Event Packets (local type 0xc4), which `itcd` delivers in-band to
//! readers of packet and events files.
//!
//! ```text
//! byte 0    0xc4
//! byte 1    EVENT  0x01 Connect, 0x02 Disconnect, 0x03 Events lost,
//!                  0x04 Packets lost, 0x00 illegal, others reserved
//! byte 2    dir8 of the neighbour, one of the six (Connect and Disconnect:
//!                  in itc/... files only, absent in tile/<D>/... files;
//!                  Packets lost: in every file; Events lost: never)
//! byte 3..  Packets lost: COUNT, 4 bytes little-endian, the packets from
//!                  dir8 this reader lost since the last one it got
//!                  (saturating); other events: ignored, for later
//!                  extensions
//! ```
//!
//! Event 0x00 fails with [`Error::BadTep`]; reserved events parse as
//! [`TepEvent::Unknown`]. A dir8 that is not one of the six fails with
//! [`Error::BadDir`]. A Packets lost TEP with fewer than four bytes after
//! its dir8 parses without a count.

use super::packet::field;
use super::{check_buffer, Error, Packet, Result};
use crate::dir::Dir;

/// Index of the EVENT byte.
const EVENT: usize = 1;
/// Index of the dir8 byte.
const DIR: usize = 2;
/// Index of the first COUNT byte of Packets lost.
const COUNT: usize = 3;
/// Length of a Packets lost TEP with its count.
pub const PACKETS_LOST_LEN: usize = COUNT + 4;

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
    /// 0x04: this reader's queue had no room and packets from a
    /// direction were dropped.
    PacketsLost,
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
            0x04 => TepEvent::PacketsLost,
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
            TepEvent::PacketsLost => 0x04,
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
    /// Packets lost: how many, when the packet carries a count.
    pub count: Option<u32>,
}

impl TepRepr {
    /// A TEP about `dir`, or without a direction, and without a count.
    pub const fn new(event: TepEvent, dir: Option<Dir>) -> TepRepr {
        let dir = match dir {
            Some(d) => Some(d.dir8()),
            None => None,
        };
        TepRepr {
            event,
            dir,
            count: None,
        }
    }

    /// Packets lost: `count` packets from `dir`.
    pub const fn packets_lost(dir: Dir, count: u32) -> TepRepr {
        TepRepr {
            event: TepEvent::PacketsLost,
            dir: Some(dir.dir8()),
            count: Some(count),
        }
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
        let event = TepEvent::from_byte(event);
        let count = match (event, bytes.get(COUNT..PACKETS_LOST_LEN)) {
            (TepEvent::PacketsLost, Some(&[a, b, c, d])) => Some(u32::from_le_bytes([a, b, c, d])),
            _ => None,
        };
        let repr = TepRepr {
            event,
            dir: bytes.get(DIR).copied(),
            count,
        };
        repr.check()?;
        Ok(repr)
    }

    /// Fails on an illegal event, a dir8 that is not one of the six, or a
    /// count where none can be written (not Packets lost, or no dir8 for
    /// it to follow).
    fn check(&self) -> Result<()> {
        let event = self.event.to_byte();
        if event == 0 {
            return Err(Error::BadTep(0));
        }
        // Judged by the byte written, as parse reads it: Unknown(0x04) is
        // Packets lost.
        let packets_lost = TepEvent::from_byte(event) == TepEvent::PacketsLost;
        if self.count.is_some() && (!packets_lost || self.dir.is_none()) {
            return Err(Error::BadTep(event));
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

    /// Length of the encoded packet: 2, 3 with a direction, 7 with a
    /// count as well.
    pub const fn buffer_len(&self) -> usize {
        match (self.dir, self.count) {
            (Some(_), Some(_)) => PACKETS_LOST_LEN,
            (Some(_), None) => DIR + 1,
            (None, _) => EVENT + 1,
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
        if let Some(n) = self.count {
            buf[COUNT..PACKETS_LOST_LEN].copy_from_slice(&n.to_le_bytes());
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

/// Builds a Packets lost TEP without allocating: `count` packets from
/// `dir` (the same bytes in `itc/...` and `tile/<D>/...` files).
pub const fn packets_lost_bytes(dir: Dir, count: u32) -> [u8; PACKETS_LOST_LEN] {
    let n = count.to_le_bytes();
    [
        field::TYPE_TEP,
        TepEvent::PacketsLost.to_byte(),
        dir.dir8(),
        n[0],
        n[1],
        n[2],
        n[3],
    ]
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
                dir: Some(5),
                count: None,
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
                dir: None,
                count: None,
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
            count: None,
        };
        assert_eq!(r.emit(&mut [0u8; 3]), Err(Error::BadDir(4)));
    }

    static PACKETS_LOST_WT: [u8; 7] = [
        0xc4, // local type: TEP
        0x04, // EVENT: Packets lost
        0x06, // dir8 6 (WT), in tile/<D>/ files too
        0x2c, // COUNT 300, little-endian: 0x2c
        0x01, //   0x01
        0x00, //   0x00
        0x00, //   0x00
    ];

    #[test]
    fn packets_lost_carries_its_direction_and_count() {
        let r = parse(&PACKETS_LOST_WT).unwrap();
        assert_eq!(r, TepRepr::packets_lost(Dir::WT, 300));
        assert_eq!((r.direction(), r.count), (Some(Dir::WT), Some(300)));
        assert_eq!(r.buffer_len(), 7);
        let mut buf = [0xffu8; 8];
        assert_eq!(r.emit(&mut buf), Ok(7));
        assert_eq!(&buf[..7], &PACKETS_LOST_WT);
        assert_eq!(buf[7], 0xff);
        assert_eq!(packets_lost_bytes(Dir::WT, 300), PACKETS_LOST_WT);
        assert_eq!(
            packets_lost_bytes(Dir::NE, u32::MAX),
            [0xc4, 0x04, 0x01, 0xff, 0xff, 0xff, 0xff]
        );
        // Trailing bytes after the count are ignored.
        let mut longer = PACKETS_LOST_WT.to_vec();
        longer.push(0x77);
        assert_eq!(parse(&longer), Ok(r));
    }

    #[test]
    fn packets_lost_without_a_whole_count_has_none() {
        assert_eq!(
            parse(&[0xc4, 0x04, 0x06, 0x01, 0x00]), // count cut short
            Ok(TepRepr::new(TepEvent::PacketsLost, Some(Dir::WT)))
        );
        assert_eq!(
            parse(&[0xc4, 0x04]),
            Ok(TepRepr::new(TepEvent::PacketsLost, None))
        );
        assert_eq!(
            parse(&[0xc4, 0x04, 0x04, 0, 0, 0, 0]), // dir8 4 (ST)
            Err(Error::BadDir(4))
        );
        // Other events have no count: their bytes 3.. are ignored.
        assert_eq!(
            parse(&[0xc4, 0x01, 0x06, 1, 0, 0, 0]),
            Ok(TepRepr::new(TepEvent::Connect, Some(Dir::WT)))
        );
    }

    #[test]
    fn emit_rejects_a_count_it_cannot_write() {
        let mut buf = [0u8; 8];
        let no_dir = TepRepr {
            event: TepEvent::PacketsLost,
            dir: None,
            count: Some(1),
        };
        assert_eq!(no_dir.emit(&mut buf), Err(Error::BadTep(4)));
        let not_lost = TepRepr {
            event: TepEvent::Connect,
            dir: Some(2),
            count: Some(1),
        };
        assert_eq!(not_lost.emit(&mut buf), Err(Error::BadTep(1)));
        assert_eq!(
            TepRepr::packets_lost(Dir::ET, 1).emit(&mut [0u8; 6]),
            Err(Error::BufferTooSmall { len: 6, need: 7 })
        );
    }

    #[test]
    fn emit_judges_an_unknown_event_by_its_byte() {
        // Found by the tep fuzz target: Unknown(0x04) is written as 0x04,
        // Packets lost, so its count is valid: c4 04 03 2a 00 00 00 parses
        // back as Packets lost from SE, count 42.
        let repr = TepRepr {
            event: TepEvent::Unknown(0x04),
            dir: Some(3),
            count: Some(42),
        };
        let mut buf = [0u8; 7];
        assert_eq!(repr.emit(&mut buf), Ok(7));
        assert_eq!(buf, [0xc4, 0x04, 0x03, 0x2a, 0x00, 0x00, 0x00]);
        let again = TepRepr::parse(&Packet::new_unchecked(&buf[..])).unwrap();
        assert_eq!(again.event, TepEvent::PacketsLost);
        assert_eq!(again.count, Some(42));
    }

    #[test]
    fn tep_bytes_builds_both_forms() {
        let (b, n) = tep_bytes(TepEvent::Connect, Some(Dir::SW));
        assert_eq!(&b[..n], &CONNECT_SW);
        let (b, n) = tep_bytes(TepEvent::Disconnect, None);
        assert_eq!(&b[..n], &DISCONNECT);
    }
}
