//! Link status messages (local type 0xc3) from a PRU to the host.
//!
//! ```text
//! byte 0    0xc3
//! byte 1    CODE  b'P' packet sync gained, b'F' sync lost (no delimiter
//!                 where one must come), b'T' timeout (no clock),
//!                 b'E' one damaged frame dropped (sync kept),
//!                 b'M' periodic monitor
//! byte 2    ARG   for P, F, T, E: the dir8 of the link, one of the six;
//!                 for M: bitmap, bit d set when the link with dir8 d has sync
//! byte 3..        ignored, for later extensions
//! ```
//!
//! Only F and T take a link's sync away; E reports a frame lost to damage
//! (bad frame check, abort, misaligned or over-long) on a link that stays
//! up. Unknown codes parse with any ARG, so newer firmware does not break
//! an older host; P, F, T and E with an ARG that is not one of the six
//! directions fail with [`Error::BadDir`].

use super::packet::field;
use super::{check_buffer, Error, Packet, Result};
use crate::dir::Dir;

/// Length of a link status message.
pub const LINK_STATUS_LEN: usize = 3;

/// Index of the CODE byte.
const CODE: usize = 1;
/// Index of the ARG byte.
const ARG: usize = 2;

/// What a link status message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkCode {
    /// b'P': the link gained packet sync.
    SyncGained,
    /// b'F': the link lost sync: no delimiter came where one must.
    FrameError,
    /// b'T': timeout; no clock from the neighbour.
    Timeout,
    /// b'E': one damaged frame was dropped; the link keeps sync.
    FrameDropped,
    /// b'M': periodic monitor; ARG is the bitmap of links with sync.
    Monitor,
    /// Any other code, kept as is.
    Unknown(u8),
}

impl LinkCode {
    /// The code for a CODE byte.
    pub const fn from_byte(byte: u8) -> LinkCode {
        match byte {
            b'P' => LinkCode::SyncGained,
            b'F' => LinkCode::FrameError,
            b'T' => LinkCode::Timeout,
            b'E' => LinkCode::FrameDropped,
            b'M' => LinkCode::Monitor,
            other => LinkCode::Unknown(other),
        }
    }

    /// The CODE byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            LinkCode::SyncGained => b'P',
            LinkCode::FrameError => b'F',
            LinkCode::Timeout => b'T',
            LinkCode::FrameDropped => b'E',
            LinkCode::Monitor => b'M',
            LinkCode::Unknown(other) => other,
        }
    }

    /// True for the codes whose ARG is a direction (P, F, T, E).
    pub const fn has_dir(self) -> bool {
        matches!(
            self,
            LinkCode::SyncGained
                | LinkCode::FrameError
                | LinkCode::Timeout
                | LinkCode::FrameDropped
        )
    }
}

/// A decoded link status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkStatusRepr {
    /// What happened.
    pub code: LinkCode,
    /// A dir8 for P, F, T and E; a sync bitmap for M.
    pub arg: u8,
}

impl LinkStatusRepr {
    /// A P, F, T or E message about `dir`.
    pub const fn for_dir(code: LinkCode, dir: Dir) -> LinkStatusRepr {
        LinkStatusRepr {
            code,
            arg: dir.dir8(),
        }
    }

    /// An M message listing the directions that have sync.
    pub fn monitor<I: IntoIterator<Item = Dir>>(synced: I) -> LinkStatusRepr {
        let arg = synced
            .into_iter()
            .fold(0u8, |bits, d| bits | (1 << d.dir8()));
        LinkStatusRepr {
            code: LinkCode::Monitor,
            arg,
        }
    }

    /// Decodes a link status message; bytes after ARG are ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<LinkStatusRepr> {
        packet.check_len()?;
        let bytes = packet.as_bytes();
        if bytes[field::HEADER] != field::TYPE_LINK_STATUS {
            return Err(Error::WrongType {
                want: field::TYPE_LINK_STATUS,
                got: bytes[field::HEADER],
            });
        }
        if bytes.len() < LINK_STATUS_LEN {
            return Err(Error::Truncated {
                len: bytes.len(),
                need: LINK_STATUS_LEN,
            });
        }
        let repr = LinkStatusRepr {
            code: LinkCode::from_byte(bytes[CODE]),
            arg: bytes[ARG],
        };
        repr.check()?;
        Ok(repr)
    }

    /// Fails with [`Error::BadDir`] if the code needs a direction and ARG is
    /// not one of the six. The code is judged by its byte, as `parse` will
    /// judge it: an `Unknown(b'P')` needs a direction as `SyncGained` does.
    fn check(&self) -> Result<()> {
        let code = LinkCode::from_byte(self.code.to_byte());
        if code.has_dir() && Dir::from_dir8(self.arg).is_err() {
            return Err(Error::BadDir(self.arg));
        }
        Ok(())
    }

    /// Length of the encoded message.
    pub const fn buffer_len(&self) -> usize {
        LINK_STATUS_LEN
    }

    /// Writes the message to the start of `buf` and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        check_buffer(buf, LINK_STATUS_LEN)?;
        buf[field::HEADER] = field::TYPE_LINK_STATUS;
        buf[CODE] = self.code.to_byte();
        buf[ARG] = self.arg;
        Ok(LINK_STATUS_LEN)
    }

    /// The direction of a P, F, T or E message.
    pub fn dir(&self) -> Option<Dir> {
        if self.code.has_dir() {
            Dir::from_dir8(self.arg).ok()
        } else {
            None
        }
    }

    /// True if this is an M message whose bitmap has `dir` set.
    pub fn has_sync(&self, dir: Dir) -> bool {
        self.code == LinkCode::Monitor && self.arg & (1 << dir.dir8()) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SYNC_GAINED_SE: [u8; 3] = [
        0xc3, // local type: link status
        b'P', // CODE: packet sync gained
        0x03, // ARG: dir8 3 (SE)
    ];

    static DROPPED_NW: [u8; 3] = [
        0xc3, // local type: link status
        b'E', // CODE: one damaged frame dropped, sync kept
        0x07, // ARG: dir8 7 (NW)
    ];

    static MONITOR: [u8; 4] = [
        0xc3,        // local type: link status
        b'M',        // CODE: monitor
        0b0100_0110, // ARG: bits 1 (NE), 2 (ET), 6 (WT) have sync
        0x99,        // trailing byte, ignored
    ];

    fn parse(bytes: &[u8]) -> Result<LinkStatusRepr> {
        LinkStatusRepr::parse(&Packet::new_unchecked(bytes))
    }

    #[test]
    fn parses_sync_gained() {
        let r = parse(&SYNC_GAINED_SE).unwrap();
        assert_eq!(
            r,
            LinkStatusRepr {
                code: LinkCode::SyncGained,
                arg: 3
            }
        );
        assert_eq!(r.dir(), Some(Dir::SE));
        assert!(!r.has_sync(Dir::SE));
    }

    #[test]
    fn parses_and_emits_a_dropped_frame() {
        let r = parse(&DROPPED_NW).unwrap();
        assert_eq!(
            r,
            LinkStatusRepr {
                code: LinkCode::FrameDropped,
                arg: 7
            }
        );
        assert_eq!(r.dir(), Some(Dir::NW));
        let mut buf = [0xffu8; 3];
        let r = LinkStatusRepr::for_dir(LinkCode::FrameDropped, Dir::NW);
        assert_eq!(r.emit(&mut buf), Ok(3));
        assert_eq!(buf, DROPPED_NW);
        assert_eq!(parse(&[0xc3, b'E', 0x00]), Err(Error::BadDir(0))); // NT
    }

    #[test]
    fn codes_round_trip() {
        for byte in 0..=u8::MAX {
            assert_eq!(LinkCode::from_byte(byte).to_byte(), byte);
        }
        for (byte, code) in [
            (b'P', LinkCode::SyncGained),
            (b'F', LinkCode::FrameError),
            (b'T', LinkCode::Timeout),
            (b'E', LinkCode::FrameDropped),
            (b'M', LinkCode::Monitor),
        ] {
            assert_eq!(LinkCode::from_byte(byte), code);
        }
    }

    #[test]
    fn parses_monitor_and_ignores_trailing_bytes() {
        let r = parse(&MONITOR).unwrap();
        assert_eq!(r.code, LinkCode::Monitor);
        assert_eq!(r.dir(), None);
        assert!(r.has_sync(Dir::NE));
        assert!(r.has_sync(Dir::ET));
        assert!(r.has_sync(Dir::WT));
        assert!(!r.has_sync(Dir::SE));
        assert!(!r.has_sync(Dir::SW));
        assert!(!r.has_sync(Dir::NW));
        assert_eq!(r, LinkStatusRepr::monitor([Dir::WT, Dir::NE, Dir::ET]));
    }

    #[test]
    fn unknown_codes_keep_any_arg() {
        let r = parse(&[0xc3, b'Z', 0xff]).unwrap(); // CODE 'Z', ARG 0xff
        assert_eq!(r.code, LinkCode::Unknown(b'Z'));
        assert_eq!(r.arg, 0xff);
    }

    #[test]
    fn rejects_truncated_wrong_type_and_bad_dir() {
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(
            parse(&[0xc3, b'P']), // no ARG
            Err(Error::Truncated { len: 2, need: 3 })
        );
        assert_eq!(parse(&[0xc3]), Err(Error::Truncated { len: 1, need: 3 }));
        assert_eq!(
            parse(&[0xc4, b'P', 0x03]), // a TEP
            Err(Error::WrongType {
                want: 0xc3,
                got: 0xc4
            })
        );
        assert_eq!(parse(&[0xc3, b'F', 0x04]), Err(Error::BadDir(4))); // ST
        assert_eq!(parse(&[0xc3, b'T', 0x08]), Err(Error::BadDir(8)));
    }

    #[test]
    fn emits_on_ff_buffer() {
        let mut buf = [0xffu8; 4];
        let r = LinkStatusRepr::for_dir(LinkCode::SyncGained, Dir::SE);
        assert_eq!(r.buffer_len(), 3);
        assert_eq!(r.emit(&mut buf), Ok(3));
        assert_eq!(&buf[..3], &SYNC_GAINED_SE);
        assert_eq!(buf[3], 0xff);
    }

    #[test]
    fn emit_rejects_small_buffer_and_bad_dir() {
        let r = LinkStatusRepr::for_dir(LinkCode::Timeout, Dir::NW);
        assert_eq!(
            r.emit(&mut [0u8; 2]),
            Err(Error::BufferTooSmall { len: 2, need: 3 })
        );
        let bad = LinkStatusRepr {
            code: LinkCode::FrameError,
            arg: 0,
        };
        assert_eq!(bad.emit(&mut [0u8; 3]), Err(Error::BadDir(0)));
    }

    // Found by the pru_message fuzz target: emit accepted an Unknown code
    // spelling P with an ARG that is no direction, and wrote these bytes,
    // which parse refuses.
    static UNKNOWN_P_BAD_ARG: [u8; 3] = [
        0xc3, // local type: link status
        b'P', // CODE: packet sync gained
        0x28, // ARG: 40, not a dir8
    ];

    #[test]
    fn emit_judges_unknown_codes_by_their_byte() {
        assert_eq!(parse(&UNKNOWN_P_BAD_ARG), Err(Error::BadDir(0x28)));
        let r = LinkStatusRepr {
            code: LinkCode::Unknown(b'P'),
            arg: 0x28,
        };
        assert_eq!(r.emit(&mut [0u8; 3]), Err(Error::BadDir(0x28)));
        // With a direction it is the exception the crate allows: it parses
        // back as the named code.
        let r = LinkStatusRepr {
            code: LinkCode::Unknown(b'T'),
            arg: Dir::SW.dir8(),
        };
        let mut buf = [0u8; 3];
        assert_eq!(r.emit(&mut buf), Ok(3));
        assert_eq!(
            parse(&buf),
            Ok(LinkStatusRepr::for_dir(LinkCode::Timeout, Dir::SW))
        );
    }
}
