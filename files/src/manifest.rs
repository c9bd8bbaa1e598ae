//! Signed manifests: what a file version is (name, version, length, piece
//! size, one BLAKE3 hash per piece) and who vouches for it (signer key id,
//! ed25519 signature).
//!
//! Canonical encoding (all numbers big-endian; `N` name length, `P` piece
//! count):
//!
//! ```text
//! offset        size  field
//! 0             4     magic "ITCM"
//! 4             1     format, 1
//! 5             1     N, 1..=64
//! 6             N     name (see name.rs)
//! 6+N           8     version, u64: larger wins
//! 14+N          8     length of the file in bytes, <= MAX_FILE_LEN
//! 22+N          4     piece size S, a power of two in MIN_PIECE_SIZE..=MAX_PIECE_SIZE
//! 26+N          4     P, must be ceil(length / S), <= MAX_PIECES
//! 30+N          32*P  BLAKE3 hash of each piece, in order
//! 30+N+32P      8     signer key id
//! 38+N+32P      64    ed25519 signature over bytes 0 .. 38+N+32P
//! total         102+N+32P bytes, at most MAX_MANIFEST_LEN
//! ```
//!
//! Piece `i` is bytes `i*S .. min((i+1)*S, length)` of the file. Since P is
//! fixed by length and S, and every field has one spelling, one manifest
//! has one encoding; its [`RecordId`] (BLAKE3 of the encoding) names it.
//!
//! [`Manifest::parse`] treats its input as hostile: it checks the total
//! length against [`MAX_MANIFEST_LEN`] before anything else, checks every
//! field, and copies the bytes only once they are known to be consistent.
//! It does not check the signature; [`Manifest::verify`] does, against a
//! [`Keyring`], and a daemon accepts no piece for a manifest that has not
//! passed it ([`Manifest::parse_verified`] does both).
//!
//! Piece size: a piece is the unit that is verified and then served onward,
//! so a tile can forward piece `i` while piece `i+1` still arrives. A file
//! crossing `h` hops takes about (file + (h-1) * (manifest + piece)) / rate,
//! since each hop must hold the whole signed manifest and one whole piece
//! before it forwards anything. The manifest grows as 32 bytes per piece,
//! so the per-hop cost `32*L/S + S` is smallest near `S = sqrt(32*L)`: about
//! 22 KiB for a 15 MB file. [`piece_size_for`] uses 16 KiB pieces (a 15 MB
//! file has 916 pieces and a 29 KiB manifest; each extra hop costs about
//! 45 KiB of transfer, a fraction of a second at 2.5 Mbit/s) and doubles
//! the size only for files of more than 4096 pieces, so no manifest
//! exceeds 128 KiB of hashes.
#![forbid(unsafe_code)]

use core::fmt;
use std::io::{self, Read};

use crate::codec::{Reader, Short};
use crate::id::RecordId;
use crate::keys::{KeyId, Keyring, SecretKey, VerifyError, KEY_ID_LEN, SIGNATURE_LEN};
use crate::name::{Name, NameError, MAX_NAME_LEN};
use crate::version::Stamp;

/// The first four bytes of a manifest.
pub const MAGIC: [u8; 4] = *b"ITCM";
/// The manifest format this module reads and writes.
pub const FORMAT: u8 = 1;
/// Length of a piece hash.
pub const HASH_LEN: usize = 32;
/// The smallest piece size.
pub const MIN_PIECE_SIZE: u32 = 1024;
/// The largest piece size.
pub const MAX_PIECE_SIZE: u32 = 1 << 20;
/// The piece size [`piece_size_for`] starts from.
pub const DEFAULT_PIECE_SIZE: u32 = 16 * 1024;
/// The most pieces a manifest may list.
pub const MAX_PIECES: u32 = 4096;
/// The longest file a manifest may describe (4 GiB).
pub const MAX_FILE_LEN: u64 = MAX_PIECES as u64 * MAX_PIECE_SIZE as u64;
/// Bytes of a manifest besides the name and the piece hashes.
pub const FIXED_LEN: usize = 4 + 1 + 1 + 8 + 8 + 4 + 4 + KEY_ID_LEN + SIGNATURE_LEN;
/// The longest manifest encoding.
pub const MAX_MANIFEST_LEN: usize = FIXED_LEN + MAX_NAME_LEN + MAX_PIECES as usize * HASH_LEN;

/// The piece size for a file of `len` bytes: [`DEFAULT_PIECE_SIZE`], doubled
/// until the file has at most [`MAX_PIECES`] pieces. `None` if `len` is over
/// [`MAX_FILE_LEN`].
pub fn piece_size_for(len: u64) -> Option<u32> {
    if len > MAX_FILE_LEN {
        return None;
    }
    let mut size = DEFAULT_PIECE_SIZE;
    while len.div_ceil(u64::from(size)) > u64::from(MAX_PIECES) {
        size *= 2;
    }
    Some(size)
}

/// Why manifest bytes were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestError {
    /// The bytes end before a field.
    Truncated {
        /// Length of the input.
        len: usize,
        /// Length needed for the next field.
        need: usize,
    },
    /// The input is longer than [`MAX_MANIFEST_LEN`].
    TooLong {
        /// Length of the input.
        len: usize,
    },
    /// The first four bytes are not "ITCM"; these are them.
    BadMagic([u8; 4]),
    /// Unsupported format byte.
    BadFormat(u8),
    /// The name is not valid.
    Name(NameError),
    /// The piece size is not a power of two in range.
    BadPieceSize(u32),
    /// The file length is over [`MAX_FILE_LEN`].
    FileTooLong(u64),
    /// More than [`MAX_PIECES`] pieces.
    TooManyPieces(u32),
    /// The piece count is not `ceil(length / piece size)`.
    PieceCount {
        /// The count in the manifest.
        count: u32,
        /// The count the length and piece size give.
        want: u64,
    },
    /// Bytes follow the signature.
    Trailing {
        /// Length of the input.
        len: usize,
        /// Length of the manifest it holds.
        used: usize,
    },
    /// The signature does not check out against the trusted keys.
    Untrusted(VerifyError),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ManifestError::Truncated { len, need } => {
                write!(f, "manifest of {len} bytes is truncated (needs {need})")
            }
            ManifestError::TooLong { len } => {
                write!(
                    f,
                    "manifest of {len} bytes is too long (at most {MAX_MANIFEST_LEN})"
                )
            }
            ManifestError::BadMagic(m) => write!(f, "not a manifest (magic {m:02x?})"),
            ManifestError::BadFormat(v) => write!(f, "unsupported manifest format {v}"),
            ManifestError::Name(e) => write!(f, "manifest name: {e}"),
            ManifestError::BadPieceSize(s) => write!(
                f,
                "piece size {s} is not a power of two in {MIN_PIECE_SIZE}..={MAX_PIECE_SIZE}"
            ),
            ManifestError::FileTooLong(l) => {
                write!(f, "file length {l} is over the limit of {MAX_FILE_LEN}")
            }
            ManifestError::TooManyPieces(n) => {
                write!(f, "manifest lists {n} pieces (at most {MAX_PIECES})")
            }
            ManifestError::PieceCount { count, want } => {
                write!(
                    f,
                    "manifest lists {count} pieces where its length needs {want}"
                )
            }
            ManifestError::Trailing { len, used } => {
                write!(f, "{} bytes follow a manifest of {used} bytes", len - used)
            }
            ManifestError::Untrusted(e) => write!(f, "manifest {e}"),
        }
    }
}

impl std::error::Error for ManifestError {}

impl From<Short> for ManifestError {
    fn from(s: Short) -> ManifestError {
        ManifestError::Truncated {
            len: s.len,
            need: s.need,
        }
    }
}

/// A structurally valid manifest: its canonical bytes and the fields read
/// from them. Piece hashes are read from the bytes, not copied.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    bytes: Vec<u8>,
    name: Name,
    version: u64,
    length: u64,
    piece_size: u32,
    piece_count: u32,
    signer: KeyId,
    id: RecordId,
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manifest")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("length", &self.length)
            .field("piece_size", &self.piece_size)
            .field("signer", &self.signer)
            .field("id", &self.id)
            .finish()
    }
}

/// Offset of the first piece hash in a manifest with a name of `n` bytes.
const fn hashes_at(n: usize) -> usize {
    30 + n
}

impl Manifest {
    /// Decodes manifest bytes (without checking the signature).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let len = bytes.len();
        if len > MAX_MANIFEST_LEN {
            return Err(ManifestError::TooLong { len });
        }
        let mut r = Reader::new(bytes);
        let magic = r.array::<4>()?;
        if magic != MAGIC {
            return Err(ManifestError::BadMagic(magic));
        }
        let format = r.u8()?;
        if format != FORMAT {
            return Err(ManifestError::BadFormat(format));
        }
        let n = usize::from(r.u8()?);
        let name = Name::from_bytes(r.take(n)?).map_err(ManifestError::Name)?;
        let version = r.u64()?;
        let length = r.u64()?;
        let piece_size = r.u32()?;
        if !piece_size.is_power_of_two() || !(MIN_PIECE_SIZE..=MAX_PIECE_SIZE).contains(&piece_size)
        {
            return Err(ManifestError::BadPieceSize(piece_size));
        }
        if length > MAX_FILE_LEN {
            return Err(ManifestError::FileTooLong(length));
        }
        let piece_count = r.u32()?;
        let want = length.div_ceil(u64::from(piece_size));
        if u64::from(piece_count) != want {
            return Err(ManifestError::PieceCount {
                count: piece_count,
                want,
            });
        }
        if piece_count > MAX_PIECES {
            return Err(ManifestError::TooManyPieces(piece_count));
        }
        r.take(piece_count as usize * HASH_LEN)?;
        let signer = KeyId(r.array()?);
        r.array::<SIGNATURE_LEN>()?;
        let used = r.position();
        if used != len {
            return Err(ManifestError::Trailing { len, used });
        }
        Ok(Manifest {
            bytes: bytes.to_vec(),
            name,
            version,
            length,
            piece_size,
            piece_count,
            signer,
            id: RecordId::of(bytes),
        })
    }

    /// Decodes manifest bytes and checks the signature against `keys`.
    pub fn parse_verified(bytes: &[u8], keys: &Keyring) -> Result<Manifest, ManifestError> {
        let m = Manifest::parse(bytes)?;
        m.verify(keys).map_err(ManifestError::Untrusted)?;
        Ok(m)
    }

    /// Builds and signs a manifest, hashing `reader` one piece at a time
    /// (memory stays at one piece). `len` must be the exact length of what
    /// `reader` yields; a shorter or longer stream is an error.
    pub fn build(
        name: &Name,
        version: u64,
        len: u64,
        mut reader: impl Read,
        key: &SecretKey,
    ) -> io::Result<Manifest> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let piece_size = piece_size_for(len)
            .ok_or_else(|| invalid(format!("file of {len} bytes is over {MAX_FILE_LEN}")))?;
        let piece_count = len.div_ceil(u64::from(piece_size));
        let mut bytes =
            Vec::with_capacity(FIXED_LEN + name.as_bytes().len() + piece_count as usize * HASH_LEN);
        bytes.extend_from_slice(&MAGIC);
        bytes.push(FORMAT);
        bytes.push(name.len_u8());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&piece_size.to_be_bytes());
        // piece_count <= MAX_PIECES, so it fits in a u32.
        bytes.extend_from_slice(&(piece_count as u32).to_be_bytes());
        let mut buf = vec![0u8; piece_size as usize];
        let mut left = len;
        while left > 0 {
            let want = left.min(u64::from(piece_size)) as usize;
            reader.read_exact(&mut buf[..want]).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => invalid(format!(
                    "the file ended before its length of {len} bytes (did it change while being read?)"
                )),
                _ => e,
            })?;
            bytes.extend_from_slice(blake3::hash(&buf[..want]).as_bytes());
            left -= want as u64;
        }
        if reader.read(&mut buf[..1])? != 0 {
            return Err(invalid(format!(
                "the file is longer than {len} bytes (did it change while being read?)"
            )));
        }
        bytes.extend_from_slice(&key.id().0);
        let signature = key.sign(&bytes);
        bytes.extend_from_slice(&signature);
        Manifest::parse(&bytes).map_err(|e| invalid(e.to_string()))
    }

    /// Checks the signature against the trusted keys.
    pub fn verify(&self, keys: &Keyring) -> Result<(), VerifyError> {
        let signed_len = self.bytes.len() - SIGNATURE_LEN;
        let (signed, sig) = self.bytes.split_at(signed_len);
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(sig);
        keys.verify(self.signer, signed, &signature)
    }

    /// The canonical encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The file length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The piece size in bytes.
    pub fn piece_size(&self) -> u32 {
        self.piece_size
    }

    /// How many pieces the file has.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
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

    /// Offset of piece `i` in the file.
    pub fn piece_offset(&self, i: u32) -> u64 {
        u64::from(i) * u64::from(self.piece_size)
    }

    /// Length of piece `i`, 0 if there is no such piece.
    pub fn piece_len(&self, i: u32) -> u32 {
        if i >= self.piece_count {
            return 0;
        }
        // At most piece_size, so it fits in a u32.
        (self.length - self.piece_offset(i)).min(u64::from(self.piece_size)) as u32
    }

    /// The hash of piece `i`.
    pub fn piece_hash(&self, i: u32) -> Option<[u8; HASH_LEN]> {
        if i >= self.piece_count {
            return None;
        }
        let at = hashes_at(self.name.as_bytes().len()) + i as usize * HASH_LEN;
        let mut h = [0u8; HASH_LEN];
        h.copy_from_slice(&self.bytes[at..at + HASH_LEN]);
        Some(h)
    }

    /// Whether `data` is piece `i`: the right length and hash.
    pub fn check_piece(&self, i: u32, data: &[u8]) -> bool {
        match self.piece_hash(i) {
            Some(h) => {
                data.len() == self.piece_len(i) as usize && *blake3::hash(data).as_bytes() == h
            }
            None => false,
        }
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
