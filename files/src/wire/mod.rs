//! The service-8 messages. Each is one packet: the routed header byte
//! (`0x80 | dir8`), the service byte (8), then at most
//! [`MAX_MESSAGE_LEN`] (253) bytes of message. Every message starts with
//! the protocol version and a type; numbers are big-endian.
//!
//! ```text
//! message byte 0   VERSION = 1
//! message byte 1   TYPE  0x01 ANNOUNCE  0x02 TOMBSTONE  0x03 REQUEST  0x04 DATA
//!                        0x05 RETRY     0x06 ABORT      0x07 SOLICIT
//!
//! ANNOUNCE   2 FLAGS (bit 0 COMPLETE, others 0)  3 N (1..=64)  4 NAME
//!            4+N VERSION u64  12+N MANIFEST ID [32]  44+N MANIFEST LEN u32
//!            if COMPLETE is clear: 48+N BASE u32  52+N M (0..=128)  53+N BITMAP [M]
//! TOMBSTONE  2 the signed tombstone record, 87..=150 bytes
//! REQUEST    2 ID [8]  10 OBJECT  11 PIECE u32  15 OFFSET u32  19 COUNT (1..=16)
//! DATA       2 ID [8]  10 OBJECT  11 PIECE u32  15 OFFSET u32  19 DATA (1..=234)
//! RETRY      2 ID [8]  10 OBJECT  11 PIECE u32  15 OFFSET u32  19 DELAY ms u16
//! ABORT      2 ID [8]  10 REASON
//! SOLICIT    (nothing more)
//! ```
//!
//! OBJECT is 0x01 for the manifest (PIECE must be 0) or 0x02 for a piece.
//! OFFSET is a byte offset in the manifest or the piece and a multiple of
//! [`CHUNK_LEN`]: chunk `k` is bytes `k*234 .. (k+1)*234`, shorter at the
//! end. A REQUEST asks for COUNT consecutive chunks from OFFSET; each comes
//! back as one DATA. Bit `k` of the ANNOUNCE bitmap (byte `k/8`, bit `k%8`,
//! least significant first) says the sender has piece `BASE + k`; it has
//! every piece below BASE.
//!
//! [`Message::parse`] never panics and fails with an [`Error`] carrying the
//! numbers (offsets count from message byte 0); it rejects unknown types
//! and objects, reserved flags, out-of-range lengths, misaligned offsets
//! and trailing bytes. ABORT reasons it does not know are kept as
//! [`AbortReason::Unknown`]. [`Message::emit`] rejects whatever `parse`
//! would, so what it writes parses back equal. The tombstone record and
//! the manifest are checked by their own modules, not here.
#![forbid(unsafe_code)]

use itc_proto::{Dir, HeaderRepr, Packet, RoutedHeader, SVC_FILE_UPDATE};

use crate::codec::Reader;
use crate::id::{RecordId, ShortId, SHORT_ID_LEN};
use crate::manifest::{MAX_MANIFEST_LEN, MAX_PIECES, MAX_PIECE_SIZE};
use crate::name::Name;
use crate::tombstone::{MAX_TOMBSTONE_LEN, MIN_TOMBSTONE_LEN};

/// The protocol version this module reads and writes.
pub const PROTOCOL_VERSION: u8 = 1;
/// Length of the packet header before a message: header byte, service byte.
pub const PACKET_HEADER_LEN: usize = 2;
/// The longest message: a 255-byte packet less its two header bytes.
pub const MAX_MESSAGE_LEN: usize = itc_proto::MAX_PACKET_LEN - PACKET_HEADER_LEN;
/// Length of VERSION, TYPE, ID, OBJECT, PIECE and OFFSET.
pub const LOCATOR_END: usize = 2 + SHORT_ID_LEN + 1 + 4 + 4;
/// Bytes of data in a full chunk: what is left of a DATA message.
pub const CHUNK_LEN: usize = MAX_MESSAGE_LEN - LOCATOR_END;
/// The most chunks one REQUEST may ask for.
pub const MAX_REQUEST_CHUNKS: u8 = 16;
/// The longest ANNOUNCE bitmap, in bytes (1024 pieces).
pub const MAX_BITMAP: usize = 128;
/// The shortest manifest an ANNOUNCE may name.
pub const MIN_MANIFEST_LEN: usize = crate::manifest::FIXED_LEN + 1;

/// ANNOUNCE flag: the sender has every piece.
pub const FLAG_COMPLETE: u8 = 0b0000_0001;

mod codes;
mod error;

pub use codes::{AbortReason, MessageType, Object};
pub use error::{Error, Result};

/// Which pieces an ANNOUNCE says the sender has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Have<'a> {
    /// Every piece.
    Complete,
    /// Every piece below `base`, and piece `base + k` where bit `k` of
    /// `bitmap` is set.
    Partial {
        /// Pieces below this are all present.
        base: u32,
        /// Presence of the pieces from `base` on, least significant bit first.
        bitmap: &'a [u8],
    },
}

impl Have<'_> {
    /// Whether piece `i` is present by this account.
    pub fn contains(&self, i: u32) -> bool {
        match *self {
            Have::Complete => true,
            Have::Partial { base, bitmap } => {
                if i < base {
                    return true;
                }
                let k = (i - base) as usize;
                bitmap.get(k / 8).is_some_and(|b| b & (1 << (k % 8)) != 0)
            }
        }
    }
}

/// ANNOUNCE: one name as the sender has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce<'a> {
    /// The file name.
    pub name: Name,
    /// Its version.
    pub version: u64,
    /// The id of the signed manifest.
    pub manifest_id: RecordId,
    /// Length of the manifest encoding, to request it in chunks.
    pub manifest_len: u32,
    /// Which pieces the sender has.
    pub have: Have<'a>,
}

/// Where a chunk is: the transfer, the object, the piece and the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locator {
    /// The manifest's short id.
    pub id: ShortId,
    /// Manifest or piece.
    pub object: Object,
    /// The piece index (0 for the manifest).
    pub piece: u32,
    /// Byte offset in the object, a multiple of [`CHUNK_LEN`].
    pub offset: u32,
}

impl Locator {
    /// The chunk index in the object.
    pub fn chunk(&self) -> u32 {
        self.offset / CHUNK_LEN as u32
    }

    /// Fails unless the locator is one `parse` accepts. The object is
    /// judged by the byte it is written as, so `Object::Unknown(0x02)` is a
    /// piece, as `parse` reads it.
    fn check(&self) -> Result<()> {
        let max_offset = match Object::from_byte(self.object.to_byte()) {
            Object::Manifest if self.piece != 0 => return Err(Error::ManifestPiece(self.piece)),
            Object::Manifest => MAX_MANIFEST_LEN as u32,
            Object::Piece if self.piece >= MAX_PIECES => {
                return Err(Error::PieceOutOfRange(self.piece))
            }
            Object::Piece => MAX_PIECE_SIZE,
            Object::Unknown(o) => return Err(Error::UnknownObject(o)),
        };
        if !self.offset.is_multiple_of(CHUNK_LEN as u32) {
            return Err(Error::Misaligned(self.offset));
        }
        if self.offset >= max_offset {
            return Err(Error::OffsetOutOfRange(self.offset));
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Locator> {
        let at = Locator {
            id: ShortId(r.array()?),
            object: Object::from_byte(r.u8()?),
            piece: r.u32()?,
            offset: r.u32()?,
        };
        at.check()?;
        Ok(at)
    }

    fn write(&self, out: &mut Writer<'_>) {
        out.put(&self.id.0);
        out.put(&[self.object.to_byte()]);
        out.put(&self.piece.to_be_bytes());
        out.put(&self.offset.to_be_bytes());
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// What the sender has of one name.
    Announce(Announce<'a>),
    /// A signed tombstone record, whole.
    Tombstone(&'a [u8]),
    /// Please send `count` chunks from `at`.
    Request {
        /// The first chunk.
        at: Locator,
        /// How many consecutive chunks.
        count: u8,
    },
    /// One chunk.
    Data {
        /// Where it belongs.
        at: Locator,
        /// Its bytes.
        data: &'a [u8],
    },
    /// The chunk at `at` (and those after it) cannot be sent now.
    Retry {
        /// The first chunk refused.
        at: Locator,
        /// Ask again after at least this many milliseconds.
        delay_ms: u16,
    },
    /// Stop asking for transfer `id`.
    Abort {
        /// The transfer.
        id: ShortId,
        /// Why.
        reason: AbortReason,
    },
    /// Please announce everything you have.
    Solicit,
}

/// Writes into a buffer already checked to be long enough.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

impl<'a> Message<'a> {
    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Announce(_) => MessageType::Announce,
            Message::Tombstone(_) => MessageType::Tombstone,
            Message::Request { .. } => MessageType::Request,
            Message::Data { .. } => MessageType::Data,
            Message::Retry { .. } => MessageType::Retry,
            Message::Abort { .. } => MessageType::Abort,
            Message::Solicit => MessageType::Solicit,
        }
    }

    /// Decodes a message (the packet's bytes after its two header bytes).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>> {
        let len = bytes.len();
        if len > MAX_MESSAGE_LEN {
            return Err(Error::TooLong { len });
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(Error::BadVersion(version));
        }
        let msg = match MessageType::from_byte(r.u8()?) {
            MessageType::Announce => Message::Announce(parse_announce(&mut r)?),
            MessageType::Tombstone => {
                let record = r.rest();
                if !(MIN_TOMBSTONE_LEN..=MAX_TOMBSTONE_LEN).contains(&record.len()) {
                    return Err(Error::RecordLen(record.len()));
                }
                Message::Tombstone(record)
            }
            MessageType::Request => {
                let at = Locator::read(&mut r)?;
                let count = r.u8()?;
                if count == 0 || count > MAX_REQUEST_CHUNKS {
                    return Err(Error::BadCount(count));
                }
                Message::Request { at, count }
            }
            MessageType::Data => {
                let at = Locator::read(&mut r)?;
                let data = r.rest();
                if data.is_empty() {
                    return Err(Error::EmptyData);
                }
                Message::Data { at, data }
            }
            MessageType::Retry => Message::Retry {
                at: Locator::read(&mut r)?,
                delay_ms: r.u16()?,
            },
            MessageType::Abort => Message::Abort {
                id: ShortId(r.array()?),
                reason: AbortReason::from_byte(r.u8()?),
            },
            MessageType::Solicit => Message::Solicit,
            MessageType::Unknown(t) => return Err(Error::UnknownType(t)),
        };
        let used = r.position();
        if used != len {
            return Err(Error::Trailing { len, used });
        }
        Ok(msg)
    }

    /// Fails unless the message is one `parse` accepts.
    fn check(&self) -> Result<()> {
        match self {
            Message::Announce(a) => {
                let len = a.manifest_len as usize;
                if !(MIN_MANIFEST_LEN..=MAX_MANIFEST_LEN).contains(&len) {
                    return Err(Error::ManifestLen(a.manifest_len));
                }
                if let Have::Partial { base, bitmap } = a.have {
                    check_bitmap(base, bitmap.len())?;
                }
            }
            Message::Tombstone(record) => {
                if !(MIN_TOMBSTONE_LEN..=MAX_TOMBSTONE_LEN).contains(&record.len()) {
                    return Err(Error::RecordLen(record.len()));
                }
            }
            Message::Request { at, count } => {
                at.check()?;
                if *count == 0 || *count > MAX_REQUEST_CHUNKS {
                    return Err(Error::BadCount(*count));
                }
            }
            Message::Data { at, data } => {
                at.check()?;
                if data.is_empty() {
                    return Err(Error::EmptyData);
                }
            }
            Message::Retry { at, .. } => at.check()?,
            Message::Abort { .. } | Message::Solicit => {}
        }
        let len = self.buffer_len();
        if len > MAX_MESSAGE_LEN {
            return Err(Error::TooLong { len });
        }
        Ok(())
    }

    /// Length of the encoded message.
    pub fn buffer_len(&self) -> usize {
        2 + match self {
            Message::Announce(a) => {
                let fixed = 1 + 1 + a.name.as_bytes().len() + 8 + 32 + 4;
                match a.have {
                    Have::Complete => fixed,
                    Have::Partial { bitmap, .. } => fixed + 4 + 1 + bitmap.len(),
                }
            }
            Message::Tombstone(record) => record.len(),
            Message::Request { .. } => LOCATOR_END - 2 + 1,
            Message::Data { data, .. } => LOCATOR_END - 2 + data.len(),
            Message::Retry { .. } => LOCATOR_END - 2 + 2,
            Message::Abort { .. } => SHORT_ID_LEN + 1,
            Message::Solicit => 0,
        }
    }

    /// Writes the message to the start of `buf` and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let need = self.buffer_len();
        if buf.len() < need {
            return Err(Error::BufferTooSmall {
                len: buf.len(),
                need,
            });
        }
        let mut w = Writer { buf, at: 0 };
        w.put(&[PROTOCOL_VERSION, self.message_type().to_byte()]);
        match self {
            Message::Announce(a) => {
                let flags = match a.have {
                    Have::Complete => FLAG_COMPLETE,
                    Have::Partial { .. } => 0,
                };
                w.put(&[flags, a.name.len_u8()]);
                w.put(a.name.as_bytes());
                w.put(&a.version.to_be_bytes());
                w.put(&a.manifest_id.0);
                w.put(&a.manifest_len.to_be_bytes());
                if let Have::Partial { base, bitmap } = a.have {
                    w.put(&base.to_be_bytes());
                    // check() bounds the bitmap by MAX_BITMAP (128).
                    w.put(&[bitmap.len() as u8]);
                    w.put(bitmap);
                }
            }
            Message::Tombstone(record) => w.put(record),
            Message::Request { at, count } => {
                at.write(&mut w);
                w.put(&[*count]);
            }
            Message::Data { at, data } => {
                at.write(&mut w);
                w.put(data);
            }
            Message::Retry { at, delay_ms } => {
                at.write(&mut w);
                w.put(&delay_ms.to_be_bytes());
            }
            Message::Abort { id, reason } => {
                w.put(&id.0);
                w.put(&[reason.to_byte()]);
            }
            Message::Solicit => {}
        }
        debug_assert_eq!(w.at, need);
        Ok(need)
    }
}

/// Fails unless a bitmap of `bytes` bytes from piece `base` is allowed.
fn check_bitmap(base: u32, bytes: usize) -> Result<()> {
    if bytes > MAX_BITMAP {
        return Err(Error::BitmapTooLong(bytes));
    }
    if u64::from(base) + 8 * bytes as u64 > u64::from(MAX_PIECES) + 7 {
        return Err(Error::BitmapRange { base, bytes });
    }
    Ok(())
}

fn parse_announce<'a>(r: &mut Reader<'a>) -> Result<Announce<'a>> {
    let flags = r.u8()?;
    if flags & !FLAG_COMPLETE != 0 {
        return Err(Error::ReservedFlags(flags));
    }
    let n = usize::from(r.u8()?);
    let name = Name::from_bytes(r.take(n)?).map_err(Error::Name)?;
    let version = r.u64()?;
    let manifest_id = RecordId(r.array()?);
    let manifest_len = r.u32()?;
    if !(MIN_MANIFEST_LEN..=MAX_MANIFEST_LEN).contains(&(manifest_len as usize)) {
        return Err(Error::ManifestLen(manifest_len));
    }
    let have = if flags & FLAG_COMPLETE != 0 {
        Have::Complete
    } else {
        let base = r.u32()?;
        let m = usize::from(r.u8()?);
        check_bitmap(base, m)?;
        Have::Partial {
            base,
            bitmap: r.take(m)?,
        }
    };
    Ok(Announce {
        name,
        version,
        manifest_id,
        manifest_len,
        have,
    })
}

/// Decodes a whole service-8 packet: where it came from and its message.
pub fn parse_packet(bytes: &[u8]) -> Result<(Dir, Message<'_>)> {
    let packet = Packet::new_checked(bytes).map_err(Error::Packet)?;
    let header = match HeaderRepr::parse(&packet).map_err(Error::Packet)? {
        HeaderRepr::Routed(h) => h,
        _ => return Err(Error::Packet(itc_proto::Error::NotRouted(bytes[0]))),
    };
    if header.mfm {
        return Err(Error::Packet(itc_proto::Error::WrongKind(bytes[0])));
    }
    if header.service != Some(SVC_FILE_UPDATE) {
        return Err(Error::Packet(itc_proto::Error::WrongService {
            want: SVC_FILE_UPDATE,
            got: header.service.unwrap_or(0),
        }));
    }
    let dir = header.direction().map_err(Error::Packet)?;
    let msg = Message::parse(&bytes[PACKET_HEADER_LEN..])?;
    Ok((dir, msg))
}

/// Writes a whole service-8 packet to `dir` carrying `msg` and returns its
/// length.
pub fn emit_packet(msg: &Message<'_>, dir: Dir, buf: &mut [u8]) -> Result<usize> {
    if buf.len() < PACKET_HEADER_LEN {
        return Err(Error::BufferTooSmall {
            len: buf.len(),
            need: PACKET_HEADER_LEN + msg.buffer_len(),
        });
    }
    let (head, body) = buf.split_at_mut(PACKET_HEADER_LEN);
    let n = msg.emit(body).map_err(|e| match e {
        Error::BufferTooSmall { len, need } => Error::BufferTooSmall {
            len: len + PACKET_HEADER_LEN,
            need: need + PACKET_HEADER_LEN,
        },
        other => other,
    })?;
    let header = HeaderRepr::Routed(RoutedHeader {
        mfm: false,
        ovrn: false,
        eror: false,
        dir: dir.dir8(),
        service: Some(SVC_FILE_UPDATE),
    });
    header
        .emit(&mut Packet::new_unchecked(head))
        .map_err(Error::Packet)?;
    Ok(PACKET_HEADER_LEN + n)
}

#[cfg(test)]
mod tests;
