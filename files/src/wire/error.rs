//! Why a service-8 message was rejected: a small `Copy` enum carrying the
//! offending numbers, with offsets counted from message byte 0.
#![forbid(unsafe_code)]

use core::fmt;

use super::{CHUNK_LEN, MAX_BITMAP, MAX_MESSAGE_LEN, MAX_REQUEST_CHUNKS, MIN_MANIFEST_LEN};
use crate::codec::Short;
use crate::manifest::{MAX_MANIFEST_LEN, MAX_PIECES};
use crate::name::NameError;
use crate::tombstone::{MAX_TOMBSTONE_LEN, MIN_TOMBSTONE_LEN};

/// Why a message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The packet header is not a valid service-8 packet.
    Packet(itc_proto::Error),
    /// The message is longer than [`MAX_MESSAGE_LEN`].
    TooLong {
        /// Length of the message.
        len: usize,
    },
    /// The message ends before a field.
    Truncated {
        /// Length of the message.
        len: usize,
        /// Length needed for the next field.
        need: usize,
    },
    /// Unsupported protocol version.
    BadVersion(u8),
    /// Unknown message type.
    UnknownType(u8),
    /// Reserved ANNOUNCE flags are set; this is the flags byte.
    ReservedFlags(u8),
    /// The name is not valid.
    Name(NameError),
    /// An announced manifest length outside `MIN_MANIFEST_LEN..=MAX_MANIFEST_LEN`.
    ManifestLen(u32),
    /// An ANNOUNCE bitmap longer than [`MAX_BITMAP`].
    BitmapTooLong(usize),
    /// An ANNOUNCE whose BASE plus bitmap goes past [`MAX_PIECES`].
    BitmapRange {
        /// BASE.
        base: u32,
        /// Bitmap length in bytes.
        bytes: usize,
    },
    /// Unknown OBJECT code.
    UnknownObject(u8),
    /// A manifest locator with a PIECE other than 0.
    ManifestPiece(u32),
    /// A piece index at or past [`MAX_PIECES`].
    PieceOutOfRange(u32),
    /// An OFFSET that is not a multiple of [`CHUNK_LEN`].
    Misaligned(u32),
    /// An OFFSET past the largest manifest or piece.
    OffsetOutOfRange(u32),
    /// A REQUEST COUNT outside `1..=MAX_REQUEST_CHUNKS`.
    BadCount(u8),
    /// A DATA message with no data.
    EmptyData,
    /// A TOMBSTONE record of a length no tombstone has.
    RecordLen(usize),
    /// Bytes follow the message.
    Trailing {
        /// Length of the message.
        len: usize,
        /// Length of the message it holds.
        used: usize,
    },
    /// The output buffer is too small.
    BufferTooSmall {
        /// Length of the buffer.
        len: usize,
        /// Length the message needs.
        need: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Packet(e) => write!(f, "not a file service packet: {e}"),
            Error::TooLong { len } => {
                write!(
                    f,
                    "message of {len} bytes is too long (at most {MAX_MESSAGE_LEN})"
                )
            }
            Error::Truncated { len, need } => {
                write!(f, "message of {len} bytes is truncated (needs {need})")
            }
            Error::BadVersion(v) => write!(f, "unsupported file protocol version {v}"),
            Error::UnknownType(t) => write!(f, "unknown message type 0x{t:02x}"),
            Error::ReservedFlags(b) => write!(f, "reserved announce flags set in 0x{b:02x}"),
            Error::Name(e) => write!(f, "{e}"),
            Error::ManifestLen(n) => write!(
                f,
                "manifest length {n} is outside {MIN_MANIFEST_LEN}..={MAX_MANIFEST_LEN}"
            ),
            Error::BitmapTooLong(n) => {
                write!(f, "bitmap of {n} bytes is too long (at most {MAX_BITMAP})")
            }
            Error::BitmapRange { base, bytes } => write!(
                f,
                "bitmap of {bytes} bytes from piece {base} goes past {MAX_PIECES} pieces"
            ),
            Error::UnknownObject(o) => write!(f, "unknown object code 0x{o:02x}"),
            Error::ManifestPiece(p) => write!(f, "manifest locator with piece {p} (must be 0)"),
            Error::PieceOutOfRange(p) => {
                write!(f, "piece {p} is out of range (at most {MAX_PIECES} pieces)")
            }
            Error::Misaligned(o) => write!(f, "offset {o} is not a multiple of {CHUNK_LEN}"),
            Error::OffsetOutOfRange(o) => write!(f, "offset {o} is past any manifest or piece"),
            Error::BadCount(c) => {
                write!(f, "request count {c} is outside 1..={MAX_REQUEST_CHUNKS}")
            }
            Error::EmptyData => f.write_str("data message with no data"),
            Error::RecordLen(n) => write!(
                f,
                "tombstone record of {n} bytes (must be {MIN_TOMBSTONE_LEN}..={MAX_TOMBSTONE_LEN})"
            ),
            Error::Trailing { len, used } => {
                write!(f, "{} bytes follow a message of {used} bytes", len - used)
            }
            Error::BufferTooSmall { len, need } => {
                write!(f, "buffer of {len} bytes is too small (needs {need})")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<Short> for Error {
    fn from(s: Short) -> Error {
        Error::Truncated {
            len: s.len,
            need: s.need,
        }
    }
}

/// The result of parsing and emitting messages.
pub type Result<T> = core::result::Result<T, Error>;
