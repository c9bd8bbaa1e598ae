//! Signed tombstones: the record that deletes a name up to a version. A
//! tombstone at version `v` removes every version `<= v` of the name; a
//! publish with a version above `v` revives it (see version.rs).
//!
//! Canonical encoding (numbers big-endian, `N` the name length), in the
//! style of a manifest, small enough to travel whole in one packet:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "ITCT"
//! 4       1     format, 1
//! 5       1     N, 1..=64
//! 6       N     name
//! 6+N     8     version, u64
//! 14+N    8     signer key id
//! 22+N    64    ed25519 signature over bytes 0 .. 22+N
//! total   86+N bytes (87..=150)
//! ```
//!
//! [`Tombstone::parse`] checks the structure, [`Tombstone::verify`] the
//! signature against the trusted keys; the magic keeps a tombstone's
//! signature from ever passing as a manifest's, and the other way round.
#![forbid(unsafe_code)]

use core::fmt;

use crate::codec::{Reader, Short};
use crate::id::RecordId;
use crate::keys::{KeyId, Keyring, SecretKey, VerifyError, KEY_ID_LEN, SIGNATURE_LEN};
use crate::name::{Name, NameError, MAX_NAME_LEN};
use crate::version::Stamp;

/// The first four bytes of a tombstone.
pub const MAGIC: [u8; 4] = *b"ITCT";
/// The tombstone format this module reads and writes.
pub const FORMAT: u8 = 1;
/// Bytes of a tombstone besides the name.
pub const FIXED_LEN: usize = 4 + 1 + 1 + 8 + KEY_ID_LEN + SIGNATURE_LEN;
/// The shortest tombstone (one-byte name).
pub const MIN_TOMBSTONE_LEN: usize = FIXED_LEN + 1;
/// The longest tombstone.
pub const MAX_TOMBSTONE_LEN: usize = FIXED_LEN + MAX_NAME_LEN;

/// Why tombstone bytes were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TombstoneError {
    /// The bytes end before a field.
    Truncated {
        /// Length of the input.
        len: usize,
        /// Length needed for the next field.
        need: usize,
    },
    /// The first four bytes are not "ITCT".
    BadMagic([u8; 4]),
    /// Unsupported format byte.
    BadFormat(u8),
    /// The name is not valid.
    Name(NameError),
    /// Bytes follow the signature.
    Trailing {
        /// Length of the input.
        len: usize,
        /// Length of the tombstone it holds.
        used: usize,
    },
    /// The signature does not check out against the trusted keys.
    Untrusted(VerifyError),
}

impl fmt::Display for TombstoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TombstoneError::Truncated { len, need } => {
                write!(f, "tombstone of {len} bytes is truncated (needs {need})")
            }
            TombstoneError::BadMagic(m) => write!(f, "not a tombstone (magic {m:02x?})"),
            TombstoneError::BadFormat(v) => write!(f, "unsupported tombstone format {v}"),
            TombstoneError::Name(e) => write!(f, "tombstone name: {e}"),
            TombstoneError::Trailing { len, used } => {
                write!(f, "{} bytes follow a tombstone of {used} bytes", len - used)
            }
            TombstoneError::Untrusted(e) => write!(f, "tombstone {e}"),
        }
    }
}

impl std::error::Error for TombstoneError {}

impl From<Short> for TombstoneError {
    fn from(s: Short) -> TombstoneError {
        TombstoneError::Truncated {
            len: s.len,
            need: s.need,
        }
    }
}

/// A structurally valid tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    bytes: Vec<u8>,
    name: Name,
    version: u64,
    signer: KeyId,
    id: RecordId,
}

impl Tombstone {
    /// Makes and signs a tombstone for `name` up to `version`.
    pub fn new(name: &Name, version: u64, key: &SecretKey) -> Tombstone {
        let mut bytes = Vec::with_capacity(MAX_TOMBSTONE_LEN);
        bytes.extend_from_slice(&MAGIC);
        bytes.push(FORMAT);
        bytes.push(name.len_u8());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&key.id().0);
        let signature = key.sign(&bytes);
        bytes.extend_from_slice(&signature);
        Tombstone {
            id: RecordId::of(&bytes),
            bytes,
            name: name.clone(),
            version,
            signer: key.id(),
        }
    }

    /// Decodes tombstone bytes (without checking the signature).
    pub fn parse(bytes: &[u8]) -> Result<Tombstone, TombstoneError> {
        let len = bytes.len();
        let mut r = Reader::new(bytes);
        let magic = r.array::<4>()?;
        if magic != MAGIC {
            return Err(TombstoneError::BadMagic(magic));
        }
        let format = r.u8()?;
        if format != FORMAT {
            return Err(TombstoneError::BadFormat(format));
        }
        let n = usize::from(r.u8()?);
        let name = Name::from_bytes(r.take(n)?).map_err(TombstoneError::Name)?;
        let version = r.u64()?;
        let signer = KeyId(r.array()?);
        r.array::<SIGNATURE_LEN>()?;
        let used = r.position();
        if used != len {
            return Err(TombstoneError::Trailing { len, used });
        }
        Ok(Tombstone {
            bytes: bytes.to_vec(),
            name,
            version,
            signer,
            id: RecordId::of(bytes),
        })
    }

    /// Decodes tombstone bytes and checks the signature against `keys`.
    pub fn parse_verified(bytes: &[u8], keys: &Keyring) -> Result<Tombstone, TombstoneError> {
        let t = Tombstone::parse(bytes)?;
        t.verify(keys).map_err(TombstoneError::Untrusted)?;
        Ok(t)
    }

    /// Checks the signature against the trusted keys.
    pub fn verify(&self, keys: &Keyring) -> Result<(), VerifyError> {
        let (signed, sig) = self.bytes.split_at(self.bytes.len() - SIGNATURE_LEN);
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(sig);
        keys.verify(self.signer, signed, &signature)
    }

    /// The canonical encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The deleted name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Every version up to and including this one is deleted.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The signer's key id.
    pub fn signer(&self) -> KeyId {
        self.signer
    }

    /// BLAKE3 of the encoding.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// Version and id, for precedence.
    pub fn stamp(&self) -> Stamp {
        Stamp::new(self.version, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[7; 32])
    }

    #[test]
    fn encodes_byte_by_byte() {
        let k = key();
        let t = Tombstone::new(&Name::new("ab").unwrap(), 0x0102, &k);
        let b = t.bytes();
        assert_eq!(b.len(), 88);
        assert_eq!(&b[0..4], b"ITCT"); // magic
        assert_eq!(b[4], 1); // format 1
        assert_eq!(b[5], 2); // name length 2
        assert_eq!(&b[6..8], b"ab"); // name
        assert_eq!(&b[8..16], &[0, 0, 0, 0, 0, 0, 0x01, 0x02]); // version 0x102
        assert_eq!(&b[16..24], &k.id().0); // signer key id
        assert_eq!(Tombstone::parse(b), Ok(t.clone()));
        assert_eq!(t.stamp(), Stamp::new(0x102, RecordId::of(b)));
    }

    #[test]
    fn verifies_against_trusted_keys_only() {
        let k = key();
        let t = Tombstone::new(&Name::new("f").unwrap(), 3, &k);
        let mut ring = Keyring::new();
        assert_eq!(
            Tombstone::parse_verified(t.bytes(), &ring),
            Err(TombstoneError::Untrusted(VerifyError::UnknownKey(k.id())))
        );
        ring.insert(k.public().clone());
        assert_eq!(Tombstone::parse_verified(t.bytes(), &ring), Ok(t.clone()));
        let mut forged = t.bytes().to_vec();
        forged[13] ^= 1; // a different version under the same signature
        assert_eq!(
            Tombstone::parse_verified(&forged, &ring),
            Err(TombstoneError::Untrusted(VerifyError::BadSignature(k.id())))
        );
    }

    #[test]
    fn rejects_each_fault() {
        let t = Tombstone::new(&Name::new("f").unwrap(), 3, &key());
        let b = t.bytes();
        assert_eq!(b.len(), MIN_TOMBSTONE_LEN);
        for cut in 0..b.len() {
            assert!(
                matches!(Tombstone::parse(&b[..cut]), Err(TombstoneError::Truncated { len, .. }) if len == cut),
                "cut at {cut}"
            );
        }
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(
            Tombstone::parse(&long),
            Err(TombstoneError::Trailing { len: 88, used: 87 })
        );
        let mut m = b.to_vec();
        m[0] = b'X';
        assert_eq!(
            Tombstone::parse(&m),
            Err(TombstoneError::BadMagic(*b"XTCT"))
        );
        let mut m = b.to_vec();
        m[4] = 2;
        assert_eq!(Tombstone::parse(&m), Err(TombstoneError::BadFormat(2)));
        let mut m = b.to_vec();
        m[6] = b'.';
        assert_eq!(
            Tombstone::parse(&m),
            Err(TombstoneError::Name(NameError::LeadingDot))
        );
        let mut m = b.to_vec();
        m[5] = 0;
        assert_eq!(
            Tombstone::parse(&m),
            Err(TombstoneError::Name(NameError::Empty))
        );
    }
}
