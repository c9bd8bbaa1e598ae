//! Identities of signed records. A [`RecordId`] is the BLAKE3 hash of a
//! manifest's or tombstone's whole encoding, signature included; two tiles
//! holding the same bytes compute the same id, which is what makes the
//! tie-break between equal versions the same everywhere. A [`ShortId`], its
//! first 8 bytes, names a transfer in requests and data messages, where
//! space is short: a collision there only makes a piece fail its hash.
#![forbid(unsafe_code)]

use core::fmt;

use crate::hex;

/// Length of a [`ShortId`] in bytes.
pub const SHORT_ID_LEN: usize = 8;

/// The BLAKE3 hash of a signed record's encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RecordId(pub [u8; 32]);

impl RecordId {
    /// The id of the record encoded as `bytes`.
    pub fn of(bytes: &[u8]) -> RecordId {
        RecordId(*blake3::hash(bytes).as_bytes())
    }

    /// The first 8 bytes, used on the wire.
    pub fn short(&self) -> ShortId {
        let mut s = [0u8; SHORT_ID_LEN];
        s.copy_from_slice(&self.0[..SHORT_ID_LEN]);
        ShortId(s)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", hex::encode(&self.0[..SHORT_ID_LEN]))
    }
}

/// The first 8 bytes of a [`RecordId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ShortId(pub [u8; SHORT_ID_LEN]);

impl fmt::Display for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_is_the_prefix() {
        let id = RecordId::of(b"abc");
        assert_eq!(id.short().0, id.0[..8]);
        assert_eq!(id.to_string().len(), 64);
        assert_eq!(id.short().to_string(), id.to_string()[..16]);
    }
}
