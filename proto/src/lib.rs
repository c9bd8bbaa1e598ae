//! The T2 intertile protocol, with no I/O: everything that is spelled on a
//! wire, in a PRU message or in a packet file, in one place
//! (`docs/reference.md`, `docs/pru-messages.md`).
//!
//! - [`dir`]: the eight `dir8` compass points, the six T2 directions, their
//!   opposites and which PRU (and prudir) drives each; [`grid`]: where a
//!   direction leads in a grid of tiles.
//! - [`service`]: service numbers and who owns them.
//! - [`Packet`] wraps a byte buffer and reads or writes header fields in
//!   place. [`Packet::new_checked`] validates only what every later getter
//!   relies on (the length); getters never fail on any header value.
//! - Each `*Repr` type ([`HeaderRepr`], [`LinkStatusRepr`], [`TepRepr`],
//!   [`BounceRepr`], [`HelloRepr`], [`EchoRepr`]) is a decoded message.
//!   `parse` validates everything the message needs and fails with an
//!   [`Error`] carrying the offending numbers; it never panics, whatever the
//!   input. `buffer_len` is the exact encoded size, and `emit` writes the
//!   message, rejecting values that `parse` would reject, so that whatever
//!   `emit` accepts parses back to the same value. (An `Unknown(u8)` code
//!   holding a value that has a named variant is the one exception: it
//!   parses back as the named variant.)
//! - [`batch`]: the framing of the batched packet files.
//! - [`capture`]: the records of `itc/capture`.
//! - [`check_user_write`] is the whole validation of a packet that a user
//!   writes to a packet file.
//!
//! Codes are enums with an `Unknown(u8)` variant so that decoding a code
//! never fails; the `Repr` decides which values it rejects.
//!
//! Reserved bits in byte 1 of a service packet are ignored on receipt and
//! written as 0. The OVRN and EROR bits are decoded by [`HeaderRepr`] but
//! ignored by the service message parsers; `itcd` handles them before any
//! message reaches a service.
#![forbid(unsafe_code)]

use core::fmt;

pub mod batch;
mod bounce;
pub mod capture;
pub mod dir;
mod echo;
pub mod grid;
mod hello;
mod link_status;
mod packet;
pub mod pru_batch;
pub mod service;
mod tep;

pub use bounce::{BounceReason, BounceRepr};
pub use dir::{BadDir, Dir, Pru};
pub use echo::{EchoOp, EchoRepr, ECHO_HEADER_LEN, MAX_ECHO_PAYLOAD};
pub use hello::{HelloFlags, HelloRepr, HELLO_VERSION, MAX_NAME_LEN, MAX_PHYSICS_LEN};
pub use link_status::{LinkCode, LinkStatusRepr, LINK_STATUS_LEN};
pub use packet::{check_user_write, field, HeaderRepr, LocalType, Packet, RoutedHeader};
pub use service::{MAX_SERVICE, SVC_ECHO, SVC_FILE_UPDATE, SVC_HELLO};
pub use tep::{packets_lost_bytes, tep_bytes, TepEvent, TepRepr, PACKETS_LOST_LEN};

/// The largest packet that crosses a link or a packet file.
pub const MAX_PACKET_LEN: usize = 255;

/// The largest bounce message (0xc5) from a PRU: its two-byte header plus a
/// whole packet of [`MAX_PACKET_LEN`] bytes.
pub const MAX_BOUNCE_LEN: usize = MAX_PACKET_LEN + 2;

/// Why a packet or message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The packet has no bytes.
    Empty,
    /// The packet is longer than the format allows.
    TooLong {
        /// Length of the packet.
        len: usize,
    },
    /// The packet ends before a field it needs.
    Truncated {
        /// Length of the packet.
        len: usize,
        /// Length needed to hold the next field.
        need: usize,
    },
    /// The output buffer is too small for the message.
    BufferTooSmall {
        /// Length of the buffer.
        len: usize,
        /// Length the message needs.
        need: usize,
    },
    /// A routed packet was required; this is the header byte.
    NotRouted(u8),
    /// The header byte has STND, LOCL and bit 5 all set (0xe0..=0xff), which
    /// is neither a routed nor a local packet; or a non-standard header byte
    /// has bit 7 set.
    BadHeader(u8),
    /// A different local type was expected.
    WrongType {
        /// The header byte the parser handles.
        want: u8,
        /// The header byte found.
        got: u8,
    },
    /// The MFMT bit is not the one this file or message needs; this is the
    /// header byte.
    WrongKind(u8),
    /// A different service was expected.
    WrongService {
        /// The service the file or message needs.
        want: u8,
        /// The service found.
        got: u8,
    },
    /// The service number is 0 (null) or above [`MAX_SERVICE`].
    BadService(u8),
    /// The reserved bits of byte 1 are set; this is byte 1.
    ReservedBits(u8),
    /// OVRN or EROR is set on a packet a user wrote; this is the header byte.
    FlagsSet(u8),
    /// A direction is not one of the six T2 directions; this is the raw value.
    BadDir(u8),
    /// A Tile Event Packet carries an illegal event code.
    BadTep(u8),
    /// A hello packet has an unsupported version.
    BadVersion(u8),
    /// A string field is longer than its maximum.
    FieldTooLong {
        /// Length of the field.
        len: usize,
        /// Largest length allowed.
        max: usize,
    },
    /// A hello packet's name or physics id is not UTF-8.
    BadHello,
    /// A capture record has a field out of range (its length, kind,
    /// direction, way or fate); `value` is the value found.
    BadRecord {
        /// The field.
        field: &'static str,
        /// Its value.
        value: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Empty => f.write_str("empty packet"),
            Error::TooLong { len } => write!(f, "packet of {len} bytes is too long"),
            Error::Truncated { len, need } => {
                write!(f, "packet of {len} bytes is truncated (needs {need})")
            }
            Error::BufferTooSmall { len, need } => {
                write!(f, "buffer of {len} bytes is too small (needs {need})")
            }
            Error::NotRouted(b) => write!(f, "header 0x{b:02x} is not a routed packet"),
            Error::BadHeader(b) => write!(f, "header 0x{b:02x} is not a valid header"),
            Error::WrongType { want, got } => {
                write!(f, "header 0x{got:02x} where 0x{want:02x} was expected")
            }
            Error::WrongKind(b) => {
                write!(f, "header 0x{b:02x} has the wrong MFMT bit for this file")
            }
            Error::WrongService { want, got } => {
                write!(f, "service {got} where service {want} was expected")
            }
            Error::BadService(s) => write!(f, "service {s} is not valid (1..=63)"),
            Error::ReservedBits(b) => write!(f, "reserved bits set in service byte 0x{b:02x}"),
            Error::FlagsSet(b) => write!(f, "OVRN or EROR set in header 0x{b:02x}"),
            Error::BadDir(d) => write!(f, "direction {d} is not one of ET SE SW WT NW NE"),
            Error::BadTep(e) => write!(f, "illegal tile event code {e}"),
            Error::BadVersion(v) => write!(f, "unsupported hello version {v}"),
            Error::FieldTooLong { len, max } => {
                write!(f, "field of {len} bytes is too long (at most {max})")
            }
            Error::BadHello => f.write_str("hello name or physics id is not UTF-8"),
            Error::BadRecord { field, value } => {
                write!(f, "capture record {field} {value} is out of range")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The result of wire parsing and emitting.
pub type Result<T> = core::result::Result<T, Error>;

/// Fails with [`Error::BufferTooSmall`] unless `buf` holds `need` bytes.
fn check_buffer(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::BufferTooSmall {
            len: buf.len(),
            need,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_numbers() {
        assert_eq!(
            Error::Truncated { len: 1, need: 2 }.to_string(),
            "packet of 1 bytes is truncated (needs 2)"
        );
        assert_eq!(
            Error::WrongService { want: 8, got: 9 }.to_string(),
            "service 9 where service 8 was expected"
        );
        assert_eq!(
            Error::NotRouted(0xc4).to_string(),
            "header 0xc4 is not a routed packet"
        );
        assert_eq!(
            Error::BadDir(4).to_string(),
            "direction 4 is not one of ET SE SW WT NW NE"
        );
    }

    #[test]
    fn check_buffer_reports_sizes() {
        assert_eq!(check_buffer(&[0; 3], 3), Ok(()));
        assert_eq!(
            check_buffer(&[0; 2], 3),
            Err(Error::BufferTooSmall { len: 2, need: 3 })
        );
    }
}
