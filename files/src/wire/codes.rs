//! The one-byte codes of the service-8 messages. Each is an enum with a
//! variant that keeps unknown values, so reading a code never fails; the
//! message parser decides which values it rejects.
#![forbid(unsafe_code)]

/// A message type code; unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 0x01: what the sender has of one name.
    Announce,
    /// 0x02: a signed deletion.
    Tombstone,
    /// 0x03: please send these chunks.
    Request,
    /// 0x04: one chunk.
    Data,
    /// 0x05: not now, ask again later.
    Retry,
    /// 0x06: stop asking for this transfer.
    Abort,
    /// 0x07: please announce everything you have.
    Solicit,
    /// Any other code.
    Unknown(u8),
}

impl MessageType {
    /// The type for a TYPE byte.
    pub const fn from_byte(b: u8) -> MessageType {
        match b {
            0x01 => MessageType::Announce,
            0x02 => MessageType::Tombstone,
            0x03 => MessageType::Request,
            0x04 => MessageType::Data,
            0x05 => MessageType::Retry,
            0x06 => MessageType::Abort,
            0x07 => MessageType::Solicit,
            other => MessageType::Unknown(other),
        }
    }

    /// The TYPE byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            MessageType::Announce => 0x01,
            MessageType::Tombstone => 0x02,
            MessageType::Request => 0x03,
            MessageType::Data => 0x04,
            MessageType::Retry => 0x05,
            MessageType::Abort => 0x06,
            MessageType::Solicit => 0x07,
            MessageType::Unknown(other) => other,
        }
    }
}

/// What a locator points into; unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Object {
    /// 0x01: the signed manifest.
    Manifest,
    /// 0x02: a piece of the file.
    Piece,
    /// Any other code.
    Unknown(u8),
}

impl Object {
    /// The object for an OBJECT byte.
    pub const fn from_byte(b: u8) -> Object {
        match b {
            0x01 => Object::Manifest,
            0x02 => Object::Piece,
            other => Object::Unknown(other),
        }
    }

    /// The OBJECT byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            Object::Manifest => 0x01,
            Object::Piece => 0x02,
            Object::Unknown(other) => other,
        }
    }
}

/// Why a sender aborts a transfer; unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbortReason {
    /// 0x01: the sender has nothing with this id.
    Unknown,
    /// 0x02: the sender dropped it for a newer version or a deletion.
    Superseded,
    /// 0x03: the request points outside the manifest or file.
    OutOfRange,
    /// 0x04: the sender is shutting down.
    Shutdown,
    /// Any other code.
    Other(u8),
}

impl AbortReason {
    /// The reason for a REASON byte.
    pub const fn from_byte(b: u8) -> AbortReason {
        match b {
            0x01 => AbortReason::Unknown,
            0x02 => AbortReason::Superseded,
            0x03 => AbortReason::OutOfRange,
            0x04 => AbortReason::Shutdown,
            other => AbortReason::Other(other),
        }
    }

    /// The REASON byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            AbortReason::Unknown => 0x01,
            AbortReason::Superseded => 0x02,
            AbortReason::OutOfRange => 0x03,
            AbortReason::Shutdown => 0x04,
            AbortReason::Other(other) => other,
        }
    }
}
