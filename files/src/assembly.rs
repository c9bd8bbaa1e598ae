//! A manifest or a piece put together from DATA chunks, in memory, before
//! it is verified: the manifest by its signature once whole, a piece by its
//! hash. The length comes from what the receiver already trusts (a piece's
//! length from a verified manifest) or is bounded before any allocation (a
//! manifest's announced length, at most `MAX_MANIFEST_LEN`), so a hostile
//! sender cannot make it allocate more than one manifest or one piece.
//!
//! Chunk `k` covers bytes `k * CHUNK_LEN ..` up to the next chunk or the
//! end; a chunk must arrive at its own offset with exactly its length.
//! Duplicates are ignored (a chunk requested twice may arrive twice).
#![forbid(unsafe_code)]

use core::fmt;

use crate::manifest::{MAX_MANIFEST_LEN, MAX_PIECE_SIZE};
use crate::wire::CHUNK_LEN;

/// Why a chunk was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssemblyError {
    /// The object would be longer than the largest manifest or piece.
    TooLong(usize),
    /// The offset is not a chunk boundary inside the object.
    BadOffset(u32),
    /// The chunk's length is not that of the chunk at its offset.
    BadLength {
        /// Length received.
        len: usize,
        /// Length of the chunk at that offset.
        want: usize,
    },
}

impl fmt::Display for AssemblyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AssemblyError::TooLong(n) => write!(f, "object of {n} bytes is too long"),
            AssemblyError::BadOffset(o) => write!(f, "offset {o} is not a chunk of the object"),
            AssemblyError::BadLength { len, want } => {
                write!(f, "chunk of {len} bytes where {want} were expected")
            }
        }
    }
}

impl std::error::Error for AssemblyError {}

/// How many chunks an object of `len` bytes has.
pub fn chunk_count(len: usize) -> u32 {
    // len is bounded by MAX_MANIFEST_LEN or MAX_PIECE_SIZE, so this fits.
    len.div_ceil(CHUNK_LEN) as u32
}

/// Length of chunk `k` of an object of `len` bytes (0 past the end).
pub fn chunk_len(len: usize, k: u32) -> usize {
    len.saturating_sub(k as usize * CHUNK_LEN).min(CHUNK_LEN)
}

/// An object being assembled.
#[derive(Debug, Clone)]
pub struct Assembly {
    bytes: Vec<u8>,
    got: Vec<bool>,
    missing: u32,
}

impl Assembly {
    /// An empty object of `len` bytes, at most the larger of the largest
    /// manifest and the largest piece.
    pub fn new(len: usize) -> Result<Assembly, AssemblyError> {
        if len > MAX_MANIFEST_LEN.max(MAX_PIECE_SIZE as usize) {
            return Err(AssemblyError::TooLong(len));
        }
        let chunks = chunk_count(len);
        Ok(Assembly {
            bytes: vec![0; len],
            got: vec![false; chunks as usize],
            missing: chunks,
        })
    }

    /// Length of the object.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the object has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Places a chunk; returns false for a duplicate.
    pub fn insert(&mut self, offset: u32, data: &[u8]) -> Result<bool, AssemblyError> {
        let at = offset as usize;
        if !at.is_multiple_of(CHUNK_LEN) || at >= self.bytes.len() {
            return Err(AssemblyError::BadOffset(offset));
        }
        let k = at / CHUNK_LEN;
        let want = chunk_len(self.bytes.len(), k as u32);
        if data.len() != want {
            return Err(AssemblyError::BadLength {
                len: data.len(),
                want,
            });
        }
        if self.got[k] {
            return Ok(false);
        }
        self.bytes[at..at + want].copy_from_slice(data);
        self.got[k] = true;
        self.missing -= 1;
        Ok(true)
    }

    /// Whether chunk `k` is here.
    pub fn has(&self, k: u32) -> bool {
        self.got.get(k as usize).copied().unwrap_or(false)
    }

    /// The chunks still missing, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.got.len() as u32).filter(|&k| !self.got[k as usize])
    }

    /// Whether every chunk is here.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// The object's bytes; whole only once complete.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_out_of_order_and_ignores_duplicates() {
        let data: Vec<u8> = (0..500u32).map(|i| i as u8).collect();
        let mut a = Assembly::new(500).unwrap();
        assert_eq!(chunk_count(500), 3);
        assert_eq!(a.missing().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(a.insert(468, &data[468..]), Ok(true));
        assert_eq!(a.insert(0, &data[..234]), Ok(true));
        assert_eq!(a.insert(0, &data[..234]), Ok(false));
        assert!(!a.is_complete() && a.has(0) && !a.has(1));
        assert_eq!(a.insert(234, &data[234..468]), Ok(true));
        assert!(a.is_complete());
        assert_eq!(a.bytes(), &data[..]);
    }

    #[test]
    fn refuses_chunks_that_do_not_fit() {
        let mut a = Assembly::new(300).unwrap();
        assert_eq!(a.insert(1, &[0; 234]), Err(AssemblyError::BadOffset(1)));
        assert_eq!(a.insert(468, &[0; 1]), Err(AssemblyError::BadOffset(468)));
        assert_eq!(
            a.insert(234, &[0; 234]),
            Err(AssemblyError::BadLength { len: 234, want: 66 })
        );
        assert_eq!(
            a.insert(0, &[0; 10]),
            Err(AssemblyError::BadLength { len: 10, want: 234 })
        );
        assert_eq!(
            Assembly::new(usize::MAX).unwrap_err(),
            AssemblyError::TooLong(usize::MAX)
        );
        assert!(Assembly::new(0).unwrap().is_complete());
    }
}
